import Foundation

/// A run configuration that plans a pipeline (`rft train`, `sft`, `pretrain`, `diagnose`).
public protocol PipelineConfiguration: Configuration {
    /// Where the run writes.
    var run: RunConfig { get }
    /// Loads the model, inputs and reward and plans the run; `notes` says what was decided for the user.
    func pipeline() throws -> (pipeline: Pipeline, notes: [String])
}

/// Where a run writes and how often (TRL's `output_dir`, `save_steps`, `save_total_limit`,
/// `logging_steps`), and how many threads it computes with.
public struct RunConfig: Configuration {
    /// The run's output folder (--output; default `runs/<command>-<time>`).
    public var outputDir: String?
    /// A checkpoint every this many trainer steps, and during a diagnosis every this many batches of inputs.
    public var saveSteps = 20
    /// Checkpoints kept (the newest).
    public var saveTotalLimit = 2
    /// A progress line every this many steps.
    public var loggingSteps = 10
    /// Threads of this run's work.
    public var threads = 2

    /// The defaults.
    public init() {}

    /// The help of each key (flag alias: --output).
    public static let help = [
        "output_dir": "output folder (--output; default runs/<command>-<time>)",
        "save_steps": "checkpoint every this many steps (and diagnosis batches); 0 = none",
        "save_total_limit": "checkpoints kept", "logging_steps": "progress line every this many steps",
        "threads": "threads for this run",
    ]

    /// Ranges.
    public func validate() throws {
        try ConfigRule.range("save_steps", saveSteps, 0, 1 << 30)
        try ConfigRule.range("save_total_limit", saveTotalLimit, 1, 1 << 20)
        try ConfigRule.range("logging_steps", loggingSteps, 1, 1 << 30)
        try ConfigRule.range("threads", threads, 1, 256)
        if outputDir?.isEmpty == true { throw ConfigError.invalid(key: "output_dir", reason: "is empty") }
    }

    /// `output_dir`, or `runs/<command>-<UTC time>`.
    public func outputPath(for command: String) -> String {
        outputDir ?? "runs/\(command)-" + CheckpointHeader.now().replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
    }

    /// The output folder opened for a run of `command` (a resume continues the run in it).
    public func directory(for command: String, resume: Bool) throws -> RunDirectory {
        try RunDirectory(path: outputPath(for: command), resume: resume, keepLast: saveTotalLimit)
    }
}
