import Foundation
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// Several rewards (TRL's `reward_funcs` / `reward_weights`): weighted sums where a function may
/// give no score, advantage 0 for a completion nothing scored, per-function metrics, and the
/// monitor's view of each function.
@Suite struct WeightedRewardTests {
    /// Scores each completion 1 when it contains "a", else 0.
    static let hasA = ClosureReward { _, y, _ in y.contains("a") ? 1 : 0 }
    /// Scores only completions that start with "b" (by length / 4, up to 6/4), the others not at all.
    static let startsWithB = ClosureReward.optional { _, y, _ in y.hasPrefix("b") ? Double(y.count) / 4 : nil }
    /// The same score, 0.5, for everything.
    static let constant = ClosureReward { _, _, _ in 0.5 }

    static func score(_ reward: any RewardFunction, _ completions: [String]) throws -> RewardScores {
        let examples = completions.map { _ in TaskExample(prompt: "p", reference: nil, length: 1) }
        return try reward.scores(prompts: completions.map { _ in "p" }, completions: completions, examples: examples)
    }

    /// Multi-statement trailing closures, the way a user writes a reward, pick one initializer
    /// each (two closure inits once made these ambiguous and broke examples/EmbedTrainer).
    @Test func multiStatementTrailingClosuresAreUnambiguous() throws {
        let always = ClosureReward { _, completion, _ in
            guard let n = Int(completion) else { return 0 }
            return Double(n) / 10
        }
        let sometimes = ClosureReward.optional { _, completion, _ in
            guard let n = Int(completion) else { return nil }
            return Double(n) / 10
        }
        #expect(try Self.score(always, ["3", "x"]).total == [0.3, 0])
        #expect(try Self.score(sometimes, ["3", "x"]).total == [0.3, nil])
    }

