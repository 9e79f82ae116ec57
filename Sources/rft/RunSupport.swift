import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// Where a run's inputs come from: a checkpoint, and a built-in task or a JSONL dataset.
struct InputOptions: ParsableArguments {
    @Option(help: "Starting checkpoint (file, or a folder: its newest valid checkpoint).")
    var model = "checkpoints/addition-mislabeled.rftckpt"
    @Option(help: "Built-in task (default: the checkpoint's own task when no --data is given).") var task: String?
    @Option(help: "JSONL dataset: one object a line with \"prompt\", optional \"completion\" (the reference), \"id\" and other fields.")
    var data: String?
    @Option(help: "Lengths drawn from --task, N or A-B (default: the checkpoint's training lengths).") var lengths: String?
    @Option(help: "Distinct inputs drawn from --task to train on.") var numInputs = 2000
    @Flag(help: "Skip invalid dataset lines (counted and reported) instead of stopping at the first.") var skipInvalid = false

    /// The model, its tokenizer, the task (if any) and the fixed list of inputs.
    func resolve(requireReference: Bool, seed: UInt64) throws -> ResolvedInputs {
        let loaded = try LoadedModel(path: model)
        if let data {
            guard task == nil else { throw CLIError("give --task or --data, not both") }
            let dataset = try PromptDataset.load(
                jsonl: data, requirements: DatasetRequirements(tokenizer: loaded.tokenizer, contextLength: loaded.model.config.contextLength,
                                                               requireReference: requireReference),
                skipInvalid: skipInvalid)
            if !dataset.skipped.isEmpty {
                print("skipped \(dataset.skipped.count) invalid line(s) of \(data):")
                for issue in dataset.skipped.prefix(10) { print("  \(issue)") }
                if dataset.skipped.count > 10 { print("  …") }
            }
            return ResolvedInputs(loaded: loaded, task: nil, examples: dataset.examples, label: data)
        }
        guard let name = task ?? loaded.taskName else { throw CLIError("the checkpoint names no task; pass --task or --data") }
        let task = try TaskRegistry.task(named: name)
        let range: ClosedRange<Int>
        if let lengths { range = try parseLengths(lengths) } else {
            range = loaded.trainLengths ?? task.trainLengths
        }
        guard task.validLengths.contains(range.lowerBound), task.validLengths.contains(range.upperBound) else {
            throw TaskError.invalidLengths(task: name, lengths: range, valid: task.validLengths)
        }
        guard numInputs > 0 else { throw CLIError("--num-inputs must be positive") }
        return ResolvedInputs(loaded: loaded, task: task, examples: distinctExamples(task, range, seed: seed), label: "\(name) lengths \(range.lowerBound)-\(range.upperBound)")
    }

    /// Up to `numInputs` distinct instances of `task` (short lengths have few distinct prompts).
    private func distinctExamples(_ task: any VerifiableTask, _ range: ClosedRange<Int>, seed: UInt64) -> [TaskExample] {
        var g = RandomGenerator(seed: seed &+ 0x5EED)
        var seen = Set<String>(), out: [TaskExample] = []
        var tries = 0
        while out.count < numInputs && tries < 20 * numInputs {
            tries += 1
            var e = task.example(lengths: range, using: &g)
            guard seen.insert(e.prompt).inserted else { continue }
            e.id = "\(task.name)-\(out.count)"
            out.append(e)
        }
        return out
    }
}

/// A run's model and inputs, resolved.
struct ResolvedInputs {
    /// The starting checkpoint.
    let loaded: LoadedModel
    /// The built-in task, when the inputs come from one.
    let task: (any VerifiableTask)?
    /// The fixed list of inputs.
    let examples: [TaskExample]
    /// What the inputs are, for progress lines.
    let label: String
}

/// The reward of a run: a built-in by name, or an external command.
struct RewardOptions: ParsableArguments {
    @Option(help: "Built-in reward: exact-match, numeric-match, partial-credit, task-verifier.") var reward = "exact-match"
    @Option(parsing: .upToNextOption, help: "External reward: a program and its arguments (no shell), speaking JSONL on stdin/stdout (docs/reward-command.md).")
    var rewardCmd: [String] = []
    @Option(help: "Seconds the external reward may take per batch.") var rewardTimeout: Double = 60

