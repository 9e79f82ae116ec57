import Testing
@testable import RFTModel
import RFTTensor

/// `completionLogProbs` packs consecutive completions of one prompt behind a single copy of it;
/// these tests hold it to the plain computation, one unpadded sequence at a time.
@Suite struct LogProbsTests {
    /// Pairs with repeated prompts (runs of 3, 1 and 2), completions of 1–4 tokens.
    static let prompts: [[Int]] = [[0, 5, 6], [0, 5, 6], [0, 5, 6], [0, 7], [0, 8, 9, 4, 5], [0, 8, 9, 4, 5]]
    static let completions: [[Int]] = [[3, 4, 1], [7], [9, 9, 2, 1], [5, 6], [1], [4, 3]]

    /// Σ wᵢ·log πᵢ over every completion token, each sequence run alone through the dense forward.
    static func reference(_ model: GPT, weights: [Float]) -> Tensor {
        var terms: [Tensor] = [], offset = 0
        for (p, c) in zip(prompts, completions) {
            let tokens = p + c.dropLast()
            let logits = model(tokens, batch: 1, length: tokens.count)  // (1, T, V)
            let lp = tokenLogProbsAndEntropy(logits, rows: c.indices.map { p.count - 1 + $0 }, tokens: c, entropy: false).logProbs
            terms.append((lp * Tensor(shape: [c.count], data: Array(weights[offset..<(offset + c.count)]))).sum())
            offset += c.count
        }
        return terms.dropFirst().reduce(terms[0], +)
    }

    /// For rft's own small GPT and every family of `familyConfigs` (RoPE at the packed rows' positions,
    /// grouped-query attention with a shared prompt).
    @Test(arguments: ["small"] + familyConfigs.keys.sorted())
    func packedMatchesSequenceBySequence(family: String) {
        let config = familyConfigs[family] ?? GPTConfig(vocabularySize: 11, contextLength: 12, layers: 2, heads: 2, width: 16)
        let model = GPT(config, seed: 5)
        let n = Self.completions.reduce(0) { $0 + $1.count }
        var g = RandomGenerator(seed: 6)
        let weights = (0..<n).map { _ in g.nextNormal() }
        let params = model.parameters()

        let lp = model.completionLogProbs(prompts: Self.prompts, completions: Self.completions)
        #expect(lp.shape == [n])
        (lp * Tensor(shape: [n], data: weights)).sum().backward()
        let packedGrads = params.map { $0.grad!.toArray() }
        for p in params { p.grad = nil }

        let ref = Self.reference(model, weights: weights)
        ref.backward()
        let refLogProbs = withoutGradients { () -> [Float] in
            var out: [Float] = []
            for (p, c) in zip(Self.prompts, Self.completions) {
                let tokens = p + c.dropLast()
                let logits = model(tokens, batch: 1, length: tokens.count)
                out += tokenLogProbsAndEntropy(logits, rows: c.indices.map { p.count - 1 + $0 }, tokens: c, entropy: false).logProbs.toArray()
            }
            return out
        }
        #expect(maxAbsDiff(lp.toArray(), refLogProbs) < 1e-5)
        for (i, p) in params.enumerated() {
            let scale = max(1e-3, p.grad!.toArray().map { abs($0) }.max()!)
            #expect(maxAbsDiff(packedGrads[i], p.grad!.toArray()) / Double(scale) < 1e-4, "parameter \(i) \(p.shape)")
        }
    }

    /// The entropy from the packed pass equals −Σ p log p of each sequence's own logits.
    @Test func packedEntropyMatches() {
        let model = GPT(GPTConfig(vocabularySize: 11, contextLength: 12, layers: 2, heads: 2, width: 16), seed: 8)
        let packed = withoutGradients { model.completionLogProbsAndEntropy(prompts: Self.prompts, completions: Self.completions).entropy.toArray() }
        var ref: [Float] = []
        withoutGradients {
            for (p, c) in zip(Self.prompts, Self.completions) {
                let tokens = p + c.dropLast()
                let logits = model(tokens, batch: 1, length: tokens.count)
                ref += tokenLogProbsAndEntropy(logits, rows: c.indices.map { p.count - 1 + $0 }, tokens: c).entropy!.toArray()
            }
        }
        #expect(maxAbsDiff(packed, ref) < 1e-5)
    }
}

/// max |a − b| over two equal-length arrays.
private func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0.0) { max($0, Double(abs($1.0 - $1.1))) }
}
