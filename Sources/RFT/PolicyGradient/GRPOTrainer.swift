import Foundation
import RFTModel
import RFTTensor

/// What one step did: TRL's metric names plus rft's. `reward`, `reward_std`,
/// `frac_reward_zero_std`, `completion_length`, `frac_flagged` and `frac_stuck` describe ALL
/// groups sampled in the step (with dynamic sampling, also the dropped ones and those beyond
/// the step's prompts); `loss`, `kl`, `entropy`, `clip_fraction` and `grad_norm` describe the
/// groups trained on. JSON keys are these names in snake_case.
public struct GRPOStepMetrics: TrainerMetrics, Equatable {
    /// Step number (1-based).
    public var step: Int
    /// The policy loss (last optimisation pass; 0 when nothing was trained).
    public var loss: Double
    /// Mean reward of the rollouts.
    public var reward: Double
    /// Mean over groups of the (unbiased) reward std within the group, as TRL logs it.
    public var rewardStd: Double
    /// Share of groups whose K rewards are all equal (zero advantage under GRPO).
    public var fracRewardZeroStd: Double
    /// Share of groups flagged by the run's `StuckCriterion` (reward std below the threshold).
    public var fracFlagged: Double
    /// Share of groups stuck (flagged with a low mean reward).
    public var fracStuck: Double
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
    /// Of the update, seconds spent summing the gradients over the processes (0 on one process).
    public var allReduceSeconds: Double
    /// With several reward functions, each one's statistics over the step's completions it
    /// scored, by name (metrics.jsonl writes TRL's `rewards/<name>/mean` and `/std`, the sample std).
    public var rewardFunctions: [String: RewardFunctionStatistics] = [:]
    /// `gae`: the clipped value loss (token mean, last optimisation pass); nil for other estimators.
    public var valueLoss: Double?
    /// `gae`: share of tokens whose value loss was clipped (last pass).
    public var valueClipFraction: Double?
    /// `gae`: 1 − Var(returns − values)/Var(returns) of the rollout-time values over the step's
    /// tokens (0 when the returns do not vary).
    public var explainedVariance: Double?
    /// `gae`: the KL coefficient β after the step (adaptive under `kl_target`; its rewards used the one before).
    public var klCoefficient: Double?
}

/// The trainer's mutable state apart from the weights, the AdamW state and the frozen reference:
/// with those restored too (see `Checkpoint.capture`/`restore`), a resumed run continues
/// bit-identically.
public struct GRPOTrainerState: Codable, Equatable, Sendable {
    /// Steps taken.
    public var stepCount: Int
    /// The generator that draws prompts and sampling seeds.
    public var generator: RandomGenerator
    /// The advantage computer (its moving baseline).
    public var advantages: AdvantageComputer
    /// Per-input reward-std tracking.
    public var tracker: RewardStdTracker
    /// `gae`: the KL controller (its current β); nil otherwise.
    public var klController: KLController?

    /// A state from its parts.
    public init(stepCount: Int, generator: RandomGenerator, advantages: AdvantageComputer, tracker: RewardStdTracker,
                klController: KLController? = nil) {
        self.stepCount = stepCount
        self.generator = generator
        self.advantages = advantages
        self.tracker = tracker
        self.klController = klController
    }
}

