import ArgumentParser
import RFT

/// `rft sft`: supervised finetuning of a model on reference completions (prompt tokens masked).
struct SFT: ConfiguredCommand {
    typealias Config = SFTRunConfig
    static let configuration = CommandConfiguration(
        abstract: "Supervised-finetune a model on the references of a task or JSONL dataset (loss on completion tokens only).",
        usage: "rft sft [--config FILE] [--KEY VALUE ...] [--resume]",
        discussion: flags("--resume continues the run in --output from its newest valid checkpoint."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            guard case let (_, _, result, directory)? = try runPipeline("sft") else { return }
            print("metrics: \(directory.file("metrics.jsonl")); checkpoint \(result.checkpoint ?? "-")")
        }
    }
}
