import Foundation
import Testing
@testable import RFTModel
import RFTTensor

/// Tiny random GPT-2, Llama (GQA, tied) and Qwen2 (q/k/v bias, untied) models, each saved by
/// transformers as a Hugging Face folder and written as a GGUF file the way llama.cpp lays them
/// out (llama's q/k rows interleaved), import to rft's decoder with the logits transformers
/// computes from the same files (Fixtures/make_import_fixtures.py; 1e-4 relative, as the other
/// PyTorch fixtures).
struct ImportTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/import").path
    static let expected: [String: JSONObject] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/import_expected.json")
        let object = try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        return object.compactMapValues { ($0 as? [String: Any]).map(JSONObject.init) }
    }()

    /// One entry of import_expected.json.
    struct JSONObject {
        let ids: [Int], batch: Int, length: Int, logits: [Float]
        init(_ o: [String: Any]) {
            ids = o["ids"] as? [Int] ?? []
            batch = o["batch"] as? Int ?? 0
            length = o["length"] as? Int ?? 0
            logits = (o["logits"] as? [Double] ?? []).map(Float.init)
        }
    }

    @Test(arguments: ["gpt2", "llama", "qwen2", "gpt2.gguf", "llama.gguf", "qwen2.gguf"])
    func importedModelsGiveTransformersLogits(name: String) throws {
        let imported = try PretrainedModel(path: Self.folder + "/" + name)
        let e = try #require(Self.expected[name])
        let logits = withoutGradients { imported.model(e.ids, batch: e.batch, length: e.length).toArray() }
        #expect(logits.count == e.logits.count)
        let scale = e.logits.map { abs($0) }.max() ?? 1
        let worst = zip(logits, e.logits).map { abs($0 - $1) }.max() ?? .infinity
        #expect(worst <= 1e-4 * scale, "\(name): worst |Δ| \(worst) against max |logit| \(scale)")
        #expect(imported.format == (name.hasSuffix(".gguf") ? "gguf" : "hf"))
        #expect(imported.tokenizer.vocabularySize == 20 && imported.tokenizer.eosID == 19)
        #expect(try imported.tokenizer.encode("abc") == [0, 1, 2] && imported.tokenizer.decode([0, 1, 2]) == "abc")
    }

    @Test func theFamiliesComeOutRight() throws {
        let llama = try PretrainedModel(path: Self.folder + "/llama").model.config
        #expect(llama.positionEncoding == .rotary && llama.normalization == .rmsNorm && llama.kvHeads == 2 && llama.tiedEmbeddings)
        let qwen = try PretrainedModel(path: Self.folder + "/qwen2.gguf").model.config
        #expect(qwen.qkvBias && !qwen.attentionOutputBias && !qwen.tiedEmbeddings && qwen.heads == 6 && qwen.kvHeads == 2)
        let gpt2 = try PretrainedModel(path: Self.folder + "/gpt2").model.config
        #expect(gpt2.positionEncoding == .learned && gpt2.contextLength == 1024 && gpt2.activation == .gelu)
    }

    /// Damaged or foreign folders are typed errors naming the file.
    @Test func badFoldersAreTypedErrors() throws {
        let dir = NSTemporaryDirectory() + "rft-import-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for file in ["model.safetensors", "tokenizer.json", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: Self.folder + "/llama/" + file, toPath: dir + "/" + file)
        }
        func write(_ config: String) { _ = FileManager.default.createFile(atPath: dir + "/config.json", contents: Data(config.utf8)) }
        write(#"{"model_type": "bert", "vocab_size": 20}"#)
        #expect(throws: ImportError.unsupportedModel(path: dir + "/config.json", reason: "model_type \"bert\"; rft reads gpt2, llama (SmolLM2, Llama 3) and qwen2")) {
            try PretrainedModel(path: dir)
        }
        write(#"{"model_type": "llama", "vocab_size": 20}"#)
        #expect(throws: ImportError.self) { try PretrainedModel(path: dir) }
        write(#"{"model_type": "llama", "vocab_size": 20, "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 11008, "max_position_embeddings": 16}"#)
        #expect(throws: ImportError.unsupportedModel(path: dir, reason: "the configuration needs more parameters than the file holds")) {
            try PretrainedModel(path: dir)
        }
        write("{not json")
        #expect(throws: ImportError.self) { try PretrainedModel(path: dir) }
        #expect(PretrainedModel.canRead(dir) && !PretrainedModel.canRead(dir + "/model.safetensors"))
    }
}