/// K completions of each of a batch of prompts, grouped prompt by prompt, with their rewards.
/// The groups are cut into the step's micro-batches in order; each process samples the groups
/// of its micro-batches and holds their completions, while every process has the rewards and
/// lengths of all of them.
struct RolloutBatch {
    /// The prompts' examples (P).
    var examples: [TaskExample] = []
    /// The encoded prompts (P).
    var prompts: [[Int]] = []
    /// Completion tokens, EOS included when sampled (P·K, group g at g·K..<(g+1)·K; empty for
    /// the groups another process sampled).
    var completions: [[Int]] = []
    /// The micro-batch of the step each group belongs to (P).
    var microBatch: [Int] = []
    /// Every completion's length in tokens (P·K; empty before scoring).
    var lengths: [Int] = []
    /// One reward per completion (P·K; empty before scoring; 0 where `scored` is false).
    var rewards: [Double] = []
    /// Whether some reward function scored each completion (P·K; empty before scoring): an
    /// unscored one gets advantage 0 and is left out of its group's statistics.
    var scored: [Bool] = []
    /// Each reward function's scores by name, nil where it gave none (P·K each; empty for a
    /// reward that is not made of several).
    var parts: [(name: String, scores: [Double?])] = []
    /// Whether each completion was cut off at the length limit, without a stop token (P·K;
    /// empty before scoring).
    var truncated: [Bool] = []
    /// Completions per prompt (K).
    let groupSize: Int

    /// Number of groups (prompts).
    var groupCount: Int { examples.count }
    /// The statistics of group g's scored rewards.
    func group(_ g: Int) -> RewardGroup {
        let rows = (g * groupSize)..<((g + 1) * groupSize)
        return RewardGroup(rows.filter { scored[$0] }.map { rewards[$0] })
    }

    /// Appends the given groups of `other`.
    mutating func append(groups: some Sequence<Int>, of other: RolloutBatch) {
        let k = groupSize
        for g in groups {
            examples.append(other.examples[g])
            prompts.append(other.prompts[g])
            microBatch.append(other.microBatch[g])
            completions += other.completions[(g * k)..<((g + 1) * k)]
            lengths += other.lengths[(g * k)..<((g + 1) * k)]
            rewards += other.rewards[(g * k)..<((g + 1) * k)]
            scored += other.scored[(g * k)..<((g + 1) * k)]
            if parts.isEmpty { parts = other.parts.map { ($0.name, []) } }
            for i in parts.indices { parts[i].scores += other.parts[i].scores[(g * k)..<((g + 1) * k)] }
            truncated += other.truncated[(g * k)..<((g + 1) * k)]
        }
    }
}

/// One micro-batch of an update: completions of its groups (those with tokens), as rows of the
/// step's batch, with the sampling policy's and the reference's log-probs when needed.
struct PolicyMicroBatch {
    /// Rows (completion indices) of the batch.
    let rows: [Int]
    /// Each row's prompt and completion.
    let prompts: [[Int]], completions: [[Int]]
    /// π_old's and the reference's log-probs of the completion tokens, when computed.
    var old: [Float]?, reference: [Float]?
    /// `gae`: the rollout-time values, the whitened GAE advantages and the returns of the
    /// completion tokens.
    var oldValues: [Float]?, tokenAdvantages: [Float]?, returns: [Float]?

    /// Rows `rows` of `batch`.
    init(rows: [Int], of batch: RolloutBatch) {
        self.rows = rows
        prompts = rows.map { batch.prompts[$0 / batch.groupSize] }
        completions = rows.map { batch.completions[$0] }
    }
}

/// What an update did (zero when nothing was trained).
struct UpdateResult {
    var loss: Float = 0
    var statistics = PolicyLossStatistics(clipFraction: 0, kl: 0, meanRatio: 1)
    var entropy: Float = 0
    var gradNorm: Float = 0
    var allReduceSeconds = 0.0
    var valueLoss: Float = 0, valueClipFraction: Float = 0, explainedVariance: Double = 0
}

