import Foundation
import Testing
@testable import RFTModel
@testable import RFTTensor

/// The decoder checked against PyTorch: logits, loss, every gradient and three AdamW steps, from
/// the fixtures Fixtures/make_gpt_fixture.py (`gpt_fixture`: a hand-written GPT-2) and
/// Fixtures/make_family_fixtures.py (`family_gpt2`, `family_llama`, `family_qwen2`: transformers'
/// own models) wrote, references computed in float64.
struct PyTorchFixture {
    struct Entry: Decodable { let offset: Int; let shape: [Int] }
    /// gpt_fixture's configuration keys (the family fixtures store a `GPTConfig` as rft encodes it).
    struct LegacyConfig: Decodable {
        let vocab_size, context_length, n_layer, n_head, n_embd, mlp_ratio: Int
        let tied_embeddings: Bool
        let layer_norm_eps: Float
    }
    struct AdamWSpec: Decodable {
        let lr: Float; let betas: [Float]; let eps: Float; let weight_decay: Float
        let steps: Int; let losses: [Float]
    }
    struct Header: Decodable {
        let batch, seq: Int
        let idx, targets: [Int]
        let loss: Float
        let adamw: AdamWSpec
        let parameter_names: [String]
        let tensors: [String: Entry]
    }

    struct Configured<C: Decodable>: Decodable { let config: C }

    /// The fixture files' base name.
    let name: String
    let header: Header
    let config: GPTConfig
    let floats: [Float]

    /// The fixture `name`.json / `name`.bin.
    init(_ name: String = "gpt_fixture") throws {
        self.name = name
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let json = try Data(contentsOf: dir.appendingPathComponent(name + ".json"))
        header = try JSONDecoder().decode(Header.self, from: json)
        if let c = try? JSONDecoder().decode(Configured<GPTConfig>.self, from: json) {
            config = c.config
        } else {
            let c = try JSONDecoder().decode(Configured<LegacyConfig>.self, from: json).config
            config = GPTConfig(vocabularySize: c.vocab_size, contextLength: c.context_length, layers: c.n_layer,
                               heads: c.n_head, width: c.n_embd, mlpRatio: c.mlp_ratio,
                               tiedEmbeddings: c.tied_embeddings, layerNormEps: c.layer_norm_eps)
        }
        let bin = try Data(contentsOf: dir.appendingPathComponent(name + ".bin"))
        floats = bin.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }

    func tensor(_ key: String) -> [Float] {
        let e = header.tensors[key]!
        return Array(floats[e.offset..<(e.offset + e.shape.reduce(1, *))])
    }

    /// A GPT holding the fixture's initial weights.
    func model() throws -> GPT {
        let m = GPT(config, seed: 99)
        var values: [String: Tensor] = [:]
        for name in header.parameter_names {
            values[name] = Tensor(shape: header.tensors["param/" + name]!.shape, data: tensor("param/" + name))
        }
        try m.load(values)
        return m
    }
}

/// max |a − b| / max |b|: the error relative to the reference's scale.
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    var diff: Float = 0, scale: Float = 0
    for i in a.indices { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
    return diff / max(scale, 1e-30)
}

/// The fixtures every test runs on.
let pyTorchFixtures = ["gpt_fixture", "family_gpt2", "family_llama", "family_qwen2"]

@Suite struct PyTorchFixtureTests {
    @Test(arguments: pyTorchFixtures)
    func parameterNamesAndOrderMatchPyTorch(fixture: String) throws {
        let f = try PyTorchFixture(fixture)
        #expect(try f.model().namedParameters().map(\.name) == f.header.parameter_names)
    }

    @Test(arguments: pyTorchFixtures)
    func logitsLossAndGradientsMatchPyTorch(fixture: String) throws {
        let f = try PyTorchFixture(fixture)
        let model = try f.model()
        let logits = model(f.header.idx, batch: f.header.batch, length: f.header.seq)
        #expect(logits.shape == [f.header.batch, f.header.seq, f.config.vocabularySize])
        #expect(relativeError(logits.toArray(), f.tensor("logits")) <= 1e-4)
        let loss = crossEntropy(logits, targets: f.header.targets)
        #expect(relativeError([loss.item()], [f.header.loss]) <= 1e-4)
        loss.backward()
        for (name, p) in model.namedParameters() {
            let err = relativeError(p.grad!.toArray(), f.tensor("grad/" + name))
            #expect(err <= 1e-3, "gradient of \(name): relative error \(err)")
        }
    }

    @Test(arguments: pyTorchFixtures)
    func threeAdamWStepsMatchPyTorch(fixture: String) throws {
        let f = try PyTorchFixture(fixture)
        let model = try f.model()
        let a = f.header.adamw
        let opt = AdamW(parameters: model.namedParameters(), learningRate: a.lr, betas: (a.betas[0], a.betas[1]),
                        eps: a.eps, weightDecay: a.weight_decay)
        for step in 0..<a.steps {
            opt.zeroGrad()
            let loss = crossEntropy(model(f.header.idx, batch: f.header.batch, length: f.header.seq),
                                    targets: f.header.targets)
            #expect(relativeError([loss.item()], [a.losses[step]]) <= 1e-4, "loss at step \(step)")
            loss.backward()
            opt.step()
        }
        for (name, p) in model.namedParameters() {
            let err = relativeError(p.toArray(), f.tensor("updated/" + name))
            #expect(err <= 1e-3, "\(name) after \(a.steps) AdamW steps: relative error \(err)")
        }
    }
}
