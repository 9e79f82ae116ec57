import Foundation
import Testing
@testable import RFT
@testable import RFTTensor

@Suite struct AdvantageTests {
    @Test func rlooLeavesOneOut() throws {
        var c = AdvantageComputer(.rloo)
        let a = try c.advantages(rewards: [1, 0, 0, 1, 0.5, 0.5], groupSize: 3)
        // group 1: 1 − (0+0)/2, 0 − (1+0)/2, 0 − (1+0)/2; group 2: 1 − 0.5, 0.5 − 0.75, 0.5 − 0.75
        let expected = [1.0, -0.5, -0.5, 0.5, -0.25, -0.25]
        for (x, y) in zip(a, expected) { #expect(abs(x - y) < 1e-12) }
    }

    @Test func grpoNormalisesByUnbiasedGroupStd() throws {
        var c = AdvantageComputer(.grpo)
        let a = try c.advantages(rewards: [1, 0, 0, 0, 2, 2, 2, 2], groupSize: 4)
        // mean 0.25, unbiased std √((0.75² + 3·0.25²)/3) = 0.5
        #expect(abs(a[0] - 0.75 / 0.5001) < 1e-12)
        #expect(abs(a[1] - (-0.25 / 0.5001)) < 1e-12)
        #expect(a[4...].allSatisfy { $0 == 0 }, "a group with equal rewards has zero advantage")
    }

    @Test func scaleRewardsNoneSubtractsTheGroupMeanOnly() throws {
        var c = AdvantageComputer(.grpo, scaleRewards: .none)  // Dr. GRPO's advantage
        #expect(try c.advantages(rewards: [3, 1, 0, 0], groupSize: 2) == [1, -1, 0, 0])
    }

    @Test func scaleRewardsBatchDividesByTheBatchStd() throws {
        var c = AdvantageComputer(.grpo, scaleRewards: .batch)
        // rewards 3, 1, 0, 0: batch mean 1, sample std √((4 + 0 + 1 + 1)/3) = √2; groups centre on 2 and 0
        let a = try c.advantages(rewards: [3, 1, 0, 0], groupSize: 2)
        let s = 2.0.squareRoot() + 1e-4
        #expect(abs(a[0] - 1 / s) < 1e-12 && abs(a[1] + 1 / s) < 1e-12 && a[2] == 0 && a[3] == 0)
        #expect(try ScaleRewards(parsing: "true") == .group && (try ScaleRewards(parsing: "false")) == ScaleRewards.none)
    }

    @Test func reinforceKeepsRewardsAndBaselineMovesSlowly() throws {
        var plain = AdvantageComputer(.reinforce)
        #expect(try plain.advantages(rewards: [0.5, 1], groupSize: 1) == [0.5, 1])
        var c = AdvantageComputer(.reinforceBaseline, baselineMomentum: 0.9)
        #expect(try c.advantages(rewards: [1, 0], groupSize: 1) == [0.5, -0.5])  // first baseline: batch mean
        #expect(c.baseline == 0.5)
        let second = try c.advantages(rewards: [1, 1], groupSize: 1)
        #expect(second == [0.5, 0.5])
        #expect(abs(c.baseline! - (0.9 * 0.5 + 0.1 * 1)) < 1e-12)
    }

    @Test func badBatchesAreTypedErrors() {
        var c = AdvantageComputer(.grpo)
        #expect(throws: AdvantageError.groupMismatch(rewards: 5, groupSize: 2)) { try c.advantages(rewards: [1, 2, 3, 4, 5], groupSize: 2) }
        #expect(throws: AdvantageError.nonFiniteReward(index: 1)) { try c.advantages(rewards: [1, .nan], groupSize: 2) }
        var r = AdvantageComputer(.rloo)
        #expect(throws: AdvantageError.groupTooSmall(estimator: .rloo, groupSize: 1)) { try r.advantages(rewards: [1], groupSize: 1) }
    }
}

@Suite struct PolicyLossTests {
    /// Loss and d loss / d log π for one token with advantage `a` and ratio `ratio`.
    func ppo(_ a: Float, ratio: Float, epsilon: Float = 0.2) -> (loss: Float, grad: Float, clipFraction: Float) {
        let lp = Tensor(shape: [1], data: [-1], requiresGrad: true)
        let old = -1 - logf(ratio)
        let (loss, stats) = policyGradientLoss(logProbs: lp, sequenceLengths: [1], advantages: [a],
                                               oldLogProbs: [old], config: PolicyLossConfig(epsilon: epsilon))
        loss.backward()
        return (loss.item(), lp.grad!.item(), stats.clipFraction)
    }

    @Test func ppoClipClipsWhereItShould() {
        // A > 0: ratios above 1+ε are clipped (no gradient), below are not
        var r = ppo(2, ratio: 1.5)
        #expect(abs(r.loss - (-1.2 * 2)) < 1e-5 && r.grad == 0 && r.clipFraction == 1)
        r = ppo(2, ratio: 0.5)
        #expect(abs(r.loss - (-0.5 * 2)) < 1e-5 && abs(r.grad - (-0.5 * 2)) < 1e-5 && r.clipFraction == 0)
        // A < 0: ratios below 1−ε are clipped, above are not
        r = ppo(-2, ratio: 0.5)
        #expect(abs(r.loss - (0.8 * 2)) < 1e-5 && r.grad == 0 && r.clipFraction == 1)
        r = ppo(-2, ratio: 1.5)
        #expect(abs(r.loss - (1.5 * 2)) < 1e-5 && abs(r.grad - 1.5 * 2) < 1e-5 && r.clipFraction == 0)
        // inside the trust region: the plain ratio objective
        r = ppo(1, ratio: 1.1)
        #expect(abs(r.loss - (-1.1)) < 1e-5 && abs(r.grad - (-1.1)) < 1e-5)
    }

