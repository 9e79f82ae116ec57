import Foundation
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// Counts calls of the prompt source (a class so the escaping closure can update it).
final class CallCounter: @unchecked Sendable { var calls = 0 }

/// The weights of a model, flattened.
func flatWeights(_ model: GPT) -> [Float] { model.parameters().flatMap { $0.toArray() } }

/// Metrics without the wall-clock fields (which differ from run to run).
func withoutTimings(_ m: GRPOStepMetrics) -> GRPOStepMetrics {
    var m = m
    m.generationSeconds = 0; m.scoringSeconds = 0; m.updateSeconds = 0; m.tokensPerSecond = 0
    return m
}

@Suite struct RewardStdTrackerTests {
    @Test func tracksFirstAndLatestSightingPerInputByTheOneCriterion() throws {
        var t = RewardStdTracker(criterion: StuckCriterion(stdThreshold: 0.1))
        let x = TaskExample(prompt: "1+1=", reference: "2", length: 1)                  // key: the prompt
        let y = TaskExample(prompt: "same text", reference: nil, length: 1, id: "row-7")  // key: the id
        var seen = t.record(x, group: RewardGroup([1, 1, 1, 1]), step: 1)               // std 0, mean 1: flagged, solved
        #expect(seen.flagged && !seen.stuck)
        seen = t.record(y, group: RewardGroup([0, 1, 0, 1]), step: 1)                   // mean 0.5, std 0.5
        #expect(!seen.flagged && !seen.stuck)
        seen = t.record(x, group: RewardGroup([0, 0, 0, 1]), step: 3)                   // mean 0.25, std √0.1875
        #expect(!seen.flagged)
        var r = try #require(t["1+1="])
        #expect(r.timesSeen == 2 && r.firstStep == 1 && r.lastStep == 3)
        #expect(r.firstMean == 1 && r.firstStd == 0 && r.lastMean == 0.25 && abs(r.lastStd - 0.1875.squareRoot()) < 1e-12)
        #expect(!r.firstStuck && !r.stuck, "solved at first (std 0, mean 1), not flagged at the latest sighting")
        seen = t.record(x, group: RewardGroup([0, 0, 0, 0]), step: 4)                   // std 0, mean 0: stuck
        #expect(seen.flagged && seen.stuck)
        r = try #require(t["1+1="])
        #expect(r.timesSeen == 3 && r.stuck && !r.firstStuck && r.lastMean == 0 && r.firstMean == 1)
        // another example with the same id is the same input
        t.record(TaskExample(prompt: "other text", reference: nil, length: 1, id: "row-7"), group: RewardGroup([1, 1, 0, 0]), step: 5)
        let y7 = try #require(t["row-7"])
        #expect(y7.timesSeen == 2 && y7.prompt == "same text" && y7.firstStd == 0.5 && y7.lastStd == 0.5 && !y7.stuck)
        #expect(t.report().map(\.id) == ["1+1=", "row-7"])
        // Codable: the index is rebuilt and tracking continues
        var back = try JSONDecoder().decode(RewardStdTracker.self, from: JSONEncoder().encode(t))
        #expect(back == t)
        back.record(y, group: RewardGroup([1, 1, 1, 1]), step: 6)
        #expect(back["row-7"]?.timesSeen == 3 && back.report().count == 2)
    }

    @Test func aRewardRangeScalesTheThresholdAndTheMidpoint() {
        let c = StuckCriterion(stdThreshold: 0.05, rewardRange: -1...1)
        #expect(c.threshold == 0.1 && c.midpoint == 0)
        #expect(c.isStuck(mean: -1, std: 0.05) && !c.isStuck(mean: 0.5, std: 0) && c.isSolved(mean: 0.5, std: 0))
        #expect(!c.isFlagged(std: 0.1))
    }
}

@Suite struct DynamicSamplingTests {
    /// Reward 1 for every completion of an "a…" prompt (an all-equal group), else the parity of
    /// the completion's length (usually mixed within a group).
    static let reward = ClosureReward { prompt, completion, _ in prompt.hasPrefix("a") ? 1 : Double(completion.count % 2) }

