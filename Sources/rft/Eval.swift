import ArgumentParser
import Foundation
import RFT

/// `rft eval`: greedy accuracy and mean reward of a model on a task (per length) or a dataset.
struct Eval: ConfiguredCommand {
    typealias Config = EvalConfig
    static let configuration = CommandConfiguration(
        abstract: "Greedy-decode a task or a JSONL dataset with a model and report accuracy and reward per length.",
        usage: "rft eval [--config FILE] [--KEY VALUE ...] [--json]",
        discussion: flags("--json prints one JSON object (keys: model, inputs, accuracy, reward, num_examples, num_skipped, splits)."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            try Processes.requireOne("eval")
            let (config, command) = try configuration(switches: ["json"])
            let report = try config.run()
            if command.switches.contains("json") {
                print(String(decoding: try JSONEncoder.snakeCase.encode(report), as: UTF8.self))
                return
            }
            print("rft eval: \(report.model) on \(report.inputs), greedy: accuracy \(String(format: "%.3f", report.accuracy)), reward \(String(format: "%.3f", report.reward)) over \(report.numExamples) instances" + (report.numSkipped > 0 ? " (\(report.numSkipped) invalid lines skipped)" : ""))
            for split in report.splits { printSplit(split, rewardName: config.inputs.data == nil ? "partial" : "reward") }
        }
    }
}
