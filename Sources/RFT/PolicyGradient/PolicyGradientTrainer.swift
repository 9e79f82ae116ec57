import Foundation
import RFTModel
import RFTTensor

/// The settings of a policy-gradient run (names as TRL's GRPOConfig where the meaning matches).
/// Decoding keeps the default of every key that is absent.
public struct GRPOConfig: Codable, Equatable, Sendable {
    /// Prompts per step (groups trained on per step).
    public var promptsPerStep = 8
    /// Completions sampled per prompt (K).
    public var numGenerations = 8
    /// Longest completion in tokens (EOS included).
    public var maxCompletionLength = 16
    /// Sampling temperature for rollouts.
    public var temperature: Float = 1
    /// Top-k filter for rollouts (0 = off).
    public var topK = 0
    /// Top-p filter for rollouts (1 = off).
    public var topP: Float = 1
    /// AdamW learning rate.
    public var learningRate: Float = 1e-4
    /// AdamW weight decay.
    public var weightDecay: Float = 0
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// Optimisation passes over each batch of rollouts (PPO's epochs; TRL's num_iterations).
    public var numIterations = 1
    /// How rewards become advantages.
    public var advantageEstimator: AdvantageEstimator = .grpo
    /// Surrogate, clip range, KL β and estimator, aggregation, entropy bonus.
    public var loss = PolicyLossConfig()
    /// DAPO's dynamic sampling: drop groups whose K rewards are all equal (no learning signal
    /// under group baselines) and refill with new prompts until `promptsPerStep` informative
    /// groups are collected or `maxSamplingTries` batches were sampled.
    public var dynamicSampling = false
    /// Most rollout batches (of `promptsPerStep` prompts each) one step samples under dynamic
    /// sampling; when the cap is hit the step trains on the informative groups it has.
    public var maxSamplingTries = 4
    /// Population reward std below which a group counts as low-std (`frac_inputs_low_std`,
    /// the tracker's stuck flag); 0.05 as `rft diagnose`.
    public var lowStdThreshold = 0.05
    /// Seed for prompts and sampling.
    public var seed: UInt64 = 0

    /// The defaults.
    public init() {}

    /// Decodes the keys present and keeps the defaults for the others (a config names only what it changes).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ current: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? current }
        self.init()
        promptsPerStep = try value(.promptsPerStep, promptsPerStep)
        numGenerations = try value(.numGenerations, numGenerations)
        maxCompletionLength = try value(.maxCompletionLength, maxCompletionLength)
        temperature = try value(.temperature, temperature)
        topK = try value(.topK, topK)
        topP = try value(.topP, topP)
        learningRate = try value(.learningRate, learningRate)
        weightDecay = try value(.weightDecay, weightDecay)
        maxGradNorm = try value(.maxGradNorm, maxGradNorm)
        numIterations = try value(.numIterations, numIterations)
        advantageEstimator = try value(.advantageEstimator, advantageEstimator)
        loss = try value(.loss, loss)
        dynamicSampling = try value(.dynamicSampling, dynamicSampling)
        maxSamplingTries = try value(.maxSamplingTries, maxSamplingTries)
        lowStdThreshold = try value(.lowStdThreshold, lowStdThreshold)
        seed = try value(.seed, seed)
    }

    /// What is wrong with these settings (snake_case names, as in a config file), or nil.
    public func validationError() -> String? {
        if promptsPerStep < 1 { return "prompts_per_step must be ≥ 1, got \(promptsPerStep)" }
        if numGenerations < 1 { return "num_generations must be ≥ 1, got \(numGenerations)" }
        if advantageEstimator == .rloo && numGenerations < 2 { return "rloo needs num_generations ≥ 2, got \(numGenerations)" }
        if maxCompletionLength < 1 { return "max_completion_length must be ≥ 1, got \(maxCompletionLength)" }
        if numIterations < 1 { return "num_iterations must be ≥ 1, got \(numIterations)" }
        if maxSamplingTries < 1 { return "max_sampling_tries must be ≥ 1, got \(maxSamplingTries)" }
        if dynamicSampling && numGenerations < 2 { return "dynamic_sampling needs num_generations ≥ 2, got \(numGenerations)" }
        if !(lowStdThreshold >= 0) { return "low_std_threshold must be ≥ 0, got \(lowStdThreshold)" }
        if !(maxGradNorm > 0) { return "max_grad_norm must be > 0, got \(maxGradNorm)" }
        if !loss.beta.isFinite || !loss.entropyCoefficient.isFinite { return "loss.beta and loss.entropy_coefficient must be finite" }
        return nil
    }
}

