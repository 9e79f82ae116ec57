import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// The policy-gradient settings of `rft train` (names as TRL's GRPOConfig, kebab-cased).
struct RFTOptions: ParsableArguments {
    @Option(help: "RFT optimisation steps.") var steps = 40
    @Option(help: "Prompts per step.") var promptsPerStep = 32
    @Option(help: "Completions sampled per prompt (K).") var numGenerations = 8
    @Option(help: "Longest completion in tokens (default: the longest reference + EOS, or 32).") var maxCompletionLength: Int?
    @Option(help: "Rollout temperature.") var temperature: Float = 1
    @Option(help: "Top-k for rollouts (0 = off).") var topK = 0
    @Option(help: "Top-p for rollouts (1 = off).") var topP: Float = 1
    @Option(help: "AdamW learning rate.") var learningRate: Float = 5e-5
    @Option(help: "Advantage estimator: reinforce, reinforce_baseline, rloo, grpo, dr_grpo.") var advantage = "grpo"
    @Option(help: "Loss: vanilla or ppo_clip.") var loss = "vanilla"
    @Option(help: "PPO clip range ε.") var epsilon: Float = 0.2
    @Option(help: "KL coefficient β (0 = no reference model).") var beta: Float = 0
    @Option(help: "KL estimator: k1 or k3.") var kl = "k3"
    @Option(help: "Loss aggregation: token_mean or sequence_mean.") var lossAggregation = "token_mean"
    @Option(help: "Entropy bonus coefficient (0 = off).") var entropyCoefficient: Float = 0
    @Option(help: "Optimisation passes per batch of rollouts (PPO epochs).") var numIterations = 1
    @Flag(help: "Drop groups whose rewards are all equal and refill from new prompts (DAPO).") var dynamicSampling = false
    @Option(help: "Most rollout batches per step under --dynamic-sampling.") var maxSamplingTries = 4

    /// The trainer configuration.
    func config(maxCompletion: Int, seed: UInt64, lowStd: Double) throws -> GRPOConfig {
        var c = GRPOConfig()
        c.promptsPerStep = promptsPerStep
        c.numGenerations = numGenerations
        c.maxCompletionLength = maxCompletionLength ?? maxCompletion
        c.temperature = temperature
        c.topK = topK
        c.topP = topP
        c.learningRate = learningRate
        c.numIterations = numIterations
        c.dynamicSampling = dynamicSampling
        c.maxSamplingTries = maxSamplingTries
        c.lowStdThreshold = lowStd
        c.seed = seed
        guard let estimator = AdvantageEstimator(rawValue: advantage) else { throw CLIError("--advantage \(advantage): one of \(AdvantageEstimator.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard let kind = PolicyLossKind(rawValue: loss) else { throw CLIError("--loss \(loss): one of vanilla, ppo_clip") }
        guard let klEstimator = KLEstimator(rawValue: kl) else { throw CLIError("--kl \(kl): one of k1, k3") }
        guard let aggregation = LossAggregation(rawValue: lossAggregation) else { throw CLIError("--loss-aggregation \(lossAggregation): one of token_mean, sequence_mean") }
        c.advantageEstimator = estimator
        c.loss = PolicyLossConfig(kind: kind, epsilon: epsilon, beta: beta, klEstimator: klEstimator, aggregation: aggregation)
        c.loss.entropyCoefficient = entropyCoefficient
        if let problem = c.validationError() { throw CLIError(problem) }
        return c
    }
}

/// What a `rft train` run keeps between phases, so that `--resume` can finish the table.
struct PipelineRecord: Codable {
    /// The per-input diagnosis before any training.
    var initial: RewardStdReport
    /// The table rows measured so far.
    var phases: [PipelinePhase]
}

/// `rft train`: diagnose → SFT on a small subset → RFT, with a before/after table.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reinforcement-finetune a checkpoint: diagnose per-input reward std, SFT on a small subset, then RFT (GRPO, RLOO, REINFORCE, Dr. GRPO; vanilla or PPO-clip; KL; entropy bonus).",
        discussion: "With no arguments: the shipped checkpoints/addition-mislabeled.rftckpt (adds 1-3-digit numbers, but was pretrained to get every sum whose prompt starts with 7 wrong), 2000 inputs of 1-3 digits, SFT on a random 1% for 20 steps, then 40 GRPO steps, with the reward-std table before, after SFT and after RFT.")