    static func trainer(dynamic: Bool, tries: Int = 6, estimator: AdvantageEstimator = .grpo,
                        reward: any RewardFunction = reward, counter: CallCounter = CallCounter()) -> GRPOTrainer {
        var config = TinyRL.config()
        config.dynamicSampling = dynamic
        config.maxSamplingTries = tries
        config.advantageEstimator = estimator
        return try! GRPOTrainer(model: TinyRL.model(scale: 3), tokenizer: TinyRL.tokenizer, config: config, reward: reward,
                                source: .generated { g, n in
                                    counter.calls += 1
                                    return TinyRL.prompts(&g, n)
                                })
    }

    @Test func trainsOnlyOnGroupsWithDifferentRewards() throws {
        let trainer = Self.trainer(dynamic: true)
        for _ in 0..<3 {
            var time = (generation: 0.0, scoring: 0.0)
            let (sampled, training) = try trainer.collectGroups(time: &time)
            #expect(sampled.count <= 6)
            #expect(training.groupCount == 4, "enough informative groups within the cap")
            for g in 0..<training.groupCount {
                #expect(!training.group(g).allEqual && training.examples[g].prompt.hasPrefix("b"))
            }
            // the training groups are the first informative groups sampled, in order
            let informative = sampled.flatMap { b in (0..<b.groupCount).filter { !b.group($0).allEqual }.map { (b, $0) } }
            #expect(informative.count >= 4)
            for (g, (b, j)) in informative.prefix(4).enumerated() {
                #expect(b.examples[j] == training.examples[g] && b.group(j) == training.group(g))
            }
            let zero = sampled.flatMap { b in (0..<b.groupCount).filter { b.group($0).allEqual } }
            #expect(!zero.isEmpty || sampled.count == 1)
        }
        // without dynamic sampling every group trains, all-equal ones included
        var time = (generation: 0.0, scoring: 0.0)
        let (sampled, training) = try Self.trainer(dynamic: false).collectGroups(time: &time)
        #expect(sampled.count == 1 && training.groupCount == 4 && training.examples == sampled[0].examples)
    }

    @Test func stepMetricsCountTriesAndDescribeAllSampledGroups() throws {
        let counter = CallCounter()
        let trainer = Self.trainer(dynamic: true, counter: counter)
        var tries = 0
        for _ in 0..<4 {
            let m = try trainer.step()
            tries += m.numSamplingTries
            #expect(counter.calls == tries, "one prompt batch per try")
            #expect((1...6).contains(m.numSamplingTries))
            #expect(abs(m.fracGroupsKept - 4 / Double(4 * m.numSamplingTries)) < 1e-12)
            // binary rewards: a group's population std is < 0.05 exactly when its rewards are all equal
            #expect(m.fracFlagged == m.fracRewardZeroStd && m.fracStuck <= m.fracFlagged)
            #expect(m.fracRewardZeroStd > 0 && m.gradNorm > 0 && m.tokensPerSecond > 0)
        }
        #expect(trainer.inputReport().reduce(0) { $0 + $1.timesSeen } == 4 * tries, "the tracker saw every sampled group")
        // "a…" prompts always get 1: flagged at every sighting, and solved, never stuck
        #expect(trainer.inputReport().filter { $0.id.hasPrefix("a") }.allSatisfy { !$0.stuck && $0.lastStd == 0 && $0.lastMean == 1 })
    }

    /// A reward that is the same for every completion: dynamic sampling tries exactly
    /// `maxSamplingTries` times and leaves the weights alone; without it, REINFORCE (A = r) moves them.
    @Test func respectsTheCapAndNeverTrainsOnAllEqualGroups() throws {
        let constant = ClosureReward { _, _, _ in 1 }
        let counter = CallCounter()
        let dynamic = Self.trainer(dynamic: true, tries: 3, estimator: .reinforce, reward: constant, counter: counter)
        let before = flatWeights(dynamic.model)
        let m = try dynamic.step()
        #expect(m.numSamplingTries == 3 && counter.calls == 3)
        #expect(m.fracGroupsKept == 0 && m.gradNorm == 0 && m.fracRewardZeroStd == 1 && m.reward == 1)
        #expect(flatWeights(dynamic.model) == before, "no update without an informative group")
        #expect(dynamic.optimizer.stepCount == 0)
        let plain = Self.trainer(dynamic: false, estimator: .reinforce, reward: constant)
        let p = try plain.step()
        #expect(p.numSamplingTries == 1 && p.fracGroupsKept == 1 && p.gradNorm > 0)
        #expect(flatWeights(plain.model) != before)
    }
}