/// What one step did: TRL's metric names plus rft's. `reward`, `reward_std`,
/// `frac_reward_zero_std`, `completion_length` and `frac_inputs_low_std` describe ALL groups
/// sampled in the step (with dynamic sampling, also the dropped ones and those beyond
/// `promptsPerStep`); `kl`, `entropy`, `clip_fraction` and `grad_norm` describe the groups
/// trained on. JSON keys are these names in snake_case.
public struct StepMetrics: Codable, Equatable, Sendable {
    /// Step number (1-based).
    public var step: Int
    /// Mean reward of the rollouts.
    public var reward: Double
    /// Mean over groups of the (unbiased) reward std within the group, as TRL logs it.
    public var rewardStd: Double
    /// Share of groups whose K rewards are all equal (zero advantage under GRPO).
    public var fracRewardZeroStd: Double
    /// Share of groups whose population reward std is below `lowStdThreshold`.
    public var fracInputsLowStd: Double
    /// Mean per-token KL to the reference (0 without one; last optimisation pass).
    public var kl: Double
    /// Mean per-token entropy (nats) of the policy that sampled the rollouts, over the trained
    /// completion tokens (first optimisation pass; 0 when nothing was trained).
    public var entropy: Double
    /// Mean completion length in tokens.
    public var completionLength: Double
    /// Gradient norm before clipping (last iteration; 0 when nothing was trained).
    public var gradNorm: Double
    /// Learning rate used.
    public var learningRate: Double
    /// Share of tokens clipped by PPO.
    public var clipFraction: Double
    /// Rollout batches sampled this step (1 without dynamic sampling).
    public var numSamplingTries: Int
    /// Share of the sampled groups that were trained on (1 without dynamic sampling).
    public var fracGroupsKept: Double
    /// Completion tokens generated per second of generation (`generationSeconds`).
    public var tokensPerSecond: Double
    /// Seconds spent sampling, scoring and updating.
    public var generationSeconds, scoringSeconds, updateSeconds: Double
}

/// Errors of a policy-gradient step.
public enum PolicyGradientError: Error, CustomStringConvertible {
    /// The reward function returned the wrong number of rewards.
    case rewardCount(expected: Int, got: Int)
    /// The reward function returned NaN or infinity for a completion.
    case nonFiniteReward(prompt: String, completion: String, value: Double)
    /// The loss or the gradient norm is NaN or infinite.
    case nonFinite(step: Int, what: String)
    /// A setting is out of range.
    case invalidConfig(String)

    /// One line naming the problem.
    public var description: String {
        switch self {
        case .rewardCount(let e, let g): return "reward function returned \(g) rewards for \(e) completions"
        case .nonFiniteReward(let p, let c, let v): return "reward function returned \(v) for prompt \(p.debugDescription), completion \(c.debugDescription)"
        case .nonFinite(let s, let w): return "step \(s): \(w) is not finite; stopping before the update"
        case .invalidConfig(let reason): return "policy-gradient config: \(reason)"
        }
    }
}

/// The trainer's mutable state apart from the weights, the AdamW state and the frozen reference:
/// with those restored too (see `Checkpoint.capture`/`restore`), a resumed run continues
/// bit-identically.
public struct PolicyGradientTrainerState: Codable, Equatable, Sendable {
    /// Steps taken.
    public var stepCount: Int
    /// The generator that draws prompts and sampling seeds.
    public var generator: RandomGenerator
    /// The advantage computer (its moving baseline).
    public var advantages: AdvantageComputer
    /// Per-input reward-std tracking.
    public var tracker: RewardStdTracker

    /// A state from its parts.
    public init(stepCount: Int, generator: RandomGenerator, advantages: AdvantageComputer, tracker: RewardStdTracker) {
        self.stepCount = stepCount
        self.generator = generator
        self.advantages = advantages
        self.tracker = tracker
    }
}

