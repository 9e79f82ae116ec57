import RFTModel
import RFTTensor

/// The SFT warm-up of `rft train` (the `sft` section): how much, on which inputs, and the SFT
/// settings (`sft.max_steps`, `sft.learning_rate`, …).
public struct SFTWarmupConfig: Configuration {
    /// How much SFT runs before RFT (nil: 1% of the inputs when every input has a reference, else off).
    public var warmup: SFTWarmup?
    /// How the subset is chosen.
    public var strategy: CurriculumStrategy = .random
    /// The SFT settings.
    public var trainer: SFTConfig

    /// The warm-up's defaults: 20 steps of 16 at learning rate 3e-4.
    public init() {
        trainer = SFTConfig()
        trainer.training.maxSteps = 20
    }

    /// The SFT settings sit in the section itself (`sft.max_steps`).
    public static let flattened: Set<String> = ["trainer"]

    /// The help of each key.
    public static let help = [
        "warmup": "SFT before RFT: a share of the inputs (1%, 0.01), off, or auto[:level] (until the stuck share is below level); default 1% when every input has a reference, else off",
        "strategy": "how the SFT subset is chosen: random (the paper), lowest-std (lowest mean reward among equal std), flagged-only",
    ]

    /// The SFT settings' rules.
    public func validate() throws { try trainer.validate() }
}

/// Everything `rft train` runs with: the model and inputs, the reward and the stuck criterion,
/// output and logging, the GRPO settings (TRL's keys at the top level), the `sft` warm-up and
/// the `monitor` section (the diagnoses). `pipeline()` builds the run.
public struct TrainConfig: PipelineConfiguration {
    /// The model and the inputs.
    public var inputs = InputConfig()
    /// The reward.
    public var reward = RewardConfig()
    /// When an input is flagged and when stuck.
    public var criterion = StuckCriterion()
    /// Output folder, checkpoints, logging, threads.
    public var run = RunConfig()
    /// The RFT settings.
    public var grpo = GRPOConfig()
    /// A JSONL file of held-out inputs for the table's greedy accuracy (default: `eval_inputs`
    /// fresh instances of the task; none for a dataset).
    public var evalData: String?
    /// Held-out task instances for the greedy accuracy (0: none).
    public var evalInputs = 200
    /// The SFT warm-up.
    public var sft = SFTWarmupConfig()
    /// The diagnoses before, after SFT and after RFT.
    public var monitor = RewardStdMonitor()

    /// The demo's settings.
    public init() {}

    /// Everything but the two sections sits at the top level.
    public static let flattened: Set<String> = ["inputs", "reward", "criterion", "run", "grpo"]
    /// Seeds of the sections come from `seed`.
    public static let hiddenKeys = ["sft.seed": "set from seed", "monitor.seed": "set from seed"]
    /// The help of each key.
    public static let help = [
        "eval_data": "held-out JSONL inputs for the greedy accuracy column (default: fresh task instances)",
        "eval_inputs": "held-out task instances for the greedy accuracy column (0 = none)",
    ]

    /// Every part's rules.
    public func validate() throws {
        try inputs.validate()
        try reward.validate()
        try reward.criterion(adjusting: criterion).validate()
        try run.validate()
        try grpo.validate()
        try ConfigRule.range("eval_inputs", evalInputs, 0, 1 << 20)
        try ConfigRule.section("sft") { try sft.validate() }
        try ConfigRule.section("monitor") { try monitor.validate() }
    }

