import RFTTensor

/// The settings every trainer shares, under Hugging Face's `TrainingArguments` names: run
/// length, batch, AdamW and its schedule, clipping, seed. `GRPOConfig` and `SFTConfig` hold one
/// each (flattened: a config file writes `learning_rate:` at the top, as TRL does), with their
/// own defaults.
public struct TrainingArguments: Configuration {
    /// Optimizer steps of the run.
    public var maxSteps = 100
    /// Sequences per step (SFT), or completions per step (GRPO: prompts × `num_generations`) —
    /// per micro-batch and per process (under mpirun), as TRL's name says.
    public var perDeviceTrainBatchSize = 8
    /// Micro-batches of `perDeviceTrainBatchSize` whose gradients are summed into one optimizer
    /// step: a step takes per_device × this × processes sequences (or completions).
    public var gradientAccumulationSteps = 1
    /// Peak AdamW learning rate.
    public var learningRate: Float = 5e-5
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float = 0
    /// AdamW β₁.
    public var adamBeta1: Float = 0.9
    /// AdamW β₂.
    public var adamBeta2: Float = 0.999
    /// AdamW ε.
    public var adamEpsilon: Float = 1e-8
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// The learning-rate schedule's shape.
    public var lrSchedulerType: LRSchedule.Kind = .constant
    /// Linear warm-up steps (when > 0, instead of `warmupRatio`).
    public var warmupSteps = 0
    /// Linear warm-up as a share of `maxSteps` (rounded up).
    public var warmupRatio: Double = 0
    /// Extra schedule settings (transformers' `lr_scheduler_kwargs`).
    public var lrSchedulerKwargs = LRSchedulerKwargs()
    /// Seed of the run's random draws.
    public var seed: UInt64 = 0

    /// The defaults (Hugging Face's, except the constant schedule and 100 steps).
    public init() {}

    /// The help of each key.
    public static let help = [
        "max_steps": "optimizer steps", "per_device_train_batch_size": "sequences (SFT) or completions (GRPO) per step, micro-batch and process",
        "gradient_accumulation_steps": "micro-batches per optimizer step (their gradients are summed)",
        "learning_rate": "peak AdamW learning rate", "weight_decay": "AdamW decoupled weight decay",
        "adam_beta1": "AdamW β₁", "adam_beta2": "AdamW β₂", "adam_epsilon": "AdamW ε",
        "max_grad_norm": "clip the global gradient norm to this", "lr_scheduler_type": "learning-rate schedule",
        "warmup_steps": "linear warm-up steps (overrides warmup_ratio)", "warmup_ratio": "linear warm-up as a share of max_steps",
        "seed": "random seed",
    ]

    /// The schedule over `maxSteps`.
    public var schedule: LRSchedule {
        let warmup = warmupSteps > 0 ? warmupSteps : Int((warmupRatio * Double(maxSteps)).rounded(.up))
        return LRSchedule(lrSchedulerType, warmupSteps: warmup, totalSteps: maxSteps, minRatio: Float(lrSchedulerKwargs.minLrRate))
    }

    /// An AdamW over `parameters` with these hyper-parameters.
    public func makeOptimizer(_ parameters: [(name: String, tensor: Tensor)]) -> AdamW {
        AdamW(parameters: parameters, learningRate: learningRate, betas: (adamBeta1, adamBeta2), eps: adamEpsilon,
              weightDecay: weightDecay)
    }

    /// Checks every value's range.
    public func validate() throws {
        try ConfigRule.range("max_steps", maxSteps, 0, 1 << 30)
        try ConfigRule.range("per_device_train_batch_size", perDeviceTrainBatchSize, 1, 1 << 24)
        try ConfigRule.range("gradient_accumulation_steps", gradientAccumulationSteps, 1, 1 << 16)
        try ConfigRule.positive("learning_rate", learningRate)
        try ConfigRule.finite("weight_decay", weightDecay, 0)
        try ConfigRule.finite("adam_beta1", adamBeta1, 0, 0.999_999)
        try ConfigRule.finite("adam_beta2", adamBeta2, 0, 0.999_999_9)
        try ConfigRule.positive("adam_epsilon", adamEpsilon)
        try ConfigRule.positive("max_grad_norm", maxGradNorm)
        try ConfigRule.range("warmup_steps", warmupSteps, 0, 1 << 30)
        try ConfigRule.finite("warmup_ratio", warmupRatio, 0, 1)
        try ConfigRule.section("lr_scheduler_kwargs") { try lrSchedulerKwargs.validate() }
    }
}

/// transformers' `lr_scheduler_kwargs` that rft reads.
public struct LRSchedulerKwargs: Configuration {
    /// The final factor of `cosine_with_min_lr`.
    public var minLrRate: Double = 0.1

    /// The defaults.
    public init() {}

    /// The help of each key.
    public static let help = ["min_lr_rate": "final learning rate of cosine_with_min_lr, as a share of the peak"]

    /// min_lr_rate in [0, 1].
    public func validate() throws { try ConfigRule.finite("min_lr_rate", minLrRate, 0, 1) }
}

extension LRSchedule.Kind: ConfigChoice {}
