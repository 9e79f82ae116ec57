import Foundation
import Testing
@testable import RFT
@testable import RFTModel
import RFTTensor

/// Chat prompts: a tokenizer with a chat template frames prompts, completions and stops;
/// `chat_template` resolves to the right template or a clear error; TRL's conversational JSONL
/// parses, and hostile lines are typed `file:line` errors; SFT on chat data trains on the
/// assistant's text and the end-of-turn token, so greedy generation stops there and rewards see
/// the text only.
@Suite struct ChatPromptTests {
    static let rendered = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"

    static var chat: Tokenizer { try! ChatTemplateChoice.auto.apply(to: ChatFixture.chatML()) }

    @Test func aTemplateFramesPromptsCompletionsAndStops() throws {
        let plain = ChatFixture.chatML(), chat = Self.chat
        #expect(chat.chatTemplate == .chatml(defaultSystemMessage: "Be brief.") && chat.endOfTurnID == 258)
        #expect(try chat.encodePrompt("hi") == plain.encode(Self.rendered))
        #expect(try chat.encodePrompt("hi").prefix(2) == [257] + plain.encode("s"))  // <|im_start|> parsed as one token
        let conversation = [ChatMessage(role: .system, content: "S"), .user("q")]
        #expect(try chat.encodePrompt(TaskExample(prompt: "q", reference: nil, length: 1, messages: conversation))
                == plain.encode("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"))
        #expect(chat.stopTokens == [258, 256])  // the end of the turn, and EOS
        #expect(try chat.encodeCompletion("ok") == plain.encode("ok") + [258])
        #expect(try chat.completionText(plain.encode("ok") + [258] + plain.encode("more")) == "ok")
        #expect(try chat.completionText(plain.encode("o") + [257] + plain.encode("k") + [256]) == "ok")  // markup dropped
        // without a template: plain prompts, EOS only, and a conversation is refused
        #expect(try plain.encodePrompt("hi") == plain.encode("hi"))
        #expect(try plain.encodeCompletion("ok") == plain.encode("ok") + [256])
        #expect(plain.stopTokens == [256])
        #expect(throws: ChatTemplateError.noTemplate) { try plain.encodePrompt(messages: [.user("hi")]) }
    }

    /// Llama 3's template writes BOS itself, so a tokenizer that adds BOS to plain prompts does
    /// not add it a second time.
    @Test func llama3WritesBOSOnce() throws {
        let plain = ChatFixture.llama3()
        #expect(try plain.encodePrompt("hi") == [256] + plain.encode("hi"))
        let chat = try ChatTemplateChoice.auto.apply(to: plain)
        #expect(chat.chatTemplate == .llama3)
        let ids = try chat.encodePrompt(messages: [.user(" hi \n")])
        #expect(try ids == plain.encode("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"))
        #expect(ids.first == 256 && ids.filter { $0 == 256 }.count == 1)
        #expect(chat.stopTokens == [260, 257])
        #expect(try chat.encodeCompletion(" Paris. \n") == plain.encode("Paris.") + [260])
    }

    /// `chat_template`: auto takes the model's own (or none), a forced template needs its tokens,
    /// and an unknown template text names the known ones.
    @Test func theSettingResolvesOrSaysWhyNot() throws {
        let chatML = ChatFixture.chatML(), llama3 = ChatFixture.llama3(), characters = Tokenizer(characters: "ab")
        #expect(try ChatTemplateChoice.auto.apply(to: characters).chatTemplate == nil)
        #expect(try ChatTemplateChoice.auto.apply(to: ChatFixture.chatML(template: nil)).chatTemplate == nil)
        #expect(try ChatTemplateChoice.none.apply(to: chatML).chatTemplate == nil)
        #expect(try ChatTemplateChoice.chatml.apply(to: chatML).chatTemplate == .chatml(defaultSystemMessage: "Be brief."))
        #expect(try ChatTemplateChoice.chatml.apply(to: ChatFixture.chatML(template: nil)).chatTemplate == .chatml(defaultSystemMessage: nil))
        #expect(try ChatTemplateChoice.llama3.apply(to: llama3).chatTemplate == .llama3)
        func reason(_ choice: ChatTemplateChoice, _ tokenizer: Tokenizer) -> String {
            do { _ = try choice.apply(to: tokenizer); return "no error" } catch let ConfigError.invalid(key, reason, _) {
                return key == "chat_template" ? reason : "key \(key)"
            } catch { return "\(error)" }
        }
        #expect(reason(.llama3, chatML) == "the llama3 chat template needs the tokens <|start_header_id|>, <|end_header_id|>, <|eot_id|>, which the model's tokenizer does not have")
        #expect(reason(.chatml, llama3) == "the chatml chat template needs the tokens <|im_start|>, <|im_end|>, which the model's tokenizer does not have")
        #expect(reason(.chatml, characters).contains("<|im_start|>, <|im_end|>"))
        let unknown = reason(.auto, ChatFixture.chatML(template: "{{ messages[0]['content'] }}"))
        #expect(unknown.contains("not one rft renders") && unknown.contains("chatml") && unknown.contains("llama3")
                && unknown.contains("{{ messages[0]['content'] }}") && unknown.hasSuffix("set chat_template to chatml, llama3 or none"), "\(unknown)")
        #expect(reason(.none, ChatFixture.chatML(template: "{{ messages[0]['content'] }}")) == "no error")
    }

    @Test func conversationalLinesParse() throws {
        let dir = makeTemporaryDirectory("chat-data")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/chat.jsonl"
        ChatFixture.write(ChatFixture.conversations + [#"{"prompt": "plain", "completion": "text", "source": "x"}"#], to: path)
        let data = try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: Self.chat, contextLength: 160))
        let e = data.examples
        #expect(e.count == 4)
        #expect(e[0].messages == [.user("hi")] && e[0].prompt == "hi" && e[0].reference == "ok" && e[0].length == 2 && e[0].id == path + ":1")
        #expect(e[1].messages == [ChatMessage(role: .system, content: "Say no."), .user("yes?")] && e[1].prompt == "yes?" && e[1].id == "sys")
        #expect(e[2].messages?.map(\.role) == [.user, .assistant, .user] && e[2].prompt == "c" && e[2].reference == "d")
        #expect(e[3].messages == nil && e[3].prompt == "plain" && e[3].metadata == ["source": .string("x")])
        // a conversation too long for the context is the line's error, counted with its template
        let needed = try Self.chat.encodePrompt(e[2]).count + 1
        #expect(throws: DatasetError.invalidLine(DatasetIssue(path: path, line: 3, message: "prompt needs \(needed) tokens with specials; the model's context is \(needed - 1)"))) {
            try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: Self.chat, contextLength: needed - 1))
        }
    }

    static let user = #"[{"role": "user", "content": "x"}]"#
    /// Hostile conversational lines and the message each gets.
    static let hostile: [(String, String)] = [
        (#"{"prompt": []}"#, #""prompt" is an empty list of messages"#),
        (#"{"prompt": [1]}"#, #""prompt"[0]: a message must be an object with "role" and "content""#),
        (#"{"prompt": [[]]}"#, #""prompt"[0]: a message must be an object with "role" and "content""#),
        (#"{"prompt": {"role": "user", "content": "x"}}"#, #""prompt" must be a string or a list of messages"#),
        (#"{"prompt": [{"content": "x"}]}"#, #""prompt"[0]: "role" must be a string"#),
        (#"{"prompt": [{"role": 3, "content": "x"}]}"#, #""prompt"[0]: "role" must be a string"#),
        (#"{"prompt": [{"role": "tool", "content": "x"}]}"#, #""prompt"[0]: unknown role "tool"; roles are system, user, assistant"#),
        (#"{"prompt": [{"role": "user"}]}"#, #""prompt"[0]: "content" must be a string"#),
        (#"{"prompt": [{"role": "user", "content": ["x"]}]}"#, #""prompt"[0]: "content" must be a string"#),
        (#"{"prompt": [{"role": "user", "content": null}]}"#, #""prompt"[0]: "content" must be a string"#),
        (#"{"prompt": [{"role": "user", "content": "x", "name": "n"}]}"#, #""prompt"[0]: unknown key "name"; a message has "role" and "content" only"#),
        (#"{"prompt": [{"role": "user", "content": "x"}, {"role": "system", "content": "s"}, {"role": "user", "content": "y"}]}"#,
         #""prompt"[1]: a system message may only come first"#),
        (#"{"prompt": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}"#,
         #""prompt"[1]: the last message must be the user's (role "user"), got "assistant""#),
        (#"{"prompt": [{"role": "system", "content": "x"}]}"#, #""prompt"[0]: the last message must be the user's (role "user"), got "system""#),
        (#"{"prompt": \#(user), "completion": []}"#, #""completion" must hold exactly one message (the assistant's), got 0"#),
        (#"{"prompt": \#(user), "completion": [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]}"#,
         #""completion" must hold exactly one message (the assistant's), got 2"#),
        (#"{"prompt": \#(user), "completion": [{"role": "user", "content": "a"}]}"#,
         #""completion"[0]: the completion must be the assistant's (role "assistant"), got "user""#),
        (#"{"prompt": \#(user), "completion": [{"role": "assistant", "content": 7}]}"#, #""completion"[0]: "content" must be a string"#),
        (#"{"prompt": \#(user), "completion": 5}"#, #""completion" must be a string or a list with one assistant message"#),
        (#"{"prompt": ["# + Array(repeating: #"{"role": "user", "content": "x"}"#, count: 257).joined(separator: ",") + "]}",
         #""prompt" holds 257 messages, above the limit of 256"#),
        (#"{"prompt": [{"role": "user", "content": ""# + String(repeating: "a", count: (1 << 20) + 1) + #""}]}"#,
         #""prompt"[0]: "content" of 1048577 bytes, above the limit of 1048576"#),
    ]

    @Test(arguments: hostile.indices)
    func hostileConversationsAreLineErrors(index: Int) throws {
        let (line, message) = Self.hostile[index]
        let dir = makeTemporaryDirectory("chat-hostile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/train.jsonl"
        ChatFixture.write([#"{"prompt": "fine"}"#, line], to: path)
        #expect(throws: DatasetError.invalidLine(DatasetIssue(path: path, line: 2, message: message))) {
            try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: Self.chat))
        }
        let skipping = try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: Self.chat), skipInvalid: true)
        #expect(skipping.examples.count == 1 && skipping.skipped == [DatasetIssue(path: path, line: 2, message: message)])
    }

    /// Without a template to render it (a character model, `chat_template: none`, or no model
    /// at all, as `rft pretrain` reads data) a conversation is the line's error.
    @Test func conversationsNeedATemplate() throws {
        let dir = makeTemporaryDirectory("chat-none")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/train.jsonl"
        ChatFixture.write([#"{"prompt": "hi"}"#, ChatFixture.conversations[0]], to: path)
        let message = #""prompt" is a conversation (a list of messages), which needs a chat template, and the model has none (chat_template none, or a character-level model)"#
        for tokenizer in [Tokenizer(characters: "hiok"), try ChatTemplateChoice.none.apply(to: ChatFixture.chatML()), nil] {
            #expect(throws: DatasetError.invalidLine(DatasetIssue(path: path, line: 2, message: message))) {
                try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: tokenizer))
            }
        }
    }

    /// SFT on conversational data trains on the assistant's text followed by `<|im_end|>` (not
    /// EOS, which is another token here), so greedy generation ends the turn there, the
    /// completion text the reward scores is the answer alone, and every answer is exact.
    @Test func sftOnChatDataLearnsToEndTheTurn() throws {
        let dir = makeTemporaryDirectory("chat-sft")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/chat.jsonl"
        ChatFixture.write(ChatFixture.conversations, to: path)
        let tokenizer = Self.chat
        let examples = try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: tokenizer, contextLength: 160)).examples
        let batch = try TaskBatch([examples[0]], tokenizer: tokenizer)
        #expect(batch.targets.filter { $0 >= 0 } == (try tokenizer.encode("ok")) + [258])
        #expect(Array(batch.inputs.prefix(batch.length - 2)) == (try tokenizer.encodePrompt(examples[0])))

        let model = ChatFixture.model(tokenizer)
        var config = SFTConfig()
        config.training.perDeviceTrainBatchSize = 6
        config.training.learningRate = 1e-2
        let trainer = try SFTTrainer(model: model, tokenizer: tokenizer, config: config, source: .fixed(examples))
        let before = try trainer.evaluationLoss(examples)
        for _ in 0..<80 { _ = try trainer.step() }
        let after = try trainer.evaluationLoss(examples)
        #expect(after < 0.05 * before, "loss \(before) → \(after)")

        let prompts = try examples.map { try tokenizer.encodePrompt($0) }
        let out = try Sampler(model: model).generate(prompts, options: .greedy(maxNewTokens: 8, stopTokens: tokenizer.stopTokens), seed: 0)
        for (g, e) in zip(out, examples) {
            #expect(g.tokens == (try tokenizer.encode(e.reference!)) + [258] && g.finishReason == .stop, "\(g.tokens)")
            #expect(tokenizer.completionText(g.tokens) == e.reference)
        }
        let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, examples: examples, reward: ExactMatchReward(), maxNewTokens: 8)
        #expect(rows.allSatisfy { $0.accuracy == 1 && $0.reward == 1 }, "\(rows)")
    }
}