/// Reinforcement finetuning with sampled completions (TRL's GRPOTrainer): rollouts of K
/// completions per prompt, rewards, advantages (REINFORCE, RLOO, GRPO with any
/// `scale_rewards`), then the clipped policy loss with an optional KL to a frozen copy of the
/// starting model and an entropy bonus; optionally DAPO's dynamic sampling; live per-input
/// reward-std tracking by the run's `StuckCriterion`. A step draws the prompts of
/// `per_device_train_batch_size` × `gradient_accumulation_steps` × N processes (`group`) and
/// cuts their groups into micro-batches in order; rank r samples, scores and trains on the r-th
/// run of `gradient_accumulation_steps` of them (whole groups: group statistics stay exact),
/// every rank gets every reward (advantages, dynamic sampling and the metrics see all groups),
/// the loss is normalised by the whole step, and the gradients are summed in micro-batch order
/// before the same AdamW step on every rank.
public final class GRPOTrainer: Trainer {
    /// The policy being trained.
    public let model: GPT
    /// Encodes prompts and decodes completions.
    public let tokenizer: Tokenizer
    /// The run's settings.
    public let config: GRPOConfig
    /// Scores completions (checked against `tracker.criterion`'s reward range).
    public let reward: any RewardFunction
    /// Where prompts come from.
    public let source: ExampleSource
    /// Completion length: the config's, else the source's default.
    public let maxCompletionLength: Int
    /// The optimizer (its state checkpoints by name).
    public let optimizer: AdamW
    /// The frozen reference policy when β > 0: a copy of the weights the trainer started with
    /// (checkpointed as `reference.*`).
    public let reference: GPT?
    /// Turns rewards into advantages (keeps the moving baseline).
    public var advantages: AdvantageComputer
    /// Draws prompts; the generator is part of the run state.
    public var generator: RandomGenerator
    /// Per-input reward std across the run.
    public var tracker: RewardStdTracker
    /// Steps taken.
    public private(set) var stepCount = 0
    /// The processes the prompts of a step are split across.
    public let group: any ProcessGroup
    /// `gae`: the critic, a Linear(width → 1) on the policy's final normed residual stream
    /// (shared backbone; checkpointed as `value_head.*`, trained by the same AdamW); nil otherwise.
    public let valueHead: Linear?
    /// `gae`: the KL coefficient of the per-token rewards, adaptive under `kl_target`.
    public var klController: KLController?