    @Test func klEstimatorsMatchTheirDefinitions() {
        for (lp, ref) in [(-1.0, -1.5), (-2.0, -0.3), (-0.7, -0.7)] as [(Double, Double)] {
            let k1 = KLEstimator.k1.value(logProb: Float(lp), referenceLogProb: Float(ref))
            let k3 = KLEstimator.k3.value(logProb: Float(lp), referenceLogProb: Float(ref))
            #expect(abs(Double(k1) - (lp - ref)) < 1e-6)
            #expect(abs(Double(k3) - (exp(ref - lp) - (ref - lp) - 1)) < 1e-6)
            #expect(k3 >= 0)
            for e in KLEstimator.allCases {  // the derivative against central differences
                let h: Float = 1e-2
                let fd = (e.value(logProb: Float(lp) + h, referenceLogProb: Float(ref))
                          - e.value(logProb: Float(lp) - h, referenceLogProb: Float(ref))) / (2 * h)
                #expect(abs(fd - e.derivative(logProb: Float(lp), referenceLogProb: Float(ref))) < 1e-3)
            }
        }
    }

    @Test func gradientMatchesFiniteDifferences() {
        let values: [Float] = [-0.5, -1.2, -2.0, -0.1, -0.9]
        let lengths = [2, 3], adv: [Float] = [1.5, -0.7]
        let old: [Float] = [-0.6, -1.0, -2.2, -0.1, -0.5], ref: [Float] = [-0.4, -1.5, -1.9, -0.3, -1.0]
        for oldLogProbs in [nil, old] {
            for lossType in LossType.allCases {
                let config = PolicyLossConfig(epsilon: 0.2, beta: 0.3, klEstimator: .k3, lossType: lossType)
                func loss(_ v: [Float]) -> Float {
                    withoutGradients {
                        policyGradientLoss(logProbs: Tensor(shape: [5], data: v), sequenceLengths: lengths, advantages: adv,
                                           oldLogProbs: oldLogProbs ?? v, referenceLogProbs: ref, config: config, maxCompletionLength: 4).loss.item()
                    }
                }
                let lp = Tensor(shape: [5], data: values, requiresGrad: true)
                policyGradientLoss(logProbs: lp, sequenceLengths: lengths, advantages: adv, oldLogProbs: oldLogProbs,
                                   referenceLogProbs: ref, config: config, maxCompletionLength: 4).loss.backward()
                for i in 0..<5 {
                    // with π_old = π (no old log-probs) the ratio is 1 at every point: its gradient is −A∇log π plus KL
                    var up = values, down = values
                    up[i] += 1e-3; down[i] -= 1e-3
                    let fd = oldLogProbs == nil ? finiteDifferenceAtRatioOne(i, values, lengths, adv, ref, config) : (loss(up) - loss(down)) / 2e-3
                    #expect(abs(fd - lp.grad!.data[i]) < 2e-3, "\(lossType) old \(oldLogProbs != nil) token \(i)")
                }
            }
        }
    }

    /// d loss / d log π of token i with the ratio held at 1: the loss with old log-probs frozen at
    /// `values`, differentiated numerically.
    func finiteDifferenceAtRatioOne(_ i: Int, _ values: [Float], _ lengths: [Int], _ adv: [Float], _ ref: [Float],
                                    _ config: PolicyLossConfig) -> Float {
        func loss(_ v: [Float]) -> Float {
            withoutGradients {
                policyGradientLoss(logProbs: Tensor(shape: [5], data: v), sequenceLengths: lengths, advantages: adv,
                                   oldLogProbs: values, referenceLogProbs: ref, config: config, maxCompletionLength: 4).loss.item()
            }
        }
        var up = values, down = values
        up[i] += 1e-3; down[i] -= 1e-3
        return (loss(up) - loss(down)) / 2e-3
    }

    /// TRL's four normalisations on a hand-computed batch: A = 1, ratios 1.1, 0.9, 1.0 (inside
    /// the clip range), so the per-token losses are −1.1, −0.9, −1.0 over completions of 1 and 2 tokens.
    @Test func lossTypesNormaliseAsTRL() {
        let lp: [Float] = [-1, -2, -4]
        let old = zip(lp, [Float(1.1), 0.9, 1.0]).map { $0 - logf($1) }
        func value(_ t: LossType) -> Float {
            policyGradientLoss(logProbs: Tensor(shape: [3], data: lp), sequenceLengths: [1, 2], advantages: [1, 1], oldLogProbs: old,
                               config: PolicyLossConfig(lossType: t), maxCompletionLength: 4).loss.item()
        }
        #expect(abs(value(.bnpo) - (-3.0 / 3)) < 1e-6)           // Σ / tokens
        #expect(abs(value(.dapo) - (-3.0 / 3)) < 1e-6)           // the same on one process
        #expect(abs(value(.grpo) - (-1.1 - 0.95) / 2) < 1e-6)    // mean of per-completion means
        #expect(abs(value(.drGRPO) - (-3.0 / (2 * 4))) < 1e-6)   // Σ / (completions × max_completion_length)
    }
}
