import Foundation
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// A tiny character-level setup shared by the trainer feature tests: prompts "a123" / "b456",
/// a 1-layer GPT whose weights are scaled up so its policy is far from uniform.
enum TinyRL {
    static let tokenizer = Tokenizer(characters: "ab0123456789")

    /// A 1-layer, width-16 GPT over the tokenizer's vocabulary (weights × `scale`).
    static func model(seed: UInt64 = 1, scale: Float = 1) -> GPT {
        let m = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 16, layers: 1, heads: 2, width: 16), seed: seed)
        if scale != 1 { for p in m.parameters() { p.assign(p * scale) } }
        return m
    }

    /// n prompts: "a" or "b" (even odds) followed by three digits.
    static func prompts(_ g: inout RandomGenerator, _ n: Int) -> [TaskExample] {
        (0..<n).map { _ in
            let head = g.next() % 2 == 0 ? "a" : "b"
            let digits = (0..<3).map { _ in String(g.next() % 10) }.joined()
            return TaskExample(prompt: head + digits, reference: nil, length: 4)
        }
    }

    /// A config small enough for a step in milliseconds: 4 prompts × 4 completions.
    static func config() -> GRPOConfig {
        var c = GRPOConfig()
        c.numGenerations = 4
        c.training.perDeviceTrainBatchSize = 16
        c.maxCompletionLength = 6
        c.training.learningRate = 1e-2
        c.training.seed = 7
        return c
    }

    /// A trainer on `prompts` with `config` (default `config()`).
    static func trainer(model: GPT, config: GRPOConfig = config(), reward: any RewardFunction) throws -> GRPOTrainer {
        try GRPOTrainer(model: model, tokenizer: tokenizer, config: config, reward: reward, source: .generated(prompts))
    }
}

/// Central-difference gradient of the scalar `loss()` with respect to every element of `x`
/// (the loss evaluated without gradients, in Float; h = 1e-2 as the RFTTensor gradchecks).
func finiteDifferenceGradient(of x: Tensor, step h: Float = 1e-2, _ loss: () -> Float) -> [Double] {
    withoutGradients {
        (0..<x.count).map { j in
            let saved = x.data[j]
            x.data[j] = saved + h
            let up = Double(loss())
            x.data[j] = saved - h
            let down = Double(loss())
            x.data[j] = saved
            return (up - down) / (Double(saved + h) - Double(saved - h))
        }
    }
}

/// Max |analytic − numeric| ≤ relTol · max |numeric| + absTol, and the gradient is not vacuous.
func expectGradientsMatch(_ analytic: [Float], _ numeric: [Double], relTol: Double = 2e-2, absTol: Double = 1e-4,
                          _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
    let scale = numeric.map { abs($0) }.max() ?? 0
    let error = zip(analytic, numeric).map { abs(Double($0) - $1) }.max() ?? .infinity
    #expect(scale > 1e-3, "\(label): vacuous gradient (max |numeric| = \(scale))", sourceLocation: sourceLocation)
    #expect(error <= relTol * scale + absTol, "\(label): max |a − n| = \(error), max |n| = \(scale)", sourceLocation: sourceLocation)
}

/// Max |a − b| of two equal-length arrays.
func largestDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

/// −Σ p·log p of one row of logits, in Double.
func naiveEntropy(_ row: ArraySlice<Float>) -> Double {
    let m = Double(row.max()!)
    let z = row.reduce(0.0) { $0 + exp(Double($1) - m) }
    return -row.reduce(0.0) { acc, x in let lp = Double(x) - m - log(z); return acc + exp(lp) * lp }
}

@Suite struct EntropyBonusTests {
    /// The fused op gives tokenLogProbs' values bit for bit, the entropy of each selected row,
    /// and gradients that match finite differences (V = 37: SIMD lanes and the scalar tail).
    @Test func fusedLogProbsAndEntropyMatchReferenceAndFiniteDifferences() {
        var g = RandomGenerator(seed: 3)
        let logits = Tensor.randomNormal([5, 37], std: 2, using: &g)
        logits.requiresGrad = true
        let rows = [0, 2, 3], tokens = [1, 36, 17]
        let (lp, h) = tokenLogProbsAndEntropy(logits, rows: rows, tokens: tokens)
        let all = withoutGradients { tokenLogProbs(logits, tokens: [1, 0, 36, 17, 0]) }
        #expect(lp.toArray() == [all.data[0], all.data[2], all.data[3]])
        let values = logits.toArray()
        for (i, r) in rows.enumerated() {
            #expect(abs(Double(h!.data[i]) - naiveEntropy(values[(r * 37)..<((r + 1) * 37)])) < 1e-5)
        }
        #expect(tokenLogProbsAndEntropy(logits, rows: rows, tokens: tokens, entropy: false).entropy == nil)
        // L = Σ a·logp + Σ b·H with fixed weights
        let a: [Float] = [0.7, -1.3, 0.4], b: [Float] = [1.1, 0.5, -0.9]
        lp.backward(gradient: Tensor(shape: [3], data: a))
        h!.backward(gradient: Tensor(shape: [3], data: b))
        let analytic = logits.grad!.toArray()
        logits.grad = nil
        let numeric = finiteDifferenceGradient(of: logits) {
            let (l, e) = tokenLogProbsAndEntropy(logits, rows: rows, tokens: tokens)
            return (0..<3).reduce(Float(0)) { $0 + a[$1] * l.data[$1] + b[$1] * e!.data[$1] }
        }
        expectGradientsMatch(analytic, numeric, relTol: 1e-2, "logits")
        #expect(analytic[37..<74].allSatisfy { $0 == 0 } && analytic[148...].allSatisfy { $0 == 0 }, "unselected rows get no gradient")
    }

