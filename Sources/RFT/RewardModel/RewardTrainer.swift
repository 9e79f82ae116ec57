import Foundation
import RFTModel
import RFTTensor

/// The settings of a reward-model run (TRL's RewardConfig names; the training arguments
/// flattened, as in TRL's files). These defaults are `rft reward-train`'s.
public struct RewardTrainingConfig: Configuration {
    /// Run length, batch (pairs per step), AdamW, schedule, seed.
    public var training: TrainingArguments
    /// Pairs whose prompt + completion exceeds this many tokens are dropped (nil: none).
    public var maxLength: Int? = 1024
    /// Adds c · mean((r_chosen + r_rejected)²) to the loss, pulling rewards toward 0 (Eisenstein
    /// et al., 2023; TRL suggests 0.01); nil: off.
    public var centerRewardsCoefficient: Double?

    /// `rft reward-train`'s defaults: 100 steps of 8 pairs at learning rate 1e-4 (TRL's), constant.
    public init() {
        training = TrainingArguments()
        training.learningRate = 1e-4
    }

    /// The training arguments sit at the top level of a config file.
    public static let flattened: Set<String> = ["training"]
    /// The help of each key.
    public static let help = [
        "max_length": "drop pairs whose prompt + completion is longer than this many tokens",
        "center_rewards_coefficient": "add this × mean((r_chosen + r_rejected)²) to the loss (TRL suggests 0.01)",
    ]

    /// The training arguments' rules, a positive `max_length`, a finite non-negative coefficient.
    public func validate() throws {
        try training.validate()
        if let maxLength { try ConfigRule.range("max_length", maxLength, 1, 1 << 24) }
        if let c = centerRewardsCoefficient { try ConfigRule.finite("center_rewards_coefficient", c, 0, 1e6) }
    }
}

/// What one reward-model step did (TRL's RewardTrainer metric names).
public struct RewardStepMetrics: TrainerMetrics, Equatable {
    /// Step number (1-based).
    public var step: Int
    /// Mean Bradley–Terry loss over the step's pairs (with the centring term, when on).
    public var loss: Double
    /// Share of pairs with r(chosen) > r(rejected).
    public var accuracy: Double
    /// Mean r(chosen) − r(rejected).
    public var margin: Double
    /// Smallest, mean and largest reward of the step's completions.
    public var minReward: Double, meanReward: Double, maxReward: Double
    /// Gradient norm before clipping.
    public var gradNorm: Double
    /// Learning rate used.
    public var learningRate: Double
    /// Tokens of the step's sequences (prompts counted once per pair).
    public var numTokens: Int
    /// Tokens per second.
    public var tokensPerSecond: Double
    /// Seconds the step took.
    public var seconds: Double
    /// Of which summing the gradients over the processes (0 on one process).
    public var allReduceSeconds: Double
}

/// The mutable state of a reward-model run besides weights and optimizer: the steps taken and
/// the generator that draws pairs, as an SFT run's.
public typealias RewardTrainerState = SFTTrainerState

/// The Bradley–Terry loss of a batch of pairs and its gradient (TRL's RewardTrainer):
/// per pair −log σ(r_c − r_r − m), + c·(r_c + r_r)² when centring, each divided by `pairs` (the
/// whole step's count when this is a share of it). rewards is (2B): chosen and rejected of each
/// pair, interleaved. → the loss, d loss / d rewards (2B), and the sums TRL logs.
public func bradleyTerryLoss(rewards: [Float], margins: [Double?], centerCoefficient: Double?, pairs: Int)
    -> (loss: Double, gradient: [Float], sums: RewardLossSums)
{
    precondition(rewards.count == 2 * margins.count, "bradleyTerryLoss: \(rewards.count) rewards for \(margins.count) pairs")
    let scale = 1 / Double(max(1, pairs)), c = centerCoefficient ?? 0
    var gradient = [Float](repeating: 0, count: rewards.count), sums = RewardLossSums()
    for (i, m) in margins.enumerated() {
        let chosen = Double(rewards[2 * i]), rejected = Double(rewards[2 * i + 1])
        let d = chosen - rejected - (m ?? 0)
        let softplus = max(-d, 0) + log1p(exp(-abs(d)))             // −log σ(d), stable
        let sigmoidNeg = d >= 0 ? exp(-d) / (1 + exp(-d)) : 1 / (1 + exp(d))  // σ(−d) = d(−log σ(d))/d(−d)
        let total = chosen + rejected
        sums.loss += scale * (softplus + c * total * total)
        gradient[2 * i] = Float(scale * (-sigmoidNeg + 2 * c * total))
        gradient[2 * i + 1] = Float(scale * (sigmoidNeg + 2 * c * total))
        sums.pairs += 1
        sums.correct += chosen > rejected ? 1 : 0
        sums.margin += chosen - rejected
        sums.reward += total
        sums.minReward = min(sums.minReward, chosen, rejected)
        sums.maxReward = max(sums.maxReward, chosen, rejected)
    }
    return (sums.loss, gradient, sums)
}