/// K completions of each of a batch of prompts, grouped prompt by prompt, with their rewards.
struct RolloutBatch {
    /// The prompts' examples (P).
    var examples: [TaskExample] = []
    /// The encoded prompts (P).
    var prompts: [[Int]] = []
    /// Completion tokens, EOS included when sampled (P·K, group g at g·K..<(g+1)·K).
    var completions: [[Int]] = []
    /// One reward per completion (P·K; empty before scoring).
    var rewards: [Double] = []
    /// Completions per prompt (K).
    let groupSize: Int

    /// Number of groups (prompts).
    var groupCount: Int { examples.count }
    /// The rewards of group g.
    func groupRewards(_ g: Int) -> [Double] { Array(rewards[(g * groupSize)..<((g + 1) * groupSize)]) }
    /// Whether group g's K rewards are all equal (no signal for group-relative advantages).
    func hasEqualRewards(_ g: Int) -> Bool { Set(groupRewards(g)).count <= 1 }

    /// Appends the given groups of `other`.
    mutating func append(groups: some Sequence<Int>, of other: RolloutBatch) {
        let k = groupSize
        for g in groups {
            examples.append(other.examples[g])
            prompts.append(other.prompts[g])
            completions += other.completions[(g * k)..<((g + 1) * k)]
            rewards += other.rewards[(g * k)..<((g + 1) * k)]
        }
    }
}

/// What an update did (zero when nothing was trained).
struct UpdateResult {
    var statistics = PolicyLossStatistics(clipFraction: 0, kl: 0, meanRatio: 1)
    var entropy: Float = 0
    var gradNorm: Float = 0
}

/// Reinforcement finetuning with sampled completions: rollouts of K completions per prompt,
/// rewards, advantages (REINFORCE, RLOO, GRPO, Dr. GRPO), then the vanilla or PPO-clip loss with
/// an optional KL to a frozen copy of the starting model and an entropy bonus; optionally
/// DAPO's dynamic sampling; live per-input reward-std tracking.
public final class PolicyGradientTrainer {
    /// The policy being trained.
    public let model: GPT
    /// Encodes prompts and decodes completions.
    public let tokenizer: Tokenizer
    /// The run's settings.
    public let config: GRPOConfig
    /// Scores completions.
    public let reward: any RewardFunction
    /// The optimizer (its state checkpoints by name).
    public let optimizer: AdamW
    /// The frozen reference policy when β > 0: a copy of the weights the trainer started with.
    /// Not part of `state`: a resumed run restores it from the starting checkpoint
    /// (`Checkpoint.restore(into: trainer.reference!)`).
    public let reference: GPT?
    /// Turns rewards into advantages (keeps the moving baseline).
    public var advantages: AdvantageComputer
    /// Draws prompts; the generator is part of the run state.
    public var generator: RandomGenerator
    /// Per-input reward std across the run.
    public var tracker: RewardStdTracker
    /// Steps taken.
    public private(set) var stepCount = 0
    private let nextPrompts: (inout RandomGenerator, Int) -> [TaskExample]

    /// A trainer for `model`; `prompts(generator, n)` returns n examples per call (one call per
    /// step, more under dynamic sampling).
    public init(model: GPT, tokenizer: Tokenizer, config: GRPOConfig, reward: any RewardFunction,
                prompts: @escaping (inout RandomGenerator, Int) -> [TaskExample]) {
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.reward = reward
        self.nextPrompts = prompts
        optimizer = AdamW(parameters: model.namedParameters(), learningRate: config.learningRate,
                          weightDecay: config.weightDecay)
        advantages = AdvantageComputer(config.advantageEstimator)
        generator = RandomGenerator(seed: config.seed)
        tracker = RewardStdTracker(threshold: config.lowStdThreshold)
        if config.loss.beta > 0 {  // a frozen copy of the starting weights
            let ref = GPT(model.config)
            for ((_, r), (_, p)) in zip(ref.namedParameters(), model.namedParameters()) { r.assign(p); r.requiresGrad = false }
            reference = ref
        } else {
            reference = nil
        }
    }

