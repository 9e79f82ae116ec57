import ArgumentParser
import Foundation
import RFT

/// The `rft` command line: one subcommand per job.
@main
struct RFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rft",
        abstract: "Reinforcement finetuning for small causal language models (Swift, CPU, OpenBLAS).",
        version: rftVersion,
        subcommands: [Train.self, SFT.self, Diagnose.self, Pretrain.self, Sample.self, Eval.self, Inspect.self])

    /// Expands `--config FILE` into flags (the command line's own flags come after and win), then runs.
    static func main() {
        do {
            let arguments = try ConfigFile.expand(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
