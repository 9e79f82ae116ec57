import ArgumentParser
import Foundation
import RFT

/// A subcommand whose options are the keys of a configuration type: every key is a flag
/// (`--sft-max-steps`), `--config FILE` reads YAML or JSON, flags win; `--help` lists them all.
protocol ConfiguredCommand: ParsableCommand {
    /// The configuration the command reads.
    associatedtype Config: Configuration
    /// The command line as typed after the subcommand's name.
    var arguments: [String] { get }
}

extension ConfiguredCommand {
    /// The configuration and the command's switches and positional arguments; warnings (TRL keys
    /// rft skips) are printed. Errors point at the flag or the file line that caused them.
    func configuration(switches: Set<String> = [], maxPositional: Int = 0) throws -> (config: Config, command: CommandLineArguments) {
        let command = try CommandLineArguments.parse(arguments, for: Config.self, switches: switches, maxPositional: maxPositional)
        let (config, warnings) = try command.resolve(Config.self)
        if Processes.group.rank == 0 { for w in warnings { print("warning: \(w)") } }
        return (config, command)
    }

    /// The help text's flag list for `Config`.
    static func flags(_ extra: String = "") -> String {
        "Every key of a --config file (YAML or JSON) is also a flag: sft.max_steps is --sft-max-steps; flags win.\n\(extra)\n\n" + ConfigHelp.text(Config.self)
    }
}

extension ConfiguredCommand where Config: PipelineConfiguration {
    /// Plans and runs the pipeline of `Config` in its output folder (`--resume` continues a run
    /// there when `resumable`), printing its progress; returns the configuration, the pipeline,
    /// the result and the folder — on rank 0: under mpirun the other ranks run their share
    /// silently, write nothing and return nil.
    func runPipeline(_ command: String, resumable: Bool = true) throws -> (config: Config, pipeline: Pipeline, result: PipelineResult, directory: RunDirectory)? {
        let (config, line) = try configuration(switches: resumable ? ["resume"] : [])
        let (pipeline, notes) = try config.pipeline()
        pipeline.group = Processes.group
        guard pipeline.group.rank == 0 else {
            _ = try pipeline.run(in: nil)
            return nil
        }
        let directory = try config.run.directory(for: command, resume: line.switches.contains("resume"))
        pipeline.observer = ConsoleReporter()
        notes.forEach { print("note: \($0)") }
        let processes = pipeline.group.size > 1 ? " on \(pipeline.group.size) processes" : ""
        print("rft \(command): \(pipeline.inputs.modelPath) on \(pipeline.inputs.label)\(processes), output \(directory.path)")
        return (config, pipeline, try pipeline.run(in: directory), directory)
    }
}

/// Runs `body` as a command: output line-buffered (progress reaches a log file as it is
/// printed), a write past a size limit an error rather than SIGXFSZ, and every error printed as
/// one line `error: what and where` with exit status 1 (under mpirun: ending the whole job).
func runCommand(_ body: () throws -> Void) throws {
    setvbuf(stdout, nil, _IOLBF, 0)
    signal(SIGXFSZ, SIG_IGN)
    var terminate = sigset_t()  // a parent may hand down a mask that blocks them: SIGTERM must end rft
    sigemptyset(&terminate)
    for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&terminate, s) }
    sigprocmask(SIG_UNBLOCK, &terminate, nil)
    do {
        try Processes.start()
        try body()
    } catch let e as ExitCode {
        Processes.finish()
        throw e
    } catch {
        if Processes.group.size > 1 { Processes.fail(describe(error)) }
        FileHandle.standardError.write(Data("error: \(describe(error))\n".utf8))
        Processes.finish()
        throw ExitCode(1)
    }
    Processes.finish()
}

/// An error as one line: a library error's key becomes the flag that sets it.
func describe(_ error: Error) -> String {
    if case ConfigError.invalid(let key, let reason, .library) = error, !key.isEmpty {
        return "\(ConfigSchema.flag(for: key)) (\(key)): \(reason)"
    }
    return "\(error)"
}

/// Prints an evaluation's per-length table.
func printSplit(_ split: EvalSplit, rewardName: String) {
    print(String(format: "%@: accuracy %.3f, %@ %.3f over %d instances", split.name, split.accuracy, rewardName, split.reward, split.numExamples))
    print("  length  count  accuracy  \(rewardName)")
    for r in split.lengths { print(String(format: "  %6d  %5d  %8.3f  %7.3f", r.length, r.count, r.accuracy, r.reward)) }
}
