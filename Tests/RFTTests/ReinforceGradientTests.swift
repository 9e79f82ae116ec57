import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// On a GPT whose completions can be enumerated, the sampled REINFORCE gradient approaches the
/// exact gradient of the expected reward, ∇V = Σ_y p(y)·r(y)·∇log p(y).
@Suite struct ReinforceGradientTests {
    static let vocabulary = 6
    static func reward(_ y: [Int]) -> Float { (y[0] == 2 ? 1 : 0) + (y[1] == 3 ? 0.5 : 0) }

    /// The gradient (all parameters, flattened) of −Σ_i weight_i · log π(completion_i).
    static func gradient(_ model: GPT, completions: [[Int]], weights: [Float]) -> [Float] {
        for p in model.parameters() { p.grad = nil }
        let lp = model.completionLogProbs(prompts: Array(repeating: [0], count: completions.count), completions: completions)
        let perToken = completions.indices.flatMap { i in Array(repeating: -weights[i], count: completions[i].count) }
        (lp * Tensor(shape: [perToken.count], data: perToken)).sum().backward()
        return model.parameters().flatMap { $0.grad?.toArray() ?? [Float](repeating: 0, count: $0.count) }
    }

    static func relativeDistance(_ a: [Float], _ b: [Float]) -> Float {
        let d = zip(a, b).reduce(Float(0)) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return (d / b.reduce(0) { $0 + $1 * $1 }).squareRoot()
    }

    @Test func sampledGradientApproachesExactGradient() throws {
        let config = GPTConfig(vocabularySize: Self.vocabulary, contextLength: 4, layers: 1, heads: 1, width: 8)
        let model = GPT(config, seed: 3)
        for p in model.parameters() { p.assign(p * 3) }  // a non-uniform policy
        // exact: every completion y ∈ V², weighted by p(y)·r(y)
        let all = (0..<Self.vocabulary).flatMap { a in (0..<Self.vocabulary).map { [a, $0] } }
        let logp = withoutGradients { model.completionLogProbs(prompts: Array(repeating: [0], count: all.count), completions: all) }
        let probs = all.indices.map { expf(logp.data[2 * $0] + logp.data[2 * $0 + 1]) }
        #expect(abs(probs.reduce(0, +) - 1) < 1e-4)
        #expect(probs.max()! < 0.5, "probabilities \(probs)")
        let exact = Self.gradient(model, completions: all, weights: all.indices.map { probs[$0] * Self.reward(all[$0]) })
        // sampled: M completions at temperature 1, REINFORCE weights r/M
        let m = 20_000
        let samples = try Sampler(model: model).generate(
            Array(repeating: [0], count: m), options: SamplingOptions(temperature: 1, maxNewTokens: 2, stopTokens: []), seed: 7)
        let ys = samples.map(\.tokens)
        #expect(ys.allSatisfy { $0.count == 2 })
        let sampled = Self.gradient(model, completions: ys, weights: ys.map { Self.reward($0) / Float(m) })
        // tolerance: with M = 20,000 the measured relative distance is 0.030; 0.15 leaves 5× room
        let error = Self.relativeDistance(sampled, exact)
        #expect(error < 0.15, "relative distance \(error)")
        // a wrong estimator (rewards of the wrong completions) is far off: the check can fail
        let wrong = Self.gradient(model, completions: ys, weights: ys.map { Self.reward($0.reversed()) / Float(m) })
        #expect(Self.relativeDistance(wrong, exact) > 0.5)
    }

    @Test func completionLogProbsMatchTheSamplersLogProbs() throws {
        let model = GPT(GPTConfig(vocabularySize: 9, contextLength: 12, layers: 2, heads: 2, width: 16), seed: 4)
        let prompts = [[1, 2, 3], [4], [5, 6]]
        let gens = try Sampler(model: model).generate(prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 5, stopTokens: []), seed: 1)
        let lp = withoutGradients { model.completionLogProbs(prompts: prompts, completions: gens.map(\.tokens)) }
        let expected = gens.flatMap(\.logProbs)
        #expect(lp.count == expected.count)
        for (a, b) in zip(lp.toArray(), expected) { #expect(abs(a - b) < 1e-4) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
