import ArgumentParser
import RFT

/// `rft pretrain`: trains a GPT from scratch on a built-in task or a JSONL file of pairs.
struct Pretrain: ConfiguredCommand {
    typealias Config = PretrainConfig
    static let configuration = CommandConfiguration(
        abstract: "Train a small GPT from scratch on a built-in task or a JSONL file, with evaluation and checkpoints.",
        usage: "rft pretrain [--config FILE] [--KEY VALUE ...] [--resume]",
        discussion: flags("--resume continues the run in --output from its newest valid checkpoint."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            guard case let (_, _, result, _)? = try runPipeline("pretrain") else { return }
            print("checkpoint \(result.checkpoint ?? "-")")
        }
    }
}
