import Foundation
import Testing
@testable import RFT
import RFTModel

/// `--chat-template` through the real binary, on a Hugging Face folder whose tokenizer carries a
/// ChatML template (a tiny random Llama over bytes, `ChatFixture`) and on the imported fixtures,
/// which carry none: every command renders prompts with the model's template under `auto`, and
/// after `rft sft` on conversational data the model answers and ends its turn at `<|im_end|>`.
@Suite struct ChatTemplateCLITests {
    /// The JSON object of each line of a `--json` output.
    static func samples(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
    }

    @Test func everyCommandRendersChatPrompts() throws {
        RFTBinary.expectBuilt()
        let dir = makeTemporaryDirectory("chat-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let tokenizer = ChatFixture.chatML(), model = dir + "/chat-model", data = dir + "/chat.jsonl"
        try ChatFixture.writeFolder(ChatFixture.model(tokenizer), tokenizer: tokenizer, to: model)
        ChatFixture.write(ChatFixture.conversations, to: data)
        func run(_ arguments: [String]) throws -> RFTBinary.Result {
            let r = try RFTBinary.run(arguments)
            #expect(r.succeeded, "rft \(arguments.joined(separator: " ")): \(r)")
            return r
        }
        func promptIDs(_ model: String, _ prompt: String, _ extra: [String] = []) throws -> [Int] {
            let r = try run(["sample", prompt, "--model", model, "--max-new-tokens", "1", "--json"] + extra)
            return try #require(try Self.samples(r.stdout).first?["prompt_ids"] as? [Int], "\(r.stdout)")
        }
        // auto: the model's own ChatML with its system message; none and --raw: the text as it is
        let chatIDs = try tokenizer.encode(ChatPromptTests.rendered)
        #expect(try promptIDs(model, "hi") == chatIDs)
        #expect(try promptIDs(model, "hi", ["--chat-template", "chatml"]) == chatIDs)
        #expect(try promptIDs(model, "hi", ["--chat-template", "none"]) == tokenizer.encode("hi"))
        #expect(try promptIDs(model, "hi", ["--raw"]) == tokenizer.encode("hi"))
        // the imported fixtures carry no template: auto is none
        let fixture = ImportedModelTests.fixtures + "llama.gguf"
        #expect(try promptIDs(fixture, "abc") == promptIDs(fixture, "abc", ["--chat-template", "none"]))
        // a forced template the tokenizer cannot render, and a conversation without a template
        let llama3 = try RFTBinary.run(["sample", "hi", "--model", model, "--chat-template", "llama3"])
        #expect(llama3.failedCleanly && llama3.stderr.contains("error: --chat-template (chat_template): the llama3 chat template needs the tokens <|start_header_id|>"), "\(llama3)")
        let gpt2 = try RFTBinary.run(["eval", "--model", ImportedModelTests.fixtures + "gpt2", "--data", data, "--chat-template", "chatml"])
        #expect(gpt2.failedCleanly && gpt2.stderr.contains("needs the tokens <|im_start|>, <|im_end|>"), "\(gpt2)")
        let none = try RFTBinary.run(["eval", "--model", model, "--data", data, "--chat-template", "none"])
        #expect(none.failedCleanly && none.stderr.contains(data + #":1: "prompt" is a conversation (a list of messages), which needs a chat template"#), "\(none)")
        let bad = try RFTBinary.run(["sample", "hi", "--model", model, "--chat-template", "chatm"])
        #expect(bad.failedCleanly && bad.stderr.contains("expected one of auto, chatml, llama3, none; did you mean chatml?"), "\(bad)")

        // SFT on the conversations: the answers and <|im_end|> are learnt, so greedy sampling
        // ends the turn there and eval's exact match sees the answers alone
        _ = try run(["sft", "--model", model, "--data", data, "--max-steps", "80", "--learning-rate", "1e-2", "--per-device-train-batch-size", "6",
                     "--eval-fraction", "0", "--threads", "1", "--output", dir + "/sft"])
        let answer = try #require(try Self.samples(try run(["sample", "hi", "--model", dir + "/sft", "--temperature", "0", "--max-new-tokens", "8", "--json"]).stdout)
            .first?["samples"] as? [[String: Any]]).first
        #expect(answer?["completion"] as? String == "ok" && answer?["finish_reason"] as? String == "stop", "\(String(describing: answer))")
        #expect(answer?["token_ids"] as? [Int] == (try tokenizer.encode("ok")) + [258])
        let eval = try run(["eval", "--model", dir + "/sft", "--data", data, "--json"])
        #expect(try Self.samples(eval.stdout).first?["accuracy"] as? Double == 1, "\(eval.stdout)")
        _ = try run(["diagnose", "--model", dir + "/sft", "--data", data, "--num-generations", "4", "--threads", "1", "--output", dir + "/diagnose"])
        #expect(FileManager.default.fileExists(atPath: dir + "/diagnose/summary.json"))
        let trained = try run(ImportedModelTests.train(model: dir + "/sft", data: data, output: dir + "/train"))
        #expect(trained.stdout.contains("after RFT"), "\(trained.stdout)")
    }
}
