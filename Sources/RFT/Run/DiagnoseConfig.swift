/// Everything `rft diagnose` runs with: the model and inputs, the reward and the stuck
/// criterion, the monitor's settings (at the top level: `num_generations`, `temperature`, …),
/// the output folder and threads.
public struct DiagnoseConfig: PipelineConfiguration {
    /// The model and the inputs.
    public var inputs = InputConfig()
    /// The reward.
    public var reward = RewardConfig()
    /// When an input is flagged and when stuck.
    public var criterion = StuckCriterion()
    /// How the reward std is measured.
    public var monitor = RewardStdMonitor()
    /// The output folder and threads.
    public var run = RunConfig()

    /// The defaults: the demo model on its task.
    public init() {}

    /// Every part sits at the top level.
    public static let flattened: Set<String> = ["inputs", "reward", "criterion", "monitor", "run"]
    /// A diagnosis trains nothing.
    public static let hiddenKeys = [
        "save_steps": "rft diagnose trains nothing and keeps no checkpoints", "save_total_limit": "rft diagnose keeps no checkpoints",
        "logging_steps": "rft diagnose takes no steps",
    ]

    /// Every part's rules.
    public func validate() throws {
        try inputs.validate()
        try reward.validate()
        try reward.criterion(adjusting: criterion).validate()
        try monitor.validate()
        try run.validate()
    }

    /// The run: loads the model, the inputs and the reward, and plans one diagnosis, whose
    /// report is written as inputs.jsonl / inputs.csv, summary.json and two plots.
    public func pipeline() throws -> (pipeline: Pipeline, notes: [String]) {
        let loaded = try inputs.load(seed: monitor.seed)
        var plan = PipelinePlan(stages: [.before])
        plan.monitor = monitor
        plan.monitor.maxCompletionLength = monitor.maxCompletionLength ?? loaded.defaultCompletionLength
        plan.criterion = reward.criterion(adjusting: criterion)
        plan.threads = run.threads
        plan.saveSteps = 0
        plan.reportFiles = [.before: "inputs"]
        plan.record(self)
        let c = loaded.model.config, rows = monitor.inputsPerBatch * monitor.numGenerations
        let length = loaded.longestSequence(completion: plan.monitor.completionLength(for: loaded.examples, tokenizer: loaded.tokenizer))
        try MemoryBudget.check(MemoryBudget.sampling(c, rows: rows, length: length),
                               for: "a batch of \(rows) samples", key: "num_generations")
        return (Pipeline(plan: plan, inputs: loaded, reward: try reward.make(task: loaded.task)), loaded.skipped.prefix(10).map { "skipped \($0)" })
    }
}
