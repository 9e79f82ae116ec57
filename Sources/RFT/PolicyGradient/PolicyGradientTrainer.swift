import Foundation
import RFTModel
import RFTTensor

/// The settings of a policy-gradient run (names as TRL's GRPOConfig where the meaning matches).
public struct GRPOConfig: Codable, Equatable, Sendable {
    /// Prompts per step.
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
    /// Surrogate, clip range, KL β and estimator, aggregation.
    public var loss = PolicyLossConfig()
    /// Seed for prompts and sampling.
    public var seed: UInt64 = 0

    /// The defaults.
    public init() {}
}

/// What one step did: TRL's metric names plus rft's timings.
public struct StepMetrics: Codable, Equatable, Sendable {
    /// Step number (1-based).
    public var step: Int
    /// Mean reward of the rollouts.
    public var reward: Double
    /// Mean over prompts of the (unbiased) reward std within the prompt's group, as TRL logs it.
    public var rewardStd: Double
    /// Share of prompts whose K rewards are all equal (zero advantage under GRPO).
    public var fracRewardZeroStd: Double
    /// Mean per-token KL to the reference (0 without one).
    public var kl: Double
    /// Mean completion length in tokens.
    public var completionLength: Double
    /// Gradient norm before clipping (last iteration).
    public var gradNorm: Double
    /// Learning rate used.
    public var learningRate: Double
    /// Share of tokens clipped by PPO.
    public var clipFraction: Double
    /// Seconds spent sampling, scoring and updating.
    public var generationSeconds, scoringSeconds, updateSeconds: Double
}

/// Errors of a policy-gradient step.
public enum PolicyGradientError: Error, CustomStringConvertible {
    /// The reward function returned the wrong number of rewards.
    case rewardCount(expected: Int, got: Int)
    /// The loss or the gradient norm is NaN or infinite.
    case nonFinite(step: Int, what: String)

    /// One line naming the problem.
    public var description: String {
        switch self {
        case .rewardCount(let e, let g): return "reward function returned \(g) rewards for \(e) completions"
        case .nonFinite(let s, let w): return "step \(s): \(w) is not finite; stopping before the update"
        }
    }
}

/// Reinforcement finetuning with sampled completions: rollouts of K completions per prompt,
/// rewards, advantages (REINFORCE, RLOO, GRPO, Dr. GRPO), then the vanilla or PPO-clip loss with
/// an optional KL to a frozen copy of the starting model.
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
    /// Turns rewards into advantages (keeps the moving baseline).
    public var advantages: AdvantageComputer
    /// Draws prompts; the generator is part of the run state.
    public var generator: RandomGenerator
    /// Steps taken.
    public private(set) var stepCount = 0
    private let nextPrompts: (inout RandomGenerator, Int) -> [TaskExample]
    private let reference: GPT?

    /// A trainer for `model`; `prompts(generator, n)` returns n examples per step.
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
        if config.loss.beta > 0 {  // a frozen copy of the starting weights
            let ref = GPT(model.config)
            for ((_, r), (_, p)) in zip(ref.namedParameters(), model.namedParameters()) { r.assign(p); r.requiresGrad = false }
            reference = ref
        } else {
            reference = nil
        }
    }

    /// One step: sample, score, compute advantages, update. Stops with an error (before
    /// changing the weights) when the loss or gradient is not finite.
    public func step() throws -> StepMetrics {
        let k = config.numGenerations
        let t0 = Date()
        let examples = nextPrompts(&generator, config.promptsPerStep)
        let encoded = try examples.map { try tokenizer.encodePrompt($0.prompt) }
        let prompts = encoded.flatMap { Array(repeating: $0, count: k) }
        let options = SamplingOptions(temperature: config.temperature, topK: config.topK, topP: config.topP,
                                      maxNewTokens: config.maxCompletionLength)
        let seed = generator.next()
        let generations = try Sampler(model: model).generate(prompts, options: options, seed: seed)
        let completions = generations.map(\.tokens)
        let t1 = Date()
        let texts = completions.map { tokenizer.decode($0.prefix { $0 != Tokenizer.eos }) }
        let repeated = examples.flatMap { Array(repeating: $0, count: k) }
        let rewards = try reward.rewards(prompts: repeated.map(\.prompt), completions: texts, examples: repeated)
        guard rewards.count == completions.count else { throw PolicyGradientError.rewardCount(expected: completions.count, got: rewards.count) }
        let adv = try advantages.advantages(rewards: rewards, groupSize: k).map(Float.init)
        let t2 = Date()
        // completions with no tokens carry no loss
        let kept = completions.indices.filter { !completions[$0].isEmpty }
        let keptPrompts = kept.map { prompts[$0] }, keptCompletions = kept.map { completions[$0] }
        let old = withoutGradients { model.completionLogProbs(prompts: keptPrompts, completions: keptCompletions).toArray() }
        let ref = reference.map { r in withoutGradients { r.completionLogProbs(prompts: keptPrompts, completions: keptCompletions).toArray() } }
        var statistics = PolicyLossStatistics(clipFraction: 0, kl: 0, meanRatio: 1)
        var gradNorm: Float = 0
        for _ in 0..<config.numIterations where !kept.isEmpty {
            optimizer.zeroGrad()
            let lp = model.completionLogProbs(prompts: keptPrompts, completions: keptCompletions)
            let (loss, stats) = policyGradientLoss(
                logProbs: lp, sequenceLengths: keptCompletions.map(\.count), advantages: kept.map { adv[$0] },
                oldLogProbs: old, referenceLogProbs: ref, config: config.loss)
            statistics = stats
            guard loss.item().isFinite else { throw PolicyGradientError.nonFinite(step: stepCount + 1, what: "loss") }
            loss.backward()
            gradNorm = clipGradNorm(model.parameters(), maxNorm: config.maxGradNorm)
            guard gradNorm.isFinite else { throw PolicyGradientError.nonFinite(step: stepCount + 1, what: "gradient norm") }
            optimizer.step()
        }
        stepCount += 1
        let groups = stride(from: 0, to: rewards.count, by: k).map { Array(rewards[$0..<($0 + k)]) }
        let stds = groups.map { g -> Double in
            let m = g.reduce(0, +) / Double(k)
            return (g.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, k - 1))).squareRoot()  // unbiased, as TRL
        }
        return StepMetrics(
            step: stepCount, reward: rewards.reduce(0, +) / Double(rewards.count),
            rewardStd: stds.reduce(0, +) / Double(stds.count),
            fracRewardZeroStd: Double(groups.filter { Set($0).count == 1 }.count) / Double(groups.count),
            kl: Double(statistics.kl),
            completionLength: Double(completions.map(\.count).reduce(0, +)) / Double(completions.count),
            gradNorm: Double(gradNorm), learningRate: Double(optimizer.learningRate),
            clipFraction: Double(statistics.clipFraction),
            generationSeconds: t1.timeIntervalSince(t0), scoringSeconds: t2.timeIntervalSince(t1),
            updateSeconds: Date().timeIntervalSince(t2))
    }
}