    /// Everything that changes from step to step except the weights, the AdamW state and the
    /// reference: capture it with a checkpoint, assign it to resume.
    public var state: PolicyGradientTrainerState {
        get { PolicyGradientTrainerState(stepCount: stepCount, generator: generator, advantages: advantages, tracker: tracker) }
        set {
            stepCount = newValue.stepCount
            generator = newValue.generator
            advantages = newValue.advantages
            tracker = newValue.tracker
        }
    }

    /// Every input seen so far with its first and latest reward mean/std, in order of first sighting.
    public func inputReport() -> [InputStdRecord] { tracker.report() }

    /// One step: sample (and, with dynamic sampling, refill), score, compute advantages, update.
    /// Stops with an error (before changing the weights) when the loss or gradient is not finite.
    public func step() throws -> StepMetrics {
        if let problem = config.validationError() { throw PolicyGradientError.invalidConfig(problem) }
        var time = (generation: 0.0, scoring: 0.0)
        let (sampled, training) = try collectGroups(time: &time)
        let start = ContinuousClock.now
        let update = try self.update(on: training)
        let updateSeconds = (ContinuousClock.now - start).seconds
        stepCount += 1
        var lowStd = 0  // groups below the threshold, counted while the tracker records every sampled group
        for batch in sampled {
            for g in 0..<batch.groupCount {
                if tracker.record(batch.examples[g], rewards: batch.groupRewards(g), step: stepCount) { lowStd += 1 }
            }
        }
        return metrics(sampled: sampled, trainedGroups: training.groupCount, lowStdGroups: lowStd, update: update,
                       generationSeconds: time.generation, scoringSeconds: time.scoring, updateSeconds: updateSeconds)
    }

    /// Samples and scores batches of `promptsPerStep` prompts: one batch, or under dynamic
    /// sampling as many as it takes (at most `maxSamplingTries`) to collect `promptsPerStep`
    /// groups whose rewards are not all equal. → every batch sampled, and the groups to train on.
    func collectGroups(time: inout (generation: Double, scoring: Double)) throws -> (sampled: [RolloutBatch], training: RolloutBatch) {
        var sampled: [RolloutBatch] = []
        var training = RolloutBatch(groupSize: config.numGenerations)
        repeat {
            let t0 = ContinuousClock.now
            var batch = try rollout(promptCount: config.promptsPerStep)
            let t1 = ContinuousClock.now
            batch.rewards = try score(batch)
            time.generation += (t1 - t0).seconds
            time.scoring += (ContinuousClock.now - t1).seconds
            let informative = (0..<batch.groupCount).filter { !config.dynamicSampling || !batch.hasEqualRewards($0) }
            training.append(groups: informative.prefix(config.promptsPerStep - training.groupCount), of: batch)
            sampled.append(batch)
        } while config.dynamicSampling && training.groupCount < config.promptsPerStep && sampled.count < config.maxSamplingTries
        return (sampled, training)
    }

    /// Draws `promptCount` prompts and samples K completions of each (rewards left empty).
    func rollout(promptCount: Int) throws -> RolloutBatch {
        let k = config.numGenerations
        let examples = nextPrompts(&generator, promptCount)
        let encoded = try examples.map { try tokenizer.encodePrompt($0.prompt) }
        let options = SamplingOptions(temperature: config.temperature, topK: config.topK, topP: config.topP,
                                      maxNewTokens: config.maxCompletionLength)
        let seed = generator.next()
        let generations = try Sampler(model: model).generate(encoded.flatMap { Array(repeating: $0, count: k) },
                                                             options: options, seed: seed)
        return RolloutBatch(examples: examples, prompts: encoded, completions: generations.map(\.tokens), groupSize: k)
    }

    /// The reward of every completion of `batch` (text up to EOS), checked for count and finiteness.
    func score(_ batch: RolloutBatch) throws -> [Double] {
        let k = batch.groupSize
        let texts = batch.completions.map { tokenizer.decode($0.prefix { $0 != Tokenizer.eos }) }
        let repeated = batch.examples.flatMap { Array(repeating: $0, count: k) }
        let rewards = try reward.rewards(prompts: repeated.map(\.prompt), completions: texts, examples: repeated)
        guard rewards.count == texts.count else { throw PolicyGradientError.rewardCount(expected: texts.count, got: rewards.count) }
        if let i = rewards.firstIndex(where: { !$0.isFinite }) {
            throw PolicyGradientError.nonFiniteReward(prompt: repeated[i].prompt, completion: texts[i], value: rewards[i])
        }
        return rewards
    }

