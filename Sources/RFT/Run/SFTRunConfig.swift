import RFTModel

/// Everything `rft sft` runs with: the model and inputs, output and logging, the SFT settings
/// (TRL's keys at the top level), and the held-out evaluation.
public struct SFTRunConfig: PipelineConfiguration {
    /// The model and the inputs (each needs a reference).
    public var inputs = InputConfig()
    /// Output folder, checkpoints, logging, threads.
    public var run = RunConfig()
    /// The SFT settings.
    public var sft = SFTConfig()
    /// Share of the inputs held out for the evaluation loss.
    public var evalFraction = 0.05
    /// Evaluate every this many steps (0: only at the end).
    public var evalSteps = 50

    /// `rft sft`'s defaults.
    public init() {}

    /// Everything sits at the top level.
    public static let flattened: Set<String> = ["inputs", "run", "sft"]
    /// The help of each key.
    public static let help = [
        "eval_fraction": "share of the inputs held out for eval_loss", "eval_steps": "evaluate every this many steps (0 = only at the end)",
    ]

    /// Every part's rules.
    public func validate() throws {
        try inputs.validate()
        try run.validate()
        try sft.validate()
        try ConfigRule.finite("eval_fraction", evalFraction, 0, 0.99)
        try ConfigRule.range("eval_steps", evalSteps, 0, 1 << 30)
    }

    /// The run: loads the model and inputs, holds out `eval_fraction` of them, and plans one
    /// SFT stage with the held-out loss as its evaluation.
    public func pipeline() throws -> (pipeline: Pipeline, notes: [String]) {
        let loaded = try inputs.load(seed: sft.training.seed, requireReference: true)
        let held = Array(loaded.examples.prefix(Int(Double(loaded.examples.count) * evalFraction)))
        let train = Array(loaded.examples.dropFirst(held.count))
        guard !train.isEmpty else {
            throw ConfigError.invalid(key: "eval_fraction", reason: "leaves no input to train on (\(loaded.examples.count) inputs)")
        }
        var plan = PipelinePlan(stages: [.sft])
        plan.sft = sft
        plan.sftSource = .examples(.fixed(train))
        plan.saveSteps = run.saveSteps
        plan.saveTotalLimit = run.saveTotalLimit
        plan.loggingSteps = run.loggingSteps
        plan.threads = run.threads
        plan.evalSteps = evalSteps
        if !held.isEmpty {
            let tokenizer = loaded.tokenizer, batch = sft.training.perDeviceTrainBatchSize
            plan.evaluate = { model in ["eval_loss": try SFTTrainer.evaluationLoss(model: model, tokenizer: tokenizer, examples: held, batchSize: batch)] }
        }
        plan.record(self, resumable: PipelinePlan.lengthFree("max_steps", sft.training.lrSchedulerType))
        let c = loaded.model.config, rows = sft.training.perDeviceTrainBatchSize
        let reference = ExampleSource.fixed(train).defaultCompletionLength(tokenizer: loaded.tokenizer) ?? c.contextLength
        try MemoryBudget.check(MemoryBudget.training(c) + MemoryBudget.step(c, rows: rows, length: loaded.longestSequence(completion: reference)),
                               for: "an SFT step of \(rows) sequences", key: "per_device_train_batch_size")
        var notes = loaded.skipped.prefix(10).map { "skipped \($0)" }
        notes.append("\(train.count) inputs to train on, \(held.count) held out")
        return (Pipeline(plan: plan, inputs: loaded, reward: ExactMatchReward()), notes)
    }
}
