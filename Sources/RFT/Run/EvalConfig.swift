import RFTModel

/// Everything `rft eval` runs with: the model, a task (per length) or a dataset, the reward,
/// how many instances per length, the seed of the instances.
public struct EvalConfig: Configuration {
    /// The model, and the task or data to score.
    public var inputs = InputConfig()
    /// The reward of a dataset's completions.
    public var reward = RewardConfig()
    /// Instances of each task length.
    public var evalExamples = 100
    /// Seed of the instances (the same seed scores the same instances).
    public var seed: UInt64 = 1234
    /// Threads.
    public var threads = 2

    /// The defaults.
    public init() {}

    /// The model, inputs and reward sit at the top level.
    public static let flattened: Set<String> = ["inputs", "reward"]
    /// Evaluation draws its own instances.
    public static let hiddenKeys = ["num_inputs": "rft eval draws eval_examples instances per length"]
    /// The help of each key.
    public static let help = [
        "eval_examples": "instances per task length", "seed": "seed of the instances", "threads": "threads",
    ]

    /// Every part's rules.
    public func validate() throws {
        try inputs.validate()
        try reward.validate()
        try ConfigRule.range("eval_examples", evalExamples, 1, 1 << 20)
        try ConfigRule.range("threads", threads, 1, 256)
    }

    /// Greedy-decodes the inputs and scores them: per length of the task's train and test
    /// splits (or of `lengths`), or per `length` field of the dataset.
    public func run() throws -> EvalReport {
        try BLAS.withThreads(threads) {
            let loaded = try inputs.loadModel()
            if let data = inputs.data {
                let dataset = try PromptDataset.load(jsonl: data, requirements: DatasetRequirements(tokenizer: loaded.tokenizer,
                                                                                                   contextLength: loaded.model.config.contextLength),
                                                     skipInvalid: inputs.skipInvalid)
                let longest = ExampleSource.fixed(dataset.examples).defaultCompletionLength(tokenizer: loaded.tokenizer)!
                let rows = try TaskEvaluation.evaluate(model: loaded.model, tokenizer: loaded.tokenizer, examples: dataset.examples,
                                                       reward: try reward.make(task: nil), maxNewTokens: longest)
                return EvalReport(model: loaded.path, inputs: data, splits: [EvalSplit(name: "data", lengths: rows)], skipped: dataset.skipped.count)
            }
            guard let name = inputs.task ?? loaded.taskName else {
                throw ConfigError.invalid(key: "task", reason: "\(loaded.path) names no task; give a task or data")
            }
            let task = try TaskRegistry.task(named: name)
            // a command or several rewards, else the task's partial credit
            let command = reward.rewardCmd.isEmpty && reward.rewardFuncs.isEmpty ? nil : try reward.make(task: task)
            let ranges = inputs.lengths.map { [("lengths \($0.text)", $0.range)] } ?? [("train lengths", task.trainLengths), ("test lengths", task.testLengths)]
            let splits = try ranges.map { label, range -> EvalSplit in
                guard task.validLengths.contains(range.lowerBound), task.validLengths.contains(range.upperBound) else {
                    throw ConfigError.invalid(key: "lengths", reason: TaskError.invalidLengths(task: name, lengths: range, valid: task.validLengths).description)
                }
                return EvalSplit(name: label, lengths: try TaskEvaluation.evaluate(model: loaded.model, tokenizer: loaded.tokenizer, task: task, lengths: range,
                                                                                 examplesPerLength: evalExamples, seed: seed, reward: command))
            }
            return EvalReport(model: loaded.path, inputs: name, splits: splits, skipped: 0)
        }
    }
}

/// One split of an evaluation: its lengths' rows and their totals.
public struct EvalSplit: Codable, Equatable, Sendable {
    /// `train lengths`, `test lengths`, `lengths 1-3`, or `data`.
    public var name: String
    /// Greedy exact-match accuracy over the split.
    public var accuracy: Double
    /// Mean reward over the split (partial credit for a task).
    public var reward: Double
    /// Instances scored.
    public var numExamples: Int
    /// Per length.
    public var lengths: [LengthAccuracy]

    /// A split of `lengths` with its totals.
    public init(name: String, lengths: [LengthAccuracy]) {
        self.name = name
        self.lengths = lengths
        numExamples = lengths.reduce(0) { $0 + $1.count }
        let n = Double(max(1, numExamples))
        accuracy = lengths.reduce(0) { $0 + $1.accuracy * Double($1.count) } / n
        reward = lengths.reduce(0) { $0 + $1.reward * Double($1.count) } / n
    }
}

/// What `rft eval` reports (`--json` prints it with these snake_case keys): the model, the
/// inputs, the overall accuracy and reward, and each split.
public struct EvalReport: Codable, Equatable, Sendable {
    /// The checkpoint scored.
    public var model: String
    /// The task or the dataset.
    public var inputs: String
    /// Greedy exact-match accuracy over every split.
    public var accuracy: Double
    /// Mean reward over every split.
    public var reward: Double
    /// Instances scored.
    public var numExamples: Int
    /// Dataset lines skipped (skip_invalid).
    public var numSkipped: Int
    /// The splits.
    public var splits: [EvalSplit]

    /// A report of `splits` with overall totals.
    public init(model: String, inputs: String, splits: [EvalSplit], skipped: Int) {
        self.model = model
        self.inputs = inputs
        self.splits = splits
        let all = EvalSplit(name: "all", lengths: splits.flatMap(\.lengths))
        (accuracy, reward, numExamples, numSkipped) = (all.accuracy, all.reward, all.numExamples, skipped)
    }
}

import RFTTensor