    /// Advantages for `batch`, then `numIterations` optimisation passes of the policy loss
    /// (+ KL, − entropy bonus). Does nothing when the batch is empty. π_old is the policy of the
    /// first pass, so with one pass its log-probs are not computed separately (ratio 1, as TRL).
    func update(on batch: RolloutBatch) throws -> UpdateResult {
        var result = UpdateResult()
        guard batch.groupCount > 0 else { return result }
        let k = batch.groupSize
        let adv = try advantages.advantages(rewards: batch.rewards, groupSize: k).map(Float.init)
        // completions with no tokens carry no loss
        let kept = batch.completions.indices.filter { !batch.completions[$0].isEmpty }
        guard !kept.isEmpty else { return result }
        let prompts = kept.map { batch.prompts[$0 / k] }, completions = kept.map { batch.completions[$0] }
        let old = config.numIterations > 1
            ? withoutGradients { model.completionLogProbs(prompts: prompts, completions: completions).toArray() } : nil
        let ref = reference.map { r in withoutGradients { r.completionLogProbs(prompts: prompts, completions: completions).toArray() } }
        for iteration in 0..<config.numIterations {
            optimizer.zeroGrad()
            let (lp, entropy) = model.completionLogProbsAndEntropy(prompts: prompts, completions: completions)
            let (loss, stats) = policyGradientLoss(
                logProbs: lp, sequenceLengths: completions.map(\.count), advantages: kept.map { adv[$0] },
                oldLogProbs: old, referenceLogProbs: ref, entropy: entropy, config: config.loss)
            result.statistics = stats
            if iteration == 0 { result.entropy = stats.entropy }
            guard loss.item().isFinite else { throw PolicyGradientError.nonFinite(step: stepCount + 1, what: "loss") }
            loss.backward()
            result.gradNorm = clipGradNorm(model.parameters(), maxNorm: config.maxGradNorm)
            guard result.gradNorm.isFinite else { throw PolicyGradientError.nonFinite(step: stepCount + 1, what: "gradient norm") }
            optimizer.step()
        }
        return result
    }

    /// The step's metrics from every sampled batch and the update.
    private func metrics(sampled: [RolloutBatch], trainedGroups: Int, lowStdGroups: Int, update: UpdateResult,
                         generationSeconds: Double, scoringSeconds: Double, updateSeconds: Double) -> StepMetrics {
        let k = config.numGenerations
        let groups = sampled.flatMap { b in (0..<b.groupCount).map { b.groupRewards($0) } }
        let rewards = groups.flatMap { $0 }
        let stds = groups.map { g -> Double in
            let m = g.reduce(0, +) / Double(k)
            return (g.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, k - 1))).squareRoot()  // unbiased, as TRL
        }
        let tokens = sampled.reduce(0) { $0 + $1.completions.reduce(0) { $0 + $1.count } }
        let g = Double(groups.count)
        return StepMetrics(
            step: stepCount, reward: rewards.reduce(0, +) / Double(rewards.count),
            rewardStd: stds.reduce(0, +) / g,
            fracRewardZeroStd: Double(groups.filter { Set($0).count == 1 }.count) / g,
            fracInputsLowStd: Double(lowStdGroups) / g,
            kl: Double(update.statistics.kl), entropy: Double(update.entropy),
            completionLength: Double(tokens) / Double(rewards.count),
            gradNorm: Double(update.gradNorm), learningRate: Double(optimizer.learningRate),
            clipFraction: Double(update.statistics.clipFraction),
            numSamplingTries: sampled.count, fracGroupsKept: Double(trainedGroups) / g,
            tokensPerSecond: generationSeconds > 0 ? Double(tokens) / generationSeconds : 0,
            generationSeconds: generationSeconds, scoringSeconds: scoringSeconds, updateSeconds: updateSeconds)
    }
}

fileprivate extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
