import Foundation
import Testing
@testable import RFTModel

/// The GGUF reader on synthetic files it must read exactly, and on the real SmolLM2 file.
@Suite struct GGUFReaderTests {
    @Test func readsEveryMetadataType() throws {
        let file = try GGUFFile(bytes: sampleGGUF().build().bytes, path: "sample.gguf")
        let m = file.metadata
        #expect(m.keys.first == "general.architecture")
        #expect(try m.string("general.architecture") == "llama")
        #expect(try m.int("llama.block_count") == 2)
        #expect(try m.float("llama.rope.freq_base") == 10000)
        let ints: [Int] = try ["t.u8", "t.i8", "t.u16", "t.i16", "t.i32", "t.u64", "t.i64"].map { try m.int($0) }
        #expect(ints == [200, -5, 60000, -300, -70000, 1 << 40, -(1 << 40)])
        #expect(try m.float("t.f64") == 0.125)
        #expect(try m.bool("t.bool"))
        #expect(try m.strings("t.strings") == ["a", "béta", ""])
        #expect(try m.floats("t.floats") == [0.5, -2])
        #expect(m["t.nested"] == .array(.array, [.array(.int32, [.int32(1), .int32(2)]), .array(.int32, [])]))
        // Typed accessors name the file and key.
        #expect(throws: ImportError.metadataType(path: "sample.gguf", key: "t.bool", expected: "STRING", found: "BOOL")) { try m.string("t.bool") }
        #expect(throws: ImportError.missingMetadata(path: "sample.gguf", key: "nope")) { try m.int("nope") }
        #expect(throws: ImportError.self) { try m.strings("t.floats") }
        #expect(throws: ImportError.self) { try m.ints("t.strings") }
    }

    @Test func dequantizesEveryConvertibleType() throws {
        let file = try GGUFFile(bytes: sampleGGUF().build().bytes)
        #expect(file.alignment == 32 && file.dataStart % 32 == 0)
        let f32 = try file.readTensor("f32")
        #expect(f32.shape == [2, 3] && f32.toArray() == [1, 2, 3, 4, 5, 6])
        #expect(try file.readTensor("f16").toArray() == [0.5, -1, 65504, Float(Float16(6e-8))])
        #expect(try file.readTensor("bf16").toArray() == [1.5, -3])
        let q8 = try file.readTensor("q8_0")
        #expect(q8.shape == [2, 32])
        let first: [Float] = (0..<32).map { Float($0 * 4 - 64) }
        let second: [Float] = (0..<32).map { Float(127 - $0) * -0.25 }
        #expect(q8.toArray() == first + second)
        #expect(try file.readTensor("q4_0").toArray() == (0..<32).map { Float($0 % 16 - 8) * 0.25 })
        #expect(try file.readTensor("q4_1").toArray() == (0..<32).map { Float($0 % 16) * 0.5 - 1 })
        #expect(try file.readTensor("empty").shape == [4, 0])
        #expect(throws: ImportError.missingTensor(path: "<memory>", name: "nope")) { try file.readTensor("nope") }
    }

