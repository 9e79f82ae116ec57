/// The settings of a policy-gradient run, under TRL's GRPOConfig names where the meaning is
/// the same (`num_generations`, `beta`, `epsilon`, `loss_type`, `scale_rewards`, …). The
/// training arguments and the loss settings are flattened: a config file writes
/// `learning_rate:` and `beta:` at the top, as TRL's do. These defaults are `rft train`'s.
public struct GRPOConfig: Configuration {
    /// Run length, batch (completions per step = prompts × `numGenerations`), AdamW, schedule, seed.
    public var training: TrainingArguments
    /// Completions sampled per prompt (K).
    public var numGenerations = 8
    /// Longest completion in tokens (EOS included); nil: the longest reference + EOS (or the
    /// task's longest answer), which a trainer fed by a closure cannot know — set it then.
    public var maxCompletionLength: Int?
    /// Sampling temperature for rollouts.
    public var temperature: Float = 1
    /// Top-k filter for rollouts (0 = off).
    public var topK = 0
    /// Top-p filter for rollouts (1 = off).
    public var topP: Float = 1
    /// Clip range, KL β and estimator, loss normalisation, entropy bonus.
    public var loss = PolicyLossConfig()
    /// How rewards become advantages.
    public var advantageEstimator: AdvantageEstimator = .grpo
    /// What GRPO divides the centred rewards by.
    public var scaleRewards: ScaleRewards = .group
    /// Optimisation passes over each batch of rollouts (PPO's epochs; TRL's num_iterations).
    public var numIterations = 1
    /// DAPO's dynamic sampling: drop groups whose K rewards are all equal (no learning signal
    /// under group baselines) and refill with new prompts until the step has its prompts or
    /// `maxSamplingTries` batches were sampled.
    public var dynamicSampling = false
    /// Most rollout batches one step samples under dynamic sampling; when the cap is hit the
    /// step trains on the informative groups it has.
    public var maxSamplingTries = 4
    /// Leave completions cut off at `max_completion_length` (no end-of-sequence or end-of-turn
    /// token) out of the loss, as TRL's `mask_truncated_completions`: their tokens add no policy,
    /// KL or entropy term and are not counted by `bnpo`/`dapo`; `grpo` and `dr_grpo` still
    /// divide by every completion, as TRL's do.
    public var maskTruncatedCompletions = false
    /// Leave groups whose advantages are all zero (under grpo and rloo: all K rewards equal)
    /// out of the loss entirely — no policy, KL or entropy term, and not counted by any loss
    /// type's normaliser — so they neither pull toward the reference nor dilute the other
    /// groups' gradient. Unlike `dynamic_sampling` it samples nothing more.
    public var maskZeroAdvantageGroups = false
    /// `gae`: the discount γ of the per-token rewards (TRL's PPO default 1).
    public var gamma: Double = 1
    /// `gae`: GAE's λ (TRL's PPO default 0.95).
    public var lam: Double = 0.95
    /// `gae`: the value loss's weight in the total loss.
    public var vfCoef: Float = 0.1
    /// `gae`: how far a value may move from its rollout-time value before its loss is clipped.
    public var cliprangeValue: Float = 0.2
    /// `gae`: the KL per completion (nats) adaptive control steers β toward; nil: β fixed.
    public var klTarget: Double?
    /// `gae`: completions over which adaptive KL control corrects its error.
    public var klHorizon: Double = 10_000

    /// `rft train`'s defaults: 40 steps of 32 prompts × 8 completions, learning rate 5e-5.
    public init() {
        training = TrainingArguments()
        training.maxSteps = 40
        training.perDeviceTrainBatchSize = 256
        training.learningRate = 5e-5
    }

    /// Training arguments and loss settings sit at the top level of a config file.
    public static let flattened: Set<String> = ["training", "loss"]