    /// The reward function.
    func make(task: (any VerifiableTask)?) throws -> any RewardFunction {
        if !rewardCmd.isEmpty {
            let reward = CommandReward(command: rewardCmd, timeout: rewardTimeout)
            try reward.start()  // a missing program is reported before any work
            return reward
        }
        return try BuiltinReward.named(reward, task: task)
    }
}

/// A run's output folder: checkpoints through the manager and an append-only metrics.jsonl.
struct RunDirectory {
    /// The folder.
    let path: String
    /// Its checkpoints.
    let manager: CheckpointManager
    /// `path/metrics.jsonl`.
    var metricsPath: String { path + "/metrics.jsonl" }

    /// Opens `output` (default `runs/<kind>-<time>`). A fresh run refuses a folder that already
    /// holds checkpoints or metrics, so nothing written before is overwritten; `resume` needs them.
    init(output: String?, kind: String, resume: Bool, keepLast: Int = 2) throws {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        path = output ?? "runs/\(kind)-\(stamp)"
        manager = CheckpointManager(directory: path, keepLast: keepLast)
        let hasMetrics = FileManager.default.fileExists(atPath: path + "/metrics.jsonl")
        if !resume && (hasMetrics || !manager.checkpoints().isEmpty) {
            throw CLIError("\(path) already holds a run; pass --resume to continue it, or choose another --output")
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// Opens `name` (default metrics.jsonl) for appending, first dropping lines of steps after
    /// `step` (a resumed run writes them again, identically).
    func openMetrics(named name: String = "metrics.jsonl", keepingThrough step: Int) throws -> MetricsLog {
        let metricsPath = path + "/" + name
        var kept = Data()
        if let old = FileManager.default.contents(atPath: metricsPath) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
                if let s = object?["step"] as? Int, s > step { continue }
                kept.append(contentsOf: line); kept.append(UInt8(ascii: "\n"))
            }
        }
        try kept.write(to: URL(fileURLWithPath: metricsPath), options: .atomic)
        guard let handle = FileHandle(forWritingAtPath: metricsPath) else { throw CLIError("cannot write \(metricsPath)") }
        handle.seekToEndOfFile()
        return MetricsLog(handle: handle)
    }

    /// The newest valid checkpoint, reporting damaged newer ones.
    func latest() throws -> (path: String, checkpoint: Checkpoint)? {
        guard let latest = try manager.latest() else { return nil }
        for skipped in latest.skipped { print("skipping damaged checkpoint: \(skipped)") }
        return (latest.path, latest.checkpoint)
    }
}

/// One JSON object a line, snake_case keys (TRL's metric names).
final class MetricsLog {
    private let handle: FileHandle
    private let encoder: JSONEncoder

    init(handle: FileHandle) {
        self.handle = handle
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
    }

    /// Appends `value` as one line.
    func append<T: Encodable>(_ value: T) throws {
        handle.write(try encoder.encode(value) + Data("\n".utf8))
    }

    deinit { try? handle.close() }
}

/// Tokens of the longest reference among `examples` (EOS not counted), or nil when none has one.
func longestReference(_ examples: [TaskExample], tokenizer: Tokenizer) -> Int? {
    examples.compactMap { $0.reference.flatMap { try? tokenizer.encodeCompletion($0).count } }.max()
}

/// The common start of `train` and `diagnose`: threads, inputs, reward and the output folder.
func startRun(_ inputs: InputOptions, _ rewardOptions: RewardOptions, kind: String, output: String?, resume: Bool,
              seed: UInt64, threads: Int) throws -> (inputs: ResolvedInputs, reward: any RewardFunction, run: RunDirectory) {
    lineBufferedOutput()
    BLAS.setThreads(threads)
    let resolved = try inputs.resolve(requireReference: false, seed: seed)
    let reward = try rewardOptions.make(task: resolved.task)
    return (resolved, reward, try RunDirectory(output: output, kind: kind, resume: resume))
}

/// Prints progress lines as they come, even into a pipe or log file.
func lineBufferedOutput() { setvbuf(stdout, nil, _IOLBF, 0) }

/// An error found while running a command: printed as `Error: <what and where>`, without the usage text.
struct CLIError: Error, CustomStringConvertible {
    /// The explanation.
    let description: String

    /// An error saying `description`.
    init(_ description: String) { self.description = description }
}
