import Foundation
import Testing
@testable import RFTModel
import RFTTensor

/// `HuggingFaceExport` writes folders `PretrainedModel` reads back as the same model: the same
/// configuration, the same weights bit for bit in F32 (rounded to bfloat16 in BF16), the same
/// tokenizer. That transformers loads them with rft's logits is checked by hand
/// (scripts/check-export.py; the result is in docs/export.md).
struct ExportTests {
    /// Writes `model` and `tokenizer` as a folder and reads it back.
    func roundTrip(_ model: GPT, _ tokenizer: Tokenizer, dtype: SafetensorsDType = .f32) throws -> PretrainedModel {
        let dir = NSTemporaryDirectory() + "rft-export-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let folder = try HuggingFaceExport.folder(model, tokenizer: tokenizer, dtype: dtype)
        #expect(folder.files.map(\.name) == ["config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
        for f in folder.files { #expect(FileManager.default.createFile(atPath: dir + "/" + f.name, contents: Data(f.bytes))) }
        return try PretrainedModel(folder: dir)
    }

    /// Whether two models have the same parameters, name for name and bit for bit (after `round`).
    func expectSameWeights(_ a: GPT, _ b: GPT, round: (Float) -> Float = { $0 }, _ label: String) {
        let x = a.namedParameters(), y = b.namedParameters()
        #expect(x.map(\.name) == y.map(\.name), "\(label): parameter names")
        for ((name, s), (_, t)) in zip(x, y) {
            let same = zip(s.toArray(), t.toArray()).allSatisfy { round($0).bitPattern == $1.bitPattern }
            #expect(s.shape == t.shape && same, "\(label): \(name) differs")
        }
    }

    @Test(arguments: ["gpt2", "llama", "qwen2", "gpt2.gguf", "llama.gguf", "qwen2.gguf"])
    func importedModelsExportAndReadBackTheSame(name: String) throws {
        let original = try PretrainedModel(path: ImportTests.folder + "/" + name)
        let back = try roundTrip(original.model, original.tokenizer)
        #expect(back.model.config == original.model.config, "\(name): \(back.model.config) vs \(original.model.config)")
        #expect(back.tokenizer == original.tokenizer, "\(name): the tokenizer changed")
        expectSameWeights(original.model, back.model, name)
    }

    @Test func bfloat16RoundsEveryWeight() throws {
        let original = try PretrainedModel(path: ImportTests.folder + "/qwen2")
        let back = try roundTrip(original.model, original.tokenizer, dtype: .bf16)
        #expect(back.model.config == original.model.config)
        expectSameWeights(original.model, back.model, round: { HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16($0)) }, "bf16")
    }

    /// rft's own character-level models export as GPT-2s whose tokenizer reads back as the
    /// same character vocabulary, ids unchanged.
    @Test func characterModelsExportAsGPT2() throws {
        let tokenizer = Tokenizer(characters: "0123456789+= ")
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 16, layers: 2, heads: 2, width: 8, tiedEmbeddings: false), seed: 3)
        let folder = try HuggingFaceExport.folder(model, tokenizer: tokenizer)
        #expect(folder.modelType == "gpt2")
        let back = try roundTrip(model, tokenizer)
        #expect(back.model.config == model.config)
        #expect(back.tokenizer == tokenizer)
        #expect(try back.tokenizer.encodePrompt("12+3") == tokenizer.encodePrompt("12+3"))
        expectSameWeights(model, back.model, "char")
    }

    /// What transformers has no model for, and characters Hugging Face would split otherwise,
    /// are typed errors.
    @Test func unexportableModelsAreTypedErrors() throws {
        let tokenizer = Tokenizer(characters: "ab")
        var config = GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 8, layers: 1, heads: 2, width: 8)
        config.normalization = .rmsNorm
        #expect(throws: ImportError.self) { try HuggingFaceExport.folder(GPT(config, seed: 1), tokenizer: tokenizer) }
        config.normalization = .layerNorm
        config.mlpBias = false
        #expect(throws: ImportError.self) { try HuggingFaceExport.folder(GPT(config, seed: 1), tokenizer: tokenizer) }
        let accented = Tokenizer(characters: ["a", "e\u{301}"])
        config = GPTConfig(vocabularySize: accented.vocabularySize, contextLength: 8, layers: 1, heads: 2, width: 8)
        #expect(throws: TokenizerError.self) { try HuggingFaceExport.folder(GPT(config, seed: 1), tokenizer: accented) }
    }

    /// The JSON writer's text parses back to the same value: order, escapes, Unicode, numbers.
    @Test func jsonTextParsesBack() throws {
        let value = StrictJSON.Value.object([
            ("b", .string("quote \" backslash \\ newline \n tab \t bell \u{7} NUL \u{0} é 漢 👩‍💻")), ("a", .array([.integer(-3), .real(1e-5), .real(100000), .null, .bool(true)])),
            ("nested", .object([("empty", .object([])), ("list", .array([.object([("k", .string(""))])])), ("none", .array([]))])),
        ])
        #expect(try StrictJSON.parse(Array(value.text.utf8)) == value)
        #expect(Float(StrictJSON.Value.real(1e-5).double!) == 1e-5 && StrictJSON.Value.real(1e-5) == .number("1e-05"))
    }
}