    @OptionGroup var inputs: InputOptions
    @OptionGroup var rewardOptions: RewardOptions
    @OptionGroup var rft: RFTOptions
    @OptionGroup var sft: SFTOptions
    @Option(help: "SFT before RFT: a share of the inputs (1%, 0.01), 0/off, or auto[:level] (stop once the stuck share is below level). Default: 1% when the inputs have references, else off.")
    var sftWarmup: String?
    @Option(help: "How the SFT subset is chosen: random (the paper), lowest-std, flagged-only.") var sftStrategy = "random"
    @Option(help: "SFT steps on the subset.") var sftSteps = 20
    @Option(help: "Samples per input when measuring reward std.") var diagnoseSamples = 16
    @Option(help: "Reward std below which an input is flagged.") var stdThreshold = 0.05
    @Option(help: "Save a checkpoint every this many RFT steps (and at the end).") var saveEvery = 20
    @Option(help: "Output folder (default: runs/train-<time>).") var output: String?
    @Flag(help: "Continue the run in --output from its newest valid checkpoint.") var resume = false
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        guard rft.steps >= 0, sftSteps >= 0, saveEvery > 0, diagnoseSamples >= 2, stdThreshold >= 0 else {
            throw ValidationError("--steps and --sft-steps must be ≥ 0, --save-every > 0, --diagnose-samples ≥ 2, --std-threshold ≥ 0")
        }
    }

    func run() throws {
        let (resolved, reward, run) = try startRun(inputs, rewardOptions, kind: "train", output: output, resume: resume, seed: seed, threads: threads)
        let model = resolved.loaded.model, tokenizer = resolved.loaded.tokenizer
        let hasReferences = resolved.examples.allSatisfy { $0.reference != nil }
        let warmup = try SFTWarmup(parsing: sftWarmup ?? (hasReferences ? "1%" : "0"))
        if sftWarmup == nil && !hasReferences { print("note: the inputs have no references (\"completion\"), so no SFT warm-up runs") }
        let longest = longestReference(resolved.examples, tokenizer: tokenizer)
        guard let strategy = CurriculumStrategy(rawValue: sftStrategy) else { throw CLIError("--sft-strategy \(sftStrategy): one of random, lowest-std, flagged-only") }
        let monitor = RewardStdMonitor(numSamples: diagnoseSamples, maxCompletionLength: longest.map { $0 + 1 } ?? 32,
                                       threshold: stdThreshold, seed: seed &+ 17)
        let pipeline = Pipeline(
            model: model, tokenizer: tokenizer, inputs: resolved.examples, reward: reward, monitor: monitor,
            curriculum: Curriculum(strategy: strategy, fraction: 0.01, sftSteps: sftSteps, seed: seed),
            warmup: warmup, sftConfig: try sft.config(steps: sftSteps, seed: seed),
            rftConfig: try rft.config(maxCompletion: longest.map { $0 + 1 } ?? 32, seed: seed, lowStd: stdThreshold),
            rftSteps: rft.steps)
        print("rft train: \(resolved.loaded.path) on \(resolved.label) (\(resolved.examples.count) inputs), SFT warm-up \(describe(warmup)) (\(strategy.rawValue), \(sftSteps) steps), then \(rft.steps) RFT steps of \(rft.promptsPerStep)×\(rft.numGenerations), \(rft.advantage) + \(rft.loss), lr \(rft.learningRate)")
        print("output: \(run.path)")

        // a resumed run continues RFT from its newest checkpoint; before that, it starts over
        let recordPath = run.path + "/pipeline.json"
        var record: PipelineRecord
        var trainer: PolicyGradientTrainer
        if resume, let latest = try run.latest(), latest.checkpoint.header.metadata["stage"] == "rft",
           let data = FileManager.default.contents(atPath: recordPath) {
            record = try JSONDecoder().decode(PipelineRecord.self, from: data)
            record.phases.removeAll { $0.name == "after RFT" }  // measured again at the end
            // the weights RFT started from (after SFT): the KL reference is a copy of them
            let startPath = run.path + "/rft-start.rftckpt"
            try Checkpoint.load(from: startPath).restore(into: model, path: startPath)
            trainer = pipeline.makeRFTTrainer()
            try latest.checkpoint.restore(into: model, optimizer: trainer.optimizer, path: latest.path)
            guard let state = latest.checkpoint.header.metadata["trainerState"].flatMap({ try? JSONDecoder().decode(PolicyGradientTrainerState.self, from: Data($0.utf8)) }) else {
                throw CLIError("\(latest.path) has no trainer state to resume from")
            }
            trainer.state = state
            print("resuming RFT from \(latest.path) at step \(state.stepCount)")
        } else {
            print("diagnosing \(resolved.examples.count) inputs × \(diagnoseSamples) samples…")
            let initial = try pipeline.diagnose()
            printSummary(initial.summary, label: "before")
            record = PipelineRecord(initial: initial, phases: [PipelinePhase(name: "before", report: initial, initial: initial)])
            try writeReport(initial, to: run.path + "/diagnose-before")
            if warmup != .off {
                let subset = try pipeline.sftSubset(initial)
                let stuckChosen = subset.filter { PipelinePhase.isStuck(initial.rows[$0]) }.count
                print("SFT on \(subset.count) inputs (\(stuckChosen) of them stuck) for up to \(sftSteps) steps")
                let sftLog = try run.openMetrics(named: "sft-metrics.jsonl", keepingThrough: 0)
                _ = try pipeline.runSFT(subset: subset, onStep: { m in
                    try sftLog.append(m)
                    if m.step % 5 == 0 || m.step == sftSteps { print(String(format: "sft step %3d  loss %.4f  grad_norm %.3f", m.step, m.loss, m.gradNorm)) }
                }, onCheck: { step, report in
                    print(String(format: "sft step %3d: stuck share %.3f", step, PipelinePhase(name: "", report: report, initial: initial).stuckShare))
                })
                let after = try pipeline.diagnose()
                printSummary(after.summary, label: "after SFT")
                record.phases.append(PipelinePhase(name: "after SFT", report: after, initial: initial))
            }
            try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: recordPath), options: .atomic)
            try Checkpoint.capture(model: model, tokenizer: try JSONValue(encoding: tokenizer),
                                   metadata: resolved.loaded.checkpoint.header.metadata.merging(["stage": "rft-start"]) { $1 })
                .save(to: run.path + "/rft-start.rftckpt")
            trainer = pipeline.makeRFTTrainer()
        }

        let metrics = try run.openMetrics(keepingThrough: trainer.stepCount)
        var lastSaved: String?
        func save() throws {
            let state = String(decoding: try JSONEncoder().encode(trainer.state), as: UTF8.self)
            var metadata = resolved.loaded.checkpoint.header.metadata
            metadata["stage"] = "rft"
            metadata["trainerState"] = state
            let checkpoint = Checkpoint.capture(model: model, optimizer: trainer.optimizer, training: TrainingState(step: trainer.stepCount),
                                                tokenizer: try JSONValue(encoding: tokenizer), metadata: metadata)
            lastSaved = try run.manager.save(checkpoint, step: trainer.stepCount)
        }
        do {
            while trainer.stepCount < rft.steps {
                let m = try trainer.step()
                try metrics.append(m)
                let total = m.generationSeconds + m.scoringSeconds + m.updateSeconds
                print(String(format: "step %3d/%d  reward %.3f  reward_std %.3f  frac_reward_zero_std %.2f  frac_inputs_low_std %.2f  kl %.4f  entropy %.3f  len %.1f  grad_norm %.3f  %.0f tok/s  %.2fs (gen %.0f%%)",
                             m.step, rft.steps, m.reward, m.rewardStd, m.fracRewardZeroStd, m.fracInputsLowStd, m.kl, m.entropy,
                             m.completionLength, m.gradNorm, m.tokensPerSecond, total, 100 * m.generationSeconds / max(total, 1e-9)))
                if m.step % saveEvery == 0 || m.step == rft.steps { try save() }
            }
        } catch let error as PolicyGradientError {
            throw CLIError("\(error)\n" + (lastSaved.map { "the last good checkpoint is \($0)" } ?? "no checkpoint was written in this run"))
        }
        if rft.steps == 0 { try save() }

        let final = try pipeline.diagnose()
        printSummary(final.summary, label: "after RFT")
        record.phases.append(PipelinePhase(name: "after RFT", report: final, initial: record.initial))
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: recordPath), options: .atomic)
        try writeReport(final, to: run.path + "/diagnose-after")
        let stuck = trainer.inputReport()
        try stuck.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }.joined(separator: "\n")
            .write(toFile: run.path + "/inputs-report.jsonl", atomically: true, encoding: .utf8)
        print("\nreward-std table (\(resolved.examples.count) inputs × \(diagnoseSamples) samples at temperature 1; flagged: std < \(stdThreshold); stuck: flagged with mean reward < 0.5)")
        print(PipelinePhase.table(record.phases))
        let stayed = stuck.filter { $0.stuck && $0.lastMean < 0.5 }.count
        print("\ninputs RFT sampled that had low reward std and a low reward both the first and the last time: \(stayed) of \(stuck.count) (per input: \(run.path)/inputs-report.jsonl)")
        print("metrics: \(run.metricsPath)\ncheckpoint: \(lastSaved ?? "-")")
    }

    private func describe(_ w: SFTWarmup) -> String {
        switch w {
        case .off: return "off"
        case .fraction(let f): return String(format: "%g%%", f * 100)
        case .auto(let level, _): return "auto (until stuck share < \(level))"
        }
    }
}

/// One line of summary of a diagnosis.
func printSummary(_ s: RewardStdSummary, label: String) {
    print(String(format: "%@: reward %.3f, %d of %d inputs flagged (%.1f%%), std p10/p50/p90 %.3f/%.3f/%.3f",
                 label, s.meanReward, s.flaggedCount, s.count, 100 * s.flaggedShare, s.stdP10, s.stdP50, s.stdP90))
}

/// Writes `<base>.jsonl` and `<base>.csv` for a report.
func writeReport(_ report: RewardStdReport, to base: String) throws {
    try report.writeJSONLines(to: base + ".jsonl")
    try report.writeCSV(to: base + ".csv")
}
