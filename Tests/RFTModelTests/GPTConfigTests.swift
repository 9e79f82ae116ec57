import Foundation
import Testing
@testable import RFTModel
@testable import RFTTensor

/// Configurations of each family, small enough to build.
let familyConfigs: [String: GPTConfig] = [
    "gpt2": GPTConfig(vocabularySize: 17, contextLength: 24, layers: 2, heads: 2, width: 16),
    "gpt2-untied": GPTConfig(vocabularySize: 17, contextLength: 24, layers: 1, heads: 4, width: 16, mlpRatio: 3,
                             tiedEmbeddings: false),
    "llama": .llama(vocabularySize: 19, contextLength: 24, layers: 2, heads: 4, kvHeads: 2, width: 32,
                    intermediateSize: 40, ropeTheta: 1_000,
                    ropeScaling: RoPEScaling(type: .llama3, factor: 4, lowFrequencyFactor: 1, highFrequencyFactor: 4,
                                             originalContextLength: 8)),
    "qwen2": .llama(vocabularySize: 21, contextLength: 24, layers: 2, heads: 6, kvHeads: 2, width: 48,
                    intermediateSize: 56, ropeScaling: RoPEScaling(type: .linear, factor: 2), normEps: 1e-6,
                    tiedEmbeddings: false, qkvBias: true),
    "mqa-headsize": .llama(vocabularySize: 13, contextLength: 24, layers: 1, heads: 3, kvHeads: 1, width: 20,
                           intermediateSize: 24, headSize: 10),
]