    /// Σ wᵢ·rᵢ over the functions that scored a completion; nil when none did.
    @Test func weightedSumSkipsFunctionsWithoutAScore() throws {
        let reward = WeightedReward([("has-a", Self.hasA, 1), ("starts-with-b", Self.startsWithB, 2)])
        let s = try Self.score(reward, ["a", "ba", "bb", "c"])
        // "a": 1·1, "ba": 1·1 + 2·(2/4), "bb": 0 + 2·(2/4), "c": 1·0 (starts-with-b gives none)
        #expect(s.total == [1, 2, 1, 0])
        #expect(s.parts.map(\.name) == ["has-a", "starts-with-b"])
        #expect(s.parts[1].scores == [nil, 0.5, 0.5, nil])
        let onlyB = WeightedReward([("starts-with-b", Self.startsWithB, 1)])
        #expect(try Self.score(onlyB, ["a", "b"]).total == [nil, 0.25])
        #expect(throws: RewardError.unscored(prompt: "p", completion: "a")) {
            _ = try onlyB.rewards(prompts: ["p", "p"], completions: ["a", "b"], examples: [TaskExample(prompt: "p", reference: nil, length: 1),
                                                                                         TaskExample(prompt: "p", reference: nil, length: 1)])
        }
    }

    /// A completion no function scored: advantage 0, and out of its group's mean and std.
    @Test func unscoredCompletionsGetAdvantageZero() throws {
        var grpo = AdvantageComputer(.grpo)
        // group 1: scored 1, 0, 1 (mean 2/3, sample std √(1/3)); the third is unscored (placeholder 9)
        let a = try grpo.advantages(rewards: [1, 0, 9, 1], groupSize: 4, scored: [true, true, false, true])
        let std = (1.0 / 3).squareRoot() + 1e-4
        #expect(abs(a[0] - (1.0 / 3) / std) < 1e-12 && abs(a[1] - (-2.0 / 3) / std) < 1e-12 && a[2] == 0 && abs(a[3] - a[0]) < 1e-12)
        var rloo = AdvantageComputer(.rloo)
        // one scored completion in the group: nothing to leave out, advantage 0
        #expect(try rloo.advantages(rewards: [1, 0, 0, 1], groupSize: 2, scored: [true, false, true, true]) == [0, 0, -1, 1])
        var reinforce = AdvantageComputer(.reinforceBaseline)
        #expect(try reinforce.advantages(rewards: [1, .nan, 0], groupSize: 1, scored: [true, false, true]) == [0.5, 0, -0.5])
        #expect(reinforce.baseline == 0.5, "the unscored NaN placeholder is not in the baseline")
    }

    @Test func theKeysValidateAndSetTheRange() throws {
        var c = RewardConfig()
        c.rewardFuncs = ["number-match", "exact-match"]
        c.rewardWeights = [1, 0.5]
        try c.validate()
        #expect(c.criterion(adjusting: StuckCriterion()).rewardRange == 0...1.5)
        c.rewardWeights = [1, -0.5]
        #expect(c.criterion(adjusting: StuckCriterion()).rewardRange == -0.5...1)
        #expect(c.criterion(adjusting: StuckCriterion(stdThreshold: 0.05, rewardRange: 0...3)).rewardRange == 0...3, "a range the user set stays")
        let weighted = try #require(try c.make(task: ChatArithmeticTask(.addition)) as? WeightedReward)
        #expect(weighted.functions.map(\.name) == ["number-match", "exact-match"] && weighted.functions.map(\.weight) == [1, -0.5])
        func reason(_ change: (inout RewardConfig) -> Void) -> String? {
            var bad = RewardConfig()
            bad.rewardFuncs = ["number-match"]
            change(&bad)
            do { try bad.validate(); return nil } catch let e as ConfigError { return e.description } catch { return "\(error)" }
        }
        #expect(reason { $0.rewardFuncs = ["number-match", "nope"] }?.contains("unknown reward 'nope'") == true)
        #expect(reason { $0.rewardFuncs = ["number-match", "number-match"] }?.contains("listed twice") == true)
        #expect(reason { $0.rewardWeights = [1, 2] }?.contains("one weight per reward_funcs entry (1), got 2") == true)
        #expect(reason { $0.rewardWeights = [0] }?.contains("every weight is 0") == true)
        #expect(reason { $0.rewardFuncs = ["reward_cmd"] }?.contains("no reward_cmd is set") == true)
        #expect(reason { $0.rewardCmd = ["python3", "r.py"] }?.contains("list reward_cmd in reward_funcs") == true)
        #expect(reason { _ in } == nil)
    }

    @Test func theKeysReadFromFlagsAndFiles() throws {
        let (flags, _) = try ConfigTests.resolve(TrainConfig.self, ["--reward-funcs", "number-match", "exact-match", "--reward-weights", "1", "-0.25"])
        #expect(flags.reward.rewardFuncs == ["number-match", "exact-match"] && flags.reward.rewardWeights == [1, -0.25])
        let path = temporaryFile("weights.yaml", "reward_funcs: [number-match, partial-credit]\nreward_weights: [2, 0.5]\n")
        let (file, _) = try ConfigTests.resolve(DiagnoseConfig.self, ["--config", path])
        #expect(file.reward.weightedFunctions.map(\.weight) == [2, 0.5])
        #expect(throws: ConfigError.self) { try ConfigTests.resolve(TrainConfig.self, ["--reward-funcs", "exact-match", "--reward-weights", "x"]) }
        #expect(TRLKeys["reward_funcs"] == nil && TRLKeys["reward_weights"] == nil)
    }

    /// `null` from a reward command is "no score", not an error.
    @Test func aCommandsNullIsNoScore() throws {
        #expect(try CommandReward.parseResponse(#"{"id": 3, "rewards": [null, 0.5]}"#, batch: 3, count: 2, command: "cmd") == [nil, 0.5])
    }

    /// A trainer step logs each function's mean and sample std over the completions it scored,
    /// and trains on nothing when no function scores anything.
    @Test func theTrainerLogsEachFunctionAndSkipsTheUnscored() throws {
        let reward = WeightedReward([("has-a", Self.hasA, 1), ("starts-with-b", Self.startsWithB, 1)])  // sums in 0…2.5
        let trainer = try GRPOTrainer(model: TinyRL.model(scale: 3), tokenizer: TinyRL.tokenizer, config: TinyRL.config(), reward: reward,
                                      source: .generated(TinyRL.prompts), criterion: StuckCriterion(stdThreshold: 0.05, rewardRange: 0...2.5))
        let m = try trainer.step()
        let hasA = try #require(m.rewardFunctions["has-a"]), b = try #require(m.rewardFunctions["starts-with-b"])
        #expect(hasA.count == 16 && b.count < 16 && m.rewardFunctions.count == 2, "\(m.rewardFunctions)")
        #expect((0...1).contains(hasA.mean) && hasA.sampleStd >= 0)

        let nobody = WeightedReward([("never", ClosureReward.optional { _, _, _ in nil }, 1)])
        let model = TinyRL.model(scale: 3)
        let idle = try TinyRL.trainer(model: model, reward: nobody)
        let before = model.parameters().map { $0.toArray() }
        let step = try idle.step()
        #expect(step.loss == 0 && before == model.parameters().map { $0.toArray() }, "every advantage is 0 and nothing moves")
        #expect(step.rewardFunctions["never"]?.count == 0)
    }

    /// The monitor's std is the weighted sum's, over the samples scored; each row and the
    /// summary also show each function, so a flat one is visible.
    @Test func theMonitorShowsEachFunction() throws {
        let reward = WeightedReward([("contains-b", TinyPolicy.containsB, 1), ("constant", Self.constant, 1)])
        let report = try TinyPolicy.monitor(.sampled).measure(model: TinyPolicy.model(), tokenizer: TinyPolicy.tokenizer,
                                                             examples: TinyPolicy.examples, reward: reward,
                                                             criterion: StuckCriterion(stdThreshold: 0.05, rewardRange: 0...2))
        for row in report.rows {
            let f = try #require(row.functions)
            #expect(f["constant"]?.std == 0 && f["constant"]?.mean == 0.5)
            #expect(abs(row.std - f["contains-b"]!.std) < 1e-12, "a constant added to the sum leaves the std alone")
            #expect(abs(row.mean - (f["contains-b"]!.mean + 0.5)) < 1e-12 && row.numScored == nil)
        }
        let summary = report.summary
        #expect(summary.functions?["constant"]?.fracRewardZeroStd == 1)
        #expect((summary.functions?["contains-b"]?.fracRewardZeroStd ?? 1) < 1)
        let line = try report.jsonLines().split(separator: "\n")[0]
        #expect(line.contains(#""functions":{"constant":{"count":16,"mean":0.5,"sample_std":0,"std":0}"#), "\(line)")
    }
}
