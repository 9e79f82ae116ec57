import Foundation
import Testing
@testable import RFT
@testable import RFTTensor

/// TRL's GRPO loss variants, each on a hand-computed small batch: clip-higher (`epsilon_high`),
/// two-sided clipping (`delta`), GSPO's sequence-level ratio (`importance_sampling_level`), and
/// completions masked out of the loss (`mask_truncated_completions`), plus the trainer options
/// that decide the masks.
@Suite struct LossVariantTests {
    /// Loss, d loss / d log π and clip fraction of one token with advantage `a` at ratio `ratio`.
    func token(_ a: Float, ratio: Float, _ config: PolicyLossConfig) -> (loss: Float, grad: Float, clipped: Float) {
        let lp = Tensor(shape: [1], data: [-1], requiresGrad: true)
        let (loss, stats) = policyGradientLoss(logProbs: lp, sequenceLengths: [1], advantages: [a], oldLogProbs: [-1 - logf(ratio)],
                                               config: config)
        loss.backward()
        return (loss.item(), lp.grad!.item(), stats.clipFraction)
    }

    @Test func epsilonHighRaisesOnlyTheUpperClip() {
        let config = PolicyLossConfig(epsilon: 0.2, epsilonHigh: 0.28)
        #expect(config.clipRange == 0.8...1.28)
        // A = 2 at ratio 1.25: clipped at 1.2 by plain ε, inside [0.8, 1.28] with clip-higher
        var r = token(2, ratio: 1.25, config)
        #expect(abs(r.loss - (-1.25 * 2)) < 1e-5 && abs(r.grad - (-1.25 * 2)) < 1e-5 && r.clipped == 0)
        r = token(2, ratio: 1.25, PolicyLossConfig(epsilon: 0.2))
        #expect(abs(r.loss - (-1.2 * 2)) < 1e-5 && r.grad == 0 && r.clipped == 1)
        // above 1.28 it clips
        r = token(2, ratio: 1.4, config)
        #expect(abs(r.loss - (-1.28 * 2)) < 1e-5 && r.grad == 0 && r.clipped == 1)
        // the lower end stays 1 − ε: A = −1 at ratio 0.75 is clipped at 0.8
        r = token(-1, ratio: 0.75, config)
        #expect(abs(r.loss - 0.8) < 1e-5 && r.grad == 0 && r.clipped == 1)
    }

    @Test func deltaCapsTheRatioOfNegativeAdvantages() {
        // A = −1 at ratio 3: −min(ρA, clip(ρ)A) = −min(−3, −1.2) = 3, gradient ρ·(−A)... = 3
        var r = token(-1, ratio: 3, PolicyLossConfig(epsilon: 0.2))
        #expect(abs(r.loss - 3) < 1e-5 && abs(r.grad - 3) < 1e-4)
        // with δ = 2 the unclipped ratio is capped: −min(−2, −1.2) = 2, and no gradient flows past the cap
        r = token(-1, ratio: 3, PolicyLossConfig(epsilon: 0.2, delta: 2))
        #expect(abs(r.loss - 2) < 1e-5 && r.grad == 0)
        // below the cap δ changes nothing
        r = token(-1, ratio: 1.5, PolicyLossConfig(epsilon: 0.2, delta: 2))
        #expect(abs(r.loss - 1.5) < 1e-5 && abs(r.grad - 1.5) < 1e-5)
        // δ must lie above the clip range
        #expect(throws: ConfigError.self) { try PolicyLossConfig(epsilon: 0.2, delta: 1.1).validate() }
        #expect(throws: ConfigError.self) { try PolicyLossConfig(epsilon: 0.2, epsilonHigh: 0.3, delta: 1.25).validate() }
        #expect(throws: Never.self) { try PolicyLossConfig(epsilon: 0.2, epsilonHigh: 0.28, delta: 2).validate() }
    }