/// The sums behind a reward step's metrics; they add up over micro-batches and processes.
public struct RewardLossSums: Equatable, Sendable {
    /// The loss (already divided by the step's pairs), pairs, pairs ranked right, Σ (r_c − r_r), Σ rewards.
    public var loss = 0.0, pairs = 0.0, correct = 0.0, margin = 0.0, reward = 0.0
    /// The extreme rewards.
    public var minReward = Double.infinity, maxReward = -Double.infinity

    /// Nothing yet.
    public init() {}

    /// The additive sums in a fixed order (for an all-reduce).
    var values: [Double] { [loss, pairs, correct, margin, reward] }

    /// Two shares together.
    public static func + (a: RewardLossSums, b: RewardLossSums) -> RewardLossSums {
        var s = RewardLossSums()
        (s.loss, s.pairs, s.correct, s.margin, s.reward) = (a.loss + b.loss, a.pairs + b.pairs, a.correct + b.correct, a.margin + b.margin, a.reward + b.reward)
        (s.minReward, s.maxReward) = (min(a.minReward, b.minReward), max(a.maxReward, b.maxReward))
        return s
    }
}

/// Trains a reward model on preference pairs with the Bradley–Terry loss (TRL's RewardTrainer):
/// the decoder and the head, by one AdamW. A step draws `per_device_train_batch_size` ×
/// `gradient_accumulation_steps` × N pairs (N processes in `group`) uniformly with replacement,
/// cuts them into micro-batches in order, and rank r computes the r-th run of them, as
/// `SFTTrainer` does; the gradients are summed in micro-batch order before the same AdamW step
/// on every rank.
public final class RewardTrainer: Trainer {
    /// The reward model being trained.
    public let rewardModel: RewardModel
    /// The run's settings.
    public let config: RewardTrainingConfig
    /// The optimizer over the decoder and `score.weight`.
    public let optimizer: AdamW
    /// The training pairs.
    public let pairs: [PreferencePair]
    /// Steps taken and the generator that draws pairs.
    public var trainerState: RewardTrainerState
    /// The processes the batch is split across.
    public let group: any ProcessGroup

    /// A trainer for `rewardModel` on `pairs` (split across `group`); throws when the settings are invalid.
    public init(rewardModel: RewardModel, config: RewardTrainingConfig = RewardTrainingConfig(), pairs: [PreferencePair],
                group: any ProcessGroup = SingleProcessGroup()) throws {
        try config.validate()
        precondition(!pairs.isEmpty, "RewardTrainer: no pairs")
        self.rewardModel = rewardModel
        self.config = config
        self.pairs = pairs
        self.group = group
        optimizer = config.training.makeOptimizer(rewardModel.namedParameters())
        trainerState = RewardTrainerState(step: 0, generator: RandomGenerator(seed: config.training.seed))
    }

    /// The decoder.
    public var model: GPT { rewardModel.model }
    /// Steps taken.
    public var stepCount: Int { trainerState.step }
    /// The trainer's state for a checkpoint.
    public var state: TrainerState { .reward(trainerState) }
    /// The head, as `score.weight`.
    public var extraTensors: [(name: String, tensor: Tensor)] { [(RewardModel.headName, rewardModel.head.weight)] }

    /// Continues from `state`.
    public func restore(_ state: TrainerState) throws {
        guard case .reward(let s) = state else { throw TrainingError.wrongState(expected: "reward", got: state.kind) }
        trainerState = s
    }

