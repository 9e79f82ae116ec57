import ArgumentParser
import Foundation
import RFT

/// `rft diagnose`: per-input reward mean and std under a model, the inputs RFT cannot move flagged.
struct Diagnose: ConfiguredCommand {
    typealias Config = DiagnoseConfig
    static let configuration = CommandConfiguration(
        abstract: "Measure each input's reward std under a model and flag the inputs whose expected policy gradient vanishes.",
        usage: "rft diagnose [--config FILE] [--KEY VALUE ...]",
        discussion: flags("Writes inputs.jsonl, inputs.csv, summary.json, std-histogram.svg and mean-vs-std-before.svg to --output."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            let start = Date()
            guard case let (_, pipeline, result, directory)? = try runPipeline("diagnose", resumable: false) else { return }
            guard let report = result.reports[.before] else { return }
            let s = report.summary
            if let f = s.rewardFlagged, let u = s.rewardUnflagged { print(String(format: "mean reward: flagged %.3f, not flagged %.3f", f, u)) }
            if let f = s.gradNormFlagged, let u = s.gradNormUnflagged { print(String(format: "mean ‖∇V‖ estimate: flagged %.3g, not flagged %.3g", f, u)) }
            for (name, f) in (s.functions ?? [:]).sorted(by: { $0.key < $1.key }) {
                print("reward \(name): mean \(String(format: "%.3f", f.reward)), flat (std 0) on \(String(format: "%.0f", 100 * f.fracRewardZeroStd))% of inputs")
            }
            print(DiagnosisAdvice(summary: s, haveReferences: pipeline.inputs.haveReferences).text)
            let seconds = Date().timeIntervalSince(start)
            if let tokens = s.completionTokens {
                let samples = report.rows.reduce(0) { $0 + $1.numSamples }
                print(String(format: "sampled %d completions, %d tokens: %.0f tokens/s over the whole command", samples, tokens, Double(tokens) / max(seconds, 1e-9)))
            }
            print("wrote \(directory.path)/{inputs.jsonl, inputs.csv, summary.json, std-histogram.svg, mean-vs-std-before.svg} in \(String(format: "%.1f", seconds))s")
        }
    }
}
