import Foundation
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// PPO with a critic (`advantage_estimator: gae`): GAE, the per-token rewards, adaptive KL, the
/// clipped value loss, the value head's gradient, and the trainer's critic learning to predict
/// returns.
@Suite struct PPOTests {
    /// rewards (0, 0, 1), values (0.5, 0.6, 0.7), γ 0.9, λ 0.8, by hand:
    /// δ₂ = 1 − 0.7 = 0.3, δ₁ = 0.9·0.7 − 0.6 = 0.03, δ₀ = 0.9·0.6 − 0.5 = 0.04;
    /// A₂ = 0.3, A₁ = 0.03 + 0.72·0.3 = 0.246, A₀ = 0.04 + 0.72·0.246 = 0.21712; R = A + V.
    @Test func gaeMatchesAHandComputedExample() {
        let (a, r) = generalizedAdvantages(rewards: [0, 0, 1], values: [0.5, 0.6, 0.7], gamma: 0.9, lambda: 0.8)
        for (x, y) in zip(a, [0.21712, 0.246, 0.3]) { #expect(abs(x - y) < 1e-12, "\(a)") }
        for (x, y) in zip(r, [0.71712, 0.846, 1.0]) { #expect(abs(x - y) < 1e-12, "\(r)") }
        // γ = λ = 1: each return is the reward to go, whatever the values (Monte Carlo)
        let (_, mc) = generalizedAdvantages(rewards: [0.5, -0.25, 1], values: [3, -2, 0.1], gamma: 1, lambda: 1)
        for (x, y) in zip(mc, [1.25, 0.75, 1]) { #expect(abs(x - y) < 1e-12, "\(mc)") }
        // λ = 0: one-step TD, Aₜ = δₜ
        let (td, _) = generalizedAdvantages(rewards: [0, 1], values: [0.2, 0.4], gamma: 1, lambda: 0)
        #expect(abs(td[0] - 0.2) < 1e-12 && abs(td[1] - 0.6) < 1e-12)
    }

    @Test func tokenRewardsCarryTheKLAndTheScoreAtTheEnd() {
        let r = ppoTokenRewards(score: 1, logProbs: [-1, -2], referenceLogProbs: [-1.5, -1], beta: 0.1)
        #expect(abs(r[0] - (-0.05)) < 1e-7 && abs(r[1] - 1.1) < 1e-7)
        #expect(ppoTokenRewards(score: 0.5, logProbs: [-1, -2, -3], referenceLogProbs: nil, beta: 0.1) == [0, 0, 0.5])
    }

    @Test func klControllerMovesBetaTowardTheTarget() {
        var c = KLController(beta: 0.2, target: 6, horizon: 10_000)
        c.update(kl: 12, completions: 100)  // error clipped to +0.2
        #expect(abs(c.beta - 0.2 * (1 + 0.2 * 100 / 10_000)) < 1e-15)
        let raised = c.beta
        c.update(kl: 5.4, completions: 100)  // error −0.1
        #expect(abs(c.beta - raised * (1 - 0.1 * 100 / 10_000)) < 1e-15)
        var fixed = KLController(beta: 0.2)
        fixed.update(kl: 100, completions: 64)
        #expect(fixed.beta == 0.2)
    }

    @Test func valueLossClipsAsPPO() {
        // V moved 0.5 from V_old with ε_v 0.2: V_clip = 0.7, (0.7 − 2)² = 1.69 > (1 − 2)² = 1 → the clipped term, no gradient
        var l = clippedValueLoss(value: 1, old: 0.5, target: 2, clipRange: 0.2)
        #expect(abs(l.loss - 0.845) < 1e-6 && l.grad == 0 && l.clipped)
        // inside the band: ½(V − R)², gradient V − R
        l = clippedValueLoss(value: 0.6, old: 0.5, target: 2, clipRange: 0.2)
        #expect(abs(l.loss - 0.98) < 1e-6 && abs(l.grad - (-1.4)) < 1e-6 && !l.clipped)
        // moved away from the target's side: the unclipped term is larger and keeps its gradient
        l = clippedValueLoss(value: 0, old: 0.5, target: 2, clipRange: 0.2)
        #expect(abs(l.loss - 2) < 1e-6 && abs(l.grad - (-2)) < 1e-6 && !l.clipped)
        #expect(explainedVariance(values: [1, 2, 3], returns: [1, 2, 3]) == 1)
        #expect(abs(explainedVariance(values: [5, 5, 5], returns: [1, 2, 3])!) < 1e-12)
        #expect(explainedVariance(values: [1, 2], returns: [3, 3]) == nil)
    }

    /// d(Σ cₜ·Vₜ)/dθ through the value head and the backbone, against central differences.
    @Test func valueHeadGradientMatchesFiniteDifferences() throws {
        let model = TinyRL.model(seed: 4, scale: 2)
        var g = RandomGenerator(seed: 5)
        let head = Linear(model.config.width, 1, bias: true, std: 0.5, using: &g)
        let prompts = [[0, 6, 7], [0, 6, 7], [0, 8]], completions = [[9, 10], [11], [12, 13, 2]]
        let c: [Float] = [0.3, -1.2, 0.7, 0.5, -0.4, 1.1]
        func objective() -> Float {
            let v = model.completionLogProbsEntropyAndValues(prompts: prompts, completions: completions, valueHead: head).values
            return zip(v.toArray(), c).reduce(0) { $0 + $1.0 * $1.1 }
        }
        let v = model.completionLogProbsEntropyAndValues(prompts: prompts, completions: completions, valueHead: head).values
        #expect(v.shape == [6])
        (v * Tensor(shape: [6], data: c)).sum().backward()
        for tensor in [head.weight, head.bias!, model.parameters()[1]] {
            let fd = finiteDifferenceGradient(of: tensor, step: 1e-2, objective)
            let analytic = tensor.grad!.toArray()
            let scale = max(1, fd.map(abs).max() ?? 1)
            for (a, b) in zip(analytic, fd) { #expect(abs(Double(a) - b) < 2e-2 * scale, "\(a) vs \(b)") }
        }
    }

    /// On a reward with per-token structure — the share of "a" among a completion's 6 tokens,
    /// which each token's choice adds to and the prefix shows — the critic learns to predict the
    /// returns: explained variance above 0.5 after training. PPO's metrics are logged, β follows
    /// the KL target, and a non-gae step logs none of them.
    @Test func theCriticLearnsToPredictReturns() throws {
        var config = TinyRL.config()
        config.advantageEstimator = .gae
        config.gamma = 1
        config.lam = 0.95
        config.vfCoef = 1
        config.cliprangeValue = 10
        config.loss.beta = 0.05
        config.klTarget = 0.01
        config.training.learningRate = 3e-3
        let reward = ClosureReward { _, y, _ in Double(y.filter { $0 == "a" }.count) / 6 }
        let trainer = try TinyRL.trainer(model: TinyRL.model(scale: 3), config: config, reward: reward)
        var variances: [Double] = []
        var last: GRPOStepMetrics?
        for _ in 0..<60 {
            let m = try trainer.step()
            variances.append(m.explainedVariance ?? -1)
            last = m
        }
        let late = variances.suffix(10).reduce(0, +) / 10
        print("ppo: explained variance, first 5 steps \(variances.prefix(5).map { String(format: "%.2f", $0) }), last 10 mean \(String(format: "%.3f", late))")
        #expect(late > 0.5, "\(variances)")
        let m = try #require(last)
        #expect(m.valueLoss != nil && m.valueClipFraction != nil && m.klCoefficient != nil && m.klCoefficient != 0.05,
                "adaptive KL moved β: \(String(describing: m.klCoefficient))")
        #expect(trainer.extraTensors.map(\.name).contains("value_head.weight"))
        let plain = try TinyRL.trainer(model: TinyRL.model(scale: 3), reward: reward).step()
        #expect(plain.valueLoss == nil && plain.explainedVariance == nil)
    }

    /// A gae trainer resumes exactly: the critic's weights and AdamW state and the KL controller
    /// travel in the checkpoint.
    @Test func aGAETrainerResumesBitIdentically() throws {
        var config = TinyRL.config()
        config.advantageEstimator = .gae
        config.loss.beta = 0.05
        config.klTarget = 0.01
        let reward = ClosureReward { _, y, _ in Double(y.filter { $0 == "a" }.count) / 6 }
        func trainer(_ seed: UInt64) throws -> GRPOTrainer { try TinyRL.trainer(model: TinyRL.model(seed: seed, scale: 3), config: config, reward: reward) }
        let a = try trainer(1)
        for _ in 0..<2 { _ = try a.step() }
        let path = makeTemporaryDirectory("ppo") + "/c.rftckpt"
        try Checkpoint.capture(a).save(to: path)
        let b = try trainer(7)
        try Checkpoint.load(from: path).restore(into: b, path: path)
        #expect(b.trainerState == a.trainerState && b.klController == a.klController)
        let (ma, mb) = (withoutTimings(try a.step()), withoutTimings(try b.step()))
        #expect(ma == mb)
        #expect(flatWeights(a.model) == flatWeights(b.model) && a.valueHead!.weight.toArray() == b.valueHead!.weight.toArray())
    }

    @Test func gaeSettingsAreChecked() {
        func reason(_ change: (inout GRPOConfig) -> Void) -> String? {
            var c = GRPOConfig()
            c.advantageEstimator = .gae
            change(&c)
            do { try c.validate(); return nil } catch { return "\(error)" }
        }
        #expect(reason { _ in } == nil)
        #expect(reason { $0.loss.importanceSamplingLevel = .sequence }?.contains("importance_sampling_level") == true)
        #expect(reason { $0.klTarget = 6 }?.contains("set beta > 0") == true)
        #expect(reason { $0.lam = 1.5 }?.contains("lam") == true)
        #expect(reason { $0.advantageEstimator = .grpo; $0.loss.beta = 0.1; $0.klTarget = 6 }?.contains("gae's") == true)
    }
}