    /// loss −= c·entropy: the value moves by exactly −c·(aggregated entropy), and the gradient of
    /// the whole loss through a GPT matches finite differences, with and without advantages.
    @Test(arguments: [LossType.bnpo, .grpo])
    func entropyBonusGradientThroughGPTMatchesFiniteDifferences(aggregation: LossType) {
        let model = TinyRL.model(seed: 5, scale: 3)
        let prompts = [[0, 6, 9, 3], [0, 7, 3]], completions = [[8, 12, 1], [5, 1]]
        for advantages in [[Float(0), 0], [1, -0.5]] {
            let config = PolicyLossConfig(lossType: aggregation, entropyCoefficient: 0.5)
            // π_old frozen at the starting point: the ratio is 1 there and varies under the finite differences
            let old = withoutGradients { model.completionLogProbs(prompts: prompts, completions: completions).toArray() }
            func loss(_ c: PolicyLossConfig) -> Tensor {
                let (lp, h) = model.completionLogProbsAndEntropy(prompts: prompts, completions: completions)
                return policyGradientLoss(logProbs: lp, sequenceLengths: [3, 2], advantages: advantages, oldLogProbs: old, entropy: h, config: c).loss
            }
            // value: the bonus subtracts c · entropy aggregated like the policy loss
            let h = withoutGradients { model.completionLogProbsAndEntropy(prompts: prompts, completions: completions).entropy.toArray() }
            let aggregated = aggregation == .bnpo ? h.reduce(0, +) / 5 : ((h[0] + h[1] + h[2]) / 3 + (h[3] + h[4]) / 2) / 2
            let without = withoutGradients { loss(PolicyLossConfig(lossType: aggregation)).item() }
            #expect(abs(withoutGradients { loss(config).item() } - (without - 0.5 * aggregated)) < 1e-5)
            // gradient
            for p in model.parameters() { p.grad = nil }
            loss(config).backward()
            for (name, tensor) in model.namedParameters() where ["ln_f.weight", "wte.weight", "h.0.mlp.proj.weight"].contains(name) {
                let numeric = finiteDifferenceGradient(of: tensor) { loss(config).item() }
                expectGradientsMatch(tensor.grad!.toArray(), numeric, "\(name), advantages \(advantages), \(aggregation)")
            }
        }
    }

    /// The sampler may fill the context and sample one more token; the teacher-forced pass
    /// (whose inputs stop before the last token) accepts that and agrees with the sampler.
    @Test func logProbsAcceptCompletionsThatFillTheContext() throws {
        let model = TinyRL.model(seed: 2, scale: 2)  // context 16
        let prompts = [Array(repeating: 6, count: 12), [0, 7]]
        let gens = try Sampler(model: model).generate(prompts, options: SamplingOptions(maxNewTokens: 20, stopTokens: []), seed: 3)
        #expect(gens[0].tokens.count == 5 && gens[0].finishReason == .context, "12 + 5 = context + 1 tokens")
        let (lp, h) = withoutGradients { model.completionLogProbsAndEntropy(prompts: prompts, completions: gens.map(\.tokens)) }
        #expect(largestDifference(lp.toArray(), gens.flatMap(\.logProbs)) < 1e-4)
        #expect(h.count == lp.count && h.toArray().allSatisfy { $0 > 0 })
    }

    /// The trainer's `entropy` metric is the mean over all completion tokens of −Σ p·log p of
    /// the sampling policy, computed here by hand one sequence at a time.
    @Test func entropyMetricMatchesHandComputation() throws {
        let reward = ClosureReward { _, completion, _ in Double(completion.count % 2) }
        let probe = try TinyRL.trainer(model: TinyRL.model(scale: 3), reward: reward)
        let batch = try probe.rollout(promptCount: TinyRL.config().promptsPerStep)  // the rollouts of a fresh trainer's first step
        var sum = 0.0, tokens = 0
        let model = probe.model
        withoutGradients {
            for (i, c) in batch.completions.enumerated() where !c.isEmpty {
                let p = batch.prompts[i / batch.groupSize], seq = p + c
                let logits = model(seq, batch: 1, length: seq.count).toArray()   // (1, T, V)
                let v = TinyRL.tokenizer.vocabularySize
                for k in 0..<c.count {
                    let row = p.count - 1 + k
                    sum += naiveEntropy(logits[(row * v)..<((row + 1) * v)])
                    tokens += 1
                }
            }
        }
        #expect(tokens > 20)
        let trainer = try TinyRL.trainer(model: TinyRL.model(scale: 3), reward: reward)
        let metrics = try trainer.step()
        #expect(abs(metrics.entropy - sum / Double(tokens)) < 1e-4, "metric \(metrics.entropy), by hand \(sum / Double(tokens))")
        #expect(metrics.entropy > 0.1 && metrics.entropy < log(Double(TinyRL.tokenizer.vocabularySize)))
    }
}
