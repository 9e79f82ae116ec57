import ArgumentParser
import Foundation
import RFT

/// `rft train`: diagnose → SFT on a small subset → RFT, with the reward-std table before, after
/// SFT and after RFT.
struct Train: ConfiguredCommand {
    typealias Config = TrainConfig
    static let configuration = CommandConfiguration(
        abstract: "Reinforcement-finetune a model: diagnose per-input reward std, SFT on a small subset, then RFT (GRPO, RLOO, REINFORCE; KL; entropy bonus).",
        usage: "rft train [--config FILE] [--KEY VALUE ...] [--resume]",
        discussion: flags("""
            With no arguments: the shipped checkpoints/addition-mislabeled.rftckpt (adds 1-3-digit numbers, but was pretrained \
            to get every sum whose prompt starts with 7 wrong), 2000 inputs, SFT on a random 1% for 20 steps, then 40 GRPO steps.
            --resume continues the run in --output from its newest valid checkpoint, in whatever stage it was killed.
            """))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            guard case let (config, pipeline, result, directory)? = try runPipeline("train") else { return }
            let m = config.monitor
            print("\nreward-std table (\(pipeline.inputs.examples.count) inputs × \(m.numGenerations) samples at temperature \(m.temperature); flagged: std < \(config.criterion.threshold); stuck: flagged with mean reward < \(config.criterion.midpoint); greedy accuracy on \(pipeline.plan.heldOut.count) held-out inputs)")
            print(PipelinePhase.table(result.phases))
            let stayed = result.inputReport.filter { $0.firstStuck && $0.stuck }.count
            print("\ninputs RFT sampled that were stuck the first and the last time: \(stayed) of \(result.inputReport.count) (per input: \(directory.file("inputs-report.jsonl")))")
            print("wrote \(directory.path)/{metrics.jsonl, summary.json, diagnose-*.jsonl/.csv, *.svg}; checkpoint \(result.checkpoint ?? "-")")
        }
    }
}