@Suite struct TrainerResumeTests {
    static func config() -> GRPOConfig {
        var c = TinyRL.config()
        c.training.perDeviceTrainBatchSize = 12  // 3 prompts × 4
        c.advantageEstimator = .reinforceBaseline  // a moving baseline to carry over
        c.loss = PolicyLossConfig(beta: 0.05, entropyCoefficient: 0.01)
        c.numIterations = 2
        c.dynamicSampling = true
        c.maxSamplingTries = 3
        return c
    }

    static func trainer(_ model: GPT) -> GRPOTrainer {
        try! GRPOTrainer(model: model, tokenizer: TinyRL.tokenizer, config: config(), reward: DynamicSamplingTests.reward,
                         source: .generated(TinyRL.prompts))
    }

    /// 3 steps, a checkpoint of the trainer (weights, AdamW, the frozen reference, the state)
    /// through a file, then 2 more steps on the original and on a fresh trainer restored from
    /// the file: identical weights and metrics, bit for bit. Weights alone diverge.
    @Test func restoredTrainerContinuesBitIdentically() throws {
        let a = Self.trainer(TinyRL.model(seed: 1, scale: 3))
        for _ in 0..<3 { _ = try a.step() }
        #expect(a.advantages.baseline != nil && a.stepCount == 3)
        let path = makeTemporaryDirectory("grpo") + "/c.rftckpt"
        try Checkpoint.capture(a).save(to: path)
        let saved = try Checkpoint.load(from: path)
        #expect(saved["reference.wte.weight"] != nil, "the frozen reference travels with the trainer")

        let b = Self.trainer(TinyRL.model(seed: 99))  // other weights: everything must come from the file
        try saved.restore(into: b, path: path)
        #expect(b.trainerState == a.trainerState)
        let c = Self.trainer(TinyRL.model(seed: 99))
        try saved.restore(into: c.model, optimizer: c.optimizer)  // weights only
        var ma: [GRPOStepMetrics] = [], mb: [GRPOStepMetrics] = [], mc: [GRPOStepMetrics] = []
        for _ in 0..<2 {
            ma.append(withoutTimings(try a.step()))
            mb.append(withoutTimings(try b.step()))
            mc.append(withoutTimings(try c.step()))
        }
        #expect(ma == mb)
        #expect(ma.map(\.step) == [4, 5])
        #expect(flatWeights(a.model) == flatWeights(b.model))
        #expect(a.optimizer.stepCount == b.optimizer.stepCount)
        #expect(a.trainerState == b.trainerState && a.inputReport() == b.inputReport())
        #expect(ma.map { $0.reward } != mc.map { $0.reward } || flatWeights(a.model) != flatWeights(c.model),
                "without the state the run must diverge (the test can fail)")
    }

    @Test func configDecodingKeepsDefaultsForMissingKeys() throws {
        let c = try GRPOConfig.decode(["dynamic_sampling": .bool(true), "entropy_coefficient": .number(0.02), "num_generations": .number(4),
                                       "per_device_train_batch_size": .number(64)])
        var expected = GRPOConfig()
        expected.dynamicSampling = true
        expected.numGenerations = 4
        expected.loss.entropyCoefficient = 0.02
        expected.training.perDeviceTrainBatchSize = 64
        #expect(c == expected)
        var bad = GRPOConfig()
        bad.maxSamplingTries = 0
        #expect(throws: ConfigError.invalid(key: "max_sampling_tries", reason: "must be in 1…1024, got 0")) {
            _ = try GRPOTrainer(model: TinyRL.model(), tokenizer: TinyRL.tokenizer, config: bad, reward: DynamicSamplingTests.reward,
                                source: .generated(TinyRL.prompts))
        }
    }
}