    /// The run: loads the model, the inputs and the reward, and plans diagnose → SFT warm-up →
    /// RFT → diagnose; `notes` says what was decided for the user (no warm-up without references…).
    public func pipeline() throws -> (pipeline: Pipeline, notes: [String]) {
        var notes: [String] = []
        let seed = grpo.training.seed
        let warmup = sft.warmup
        let loaded = try inputs.load(seed: seed, referenceMustFit: warmup != .off)
        for skipped in loaded.skipped.prefix(10) { notes.append("skipped \(skipped)") }
        var plan = PipelinePlan(stages: [.before, .sft, .afterSFT, .rft, .afterRFT])
        plan.warmup = warmup ?? (loaded.haveReferences ? .fraction(0.01) : .off)
        if warmup == nil && !loaded.haveReferences { notes.append("the inputs have no references (\"completion\"), so no SFT warm-up runs") }
        if plan.warmup == .off { plan.stages = [.before, .rft, .afterRFT] }
        plan.grpo = grpo
        plan.sft = sft.trainer
        plan.sft.training.seed = seed
        plan.strategy = sft.strategy
        plan.monitor = monitor
        plan.monitor.seed = seed
        plan.monitor.maxCompletionLength = monitor.maxCompletionLength ?? loaded.defaultCompletionLength
        plan.grpo.maxCompletionLength = grpo.maxCompletionLength ?? loaded.defaultCompletionLength
        plan.criterion = reward.criterion(adjusting: criterion)
        plan.saveSteps = run.saveSteps
        plan.saveTotalLimit = run.saveTotalLimit
        plan.loggingSteps = run.loggingSteps
        plan.threads = run.threads
        plan.reportFiles = [.before: "diagnose-before", .afterSFT: "diagnose-after-sft", .afterRFT: "diagnose-after"]
        plan.heldOut = try heldOut(loaded, seed: seed)
        if plan.heldOut.isEmpty { notes.append("no held-out inputs: the greedy accuracy column stays empty (set eval_data)") }
        plan.record(self, resumable: PipelinePlan.lengthFree("max_steps", grpo.training.lrSchedulerType)
            .union(PipelinePlan.lengthFree("sft.max_steps", sft.trainer.training.lrSchedulerType)))
        try checkMemory(loaded, plan: plan)
        let reward = try self.reward.make(task: loaded.task)
        return (Pipeline(plan: plan, inputs: loaded, reward: reward), notes)
    }

    /// Held-out inputs: `eval_data`'s lines, or fresh task instances that are not training inputs.
    private func heldOut(_ loaded: RunInputs, seed: UInt64) throws -> [TaskExample] {
        if let evalData {
            return try PromptDataset.load(jsonl: evalData, requirements: DatasetRequirements(tokenizer: loaded.tokenizer,
                                                                                            contextLength: loaded.model.config.contextLength)).examples
        }
        guard let task = loaded.task, evalInputs > 0 else { return [] }
        let range = inputs.lengths?.range ?? LoadedModel.lengths(loaded.metadata) ?? task.trainLengths
        return InputConfig.distinctExamples(task, range, count: evalInputs, seed: seed &+ 0xE7A1,
                                            excluding: Set(loaded.examples.map(\.prompt)))
    }

    /// Refuses batches the machine cannot hold.
    private func checkMemory(_ loaded: RunInputs, plan: PipelinePlan) throws {
        let c = loaded.model.config
        let completion = max(plan.monitor.completionLength(for: loaded.examples, tokenizer: loaded.tokenizer),
                             grpo.maxCompletionLength ?? ExampleSource.fixed(loaded.examples).defaultCompletionLength(tokenizer: loaded.tokenizer)!)
        let length = loaded.longestSequence(completion: completion)
        let rows = grpo.training.perDeviceTrainBatchSize  // a micro-batch; a process samples all of its micro-batches at once
        try MemoryBudget.check(MemoryBudget.training(c, copies: grpo.loss.beta > 0 ? 5 : 4) + MemoryBudget.step(c, rows: rows, length: length)
                               + MemoryBudget.sampling(c, rows: rows * grpo.training.gradientAccumulationSteps, length: length),
                               for: "an RFT step of \(rows) completions", key: "per_device_train_batch_size")
        let sftRows = sft.trainer.training.perDeviceTrainBatchSize
        try MemoryBudget.check(MemoryBudget.training(c) + MemoryBudget.step(c, rows: sftRows, length: length),
                               for: "an SFT step of \(sftRows) sequences", key: "sft.per_device_train_batch_size")
        let diagnosisRows = monitor.inputsPerBatch * monitor.numGenerations
        try MemoryBudget.check(MemoryBudget.sampling(c, rows: diagnosisRows, length: length),
                               for: "a diagnosis batch of \(diagnosisRows) samples", key: "monitor.num_generations")
    }
}
