import Foundation
import RFTModel
import RFTTensor

/// Where a run's model and inputs come from: a checkpoint, and a built-in task or a JSONL file.
/// With none of the three named, a run is the demo: the shipped
/// `checkpoints/addition-mislabeled.rftckpt` on its own task. Once a model, a task or data is
/// named, no demo default applies.
public struct InputConfig: Configuration {
    /// The starting checkpoint (a `.rftckpt` file, or a run folder: its newest valid checkpoint).
    public var modelNameOrPath: String?
    /// A built-in task (default: the checkpoint's own task when no data is given).
    public var task: String?
    /// A JSONL dataset: one object a line with "prompt" (a text or a list of messages), optional
    /// "completion" (the reference: a text or one assistant message), "id", other fields.
    public var data: String?
    /// How prompts are rendered: the model's chat template (`auto`), a forced one, or none.
    public var chatTemplate: ChatTemplateChoice = .auto
    /// Lengths drawn from the task (default: the checkpoint's training lengths).
    public var lengths: LengthRange?
    /// Distinct inputs drawn from the task.
    public var numInputs = 2000
    /// Skip invalid dataset lines (counted and reported) instead of stopping at the first.
    public var skipInvalid = false

    /// The demo's model, relative to the repository.
    public static let demoModel = "checkpoints/addition-mislabeled.rftckpt"

    /// The defaults: the demo.
    public init() {}

    /// The help of each key (flag aliases: --model).
    public static let help = [
        "model_name_or_path": "starting checkpoint: a .rftckpt file or a run folder (default: the demo's \(demoModel) when no task or data is named)",
        "task": "built-in task: \(TaskRegistry.names.joined(separator: ", ")) (default: the model's own task)",
        "data": "JSONL dataset: \"prompt\" (a text, or TRL's list of {role, content} messages), optional \"completion\" (reference: a text or one assistant message), \"id\", other fields kept for rewards",
        "chat_template": ChatTemplateChoice.help,
        "lengths": "lengths drawn from the task (default: the model's training lengths)",
        "num_inputs": "distinct inputs drawn from the task",
        "skip_invalid": "skip invalid dataset lines (counted) instead of stopping at the first",
    ]

    /// One of task and data, a positive input count.
    public func validate() throws {
        if task != nil && data != nil { throw ConfigError.invalid(key: "data", reason: "give a task or data, not both") }
        try ConfigRule.range("num_inputs", numInputs, 1, 1 << 24)
        if let t = task, !TaskRegistry.names.contains(t) && (try? TaskRegistry.task(named: t)) == nil {
            throw ConfigError.invalid(key: "task", reason: "unknown task \(t.debugDescription); built-in tasks: \(TaskRegistry.names.joined(separator: ", "))")
        }
    }

    /// Whether no model, task or data is named (the demo runs).
    public var isDemo: Bool { modelNameOrPath == nil && task == nil && data == nil }

    /// The checkpoint to start from: the named one, the demo's, or an error saying to name one.
    public func modelPath() throws -> String {
        if let modelNameOrPath { return modelNameOrPath }
        guard isDemo else {
            throw ConfigError.invalid(key: "model_name_or_path", reason: "name the model to start from (a .rftckpt file or a run folder)")
        }
        return Self.locateDemoModel()
    }

    /// The model to start from, its tokenizer rendering prompts as `chat_template` says.
    public func loadModel() throws -> LoadedModel {
        try LoadedModel(path: try modelPath()).withChatTemplate(chatTemplate)
    }