    /// One optimisation step on freshly drawn pairs. Throws (before changing the weights) when
    /// the loss or the gradient is not finite.
    public func step() throws -> RewardStepMetrics {
        let start = Date()
        let accumulation = config.training.gradientAccumulationSteps, parts = accumulation * group.size
        let total = config.training.perDeviceTrainBatchSize * parts
        let drawn = ExampleSource.uniformDraw(pairs, total, using: &trainerState.generator)
        optimizer.learningRate = config.training.schedule.learningRate(base: config.training.learningRate, step: trainerState.step)
        optimizer.zeroGrad()
        var gradients = GradientAccumulation(rewardModel.parameters()), sums = RewardLossSums(), tokens = 0
        for part in group.microBatches(accumulation) {
            let batch = Array(drawn[shardRange(drawn.count, part: part, of: parts)])
            guard !batch.isEmpty else { continue }
            let (prompts, completions) = try Self.encode(batch, rewardModel.tokenizer)
            tokens += prompts.enumerated().reduce(0) { $0 + ($1.offset % 2 == 0 ? $1.element.count : 0) } + completions.reduce(0) { $0 + $1.count }
            let rewards = rewardModel.rewards(prompts: prompts, completions: completions)  // (2b)
            let (_, gradient, s) = bradleyTerryLoss(rewards: rewards.toArray(), margins: batch.map(\.margin),
                                                    centerCoefficient: config.centerRewardsCoefficient, pairs: total)
            sums = sums + s
            rewards.backward(gradient: Tensor(shape: [gradient.count], data: gradient))
            gradients.add()
        }
        let reduced = try group.allReduce(sums.values + [Double(tokens)])
        let extremes = try group.allGather([sums.minReward, sums.maxReward])
        guard reduced[0].isFinite else { throw TrainingError.nonFinite(step: trainerState.step + 1, what: "the reward-model loss") }
        let (gradNorm, allReduceSeconds) = try gradients.applied(by: optimizer, group: group, maxNorm: config.training.maxGradNorm,
                                                                 step: trainerState.step + 1, what: "reward-model")
        trainerState.step += 1
        let seconds = Date().timeIntervalSince(start), n = max(1, reduced[1])
        return RewardStepMetrics(
            step: trainerState.step, loss: reduced[0], accuracy: reduced[2] / n, margin: reduced[3] / n,
            minReward: stride(from: 0, to: extremes.count, by: 2).map { extremes[$0] }.min() ?? 0, meanReward: reduced[4] / (2 * n),
            maxReward: stride(from: 1, to: extremes.count, by: 2).map { extremes[$0] }.max() ?? 0, gradNorm: Double(gradNorm),
            learningRate: Double(optimizer.learningRate), numTokens: Int(reduced[5]), tokensPerSecond: reduced[5] / max(seconds, 1e-9),
            seconds: seconds, allReduceSeconds: allReduceSeconds)
    }

    /// Prompt and completion tokens of each pair's chosen and rejected, interleaved (2B each).
    static func encode(_ pairs: [PreferencePair], _ tokenizer: Tokenizer) throws -> (prompts: [[Int]], completions: [[Int]]) {
        var prompts: [[Int]] = [], completions: [[Int]] = []
        for pair in pairs {
            let e = try pair.encoded(tokenizer)
            prompts += [e.prompt, e.prompt]
            completions += [e.chosen, e.rejected]
        }
        return (prompts, completions)
    }

    /// `eval_loss`, `eval_accuracy` and `eval_margin` of `rewardModel` on `pairs` (no
    /// gradient), in batches of `batchSize` pairs.
    public static func evaluate(_ rewardModel: RewardModel, pairs: [PreferencePair], centerCoefficient: Double? = nil,
                                batchSize: Int) throws -> [String: Double] {
        var sums = RewardLossSums()
        for start in stride(from: 0, to: pairs.count, by: max(1, batchSize)) {
            let batch = Array(pairs[start..<min(pairs.count, start + batchSize)])
            let (prompts, completions) = try encode(batch, rewardModel.tokenizer)
            let rewards = withoutGradients { rewardModel.rewards(prompts: prompts, completions: completions) }.toArray()
            sums = sums + bradleyTerryLoss(rewards: rewards, margins: batch.map(\.margin), centerCoefficient: centerCoefficient, pairs: pairs.count).sums
        }
        let n = max(1, sums.pairs)
        return ["eval_loss": sums.loss, "eval_accuracy": sums.correct / n, "eval_margin": sums.margin / n]
    }
}
