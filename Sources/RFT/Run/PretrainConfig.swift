import Foundation
import RFTModel
import RFTTensor

/// The shape of a model `rft pretrain` builds.
public struct ModelShape: Configuration {
    /// Transformer blocks.
    public var layers = 2
    /// Attention heads (must divide `width`).
    public var heads = 4
    /// Residual width.
    public var width = 64
    /// Context length (nil: the longest sequence of the task's train and test lengths, or of the data).
    public var contextLength: Int?

    /// A 2-layer, 4-head, 64-wide model.
    public init() {}

    /// The help of each key.
    public static let help = [
        "layers": "transformer blocks", "heads": "attention heads", "width": "residual width",
        "context_length": "context length (default: the longest sequence of the task or data)",
    ]

    /// Positive sizes, width divisible by heads, bounded.
    public func validate() throws {
        try ConfigRule.range("layers", layers, 1, 4096)
        try ConfigRule.range("heads", heads, 1, 4096)
        try ConfigRule.range("width", width, 1, 1 << 16)
        if width % heads != 0 { throw ConfigError.invalid(key: "width", reason: "must be divisible by heads (\(heads)), got \(width)") }
        if let c = contextLength { try ConfigRule.range("context_length", c, 2, 1 << 16) }
    }
}

/// Everything `rft pretrain` runs with: a model built from scratch on a built-in task (fresh
/// instances every step) or a JSONL file of prompt/completion pairs (5% held out), trained by
/// the SFT trainer (`<bos> x <sep> y <eos>`, loss on y) with pretraining's defaults.
public struct PretrainConfig: PipelineConfiguration {
    /// Output folder, checkpoints, logging, threads.
    public var run = RunConfig()
    /// The training settings.
    public var sft: SFTConfig
    /// The model's shape.
    public var shape = ModelShape()
    /// The built-in task (default: addition when no data is given).
    public var task: String?
    /// Training lengths (default: the task's train split).
    public var lengths: LengthRange?
    /// A JSONL file of {"prompt", "completion"} pairs instead of a task (the tokenizer is built from it).
    public var data: String?
    /// Skip invalid lines of `data` instead of stopping at the first.
    public var skipInvalid = false
    /// Experiments: prompts starting with this character get a consistently wrong reference
    /// (last digit + 5), a class RFT cannot fix (Razin et al.).
    public var mislabelLeading: String?
    /// Evaluate (greedy, per length) every this many steps (0: only at the end).
    public var evalSteps = 500
    /// Instances per length in evaluations.
    public var evalExamples = 50

    /// Pretraining's defaults: 2000 steps of 32 at 3e-3, weight decay 0.01, cosine to 10% after a 5% warm-up.
    public init() {
        sft = SFTConfig()
        sft.training.maxSteps = 2000
        sft.training.perDeviceTrainBatchSize = 32
        sft.training.learningRate = 3e-3
        sft.training.weightDecay = 0.01
        sft.training.lrSchedulerType = .cosineWithMinLR
        sft.training.warmupRatio = 0.05
    }

    /// Everything sits at the top level.
    public static let flattened: Set<String> = ["run", "sft", "shape"]
    /// The help of each key.
    public static let help = [
        "task": "built-in task (default: addition when no data is given)", "lengths": "training lengths (default: the task's train split)",
        "data": "JSONL file of {\"prompt\", \"completion\"} pairs instead of a task (5% held out)",
        "skip_invalid": "skip invalid lines of data instead of stopping at the first",
        "mislabel_leading": "experiments: prompts starting with this character get a wrong reference (last digit + 5)",
        "eval_steps": "evaluate every this many steps (0 = only at the end)", "eval_examples": "instances per length in evaluations",
    ]

    /// Every part's rules.
    public func validate() throws {
        try run.validate()
        try sft.validate()
        try shape.validate()
        if task != nil && data != nil { throw ConfigError.invalid(key: "data", reason: "give a task or data, not both") }
        if let t = task, (try? TaskRegistry.task(named: t)) == nil {
            throw ConfigError.invalid(key: "task", reason: "unknown task \(t.debugDescription); built-in tasks: \(TaskRegistry.names.joined(separator: ", "))")
        }
        if let m = mislabelLeading, m.count != 1 { throw ConfigError.invalid(key: "mislabel_leading", reason: "takes one character, got \(m.debugDescription)") }
        try ConfigRule.range("eval_steps", evalSteps, 0, 1 << 30)
        try ConfigRule.range("eval_examples", evalExamples, 1, 1 << 20)
    }