    /// GSPO on two completions: log-ratios (0.1, 0.3) and (−0.1), advantages 1 and −1, dapo.
    /// Completion 1: ρ = e^0.2 ≈ 1.2214 > 1.2, A > 0 → clipped, each token's loss −1.2, no gradient.
    /// Completion 2: ρ = e^−0.1 inside the range → its token's loss ρ, gradient ρ/3 (w = 1/3).
    @Test func sequenceLevelRatioIsTheExponentialOfTheMeanLogRatio() {
        let values: [Float] = [-1, -2, -0.5]
        let old: [Float] = [-1.1, -2.3, -0.4]
        let lp = Tensor(shape: [3], data: values, requiresGrad: true)
        let config = PolicyLossConfig(epsilon: 0.2, importanceSamplingLevel: .sequence, lossType: .dapo)
        let (loss, stats) = policyGradientLoss(logProbs: lp, sequenceLengths: [2, 1], advantages: [1, -1], oldLogProbs: old, config: config)
        loss.backward()
        let rho2 = expf(-0.1)
        #expect(abs(loss.item() - (-1.2 - 1.2 + rho2) / 3) < 1e-5)
        #expect(abs(stats.clipFraction - 2.0 / 3) < 1e-6, "both tokens of completion 1 are clipped")
        #expect(lp.grad!.data[0] == 0 && lp.grad!.data[1] == 0)
        #expect(abs(lp.grad!.data[2] - rho2 / 3) < 1e-5)
        // token level on the same batch differs: token 1's ratio e^0.1 is inside the range
        let tokenLoss = policyGradientLoss(logProbs: Tensor(shape: [3], data: values), sequenceLengths: [2, 1], advantages: [1, -1],
                                           oldLogProbs: old, config: PolicyLossConfig(epsilon: 0.2, lossType: .dapo)).loss.item()
        #expect(abs(tokenLoss - (-expf(0.1) - 1.2 + rho2) / 3) < 1e-5)
    }

