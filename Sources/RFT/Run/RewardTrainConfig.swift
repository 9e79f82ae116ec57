import RFTModel
import RFTTensor

/// Everything `rft reward-train` runs with: the starting model, a JSONL file of preference
/// pairs, output and logging, the reward-model settings (TRL's RewardConfig keys at the top
/// level), and the held-out evaluation.
public struct RewardTrainConfig: PipelineConfiguration {
    /// The starting model: a checkpoint, a run folder, a Hugging Face folder or a GGUF file.
    public var modelNameOrPath: String?
    /// The preference pairs (JSONL: prompt, chosen, rejected, optional margin).
    public var data: String?
    /// How prompts are rendered: the model's chat template (`auto`), a forced one, or none.
    public var chatTemplate: ChatTemplateChoice = .auto
    /// Skip invalid lines (counted and reported) instead of stopping at the first.
    public var skipInvalid = false
    /// Output folder, checkpoints, logging, threads.
    public var run = RunConfig()
    /// The reward-model settings.
    public var rewardTraining = RewardTrainingConfig()
    /// Share of the pairs held out for eval_loss and eval_accuracy.
    public var evalFraction = 0.1
    /// Evaluate every this many steps (0: only at the end).
    public var evalSteps = 50

    /// `rft reward-train`'s defaults.
    public init() {}

    /// Everything sits at the top level.
    public static let flattened: Set<String> = ["run", "rewardTraining"]
    /// The help of each key (flag alias: --model).
    public static let help = [
        "model_name_or_path": "starting model: a .rftckpt file, a run folder, a Hugging Face folder or a GGUF file",
        "data": "JSONL preference pairs: \"prompt\" (a text or a list of messages), \"chosen\" and \"rejected\" (a text or one assistant message), optional \"margin\"",
        "chat_template": ChatTemplateChoice.help,
        "skip_invalid": "skip invalid lines (counted) instead of stopping at the first",
        "eval_fraction": "share of the pairs held out for eval_loss and eval_accuracy", "eval_steps": "evaluate every this many steps (0 = only at the end)",
    ]

    /// A model and data named; every part's rules.
    public func validate() throws {
        try run.validate()
        try rewardTraining.validate()
        try ConfigRule.finite("eval_fraction", evalFraction, 0, 0.99)
        try ConfigRule.range("eval_steps", evalSteps, 0, 1 << 30)
    }

    /// The run: loads the model and the pairs, holds out `eval_fraction` of them (the first
    /// ones in a seeded shuffle), and plans one reward-model stage.
    public func pipeline() throws -> (pipeline: Pipeline, notes: [String]) {
        guard let modelNameOrPath else { throw ConfigError.invalid(key: "model_name_or_path", reason: "name the model to start from") }
        guard let data else { throw ConfigError.invalid(key: "data", reason: "name the JSONL file of preference pairs") }
        let loaded = try LoadedModel(path: modelNameOrPath).withChatTemplate(chatTemplate)
        let c = loaded.model.config
        let dataset = try PreferenceDataset.load(jsonl: data, tokenizer: loaded.tokenizer, contextLength: c.contextLength,
                                                 maxLength: rewardTraining.maxLength, skipInvalid: skipInvalid)
        var g = RandomGenerator(seed: rewardTraining.training.seed &+ 0xE7A1)
        var pairs = dataset.pairs
        for i in stride(from: pairs.count - 1, to: 0, by: -1) { pairs.swapAt(i, Int(g.next() % UInt64(i + 1))) }
        let held = Int(Double(pairs.count) * evalFraction)
        guard held < pairs.count else {
            throw ConfigError.invalid(key: "eval_fraction", reason: "leaves no pair to train on (\(pairs.count) pairs)")
        }
        var plan = PipelinePlan(stages: [.rewardModel])
        plan.rewardTraining = rewardTraining
        plan.heldOutPairs = Array(pairs.prefix(held))
        plan.preferencePairs = Array(pairs.dropFirst(held))
        plan.saveSteps = run.saveSteps
        plan.saveTotalLimit = run.saveTotalLimit
        plan.loggingSteps = run.loggingSteps
        plan.threads = run.threads
        plan.evalSteps = evalSteps
        plan.record(self, resumable: PipelinePlan.lengthFree("max_steps", rewardTraining.training.lrSchedulerType))
        let rows = 2 * rewardTraining.training.perDeviceTrainBatchSize
        try MemoryBudget.check(MemoryBudget.training(c) + MemoryBudget.step(c, rows: rows, length: dataset.longestSequence),
                               for: "a reward-model step of \(rows / 2) pairs", key: "per_device_train_batch_size")
        var notes = dataset.skipped.prefix(10).map { "skipped \($0)" }
        if dataset.numTooLong > 0 {
            notes.append("dropped \(dataset.numTooLong) pairs longer than max_length \(rewardTraining.maxLength ?? 0) tokens")
        }
        notes.append("\(plan.preferencePairs.count) pairs to train on, \(held) held out")
        let inputs = RunInputs(model: loaded.model, tokenizer: loaded.tokenizer, examples: [], label: data, modelPath: loaded.path,
                               metadata: loaded.metadata.merging(["kind": "reward_model"]) { $1 })
        return (Pipeline(plan: plan, inputs: inputs, reward: ExactMatchReward()), notes)
    }
}
