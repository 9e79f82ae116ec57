import ArgumentParser
import RFT

/// The `rft` command line: one subcommand per job, each a thin shell over the library.
@main
struct RFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rft",
        abstract: "Reinforcement finetuning for small causal language models (Swift, CPU, OpenBLAS).",
        version: rftVersion,
        subcommands: [Train.self, SFT.self, RewardTrain.self, Diagnose.self, Pretrain.self, Sample.self, Eval.self, Inspect.self, Export.self])
}
