import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// A model read from a checkpoint file or folder, with its tokenizer and task.
struct LoadedModel {
    let model: GPT
    let tokenizer: Tokenizer
    /// The task it was trained on (the checkpoint's `task` metadata), if any.
    let taskName: String?
    let path: String
    let step: Int?
    /// The lengths it was trained on (the checkpoint's `trainLengths` metadata), if recorded.
    let trainLengths: ClosedRange<Int>?
    /// The checkpoint as read.
    let checkpoint: Checkpoint

    /// Loads `path`: a checkpoint file, or a folder whose newest valid checkpoint is used.
    init(path: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CLIError("\(path): no such checkpoint file or folder")
        }
        let checkpoint: Checkpoint
        if isDirectory.boolValue {
            guard let latest = try CheckpointManager(directory: path).latest() else {
                throw CLIError("\(path): folder holds no checkpoint (step-*.rftckpt)")
            }
            checkpoint = latest.checkpoint
            self.path = latest.path
        } else {
            checkpoint = try Checkpoint.load(from: path)
            self.path = path
        }
        model = try checkpoint.makeModel(path: self.path)
        guard let t = checkpoint.header.tokenizer else {
            throw CLIError("\(self.path): the checkpoint has no tokenizer")
        }
        do { tokenizer = try t.decode(as: Tokenizer.self) } catch {
            throw CLIError("\(self.path): bad tokenizer in header: \(error)")
        }
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw CLIError("\(self.path): tokenizer has \(tokenizer.vocabularySize) tokens, model \(model.config.vocabularySize)")
        }
        taskName = checkpoint.header.metadata["task"]
        step = checkpoint.header.training?.step
        trainLengths = checkpoint.header.metadata["trainLengths"].flatMap { try? parseLengths($0) }
        self.checkpoint = checkpoint
    }
}

/// Parses `a-b` or `a` into a length range.
func parseLengths(_ text: String) throws -> ClosedRange<Int> {
    let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
    if parts.count == 1, let a = parts[0], a >= 1 { return a...a }
    if parts.count == 2, let a = parts[0], let b = parts[1], a >= 1, a <= b { return a...b }
    throw CLIError("lengths '\(text)': expected N or A-B with 1 ≤ A ≤ B")
}

/// Prints a per-length table and returns the overall accuracy.
@discardableResult
func printAccuracy(_ rows: [LengthAccuracy], label: String) -> Double {
    let n = rows.reduce(0) { $0 + $1.count }
    let acc = rows.reduce(0.0) { $0 + $1.accuracy * Double($1.count) } / Double(max(n, 1))
    let partial = rows.reduce(0.0) { $0 + $1.partialCredit * Double($1.count) } / Double(max(n, 1))
    print(String(format: "%@: accuracy %.3f, partial credit %.3f over %d instances", label, acc, partial, n))
    print("  length  count  accuracy  partial")
    for r in rows { print(String(format: "  %6d  %5d  %8.3f  %7.3f", r.length, r.count, r.accuracy, r.partialCredit)) }
    return acc
}

/// `rft eval`: exact-match accuracy and mean partial credit of a checkpoint on a task, per length.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Greedy-decode a task with a checkpoint and report accuracy per length.")

    @Option(help: "Checkpoint file, or a folder (its newest valid checkpoint).") var checkpoint: String
    @Option(help: "Task (default: the one the checkpoint was trained on). One of: \(TaskRegistry.names.joined(separator: ", ")).")
    var task: String?
    @Option(help: "Lengths to test, N or A-B (default: the task's train and test splits).") var lengths: String?
    @Option(help: "A JSONL dataset to score instead of a task (\"prompt\", \"completion\"; grouped by \"length\", default the prompt's length).")
    var data: String?
    @OptionGroup var rewardOptions: RewardOptions
    @Flag(help: "Skip invalid dataset lines instead of stopping at the first.") var skipInvalid = false
    @Option(help: "Instances per length.") var examples = 100
    @Option(help: "Seed for the instances.") var seed: UInt64 = 1234
    @Option(help: "Threads.") var threads = 2
    @Flag(help: "Print one JSON object instead of a table.") var json = false

    func run() throws {
        BLAS.setThreads(threads)
        let loaded = try LoadedModel(path: checkpoint)
        if let data {
            let dataset = try PromptDataset.load(
                jsonl: data, requirements: DatasetRequirements(tokenizer: loaded.tokenizer, contextLength: loaded.model.config.contextLength),
                skipInvalid: skipInvalid)
            let reward = try rewardOptions.make(task: try task.map { try TaskRegistry.task(named: $0) })
            let longest = longestReference(dataset.examples, tokenizer: loaded.tokenizer)
            let rows = try TaskEvaluation.evaluate(model: loaded.model, tokenizer: loaded.tokenizer, examples: dataset.examples,
                                                   reward: reward, maxNewTokens: longest.map { $0 + 1 } ?? loaded.model.config.contextLength)
            if json { print(String(decoding: try JSONEncoder().encode(["data": rows]), as: UTF8.self)); return }
            if !dataset.skipped.isEmpty { print("skipped \(dataset.skipped.count) invalid line(s) of \(data)") }
            print("rft eval: \(loaded.path) on \(data) (\(dataset.examples.count) examples), greedy; accuracy = equal to the reference, reward = --reward")
            let n = Double(rows.reduce(0) { $0 + $1.count })
            print(String(format: "accuracy %.3f, mean reward %.3f", rows.reduce(0) { $0 + $1.accuracy * Double($1.count) } / n,
                         rows.reduce(0) { $0 + $1.partialCredit * Double($1.count) } / n))
            print("  length  count  accuracy   reward")
            for r in rows { print(String(format: "  %6d  %5d  %8.3f  %7.3f", r.length, r.count, r.accuracy, r.partialCredit)) }
            return
        }
        guard let name = task ?? loaded.taskName else {
            throw CLIError("the checkpoint names no task; pass --task")
        }
        let task = try TaskRegistry.task(named: name)
        let ranges: [(String, ClosedRange<Int>)] = try lengths.map { [("lengths \($0)", try parseLengths($0))] }
            ?? [("train lengths", task.trainLengths), ("test lengths", task.testLengths)]
        var report: [String: [LengthAccuracy]] = [:]
        if !json { print("rft eval: \(loaded.path) (step \(loaded.step.map(String.init) ?? "?")) on \(name), \(examples) per length, greedy") }
        for (label, range) in ranges {
            guard task.validLengths.contains(range.lowerBound), task.validLengths.contains(range.upperBound) else {
                throw TaskError.invalidLengths(task: name, lengths: range, valid: task.validLengths)
            }
            let rows = try TaskEvaluation.evaluate(model: loaded.model, tokenizer: loaded.tokenizer, task: task,
                                                   lengths: range, examplesPerLength: examples, seed: seed)
            report[label] = rows
            if !json { printAccuracy(rows, label: label) }
        }
        if json {
            let data = try JSONEncoder().encode(report)
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