    /// The help of each key.
    public static let help = [
        "num_generations": "completions sampled per prompt (K)",
        "max_completion_length": "longest completion in tokens with EOS (default: the longest reference + EOS)",
        "temperature": "rollout temperature", "top_k": "rollout top-k (0 = off)", "top_p": "rollout top-p (1 = off)",
        "advantage_estimator": "how rewards become advantages",
        "scale_rewards": "grpo: divide by the group's or the batch's reward std, or not (none: Dr. GRPO)",
        "num_iterations": "optimisation passes per batch of rollouts (PPO epochs)",
        "dynamic_sampling": "drop groups whose rewards are all equal and refill from new prompts (DAPO)",
        "max_sampling_tries": "most rollout batches per step under dynamic_sampling",
        "mask_truncated_completions": "leave completions cut off at max_completion_length out of the loss (TRL's)",
        "mask_zero_advantage_groups": "leave groups whose advantages are all zero out of the loss and its normaliser entirely",
        "gamma": "gae: discount of the per-token rewards", "lam": "gae: GAE's lambda",
        "vf_coef": "gae: weight of the value loss", "cliprange_value": "gae: clip range of the value loss",
        "kl_target": "gae: KL per completion that adaptive control steers beta toward (default: beta fixed)",
        "kl_horizon": "gae: completions over which adaptive KL control corrects",
    ]

    /// Prompts per step: the batch's completions over K.
    public var promptsPerStep: Int { training.perDeviceTrainBatchSize / max(1, numGenerations) }

    /// Throws for the first setting out of range or two that do not fit together.
    public func validate() throws {
        try training.validate()
        try loss.validate()
        try ConfigRule.range("num_generations", numGenerations, 1, 1 << 16)
        guard training.perDeviceTrainBatchSize % numGenerations == 0 else {
            throw ConfigError.invalid(key: "per_device_train_batch_size",
                                      reason: "must be a multiple of num_generations (\(numGenerations)): whole groups of completions, got \(training.perDeviceTrainBatchSize)")
        }
        if advantageEstimator == .rloo && numGenerations < 2 { throw ConfigError.invalid(key: "num_generations", reason: "rloo needs ≥ 2, got \(numGenerations)") }
        if dynamicSampling && numGenerations < 2 { throw ConfigError.invalid(key: "num_generations", reason: "dynamic_sampling needs ≥ 2, got \(numGenerations)") }
        if let m = maxCompletionLength { try ConfigRule.range("max_completion_length", m, 1, 1 << 20) }
        try ConfigRule.sampling(temperature: temperature, topK: topK, topP: topP, positive: true)
        try ConfigRule.range("num_iterations", numIterations, 1, 1024)
        try ConfigRule.range("max_sampling_tries", maxSamplingTries, 1, 1024)
        try ConfigRule.finite("gamma", gamma, 0, 1)
        try ConfigRule.finite("lam", lam, 0, 1)
        try ConfigRule.finite("vf_coef", vfCoef, 0, 1e6)
        try ConfigRule.finite("cliprange_value", cliprangeValue, 0, 1e6)
        if let t = klTarget { try ConfigRule.finite("kl_target", t, 1e-9, 1e6) }
        try ConfigRule.finite("kl_horizon", klHorizon, 1, 1e12)
        if advantageEstimator == .gae {
            if loss.importanceSamplingLevel == .sequence {
                throw ConfigError.invalid(key: "importance_sampling_level", reason: "gae gives each token its own advantage: use token")
            }
            if maskZeroAdvantageGroups {
                throw ConfigError.invalid(key: "mask_zero_advantage_groups", reason: "needs a group estimator (grpo, rloo), not gae")
            }
            if klTarget != nil && loss.beta == 0 {
                throw ConfigError.invalid(key: "kl_target", reason: "adaptive KL control starts from beta: set beta > 0")
            }
        } else if klTarget != nil {
            throw ConfigError.invalid(key: "kl_target", reason: "adaptive KL control is gae's (advantage_estimator: gae)")
        }
    }
}