    /// Blocks written byte by byte from ggml's layout, values computed by hand.
    @Test func handWrittenBlocks() {
        // Q4_1: d = 0.5 (f16 0x3800), m = -1 (0xBC00); byte 0 = 0x21: x[0] = 1·0.5 − 1, x[16] = 2·0.5 − 1.
        var q41: [UInt8] = [0x00, 0x38, 0x00, 0xBC, 0x21] + [UInt8](repeating: 0xF0, count: 15)
        var out = [Float](repeating: .nan, count: 32)
        GGMLDequantize.dequantize(.q4_1, &q41, blocks: 1, into: &out)
        #expect(out[0] == -0.5 && out[16] == 0)
        #expect(out[1] == -1 && out[17] == 15 * 0.5 - 1)
        // Q8_0: d = 2 (0x4000); q = -128, -1, 0, 127 …
        var q80: [UInt8] = [0x00, 0x40, 0x80, 0xFF, 0x00, 0x7F] + [UInt8](repeating: 0x01, count: 28)
        GGMLDequantize.dequantize(.q8_0, &q80, blocks: 1, into: &out)
        #expect(Array(out[0..<5]) == [-256, -2, 0, 254, 2])
        // Q4_0: d = −0.5 (0xB800); byte 0 = 0x0F: x[0] = (15 − 8)·−0.5, x[16] = (0 − 8)·−0.5.
        var q40: [UInt8] = [0x00, 0xB8, 0x0F] + [UInt8](repeating: 0x88, count: 15)
        GGMLDequantize.dequantize(.q4_0, &q40, blocks: 1, into: &out)
        #expect(out[0] == -3.5 && out[16] == 4 && out[1] == 0 && out[31] == 0)
    }

    // Needs the SmolLM2 GGUF from scripts/fetch-models (`make test` runs it); skipped when absent.
    @Test(.enabled(if: ModelCache.has(ModelCache.smolLM2), "skipped: \(ModelCache.smolLM2) missing (run scripts/fetch-models)"))
    func readsSmolLM2() throws {
        let file = try GGUFFile(path: ModelCache.smolLM2)
        let m = file.metadata
        #expect(file.tensors.count == 272)
        #expect(try m.string("general.architecture") == "llama")
        #expect(try m.int("llama.block_count") == 30)
        #expect(try m.int("llama.embedding_length") == 576)
        #expect(try m.int("llama.feed_forward_length") == 1536)
        #expect(try m.int("llama.attention.head_count") == 9)
        #expect(try m.int("llama.attention.head_count_kv") == 3)
        #expect(try m.int("llama.vocab_size") == 49152)
        #expect(try m.strings("tokenizer.ggml.tokens").count == 49152)
        #expect(try m.float("llama.rope.freq_base") == 100_000)
        #expect(try m.string("tokenizer.ggml.pre") == "smollm")
        let template = try m.string("tokenizer.chat_template")
        #expect(template.contains("<|im_start|>") && template.contains("<|im_end|>"))  // ChatML
        let embedding = try #require(file.info("token_embd.weight"))
        #expect(embedding.type == .q8_0 && embedding.shape == [49152, 576])
        #expect(file.info("blk.0.ffn_down.weight")?.type == .q4_1 && file.info("blk.0.ffn_down.weight")?.shape == [576, 1536])
        #expect(file.info("blk.0.attn_k.weight")?.shape == [192, 576])
        #expect(file.info("output_norm.weight")?.type == .f32)
        // Values from the gguf Python package's own dequantizer (first four, float64 sum, last).
        let expected: [(String, [Float], Double, Float)] = [
            ("token_embd.weight", [-0.10654449462890625, 0.032978057861328125, 0.048198699951171875, -0.022830963134765625], -15353.04449415207, -0.0417022705078125),
            ("blk.0.ffn_down.weight", [-0.330810546875, 0.3460693359375, 0.0753173828125, -0.4661865234375], 150.63577270507812, -0.181365966796875),
            ("blk.29.attn_k.weight", [0.062408447265625, 0.00433349609375, 0.0333709716796875, 0.01885223388671875], 87.89241790771484, 0.081939697265625),
            ("output_norm.weight", [1.7578125, 1.8203125, 1.78125, 1.6015625], 1038.33203125, 1.984375),
        ]
        for (name, first, sum, last) in expected {
            let t = try file.readTensor(name)
            let values = t.toArray()
            #expect(Array(values.prefix(4)) == first, "\(name)")
            #expect(values.last == last, "\(name)")
            let mine = values.reduce(0.0) { $0 + Double($1) }
            #expect(abs(mine - sum) <= 1e-9 * max(1, abs(sum)) * Double(values.count), "\(name): sum \(mine) vs \(sum)")
        }
    }
}
