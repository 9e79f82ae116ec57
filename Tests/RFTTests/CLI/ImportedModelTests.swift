import Foundation
import Testing
@testable import RFT

/// Every command runs on imported models — a Hugging Face folder and GGUF files of the Llama,
/// Qwen2 and GPT-2 families (the tiny fixtures transformers wrote) — and `rft export` writes what
/// the commands read back.
@Suite struct ImportedModelTests {
    static let fixtures = "Tests/RFTModelTests/Fixtures/import/"

    /// A reversal dataset over the fixtures' letters (a–s), 16 prompts of 2–4 letters.
    static func writeData(_ path: String) {
        var lines: [String] = []
        let letters = Array("abcdefghijklmnopqrs")
        for i in 0..<16 {
            let prompt = String((0..<(2 + i % 3)).map { letters[(i * 7 + $0 * 5) % letters.count] })
            lines.append(#"{"prompt": "\#(prompt)", "completion": "\#(String(prompt.reversed()))"}"#)
        }
        FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    /// A small `rft train` on `model`: diagnosis, SFT warm-up on a quarter, 2 RFT steps, a checkpoint every step.
    static func train(model: String, data: String, output: String) -> [String] {
        ["train", "--model", model, "--data", data, "--monitor-num-generations", "4", "--monitor-inputs-per-batch", "8",
         "--sft-warmup", "25%", "--sft-max-steps", "2", "--sft-per-device-train-batch-size", "4", "--max-steps", "2",
         "--num-generations", "4", "--per-device-train-batch-size", "16", "--save-steps", "1", "--save-total-limit", "1000",
         "--eval-inputs", "8", "--threads", "1", "--output", output]
    }

    @Test(arguments: ["llama", "qwen2.gguf", "gpt2", "llama.gguf"])
    func everyCommandRunsOnAnImportedModel(name: String) throws {
        RFTBinary.expectBuilt()
        let dir = makeTemporaryDirectory("imported")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = Self.fixtures + name, data = dir + "/data.jsonl"
        Self.writeData(data)
        func run(_ arguments: [String]) throws -> RFTBinary.Result {
            let r = try RFTBinary.run(arguments)
            #expect(r.succeeded, "\(name): rft \(arguments.joined(separator: " ")): \(r)")
            return r
        }
        let sample = try run(["sample", "abc", "--model", model, "--num-generations", "3", "--max-new-tokens", "4", "--json"])
        #expect(sample.stdout.split(separator: "\n").count == 1 && sample.stdout.contains("\"token_ids\""), "\(sample.stdout)")
        let inspect = try run(["inspect", model])
        #expect(inspect.stdout.contains("byte-level BPE") && inspect.stdout.contains("architecture " + name.split(separator: ".")[0]), "\(inspect.stdout)")
        let eval = try run(["eval", "--model", model, "--data", data])
        #expect(eval.stdout.contains("accuracy"), "\(eval.stdout)")
        _ = try run(["diagnose", "--model", model, "--data", data, "--num-generations", "4", "--output", dir + "/diagnose"])
        #expect(FileManager.default.fileExists(atPath: dir + "/diagnose/summary.json"))
        _ = try run(["sft", "--model", model, "--data", data, "--max-steps", "2", "--per-device-train-batch-size", "4", "--output", dir + "/sft"])
        let trained = try run(Self.train(model: model, data: data, output: dir + "/train"))
        #expect(trained.stdout.contains("after RFT"), "\(trained.stdout)")
        // the run's checkpoint is self-contained: it samples and exports without the fixture
        let checkpoint = try #require(try FileManager.default.contentsOfDirectory(atPath: dir + "/train").filter { $0.hasSuffix(".rftckpt") }.max())
        let inspected = try run(["inspect", dir + "/train/" + checkpoint])
        #expect(inspected.stdout.contains("byte-level BPE"), "\(inspected.stdout)")
        _ = try run(["export", "--model", dir + "/train", "--output", dir + "/exported"])
        let a = try run(["sample", "abc", "--model", dir + "/train", "--seed", "4", "--max-new-tokens", "4", "--json"])
        let b = try run(["sample", "abc", "--model", dir + "/exported", "--seed", "4", "--max-new-tokens", "4", "--json"])
        #expect(a.stdout == b.stdout, "the exported model samples differently:\n\(a.stdout)\n\(b.stdout)")
    }

    /// A character model exports as a folder the commands read back as the same model (same
    /// samples, same log-probabilities); the folder is never written over.
    @Test func exportReadsBackAndNeverOverwrites() throws {
        RFTBinary.expectBuilt()
        let dir = makeTemporaryDirectory("export")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let source = "checkpoints/addition-base.rftckpt"
        let export = try RFTBinary.run(["export", "--model", source, "--output", dir + "/hf"])
        #expect(export.succeeded && export.stdout.contains("gpt2"), "\(export)")
        let prompts = ["12+34", "5+6"]
        for p in prompts {
            let a = try RFTBinary.run(["sample", p, "--model", source, "--seed", "9", "--num-generations", "4", "--json"])
            let b = try RFTBinary.run(["sample", p, "--model", dir + "/hf", "--seed", "9", "--num-generations", "4", "--json"])
            #expect(a.succeeded && b.succeeded, "\(a)\n\(b)")
            // the checkpoint knows its task (and marks answers); the export does not
            func samples(_ s: String) -> String {
                s.replacingOccurrences(of: #""answer":"[^"]*","#, with: "", options: .regularExpression)
                    .replacingOccurrences(of: #""correct":(true|false),"#, with: "", options: .regularExpression)
            }
            #expect(samples(a.stdout) == samples(b.stdout), "\(p): \(a.stdout) vs \(b.stdout)")
        }
        let again = try RFTBinary.run(["export", "--model", dir + "/hf", "--output", dir + "/hf2", "--dtype", "bf16"])
        #expect(again.succeeded && again.stdout.contains("bfloat16"), "\(again)")
        let before = readBytes(dir + "/hf/config.json")
        let refused = try RFTBinary.run(["export", "--model", source, "--output", dir + "/hf"])
        #expect(refused.failedCleanly && refused.stderr.contains("not an empty folder"), "\(refused)")
        #expect(readBytes(dir + "/hf/config.json") == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".partial") }
        #expect(leftovers.isEmpty, "temporary folders left: \(leftovers)")
    }
}