    /// A trainer for `model` on prompts from `source` (split across `group`). Throws when the
    /// settings are invalid, or when no completion length is set and `source` cannot tell one.
    public init(model: GPT, tokenizer: Tokenizer, config: GRPOConfig, reward: any RewardFunction, source: ExampleSource,
                criterion: StuckCriterion = StuckCriterion(), group: any ProcessGroup = SingleProcessGroup()) throws {
        try config.validate()
        self.group = group
        guard let length = config.maxCompletionLength ?? source.defaultCompletionLength(tokenizer: tokenizer) else {
            throw ConfigError.invalid(key: "max_completion_length", reason: "set it: the prompts come from code, so no reference length is known")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.reward = reward
        self.source = source
        maxCompletionLength = length
        if config.advantageEstimator == .gae {
            // a critic sharing the backbone: one forward gives log-probs and values, and the
            // value loss shapes the features the policy reads (the choice of TRL's older
            // AutoModelForCausalLMWithValueHead); a separate value model would double the memory
            var g = RandomGenerator(seed: config.training.seed ^ 0x7A1E_5EED)
            valueHead = Linear(model.config.width, 1, bias: true, std: 1 / Float(model.config.width + 1), using: &g)
            klController = KLController(beta: Double(config.loss.beta), target: config.klTarget, horizon: config.klHorizon)
        } else {
            (valueHead, klController) = (nil, nil)
        }
        optimizer = config.training.makeOptimizer(model.namedParameters() + (valueHead.map(Self.valueHeadParameters) ?? []))
        advantages = AdvantageComputer(config.advantageEstimator, scaleRewards: config.scaleRewards)
        generator = RandomGenerator(seed: config.training.seed)
        tracker = RewardStdTracker(criterion: criterion)
        if config.loss.beta > 0 {  // a frozen copy of the starting weights
            let ref = GPT(model.config, initializerRange: 0)  // every parameter assigned below
            for ((_, r), (_, p)) in zip(ref.namedParameters(), model.namedParameters()) { r.assign(p); r.requiresGrad = false }
            reference = ref
        } else {
            reference = nil
        }
    }

    /// Everything that changes from step to step except the weights, the AdamW state and the
    /// reference.
    public var trainerState: GRPOTrainerState {
        get { GRPOTrainerState(stepCount: stepCount, generator: generator, advantages: advantages, tracker: tracker, klController: klController) }
        set {
            stepCount = newValue.stepCount
            generator = newValue.generator
            advantages = newValue.advantages
            tracker = newValue.tracker
            if newValue.klController != nil { klController = newValue.klController }
        }
    }

    /// The trainer's state for a checkpoint.
    public var state: TrainerState { .grpo(trainerState) }

    /// Continues from `state`.
    public func restore(_ state: TrainerState) throws {
        guard case .grpo(let s) = state else { throw TrainingError.wrongState(expected: "grpo", got: state.kind) }
        trainerState = s
    }

    /// The frozen reference's weights, as `reference.<name>`, and the critic's, as `value_head.<name>`.
    public var extraTensors: [(name: String, tensor: Tensor)] {
        (reference.map { r in r.namedParameters().map { (name: "reference." + $0.name, tensor: $0.tensor) } } ?? [])
            + (valueHead.map(Self.valueHeadParameters) ?? [])
    }

    /// The value head's parameters as `value_head.<name>` (their AdamW state checkpoints by these names).
    static func valueHeadParameters(_ head: Linear) -> [(name: String, tensor: Tensor)] {
        head.namedParameters().map { (name: "value_head." + $0.name, tensor: $0.tensor) }
    }

    /// Every input seen so far with its first and latest reward mean/std, in order of first sighting.
    public func inputReport() -> [InputStdRecord] { tracker.report() }

    /// One step: sample (and, with dynamic sampling, refill), score, compute advantages, update.
    /// Stops with an error (before changing the weights) when the loss or gradient is not finite.
    public func step() throws -> GRPOStepMetrics {
        var time = (generation: 0.0, scoring: 0.0)
        let (sampled, training) = try collectGroups(time: &time)
        let start = ContinuousClock.now
        optimizer.learningRate = config.training.schedule.learningRate(base: config.training.learningRate, step: stepCount)
        let update = try self.update(on: training)
        let updateSeconds = (ContinuousClock.now - start).seconds
        stepCount += 1
        var flagged = 0, stuck = 0  // counted while the tracker records every sampled group
        for batch in sampled {
            for g in 0..<batch.groupCount {
                let seen = tracker.record(batch.examples[g], group: batch.group(g), step: stepCount)
                if seen.flagged { flagged += 1 }
                if seen.stuck { stuck += 1 }
            }
        }
        return metrics(sampled: sampled, trainedGroups: training.groupCount, flagged: flagged, stuck: stuck, update: update,
                       generationSeconds: time.generation, scoringSeconds: time.scoring, updateSeconds: updateSeconds)
    }

    /// Samples and scores batches of the step's prompts (`promptsPerStep` per process): one
    /// batch, or under dynamic sampling as many as it takes (at most `maxSamplingTries`) to
    /// collect that many groups whose rewards are not all equal. → every batch sampled, and the
    /// groups to train on.
    func collectGroups(time: inout (generation: Double, scoring: Double)) throws -> (sampled: [RolloutBatch], training: RolloutBatch) {
        var sampled: [RolloutBatch] = []
        var training = RolloutBatch(groupSize: config.numGenerations)
        let prompts = config.promptsPerStep * config.training.gradientAccumulationSteps * group.size
        repeat {
            let t0 = ContinuousClock.now
            var batch = try rollout(promptCount: prompts)
            let t1 = ContinuousClock.now
            try score(&batch)
            time.generation += (t1 - t0).seconds
            time.scoring += (ContinuousClock.now - t1).seconds
            let informative = (0..<batch.groupCount).filter { !config.dynamicSampling || !batch.group($0).allEqual }
            training.append(groups: informative.prefix(prompts - training.groupCount), of: batch)
            sampled.append(batch)
        } while config.dynamicSampling && training.groupCount < prompts && sampled.count < config.maxSamplingTries
        return (sampled, training)
    }

    /// The micro-batches of a step this process computes.
    private var ownMicroBatches: Range<Int> { group.microBatches(config.training.gradientAccumulationSteps) }

    /// Draws `promptCount` prompts and samples K completions of the groups of this process's
    /// micro-batches (row i draws from row generator i of the whole batch, so a completion does
    /// not depend on how the step is split). Rewards and lengths are left empty.
    func rollout(promptCount: Int) throws -> RolloutBatch {
        let k = config.numGenerations, parts = config.training.gradientAccumulationSteps * group.size
        let examples = source.draw(promptCount, using: &generator)
        let encoded = try examples.map { try tokenizer.encodePrompt($0) }
        let options = SamplingOptions(temperature: config.temperature, topK: config.topK, topP: config.topP,
                                      maxNewTokens: maxCompletionLength, stopTokens: tokenizer.stopTokens)
        let seed = generator.next()
        var microBatch = [Int](repeating: 0, count: promptCount)
        for part in 0..<parts { for g in shardRange(promptCount, part: part, of: parts) { microBatch[g] = part } }
        let own = ownMicroBatches
        let mine = shardRange(promptCount, part: own.lowerBound, of: parts).lowerBound..<shardRange(promptCount, part: own.upperBound - 1, of: parts).upperBound
        let rows = (mine.lowerBound * k)..<(mine.upperBound * k)
        var generators = Array(Sampler.rowGenerators(seed: seed, count: promptCount * k)[rows])
        let generations = try Sampler(model: model).generate(mine.flatMap { Array(repeating: encoded[$0], count: k) },
                                                             options: options, generators: &generators)
        var completions = [[Int]](repeating: [], count: promptCount * k)
        completions.replaceSubrange(rows, with: generations.map(\.tokens))
        return RolloutBatch(examples: examples, prompts: encoded, completions: completions, microBatch: microBatch, groupSize: k)
    }

    /// The reward (text up to EOS, checked by `checkedRewards`), the length and whether it was
    /// truncated, of every completion of `batch`: each process scores the groups it sampled,
    /// then they swap them.
    func score(_ batch: inout RolloutBatch) throws {
        let k = batch.groupSize, own = ownMicroBatches
        let rows = batch.completions.indices.filter { own.contains(batch.microBatch[$0 / k]) }
        let texts = rows.map { tokenizer.completionText(batch.completions[$0]) }
        let examples = rows.map { batch.examples[$0 / k] }
        let scores = try reward.checkedScores(prompts: examples.map(\.prompt), completions: texts, examples: examples,
                                              range: tracker.criterion.rewardRange)
        // shares are contiguous, in rank order; NaN stands for "no score" on the way
        func gathered(_ values: [Double?]) throws -> [Double?] { try group.allGather(values.map { $0 ?? .nan }).map { $0.isNaN ? nil : $0 } }
        let total = try gathered(scores.total)
        batch.rewards = total.map { $0 ?? 0 }
        batch.scored = total.map { $0 != nil }
        batch.parts = try scores.parts.map { ($0.name, try gathered($0.scores)) }
        batch.lengths = try group.allGather(rows.map { Double(batch.completions[$0].count) }).map { Int($0) }
        let stops = Set(tokenizer.stopTokens)
        batch.truncated = try group.allGather(rows.map { r -> Double in
            let c = batch.completions[r]
            return c.count >= maxCompletionLength && !(c.last.map(stops.contains) ?? false) ? 1 : 0
        }).map { $0 != 0 }
    }

    /// Advantages for `batch`, then `numIterations` optimisation passes of the policy loss
    /// (+ KL, − entropy bonus). Does nothing when the batch is empty. π_old is the policy of the
    /// first pass, so with one pass its log-probs are not computed separately (ratio 1, as TRL).
    func update(on batch: RolloutBatch) throws -> UpdateResult {
        var result = UpdateResult()
        guard batch.groupCount > 0 else { return result }
        let k = batch.groupSize
        let adv = try advantages.advantages(rewards: batch.rewards, groupSize: k, scored: batch.scored).map(Float.init)
        // completions with no tokens carry no loss, nor (mask_zero_advantage_groups) do groups
        // whose advantages are all zero; the loss is normalised by the whole step's others
        let dropped = Set((0..<batch.groupCount).filter { g in
            config.maskZeroAdvantageGroups && adv[(g * k)..<((g + 1) * k)].allSatisfy { $0 == 0 }
        })
        // (gae: a completion no reward function scored has no advantage to estimate and sits out)
        let trained = batch.lengths.indices.filter { batch.lengths[$0] > 0 && !dropped.contains($0 / k) && (valueHead == nil || batch.scored[$0]) }
        // mask_truncated_completions: completions that did not end their sequence or turn
        func inLoss(_ row: Int) -> Bool { !(config.maskTruncatedCompletions && batch.truncated[row]) }
        let whole = PolicyLossNormalizer(lengths: trained.map { batch.lengths[$0] }, inLoss: trained.map(inLoss))
        guard whole.completions > 0 else { return result }
        // this process's micro-batches: the trained completions of their groups
        var parts = ownMicroBatches.map { m in
            PolicyMicroBatch(rows: trained.filter { batch.microBatch[$0 / k] == m }, of: batch)
        }.filter { !$0.rows.isEmpty }
        for i in parts.indices {
            let (prompts, completions) = (parts[i].prompts, parts[i].completions)
            if let valueHead {  // gae: π_old's log-probs (for the per-token KL reward) and the rollout-time values
                let (lp, _, values) = withoutGradients { model.completionLogProbsEntropyAndValues(prompts: prompts, completions: completions, valueHead: valueHead) }
                (parts[i].old, parts[i].oldValues) = (lp.toArray(), values.toArray())
            } else if config.numIterations > 1 {
                parts[i].old = withoutGradients { model.completionLogProbs(prompts: prompts, completions: completions).toArray() }
            }
            parts[i].reference = reference.map { r in withoutGradients { r.completionLogProbs(prompts: prompts, completions: completions).toArray() } }
        }
        if valueHead != nil { result.explainedVariance = try prepareGAE(&parts, scores: batch.rewards, inLoss: inLoss) }
        var lossConfig = config.loss
        if valueHead != nil { lossConfig.beta = 0 }  // gae puts the KL in the rewards, not in the loss
        let parameters = model.parameters() + (valueHead?.parameters() ?? [])
        for iteration in 0..<config.numIterations {
            optimizer.zeroGrad()
            var gradients = GradientAccumulation(parameters), sums: PolicyLossSums?
            var valueSums = [0.0, 0.0]  // the value loss (normalised by the step's tokens) and its clipped tokens
            for part in parts {
                let lp: Tensor, entropy: Tensor, values: Tensor?
                if let valueHead {
                    (lp, entropy, values) = model.completionLogProbsEntropyAndValues(prompts: part.prompts, completions: part.completions,
                                                                                    valueHead: valueHead)
                } else {
                    (lp, entropy) = model.completionLogProbsAndEntropy(prompts: part.prompts, completions: part.completions)
                    values = nil
                }
                var (loss, stats) = policyGradientLoss(
                    logProbs: lp, sequenceLengths: part.completions.map(\.count), advantages: part.rows.map { adv[$0] },
                    oldLogProbs: part.old, referenceLogProbs: part.reference, entropy: entropy, config: lossConfig,
                    inLoss: part.rows.map(inLoss), tokenAdvantages: part.tokenAdvantages, maxCompletionLength: maxCompletionLength,
                    normalizer: whole)
                if let values {
                    let (valueLoss, clipped) = self.valueLoss(values, of: part, inLoss: inLoss, tokens: whole.tokens)
                    valueSums[0] += Double(valueLoss.item())
                    valueSums[1] += clipped
                    loss = loss + valueLoss * config.vfCoef
                }
                sums = sums.map { $0 + stats.sums } ?? stats.sums
                loss.backward()
                gradients.add()
            }
            gradients.finish()
            let stats = PolicyLossStatistics(PolicyLossSums(values: try group.allReduce((sums ?? PolicyLossSums()).values)))  // the step's
            result.statistics = stats
            result.loss = Float(stats.sums.loss)
            if valueHead != nil {
                let v = try group.allReduce(valueSums)
                result.valueLoss = Float(v[0])
                result.valueClipFraction = stats.sums.tokens > 0 ? Float(v[1] / stats.sums.tokens) : 0
                result.loss += config.vfCoef * result.valueLoss
            }
            if iteration == 0 { result.entropy = stats.entropy }
            guard result.loss.isFinite else { throw TrainingError.nonFinite(step: stepCount + 1, what: "the policy loss") }
            result.allReduceSeconds += try group.allReduceGradients(parameters)
            result.gradNorm = clipGradNorm(parameters, maxNorm: config.training.maxGradNorm)
            guard result.gradNorm.isFinite else { throw TrainingError.nonFinite(step: stepCount + 1, what: "the gradient norm") }
            optimizer.step()
        }
        return result
    }

    /// gae: each completion's per-token rewards (−β·(log π_old − log π_ref), the score at its last
    /// token), GAE over the rollout-time values, the advantages whitened over the whole step's
    /// tokens in the loss; then the KL controller's update from the step's mean KL per
    /// completion. → the explained variance of the rollout-time values over the step's tokens.
    private func prepareGAE(_ parts: inout [PolicyMicroBatch], scores: [Double], inLoss: (Int) -> Bool) throws -> Double {
        let beta = klController?.beta ?? 0
        var advantages: [[Double]] = []
        // Σ1, ΣA, ΣA² over the loss's tokens; Σ KL per completion; completions; then the returns' moments over all tokens
        var m = [Double](repeating: 0, count: 5), moments = ReturnMoments()
        for i in parts.indices {
            let part = parts[i]
            var partAdvantages: [Double] = [], returns: [Double] = [], start = 0
            for (j, row) in part.rows.enumerated() {
                let n = part.completions[j].count, span = start..<(start + n)
                let old = Array(part.old![span]), values = part.oldValues![span].map(Double.init)
                let reference = part.reference.map { Array($0[span]) }
                let rewards = ppoTokenRewards(score: scores[row], logProbs: old, referenceLogProbs: reference, beta: beta)
                let (a, r) = generalizedAdvantages(rewards: rewards, values: values, gamma: config.gamma, lambda: config.lam)
                partAdvantages += a
                returns += r
                if inLoss(row) { m[0] += Double(n); m[1] += a.reduce(0, +); m[2] += a.reduce(0) { $0 + $1 * $1 } }
                for (rt, vt) in zip(r, values) { moments.add(return: rt, value: vt) }
                if let reference { m[3] += zip(old, reference).reduce(0.0) { $0 + Double($1.0 - $1.1) } }
                m[4] += 1
                start += n
            }
            advantages.append(partAdvantages)
            parts[i].returns = returns.map(Float.init)
        }
        let all = try group.allReduce(m + moments.values)  // the whole step's
        (m, moments.values) = (Array(all[0..<5]), Array(all[5...]))
        let mean = m[1] / max(1, m[0]), std = max(0, m[2] / max(1, m[0]) - mean * mean).squareRoot()
        for i in parts.indices { parts[i].tokenAdvantages = whitened(advantages[i], mean: mean, std: std).map(Float.init) }
        klController?.update(kl: m[3] / max(1, m[4]), completions: Int(m[4]))
        return moments.explainedVariance ?? 0
    }

    /// The clipped value loss of one micro-batch (½·max((V − R)², (V_clip − R)²) per token in the
    /// loss, normalised by the step's `tokens`), with its backward. → the loss and its clipped tokens.
    private func valueLoss(_ values: Tensor, of part: PolicyMicroBatch, inLoss: (Int) -> Bool, tokens: Int) -> (Tensor, Double) {
        let old = part.oldValues!, returns = part.returns!, w = 1 / Float(max(1, tokens))
        var grad = [Float](repeating: 0, count: values.count), total: Double = 0, clipped = 0.0, t = 0
        for (j, row) in part.rows.enumerated() {
            let n = part.completions[j].count
            defer { t += n }
            guard inLoss(row) else { continue }
            for i in t..<(t + n) {
                let l = clippedValueLoss(value: values.data[i], old: old[i], target: returns[i], clipRange: config.cliprangeValue)
                total += Double(w * l.loss)
                grad[i] = w * l.grad
                if l.clipped { clipped += 1 }
            }
        }
        let out = Tensor(scalar: Float(total)).recorded(from: [values]) { g in
            guard values.requiresGrad else { return }
            let gv = values.gradBuffer()
            for i in grad.indices { gv[i] += g.data[0] * grad[i] }
        }
        return (out, clipped)
    }

    /// The step's metrics from every sampled batch and the update.
    private func metrics(sampled: [RolloutBatch], trainedGroups: Int, flagged: Int, stuck: Int, update: UpdateResult,
                         generationSeconds: Double, scoringSeconds: Double, updateSeconds: Double) -> GRPOStepMetrics {
        let groups = sampled.flatMap { b in (0..<b.groupCount).map { b.group($0) } }
        let rewards = sampled.flatMap { b in b.rewards.indices.filter { b.scored[$0] }.map { b.rewards[$0] } }
        let completions = sampled.reduce(0) { $0 + $1.rewards.count }
        var functions: [String: RewardFunctionStatistics] = [:]
        for (i, part) in (sampled.first?.parts ?? []).enumerated() {
            functions[part.name] = RewardFunctionStatistics(sampled.flatMap { $0.parts[i].scores.compactMap { $0 } })
        }
        let tokens = sampled.reduce(0) { $0 + $1.lengths.reduce(0, +) }
        let g = Double(groups.count)
        return GRPOStepMetrics(
            step: stepCount, loss: Double(update.loss), reward: rewards.reduce(0, +) / Double(max(1, rewards.count)),
            rewardStd: groups.reduce(0) { $0 + $1.sampleStd } / g,
            fracRewardZeroStd: Double(groups.filter(\.allEqual).count) / g,
            fracFlagged: Double(flagged) / g, fracStuck: Double(stuck) / g,
            kl: Double(update.statistics.kl), entropy: Double(update.entropy),
            completionLength: Double(tokens) / Double(completions),
            gradNorm: Double(update.gradNorm), learningRate: Double(optimizer.learningRate),
            clipFraction: Double(update.statistics.clipFraction),
            numSamplingTries: sampled.count, fracGroupsKept: Double(trainedGroups) / g,
            tokensPerSecond: generationSeconds > 0 ? Double(tokens) / generationSeconds : 0,
            generationSeconds: generationSeconds, scoringSeconds: scoringSeconds, updateSeconds: updateSeconds,
            allReduceSeconds: update.allReduceSeconds, rewardFunctions: functions,
            valueLoss: valueHead.map { _ in Double(update.valueLoss) }, valueClipFraction: valueHead.map { _ in Double(update.valueClipFraction) },
            explainedVariance: valueHead.map { _ in update.explainedVariance }, klCoefficient: klController?.beta)
    }
}