@Suite struct GPTConfigTests {
    /// The `model` object of a header that rft wrote before the Llama family existed (copied from
    /// checkpoints/addition-base.rftckpt) decodes to today's GPT-2-style model: the same config as
    /// the old initialiser gives, the same parameter names and shapes.
    @Test func jsonWithoutTheNewKeysDecodesToGPT2() throws {
        let json = #"{"contextLength":28,"heads":4,"layerNormEps":1e-05,"layers":2,"mlpRatio":4,"tiedEmbeddings":true,"vocabularySize":16,"width":96}"#
        let config = try JSONDecoder().decode(GPTConfig.self, from: Data(json.utf8))
        #expect(config == GPTConfig(vocabularySize: 16, contextLength: 28, layers: 2, heads: 4, width: 96))
        #expect(config.kvHeads == 4 && config.headSize == 24 && config.positionEncoding == .learned)
        #expect(config.normalization == .layerNorm && config.activation == .gelu && config.intermediateSize == nil)
        #expect(config.qkvBias && config.attentionOutputBias && config.mlpBias && config.ropeScaling == nil)
        let model = GPT(config)
        var expected = ["wte.weight", "wpe.weight"]
        for i in 0..<2 {
            expected += ["ln_1.weight", "ln_1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight", "attn.proj.bias",
                         "ln_2.weight", "ln_2.bias", "mlp.fc.weight", "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias"]
                .map { "h.\(i).\($0)" }
        }
        expected += ["ln_f.weight", "ln_f.bias"]
        #expect(model.namedParameters().map(\.name) == expected)
        #expect(model.namedParameters().first { $0.name == "h.1.attn.qkv.weight" }?.tensor.shape == [288, 96])
        // and it encodes back to the same bytes: a GPT-2 checkpoint's header is what it was
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(config), as: UTF8.self) == json)
    }

    /// Every family round-trips through JSON.
    @Test(arguments: familyConfigs.keys.sorted())
    func jsonRoundTrip(family: String) throws {
        let config = familyConfigs[family]!
        let decoded = try JSONDecoder().decode(GPTConfig.self, from: JSONEncoder().encode(config))
        #expect(decoded == config)
    }

    /// The Llama family's names: no wpe and no norm or projection biases; Qwen2's q/k/v bias; the
    /// fused shapes.
    @Test func llamaFamilyParameterNames() {
        let llama = Dictionary(uniqueKeysWithValues: GPT(familyConfigs["llama"]!).namedParameters().map { ($0.name, $0.tensor.shape) })
        #expect(llama.count == 1 + 2 * 6 + 1)  // wte; ln_1, qkv, proj, ln_2, fc, proj weights per block; ln_f
        #expect(llama["wte.weight"] == [19, 32] && llama["wpe.weight"] == nil && llama["lm_head.weight"] == nil)
        #expect(llama["h.0.attn.qkv.weight"] == [(4 + 2 * 2) * 8, 32] && llama["h.0.attn.qkv.bias"] == nil)
        #expect(llama["h.0.attn.proj.weight"] == [32, 32] && llama["h.0.mlp.fc.weight"] == [80, 32])
        #expect(llama["h.1.mlp.proj.weight"] == [32, 40] && llama["h.1.ln_2.weight"] == [32] && llama["ln_f.weight"] == [32])
        let qwen = Dictionary(uniqueKeysWithValues: GPT(familyConfigs["qwen2"]!).namedParameters().map { ($0.name, $0.tensor.shape) })
        #expect(qwen["h.0.attn.qkv.bias"] == [(6 + 2 * 2) * 8] && qwen["h.0.attn.proj.bias"] == nil)
        #expect(qwen["lm_head.weight"] == [21, 48] && qwen["h.0.mlp.fc.bias"] == nil)
        let mqa = Dictionary(uniqueKeysWithValues: GPT(familyConfigs["mqa-headsize"]!).namedParameters().map { ($0.name, $0.tensor.shape) })
        #expect(mqa["h.0.attn.qkv.weight"] == [50, 20] && mqa["h.0.attn.proj.weight"] == [20, 30])
    }

    /// `parameterCount` counts what `GPT` builds, and the cache estimate is what `KVCache` allocates.
    @Test(arguments: familyConfigs.keys.sorted())
    func sizesMatchWhatIsBuilt(family: String) {
        let config = familyConfigs[family]!
        let model = GPT(config)
        #expect(config.parameterCount == model.parameterCount)
        #expect(config.weightBytes == model.parameterCount * 4)
        let cache = KVCache(config: config, batch: 3, capacity: 17)
        #expect(config.kvCacheBytes(rows: 3, positions: 17) == (cache.keys + cache.values).reduce(0) { $0 + $1.count } * 4)
        #expect((config.activationBytes(batch: 2, length: 8) ?? 0) > 0)
    }

    /// SmolLM2-135M's shape has its published parameter count; sizes that overflow give nil, not a trap.
    @Test func parameterCountOfSmolLM2AndOverflow() {
        let smol = GPTConfig.llama(vocabularySize: 49152, contextLength: 8192, layers: 30, heads: 9, kvHeads: 3, width: 576,
                                   intermediateSize: 1536, ropeTheta: 100_000)
        #expect(smol.parameterCount == 134_515_008)
        #expect(smol.validationError() == nil)
        var huge = smol
        huge.width = Int.max / 2
        #expect(huge.parameterCount == nil && huge.validationError() != nil)
        huge = smol
        huge.intermediateSize = Int.max
        #expect(huge.parameterCount == nil && huge.activationBytes(batch: 8, length: 128) == nil)
        #expect(smol.kvCacheBytes(rows: Int.max, positions: 100) == nil)
        #expect(smol.activationBytes(batch: Int.max, length: 2) == nil)
    }

    @Test func validationNamesWhatIsWrong() {
        var c = familyConfigs["llama"]!
        c.kvHeads = 3
        #expect(c.validationError()?.contains("kvHeads") == true)
        c = familyConfigs["llama"]!
        c.headSize = 7
        #expect(c.validationError()?.contains("even") == true)
        c = familyConfigs["llama"]!
        c.ropeScaling = RoPEScaling(type: .llama3, factor: 2)
        #expect(c.validationError()?.contains("llama3") == true)
        #expect(GPTConfig(vocabularySize: 5, heads: 3, width: 10).validationError()?.contains("divisible") == true)
        #expect(GPTConfig(vocabularySize: 5, heads: 0).validationError() != nil)
    }
}
