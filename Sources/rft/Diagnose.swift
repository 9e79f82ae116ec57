import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// `rft diagnose`: per-input reward mean and std under a checkpoint, with the inputs RFT cannot move flagged.
struct Diagnose: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure each input's reward std under a checkpoint and flag the inputs whose expected policy gradient vanishes.",
        discussion: "Writes per-input tables (JSONL, CSV), a summary, and SVG plots (std histogram, mean-vs-std scatter) to --output.")

    @OptionGroup var inputs: InputOptions
    @OptionGroup var rewardOptions: RewardOptions
    @Option(name: [.customShort("k"), .long], help: "Samples per input (K).") var samples = 16
    @Option(help: "Sampling temperature.") var temperature: Float = 1
    @Option(help: "Top-k (0 = off).") var topK = 0
    @Option(help: "Top-p (1 = off).") var topP: Float = 1
    @Option(help: "Longest completion in tokens (default: the longest reference + EOS, or 32).") var maxCompletionLength: Int?
    @Option(help: "Flag inputs whose reward std is below this.") var threshold = 0.05
    @Option(help: "Flag below this share of the reward range instead (with --reward-min/--reward-max).") var relativeThreshold: Double?
    @Option(help: "Lowest possible reward (for --relative-threshold).") var rewardMin: Double?
    @Option(help: "Highest possible reward (for --relative-threshold).") var rewardMax: Double?
    @Option(help: "sampled (K samples) or exact (enumerate every completion; tiny vocabularies and lengths only).") var mode = "sampled"
    @Flag(help: "Also estimate each input's expected policy-gradient norm (slower).") var gradientNorm = false
    @Option(help: "Output folder (default: runs/diagnose-<time>).") var output: String?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads = 2

    func run() throws {
        let (resolved, reward, run) = try startRun(inputs, rewardOptions, kind: "diagnose", output: output, resume: false, seed: seed, threads: threads)
        guard let mode = RewardStdMode(rawValue: self.mode) else { throw CLIError("--mode \(self.mode): one of sampled, exact") }
        var range: ClosedRange<Double>?
        if let lo = rewardMin, let hi = rewardMax {
            guard lo < hi else { throw CLIError("--reward-min must be below --reward-max") }
            range = lo...hi
        }
        if relativeThreshold != nil && range == nil { throw CLIError("--relative-threshold needs --reward-min and --reward-max") }
        let tokenizer = resolved.loaded.tokenizer
        let longest = longestReference(resolved.examples, tokenizer: tokenizer)
        let monitor = RewardStdMonitor(numSamples: samples, temperature: temperature, topK: topK, topP: topP,
                                       maxCompletionLength: maxCompletionLength ?? longest.map { $0 + 1 } ?? 32,
                                       threshold: threshold, relativeThreshold: relativeThreshold, rewardRange: range,
                                       seed: seed, mode: mode, gradientEvidence: gradientNorm)
        if let problem = monitor.validationError() { throw CLIError(problem) }
        print("rft diagnose: \(resolved.loaded.path) on \(resolved.label), \(resolved.examples.count) inputs × \(mode == .exact ? "all completions" : "\(samples) samples") at temperature \(temperature)")
        let start = Date()
        let interactive = isatty(fileno(stdout)) != 0
        var lastPrint = Date.distantPast
        let report = try monitor.measure(model: resolved.loaded.model, tokenizer: tokenizer, examples: resolved.examples, reward: reward) { done, total in
            let now = Date()
            guard done == total || now.timeIntervalSince(lastPrint) > (interactive ? 0.2 : 5) else { return }
            lastPrint = now
            let elapsed = now.timeIntervalSince(start)
            let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : 0
            let line = String(format: "%d/%d inputs  %.0f inputs/s  ETA %.0fs", done, total, Double(done) / max(elapsed, 1e-9), eta)
            if interactive { print("\r" + line, terminator: done == total ? "\n" : ""); fflush(stdout) } else { print(line) }
        }
        try writeReport(report, to: run.path + "/inputs")
        try report.writeSummary(to: run.path + "/summary.json")
        try report.stdHistogramSVG().write(toFile: run.path + "/std-histogram.svg", atomically: true, encoding: .utf8)
        try report.meanStdScatterSVG().write(toFile: run.path + "/mean-vs-std.svg", atomically: true, encoding: .utf8)
        let s = report.summary
        printSummary(s, label: "summary")
        if let f = s.meanRewardFlagged, let u = s.meanRewardUnflagged {
            print(String(format: "mean reward: flagged %.3f, not flagged %.3f", f, u))
        }
        if let f = s.meanGradNormFlagged, let u = s.meanGradNormUnflagged {
            print(String(format: "mean ‖∇V‖ estimate: flagged %.3g, not flagged %.3g", f, u))
        }
        let stuck = report.rows.filter(PipelinePhase.isStuck).count
        print(recommendation(flagged: s.flaggedShare, stuck: stuck, total: report.rows.count, threshold: s.threshold,
                             hasReferences: resolved.examples.allSatisfy { $0.reference != nil }))
        print("wrote \(run.path)/{inputs.jsonl, inputs.csv, summary.json, std-histogram.svg, mean-vs-std.svg} in \(String(format: "%.1f", Date().timeIntervalSince(start)))s")
    }

    /// The plain-language advice for a diagnosis.
    private func recommendation(flagged: Double, stuck: Int, total: Int, threshold: Double, hasReferences: Bool) -> String {
        let stuckShare = Double(stuck) / Double(max(1, total))
        guard stuck > 0 else {
            return String(format: "%.0f%% of inputs have reward std < %g, none of them with a low reward: RFT has a gradient wherever there is something to learn.", 100 * flagged, threshold)
        }
        let advice = hasReferences ? "run `rft train --sft-warmup 1%` (a short SFT phase on a small subset gives them the probability RFT needs; Razin et al., ICLR 2024; `--sft-strategy lowest-std` aims it at the flagged inputs)"
                                   : "add reference completions so a short SFT warm-up can free them (`rft train --sft-warmup 1%`)"
        return String(format: "%.0f%% of inputs have reward std < %g; %.0f%% (%d) are stuck with a low mean reward — RFT will not move them; %@.",
                      100 * flagged, threshold, 100 * stuckShare, stuck, advice)
    }
}
