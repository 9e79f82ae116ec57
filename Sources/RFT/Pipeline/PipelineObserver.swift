import Foundation

/// What a running pipeline tells the outside, event by event; every method has an empty
/// default, so an observer implements what it shows. `ConsoleReporter` prints them.
public protocol PipelineObserver: AnyObject {
    /// A stage starts (or resumes); `detail` says on what.
    func stageStarted(_ stage: PipelineStage, detail: String)
    /// A diagnosis has measured `done` of `total` inputs.
    func diagnosing(_ stage: PipelineStage, done: Int, total: Int)
    /// A diagnosis is finished, with the held-out greedy accuracy when there are held-out inputs.
    func diagnosed(_ stage: PipelineStage, report: RewardStdReport, greedyAccuracy: Double?)
    /// A trainer took a step; `loss` is the mean since the last report when `logged`.
    func stepped(_ stage: PipelineStage, metrics: any TrainerMetrics, maxSteps: Int, meanLoss: Double?)
    /// An evaluation ran after `step`.
    func evaluated(_ stage: PipelineStage, step: Int, metrics: [String: Double])
    /// A checkpoint was written.
    func saved(_ path: String)
    /// The run resumed from a checkpoint.
    func resumed(from path: String, stage: PipelineStage?, position: Int)
    /// Anything else worth a line.
    func note(_ text: String)
}

extension PipelineObserver {
    /// Nothing.
    public func stageStarted(_ stage: PipelineStage, detail: String) {}
    /// Nothing.
    public func diagnosing(_ stage: PipelineStage, done: Int, total: Int) {}
    /// Nothing.
    public func diagnosed(_ stage: PipelineStage, report: RewardStdReport, greedyAccuracy: Double?) {}
    /// Nothing.
    public func stepped(_ stage: PipelineStage, metrics: any TrainerMetrics, maxSteps: Int, meanLoss: Double?) {}
    /// Nothing.
    public func evaluated(_ stage: PipelineStage, step: Int, metrics: [String: Double]) {}
    /// Nothing.
    public func saved(_ path: String) {}
    /// Nothing.
    public func resumed(from path: String, stage: PipelineStage?, position: Int) {}
    /// Nothing.
    public func note(_ text: String) {}
}

/// Prints a pipeline's progress: a line per stage, diagnosis progress (in place on a
/// terminal), nanoGPT-style step lines every `logging_steps`, summaries, checkpoints.
public final class ConsoleReporter: PipelineObserver {
    private let interactive = isatty(fileno(stdout)) != 0
    private var lastProgress = Date.distantPast
    private let started = Date()

    /// A reporter on standard output.
    public init() {}

    /// `stage: detail`.
    public func stageStarted(_ stage: PipelineStage, detail: String) { print("\(stage.label): \(detail)") }

    /// `k/n inputs  x inputs/s` (at most every 0.2 s on a terminal, 5 s in a log).
    public func diagnosing(_ stage: PipelineStage, done: Int, total: Int) {
        let now = Date()
        guard done == total || now.timeIntervalSince(lastProgress) > (interactive ? 0.2 : 5) else { return }
        lastProgress = now
        let line = "  \(done)/\(total) inputs"
        if interactive { print("\r" + line, terminator: done == total ? "\n" : ""); fflush(stdout) } else { print(line) }
    }

    /// The summary line of a diagnosis.
    public func diagnosed(_ stage: PipelineStage, report: RewardStdReport, greedyAccuracy: Double?) {
        print(Self.summaryLine(report.summary, label: stage.label) + (greedyAccuracy.map { String(format: ", greedy accuracy %.3f", $0) } ?? ""))
    }

    /// A progress line with TRL's metric names.
    public func stepped(_ stage: PipelineStage, metrics: any TrainerMetrics, maxSteps: Int, meanLoss: Double?) {
        guard let loss = meanLoss else { return }
        switch metrics {
        case let m as GRPOStepMetrics:
            let total = m.generationSeconds + m.scoringSeconds + m.updateSeconds
            print(String(format: "rft step %3d/%d  reward %.3f  reward_std %.3f  frac_reward_zero_std %.2f  frac_stuck %.2f  kl %.4f  entropy %.3f  len %.1f  grad_norm %.3f  %.0f tok/s  %.2fs (gen %.0f%%)",
                         m.step, maxSteps, m.reward, m.rewardStd, m.fracRewardZeroStd, m.fracStuck, m.kl, m.entropy,
                         m.completionLength, m.gradNorm, m.tokensPerSecond, total, 100 * m.generationSeconds / max(total, 1e-9)))
        case let m as SFTStepMetrics:
            print(String(format: "sft step %4d/%d  loss %.4f  grad_norm %.3f  lr %.2e  %.0f tok/s", m.step, maxSteps, loss, m.gradNorm,
                         m.learningRate, m.tokensPerSecond))
        case let m as RewardStepMetrics:
            print(String(format: "reward-model step %4d/%d  loss %.4f  accuracy %.3f  margin %.3f  mean_reward %.3f  grad_norm %.3f  lr %.2e  %.0f tok/s",
                         m.step, maxSteps, loss, m.accuracy, m.margin, m.meanReward, m.gradNorm, m.learningRate, m.tokensPerSecond))
        default:
            print("step \(metrics.step)/\(maxSteps)  loss \(loss)")
        }
    }

    /// `step N eval: key value …`.
    public func evaluated(_ stage: PipelineStage, step: Int, metrics: [String: Double]) {
        print("step \(step) eval: " + metrics.sorted { $0.key < $1.key }.map { String(format: "%@ %.4f", $0.key, $0.value) }.joined(separator: "  "))
    }

    /// `saved PATH`.
    public func saved(_ path: String) { print("saved \(path)") }

    /// `resuming from PATH (stage, position N)`.
    public func resumed(from path: String, stage: PipelineStage?, position: Int) {
        print("resuming from \(path) (\(stage?.label ?? "done"), position \(position))")
    }

    /// The text as a line.
    public func note(_ text: String) { print(text) }

    /// One line of summary of a diagnosis.
    public static func summaryLine(_ s: RewardStdSummary, label: String) -> String {
        String(format: "%@: reward %.3f, %d of %d inputs flagged (%.1f%%), %d stuck (%.1f%%), %d solved; std p10/p50/p90 %.3f/%.3f/%.3f",
               label, s.reward ?? 0, s.numFlagged, s.numInputs, 100 * s.fracFlagged, s.numStuck, 100 * s.fracStuck, s.numSolved,
               s.stdP10, s.stdP50, s.stdP90)
    }
}
