import ArgumentParser
import RFT

/// `rft reward-train`: a reward model from preference pairs (TRL's RewardTrainer).
struct RewardTrain: ConfiguredCommand {
    typealias Config = RewardTrainConfig
    static let configuration = CommandConfiguration(
        commandName: "reward-train",
        abstract: "Train a reward model (a scalar head on a decoder) on chosen/rejected JSONL pairs with the Bradley–Terry loss.",
        usage: "rft reward-train --model PATH --data PAIRS.jsonl [--config FILE] [--KEY VALUE ...] [--resume]",
        discussion: flags("--resume continues the run in --output from its newest valid checkpoint. Use the result as a reward with --reward-model OUTPUT in rft train and rft diagnose."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            guard case let (_, _, result, directory)? = try runPipeline("reward-train") else { return }
            let figures = result.evaluation.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
            print("metrics: \(directory.file("metrics.jsonl")); checkpoint \(result.checkpoint ?? "-")" + (figures.isEmpty ? "" : "; \(figures)"))
        }
    }
}