    /// `checkpoints/addition-mislabeled.rftckpt` in the current folder, else next to the rft
    /// executable's package (`.build/release/rft` → the repository), else the relative path.
    static func locateDemoModel() -> String {
        if FileManager.default.fileExists(atPath: demoModel) { return demoModel }
        var folder = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = folder.appendingPathComponent(demoModel).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            folder.deleteLastPathComponent()
        }
        return demoModel
    }

    /// The model and the fixed list of inputs: the dataset's valid lines, or `numInputs`
    /// distinct instances of the task (drawn from `seed`). `requirements` says what every
    /// dataset line must satisfy beyond fitting the model's context and tokenizer.
    public func load(seed: UInt64, requireReference: Bool = false, referenceMustFit: Bool = false) throws -> RunInputs {
        let loaded = try loadModel()
        if let data {
            let dataset = try PromptDataset.load(
                jsonl: data,
                requirements: DatasetRequirements(tokenizer: loaded.tokenizer, contextLength: loaded.model.config.contextLength,
                                                  requireReference: requireReference, referenceMustFit: referenceMustFit),
                skipInvalid: skipInvalid)
            return RunInputs(loaded: loaded, task: nil, examples: dataset.examples, label: data, skipped: dataset.skipped)
        }
        guard let name = task ?? loaded.taskName else {
            throw ConfigError.invalid(key: "task", reason: "\(loaded.path) names no task; give a task or data")
        }
        let task = try TaskRegistry.task(named: name)
        do { try task.checkVocabulary(of: loaded.tokenizer) } catch { throw ConfigError.invalid(key: "task", reason: "\(error)") }
        let range = lengths?.range ?? loaded.trainLengths ?? task.trainLengths
        guard task.validLengths.contains(range.lowerBound), task.validLengths.contains(range.upperBound) else {
            throw ConfigError.invalid(key: "lengths", reason: TaskError.invalidLengths(task: name, lengths: range, valid: task.validLengths).description)
        }
        let examples = Self.distinctExamples(task, range, count: numInputs, seed: seed)
        let tooLong = try examples.first { try loaded.tokenizer.encodePrompt($0).count >= loaded.model.config.contextLength }
        if let tooLong {
            throw ConfigError.invalid(key: "lengths", reason: "task \(name) at lengths \(range.lowerBound)-\(range.upperBound) has prompts (\(tooLong.prompt.debugDescription)) longer than the model's context \(loaded.model.config.contextLength)")
        }
        return RunInputs(loaded: loaded, task: task, examples: examples, label: "\(name) lengths \(LengthRange(range).text)", skipped: [])
    }

    /// Up to `count` distinct instances of `task` (short lengths have few distinct prompts),
    /// ids `<task>-<index>`; the same seed gives the same list.
    public static func distinctExamples(_ task: any VerifiableTask, _ range: ClosedRange<Int>, count: Int, seed: UInt64,
                                        excluding: Set<String> = []) -> [TaskExample] {
        var g = RandomGenerator(seed: seed &+ 0x5EED)
        var seen = excluding, out: [TaskExample] = []
        var tries = 0
        while out.count < count && tries < 20 * count {
            tries += 1
            var e = task.example(lengths: range, using: &g)
            guard seen.insert(e.prompt).inserted else { continue }
            e.id = "\(task.name)-\(out.count)"
            out.append(e)
        }
        return out
    }
}

/// What a run trains and measures: the model, its tokenizer, the inputs, and where they came
/// from. `InputConfig.load` builds it from a checkpoint and a task or file; code that embeds
/// rft builds it from its own model and examples.
public struct RunInputs {
    /// The model (trained in place).
    public var model: GPT
    /// Its tokenizer.
    public var tokenizer: Tokenizer
    /// The fixed list of inputs.
    public var examples: [TaskExample]
    /// The built-in task, when the inputs come from one.
    public var task: (any VerifiableTask)?
    /// What the inputs are, for progress lines.
    public var label: String
    /// Where the model came from (a checkpoint path), for progress lines and the run's record.
    public var modelPath: String
    /// Metadata carried into the run's checkpoints (the task and lengths the model was trained on).
    public var metadata: [String: String]
    /// Dataset lines skipped (with `skip_invalid`).
    public var skipped: [DatasetIssue]

    /// Tokens of the longest encoded prompt plus `completion`, at most the model's context: the
    /// sequence length a batch of these inputs needs (what the memory checks size a batch by).
    public func longestSequence(completion: Int) -> Int {
        let prompt = examples.map { (try? tokenizer.encodePrompt($0).count) ?? 0 }.max() ?? 0
        return min(model.config.contextLength, prompt + completion)
    }

    /// Inputs from their parts.
    public init(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], task: (any VerifiableTask)? = nil,
                label: String = "inputs", modelPath: String = "<memory>", metadata: [String: String] = [:],
                skipped: [DatasetIssue] = []) {
        self.model = model
        self.tokenizer = tokenizer
        self.examples = examples
        self.task = task
        self.label = label
        self.modelPath = modelPath
        self.metadata = metadata
        self.skipped = skipped
    }

    /// Inputs on a loaded checkpoint.
    init(loaded: LoadedModel, task: (any VerifiableTask)?, examples: [TaskExample], label: String, skipped: [DatasetIssue]) {
        self.init(model: loaded.model, tokenizer: loaded.tokenizer, examples: examples, task: task, label: label,
                  modelPath: loaded.path, metadata: loaded.metadata, skipped: skipped)
    }

    /// Whether every input has a reference completion (so SFT can train on any of them).
    public var haveReferences: Bool { examples.allSatisfy { $0.reference != nil } }

    /// The completion length sampling uses unless told: a chat task's `maxCompletionLength` at
    /// the longest input, since a chat model's answer has words around its number; nil for
    /// other inputs, whose longest reference decides (an algorithmic answer is the reference).
    public var defaultCompletionLength: Int? {
        guard let task = task as? any ChatTask, let longest = examples.map(\.length).max() else { return nil }
        return task.maxCompletionLength(longest)
    }
}