    /// The run: builds the tokenizer and a fresh model, and plans one SFT stage on the task's
    /// generator (or the data's pairs) with per-length greedy accuracy as its evaluation.
    public func pipeline() throws -> (pipeline: Pipeline, notes: [String]) {
        let seed = sft.training.seed
        let task = try TaskRegistry.task(named: task ?? "addition")
        var train = lengths?.range ?? task.trainLengths
        var notes: [String] = []
        var tokenizer = task.tokenizer
        var dataTrain: [TaskExample] = [], dataHeld: [TaskExample] = [], needed: Int
        if let data {
            let dataset = try PromptDataset.load(jsonl: data, requirements: DatasetRequirements(requireReference: true), skipInvalid: skipInvalid)
            notes += dataset.skipped.prefix(10).map { "skipped \($0)" }
            tokenizer = Tokenizer(corpus: dataset.examples.flatMap { [$0.prompt, $0.reference ?? ""] })
            let held = dataset.examples.count >= 20 ? dataset.examples.count / 20 : 0
            dataHeld = Array(dataset.examples.prefix(held))
            dataTrain = Array(dataset.examples.dropFirst(held))
            needed = try dataset.examples.map { try tokenizer.encodePrompt($0).count + tokenizer.encodeCompletion($0.reference ?? "").count - 1 }.max() ?? 1
            let lengths = dataset.examples.map(\.length)
            train = (lengths.min() ?? 1)...(lengths.max() ?? 1)
        } else {
            guard task.validLengths.contains(train.lowerBound), task.validLengths.contains(train.upperBound) else {
                throw ConfigError.invalid(key: "lengths", reason: TaskError.invalidLengths(task: task.name, lengths: train, valid: task.validLengths).description)
            }
            needed = task.maxSequenceLength(train.lowerBound...max(train.upperBound, task.testLengths.upperBound)) - 1
        }
        let context = shape.contextLength ?? needed
        guard context <= 1 << 16 else {
            throw ConfigError.invalid(key: data != nil ? "data" : "lengths", reason: "the longest sequence needs a context of \(context) positions, above the limit of 65536")
        }
        if data != nil && needed > context {
            throw ConfigError.invalid(key: "context_length", reason: "the longest pair of \(data!) needs \(needed) positions, more than \(context)")
        }
        let config = GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: context, layers: shape.layers, heads: shape.heads, width: shape.width)
        let rows = sft.training.perDeviceTrainBatchSize
        try MemoryBudget.check(MemoryBudget.training(config), for: "a model of \(shape.layers) layers of width \(shape.width) with its AdamW state", key: "width")
        try MemoryBudget.check(MemoryBudget.training(config) + MemoryBudget.step(config, rows: rows, length: context),
                               for: "a model of context \(context) trained on \(rows) sequences a step", key: shape.contextLength != nil ? "context_length" : "per_device_train_batch_size")
        let model = GPT(config, seed: seed)
        let trainable = data != nil ? Array(train) : train.filter { task.maxSequenceLength($0...$0) - 1 <= context }
        guard let first = trainable.first, let last = trainable.last else {
            throw ConfigError.invalid(key: "context_length", reason: "context \(context) is too short for lengths \(LengthRange(train).text)")
        }
        let trainRange = first...last
        let mislabel = mislabelLeading.flatMap(\.first).map(MislabeledClass.init(leadingCharacter:))
        var metadata = ["task": data.map { "data:" + URL(fileURLWithPath: $0).lastPathComponent } ?? task.name, "trainLengths": LengthRange(trainRange).text]
        if let mislabel { metadata["mislabeledLeading"] = String(mislabel.leadingCharacter) }

        var plan = PipelinePlan(stages: [.sft])
        plan.sft = sft
        plan.sftSource = data != nil ? .examples(.fixed(dataTrain)) : .examples(.generated { g, n in
            (0..<n).map { _ in task.example(lengths: trainRange, using: &g) }.map { mislabel?.apply($0) ?? $0 }
        })
        plan.saveSteps = run.saveSteps
        plan.saveTotalLimit = run.saveTotalLimit
        plan.loggingSteps = run.loggingSteps
        plan.threads = run.threads
        plan.evalSteps = evalSteps
        let examples = evalExamples
        plan.evaluate = data != nil
            ? { model in dataHeld.isEmpty ? [:] : ["accuracy_held_out": try Self.accuracy(TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, examples: dataHeld, reward: ExactMatchReward(), maxNewTokens: context))] }
            : { model in
                var out: [String: Double] = [:]
                for (label, range) in [("train", trainRange), ("test", task.testLengths)] {
                    let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: range,
                                                           examplesPerLength: examples, seed: 99)
                    if !rows.isEmpty { out["accuracy_\(label)"] = Self.accuracy(rows) }
                }
                return out
            }
        plan.record(self, resumable: PipelinePlan.lengthFree("max_steps", sft.training.lrSchedulerType))
        notes.append("GPT \(config.layers)L \(config.heads)H \(config.width)C ctx \(config.contextLength), \(model.parameterCount) parameters, vocabulary \(tokenizer.vocabularySize); \(metadata["task"]!) lengths \(LengthRange(trainRange).text)")
        let inputs = RunInputs(model: model, tokenizer: tokenizer, examples: dataTrain, label: metadata["task"]!, modelPath: "a new model", metadata: metadata)
        return (Pipeline(plan: plan, inputs: inputs, reward: ExactMatchReward()), notes)
    }

    /// The overall accuracy of per-length rows.
    static func accuracy(_ rows: [LengthAccuracy]) -> Double {
        let n = rows.reduce(0) { $0 + $1.count }
        return rows.reduce(0.0) { $0 + $1.accuracy * Double($1.count) } / Double(max(n, 1))
    }
}
