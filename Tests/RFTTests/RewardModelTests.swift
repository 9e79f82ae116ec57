import Foundation
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// Reward models (TRL's RewardTrainer): the Bradley–Terry loss with margin and centring by hand,
/// the reward's gradient through the head and the decoder by finite differences, packing,
/// the preference file's errors, and on a toy preference task a reward model that ranks
/// held-out pairs and that GRPO then raises.
@Suite struct RewardModelTests {
    /// σ(x).
    static func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }

    /// Two pairs, one with a margin, with centring: loss, gradient and the logged sums by hand.
    @Test func bradleyTerryLossByHand() {
        let r: [Float] = [2, 1, 0, 0.5], c = 0.1
        let (loss, gradient, sums) = bradleyTerryLoss(rewards: r, margins: [nil, 0.25], centerCoefficient: c, pairs: 2)
        // pair 0: d = 2 − 1 = 1; pair 1: d = 0 − 0.5 − 0.25 = −0.75; −log σ(d) = log(1 + e^(−d))
        let expected = (log(1 + exp(-1.0)) + c * 9 + log(1 + exp(0.75)) + c * 0.25) / 2
        #expect(abs(loss - expected) < 1e-12)
        let want = [(-Self.sigmoid(-1) + 2 * c * 3) / 2, (Self.sigmoid(-1) + 2 * c * 3) / 2,
                    (-Self.sigmoid(0.75) + 2 * c * 0.5) / 2, (Self.sigmoid(0.75) + 2 * c * 0.5) / 2]
        for (a, b) in zip(gradient, want) { #expect(abs(Double(a) - b) < 1e-6, "\(a) vs \(b)") }
        #expect(sums.correct == 1 && sums.pairs == 2 && sums.margin == 0.5 && sums.minReward == 0 && sums.maxReward == 2)
        // far past the margin the loss is 0 and stays finite far below it (no overflow)
        let extreme = bradleyTerryLoss(rewards: [1000, -1000, -1000, 1000], margins: [nil, nil], centerCoefficient: nil, pairs: 2)
        #expect(abs(extreme.loss - 1000) < 1e-9 && extreme.gradient.map { abs($0) } == [0, 0, 0.5, 0.5])
    }

    /// A tiny reward model over TinyRL's tokenizer.
    static func rewardModel(seed: UInt64 = 3) -> RewardModel {
        RewardModel(model: TinyRL.model(seed: seed, scale: 2), tokenizer: TinyRL.tokenizer, seed: seed)
    }

    /// d loss / dθ through the head and the decoder, against central differences; and the
    /// packed rewards (a shared prompt) equal the rewards computed one pair at a time.
    @Test func rewardGradientMatchesFiniteDifferencesAndPackingChangesNothing() throws {
        let rm = Self.rewardModel()
        let prompts = [[0, 6, 7, 3], [0, 6, 7, 3], [0, 8, 3], [0, 8, 3]], completions = [[5, 6, 1], [7, 1], [9, 10, 11, 1], [1]]
        let margins: [Double?] = [0.3, nil]
        func loss() -> Float {
            let r = withoutGradients { rm.rewards(prompts: prompts, completions: completions) }.toArray()
            return Float(bradleyTerryLoss(rewards: r, margins: margins, centerCoefficient: 0.05, pairs: 2).loss)
        }
        let r = rm.rewards(prompts: prompts, completions: completions)
        #expect(r.shape == [4])
        let one = try zip(prompts, completions).map { p, c in try #require(withoutGradients { rm.rewards(prompts: [p], completions: [c]) }.toArray().first) }
        for (a, b) in zip(r.toArray(), one) { #expect(abs(a - b) < 1e-5, "packed \(a) vs alone \(b)") }
        let g = bradleyTerryLoss(rewards: r.toArray(), margins: margins, centerCoefficient: 0.05, pairs: 2).gradient
        r.backward(gradient: Tensor(shape: [4], data: g))
        let named = Dictionary(uniqueKeysWithValues: rm.namedParameters().map { ($0.name, $0.tensor) })
        #expect(named.keys.contains(RewardModel.headName))
        for name in [RewardModel.headName, "h.0.mlp.fc.weight", "wte.weight"] {
            let tensor = try #require(named[name])
            let fd = finiteDifferenceGradient(of: tensor, step: 1e-2, loss)
            let analytic = try #require(tensor.grad, "\(name) has no gradient").toArray()
            let scale = max(1e-2, fd.map(abs).max() ?? 1)
            for (a, b) in zip(analytic, fd) { #expect(abs(Double(a) - b) < 3e-2 * scale, "\(name): \(a) vs \(b)") }
        }
    }

    /// Writes `lines` to a fresh file and returns its path.
    static func write(_ lines: [String]) -> String {
        let path = makeTemporaryDirectory("pairs") + "/pairs.jsonl"
        FileManager.default.createFile(atPath: path, contents: Data(lines.joined(separator: "\n").utf8))
        return path
    }

    /// Each bad line is an error naming the file and line; too-long pairs are dropped and counted.
    @Test func preferenceFileErrorsNameTheLine() throws {
        let tok = TinyRL.tokenizer
        func load(_ lines: [String], maxLength: Int? = nil, skip: Bool = false) throws -> PreferenceDataset {
            try PreferenceDataset.load(jsonl: Self.write(lines), tokenizer: tok, contextLength: 16, maxLength: maxLength, skipInvalid: skip)
        }
        func message(_ lines: [String]) -> String {
            do { _ = try load(lines); return "no error" } catch { return "\(error)" }
        }
        let good = #"{"prompt": "a1", "chosen": "aa", "rejected": "b", "margin": 0.5}"#
        let d = try load([good, "", #"{"prompt": "b2", "chosen": "a", "rejected": "bb", "id": 7, "source": "x"}"#])
        #expect(d.pairs.count == 2 && d.pairs[0].margin == 0.5 && d.pairs[1].margin == nil)
        #expect(d.pairs[1].prompt.id == "7" && d.pairs[1].prompt.metadata["source"] == .string("x"))
        #expect(message([good, #"{"prompt": "a1", "rejected": "b"}"#]).hasSuffix(":2: missing \"chosen\" (pass --skip-invalid to skip such lines)"))
        #expect(message([#"{"prompt": "a1", "chosen": "a"}"#]).contains(":1: missing \"rejected\""))
        #expect(message([#"{"chosen": "a1aa", "rejected": "a1b"}"#]).contains(":1: missing \"prompt\": rft reads explicit-prompt pairs"))
        #expect(message([#"{"prompt": "a1", "chosen": "a", "rejected": "b", "margin": "big"}"#]).contains(":1: \"margin\" must be a finite number"))
        #expect(message([#"{"prompt": "a1", "chosen": 3, "rejected": "b"}"#]).contains(":1: \"chosen\" must be a string or a list with one assistant message"))
        #expect(message([#"{"prompt": "a1", "chosen": "z", "rejected": "b"}"#]).contains(":1: ") && message([#"{"prompt": "a1", "chosen": "z", "rejected": "b"}"#]).contains("tokenizer does not have it"))
        #expect(message([#"{"prompt": "a1", "chosen": "aaaaaaaaaaaaaaa", "rejected": "b"}"#]).contains(":1: prompt and completion need 20 tokens with specials; the model's context is 16"))
        // max_length drops (TRL's filter), skip_invalid counts
        let dropped = try load([good, #"{"prompt": "a1", "chosen": "aaaaaa", "rejected": "b"}"#], maxLength: 8)
        #expect(dropped.pairs.count == 1 && dropped.numTooLong == 1)
        let skipped = try load([good, "{", #"{"prompt": "a1"}"#], skip: true)
        #expect(skipped.pairs.count == 1 && skipped.skipped.map(\.line) == [2, 3])
    }

    /// `n` pairs on TinyRL's prompts: completions of 1–5 letters a/b, the chosen one with more
    /// "a"s (the preference the reward model must learn from the text alone).
    static func pairs(_ n: Int, seed: UInt64) -> [PreferencePair] {
        var g = RandomGenerator(seed: seed)
        let prompts = TinyRL.prompts(&g, n)
        func word() -> String { String((0..<(1 + Int(g.next() % 5))).map { _ in g.next() % 2 == 0 ? "a" : "b" }) }
        return prompts.map { prompt in
            var x = word(), y = word()
            while x.filter({ $0 == "a" }).count == y.filter({ $0 == "a" }).count { y = word() }
            if x.filter({ $0 == "a" }).count < y.filter({ $0 == "a" }).count { swap(&x, &y) }
            return PreferencePair(prompt: prompt, chosen: x, rejected: y)
        }
    }

    /// The toy preference task end to end: the reward model ranks 90% of held-out pairs right,
    /// and GRPO on a fresh policy with that learned reward (σ(r)) raises it — and with it the
    /// preference it stands for, the number of "a"s.
    @Test func rftRaisesALearnedReward() throws {
        var config = RewardTrainingConfig()
        config.training.maxSteps = 120
        config.training.perDeviceTrainBatchSize = 16
        config.training.learningRate = 3e-3
        config.centerRewardsCoefficient = 0.01
        let rm = Self.rewardModel(seed: 5)
        let held = Self.pairs(200, seed: 99)
        let before = try RewardTrainer.evaluate(rm, pairs: held, batchSize: 50)
        let trainer = try RewardTrainer(rewardModel: rm, config: config, pairs: Self.pairs(400, seed: 1))
        var first: RewardStepMetrics?
        for _ in 0..<config.training.maxSteps {
            let m = try trainer.step()
            first = first ?? m
        }
        let after = try RewardTrainer.evaluate(rm, pairs: held, batchSize: 50)
        #expect(after["eval_accuracy"]! > 0.9 && after["eval_loss"]! < before["eval_loss"]!, "before \(before), after \(after), first step \(String(describing: first))")

        // the preference itself: "a"s per completion (of at most 6 tokens), sampled 8 times an input
        var g = RandomGenerator(seed: 3)
        let probe = TinyRL.prompts(&g, 32), letters = ClosureReward { _, y, _ in Double(y.filter { $0 == "a" }.count) / 6 }
        let monitor = RewardStdMonitor(numGenerations: 8, maxCompletionLength: 6)
        func lettersPerCompletion(_ model: GPT) throws -> Double {
            6 * (try monitor.measure(model: model, tokenizer: TinyRL.tokenizer, examples: probe, reward: letters).summary.reward ?? 0)
        }
        var grpo = TinyRL.config()
        grpo.training.learningRate = 3e-3
        let policy = try TinyRL.trainer(model: TinyRL.model(seed: 11), config: grpo, reward: LearnedReward(rm))
        let lettersBefore = try lettersPerCompletion(policy.model)
        var rewards: [Double] = []
        for _ in 0..<40 { rewards.append(try policy.step().reward) }
        let lettersAfter = try lettersPerCompletion(policy.model)
        let early = rewards.prefix(5).reduce(0, +) / 5, late = rewards.suffix(5).reduce(0, +) / 5
        print(String(format: "toy preference: held-out accuracy %.3f → %.3f; GRPO on σ(r): reward %.3f (steps 1-5) → %.3f (36-40), a's per completion %.2f → %.2f",
                     before["eval_accuracy"]!, after["eval_accuracy"]!, early, late, lettersBefore, lettersAfter))
        #expect(late > early + 0.2, "learned reward per step: \(rewards.map { String(format: "%.2f", $0) })")
        #expect(lettersAfter > lettersBefore + 1, "a's per completion: \(lettersBefore) before RFT, \(lettersAfter) after")
    }
}