    /// The sequence-level gradient — each token's loss depends on every token of its completion
    /// through ρ — against central differences, for every loss type, with a KL term.
    @Test func sequenceLevelGradientMatchesFiniteDifferences() {
        let values: [Float] = [-0.5, -1.2, -2.0, -0.1, -0.9]
        let old: [Float] = [-0.55, -1.1, -2.05, -0.12, -0.8], ref: [Float] = [-0.4, -1.5, -1.9, -0.3, -1.0]
        for lossType in LossType.allCases {
            let config = PolicyLossConfig(epsilon: 0.2, epsilonHigh: 0.3, importanceSamplingLevel: .sequence, beta: 0.3, lossType: lossType)
            let lp = Tensor(shape: [5], data: values, requiresGrad: true)
            func loss() -> Float {
                policyGradientLoss(logProbs: lp, sequenceLengths: [2, 3], advantages: [1.5, -0.7], oldLogProbs: old,
                                   referenceLogProbs: ref, config: config, maxCompletionLength: 4).loss.item()
            }
            policyGradientLoss(logProbs: lp, sequenceLengths: [2, 3], advantages: [1.5, -0.7], oldLogProbs: old,
                               referenceLogProbs: ref, config: config, maxCompletionLength: 4).loss.backward()
            let fd = finiteDifferenceGradient(of: lp, step: 1e-3, loss)
            for i in 0..<5 { #expect(abs(fd[i] - Double(lp.grad!.data[i])) < 2e-3, "\(lossType) token \(i)") }
        }
    }

    /// At π_old = π (one pass: no old log-probs) GSPO's gradient is the token-level one under
    /// every loss type: −A/length per token, times the completion's total weight.
    @Test func sequenceLevelAtRatioOneHasTheTokenLevelGradient() {
        let values: [Float] = [-0.5, -1.2, -2.0, -0.1, -0.9]
        for lossType in LossType.allCases {
            func gradient(_ level: ImportanceSamplingLevel) -> [Float] {
                let lp = Tensor(shape: [5], data: values, requiresGrad: true)
                policyGradientLoss(logProbs: lp, sequenceLengths: [2, 3], advantages: [1.5, -0.7],
                                   config: PolicyLossConfig(importanceSamplingLevel: level, lossType: lossType), maxCompletionLength: 4).loss.backward()
                return lp.grad!.toArray()
            }
            let (token, sequence) = (gradient(.token), gradient(.sequence))
            for (a, b) in zip(token, sequence) { #expect(abs(a - b) < 1e-6, "\(lossType): \(token) vs \(sequence)") }
        }
    }

    /// Completion 2 (2 tokens) masked out of a batch with completion 1 (1 token), A = 1, ratio 1
    /// (per-token loss −1): bnpo/dapo divide by the 1 token left, grpo by both completions
    /// (TRL's mean over the batch), dr_grpo by 2 × 4; the masked tokens get no gradient and
    /// are not in the statistics.
    @Test func maskedCompletionsLeaveTheLossAsTRLs() {
        let values: [Float] = [-1, -2, -4], ref: [Float] = [-1.5, -1, -3]
        func run(_ t: LossType) -> (loss: Float, grad: [Float], tokens: Double) {
            let lp = Tensor(shape: [3], data: values, requiresGrad: true)
            let (loss, stats) = policyGradientLoss(logProbs: lp, sequenceLengths: [1, 2], advantages: [1, 1], referenceLogProbs: ref,
                                                   config: PolicyLossConfig(beta: 0, lossType: t), inLoss: [true, false],
                                                   maxCompletionLength: 4)
            loss.backward()
            return (loss.item(), lp.grad!.toArray(), stats.sums.tokens)
        }
        let expected: [LossType: Float] = [.bnpo: -1, .dapo: -1, .grpo: -0.5, .drGRPO: -1.0 / 8]
        for (t, value) in expected {
            let r = run(t)
            #expect(abs(r.loss - value) < 1e-6, "\(t): \(r.loss)")
            #expect(r.grad[1] == 0 && r.grad[2] == 0 && abs(r.grad[0] - value) < 1e-6, "\(t): \(r.grad)")
            #expect(r.tokens == 1)
        }
        let normalizer = PolicyLossNormalizer(lengths: [1, 2, 0], inLoss: [true, false, true])
        #expect(normalizer == PolicyLossNormalizer(lengths: [1, 2, 0]).with(tokens: 1))
    }

    @Test func theNewKeysReadUnderTRLsNames() throws {
        let c = try GRPOConfig.decode(["epsilon_high": .number(0.28), "delta": .number(2), "importance_sampling_level": .string("sequence"),
                                       "mask_truncated_completions": .bool(true), "mask_zero_advantage_groups": .bool(true)])
        #expect(c.loss.epsilonHigh == 0.28 && c.loss.delta == 2 && c.loss.importanceSamplingLevel == .sequence)
        #expect(c.maskTruncatedCompletions && c.maskZeroAdvantageGroups)
        for key in ["epsilon_high", "delta", "importance_sampling_level", "mask_truncated_completions"] { #expect(TRLKeys[key] == nil, "\(key)") }
    }

    /// The weights after one step of a trainer whose rewards are the same for every completion
    /// (all advantages zero) with an entropy bonus, which alone moves the weights.
    func weightsAfterAConstantRewardStep(maskZeroAdvantageGroups: Bool) throws -> (before: [[Float]], after: [[Float]], loss: Double) {
        let model = TinyRL.model(scale: 3)
        var config = TinyRL.config()
        config.loss.entropyCoefficient = 0.5
        config.maskZeroAdvantageGroups = maskZeroAdvantageGroups
        let trainer = try TinyRL.trainer(model: model, config: config, reward: ClosureReward { _, _, _ in 1 })
        let before = model.parameters().map { $0.toArray() }
        let metrics = try trainer.step()
        return (before, model.parameters().map { $0.toArray() }, metrics.loss)
    }

    @Test func zeroAdvantageGroupsCanBeLeftOutEntirely() throws {
        let kept = try weightsAfterAConstantRewardStep(maskZeroAdvantageGroups: false)
        #expect(kept.before != kept.after, "the entropy bonus of zero-advantage groups moves the weights")
        let masked = try weightsAfterAConstantRewardStep(maskZeroAdvantageGroups: true)
        #expect(masked.before == masked.after && masked.loss == 0, "every group is masked: nothing to train on")
    }

    /// With at most 2 new tokens many completions of the tiny model are cut off; rewarded by
    /// length, the step with the mask trains on the finished ones only, so its loss differs.
    @Test func truncatedCompletionsCanBeLeftOut() throws {
        func step(mask: Bool) throws -> (GRPOStepMetrics, changed: Bool) {
            let model = TinyRL.model(scale: 3)
            var config = TinyRL.config()
            config.maxCompletionLength = 2
            config.maskTruncatedCompletions = mask
            let eos = TinyRL.tokenizer.stopTokens
            let reward = ClosureReward { _, completion, _ in Double(completion.count) / 2 }
            let trainer = try TinyRL.trainer(model: model, config: config, reward: reward)
            let before = model.parameters().map { $0.toArray() }
            let generator = trainer.generator
            let batch = try trainer.rollout(promptCount: config.promptsPerStep)
            trainer.generator = generator  // the step draws the same rollouts again
            let truncated = batch.completions.filter { $0.count == 2 && !eos.contains($0.last!) }.count
            #expect(truncated > 0 && truncated < batch.completions.count, "the batch mixes truncated and finished completions")
            let metrics = try trainer.step()
            return (metrics, before != model.parameters().map { $0.toArray() })
        }
        let (plain, plainChanged) = try step(mask: false)
        let (masked, maskedChanged) = try step(mask: true)
        #expect(plainChanged && maskedChanged)
        #expect(plain.loss != masked.loss, "the truncated completions' tokens are out of the masked loss")
    }
}

extension PolicyLossNormalizer {
    /// The normaliser with another token count.
    func with(tokens: Int) -> PolicyLossNormalizer {
        var copy = self
        copy.tokens = tokens
        return copy
    }
}
