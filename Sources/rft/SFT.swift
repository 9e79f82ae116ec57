import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// The SFT settings shared by `rft sft` and the warm-up phase of `rft train`.
struct SFTOptions: ParsableArguments {
    @Option(help: "Sequences per SFT step.") var sftBatchSize = 16
    @Option(help: "SFT learning rate (AdamW).") var sftLearningRate: Float = 3e-4
    @Option(help: "SFT schedule: constant or cosine (5% warm-up, decay to 10%).") var sftSchedule = "constant"

    /// The SFT configuration for a run of `steps` steps.
    func config(steps: Int, seed: UInt64) throws -> SFTConfig {
        var c = SFTConfig()
        c.batchSize = sftBatchSize
        c.learningRate = sftLearningRate
        c.seed = seed
        switch sftSchedule {
        case "constant": c.schedule = .constant
        case "cosine": c.schedule = .cosine(warmupSteps: max(1, steps / 20), totalSteps: steps, minRatio: 0.1)
        default: throw CLIError("--sft-schedule \(sftSchedule): one of constant, cosine")
        }
        guard sftBatchSize > 0, sftLearningRate > 0 else { throw CLIError("--sft-batch-size and --sft-learning-rate must be positive") }
        return c
    }
}

/// `rft sft`: supervised finetuning of a checkpoint on reference completions (prompt tokens masked).
struct SFT: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Supervised-finetune a checkpoint on the references of a task or JSONL dataset (loss on completion tokens only).")

    @OptionGroup var inputs: InputOptions
    @OptionGroup var sft: SFTOptions
    @Option(help: "Optimisation steps.") var steps = 200
    @Option(help: "Hold out this share of the inputs for evaluation loss.") var evalFraction = 0.05
    @Option(help: "Evaluate every this many steps (0 = only at the end).") var evalEvery = 50
    @Option(help: "Save a checkpoint every this many steps (and at the end).") var saveEvery = 100
    @Option(help: "Print a progress line every this many steps.") var logEvery = 10
    @Option(help: "Output folder (default: runs/sft-<time>).") var output: String?
    @Flag(help: "Continue the run in --output from its newest valid checkpoint.") var resume = false
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        guard steps > 0, saveEvery > 0, logEvery > 0, evalEvery >= 0, evalFraction >= 0, evalFraction < 1 else {
            throw ValidationError("--steps, --save-every, --log-every must be positive; --eval-every ≥ 0; --eval-fraction in [0, 1)")
        }
    }

    func run() throws {
        lineBufferedOutput()
        BLAS.setThreads(threads)
        let resolved = try inputs.resolve(requireReference: true, seed: seed)
        let run = try RunDirectory(output: output, kind: "sft", resume: resume)
        let model = resolved.loaded.model, tokenizer = resolved.loaded.tokenizer
        let evalCount = Int(Double(resolved.examples.count) * evalFraction)
        let held = Array(resolved.examples.prefix(evalCount)), train = Array(resolved.examples.dropFirst(evalCount))
        guard !train.isEmpty else { throw CLIError("no inputs left to train on after holding out \(evalCount)") }
        let trainer = SFTTrainer(model: model, tokenizer: tokenizer, config: try sft.config(steps: steps, seed: seed), source: .fixed(train))
        if resume, let latest = try run.latest() {
            try latest.checkpoint.restore(into: model, optimizer: trainer.optimizer, path: latest.path)
            guard let training = latest.checkpoint.header.training, let rng = training.dataOrder?.rng else {
                throw CLIError("\(latest.path) has no SFT training state to resume from")
            }
            trainer.state = SFTTrainerState(step: training.step, generator: rng)
            print("resuming from \(latest.path) at step \(training.step)")
        }
        let metrics = try run.openMetrics(keepingThrough: trainer.state.step)
        print("rft sft: \(resolved.loaded.path) on \(resolved.label): \(train.count) training inputs, \(held.count) held out; \(steps) steps of \(sft.sftBatchSize), lr \(sft.sftLearningRate)")
        var last: [String: Double] = [:]
        func save() throws {
            let checkpoint = Checkpoint.capture(
                model: model, optimizer: trainer.optimizer,
                training: TrainingState(step: trainer.state.step, dataOrder: DataOrderState(epoch: 0, position: trainer.state.step, rng: trainer.state.generator)),
                tokenizer: try JSONValue(encoding: tokenizer), metrics: last,
                metadata: resolved.loaded.checkpoint.header.metadata.merging(["stage": "sft"]) { $1 })
            print("saved \(try run.manager.save(checkpoint, step: trainer.state.step))")
        }
        while trainer.state.step < steps {
            let m = try trainer.step()
            try metrics.append(m)
            last["loss"] = m.loss
            if !held.isEmpty && (m.step == steps || (evalEvery > 0 && m.step % evalEvery == 0)) {
                let evalLoss = try trainer.evaluationLoss(held)
                last["eval_loss"] = evalLoss
                try metrics.append(["step": Double(m.step), "eval_loss": evalLoss])
                print(String(format: "step %5d  eval_loss %.4f", m.step, evalLoss))
            }
            if m.step % logEvery == 0 || m.step == steps {
                print(String(format: "step %5d/%d  loss %.4f  grad_norm %.3f  lr %.2e  %.0f tok/s", m.step, steps, m.loss, m.gradNorm, m.learningRate, m.tokensPerSecond))
            }
            if m.step % saveEvery == 0 || m.step == steps { try save() }
        }
        print("metrics: \(run.metricsPath)")
    }
}
