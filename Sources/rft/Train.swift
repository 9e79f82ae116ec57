import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// `rft train`: reinforcement finetuning of a checkpoint on a built-in task with sampled rollouts.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reinforcement-finetune a checkpoint on a built-in task (REINFORCE, RLOO, GRPO, Dr. GRPO; vanilla or PPO-clip; KL to the start).")

    @Option(help: "Starting checkpoint (file or folder).") var model = "checkpoints/addition-base.rftckpt"
    @Option(help: "Task (default: the one the checkpoint was trained on).") var task: String?
    @Option(help: "Prompt lengths, N or A-B.") var lengths = "1-4"
    @Option(help: "Optimisation steps.") var steps = 40
    @Option(help: "Prompts per step.") var promptsPerStep = 32
    @Option(help: "Completions sampled per prompt (K).") var numGenerations = 8
    @Option(help: "Longest completion in tokens (default: the task's longest answer + EOS).") var maxCompletionLength: Int?
    @Option(help: "Rollout temperature.") var temperature: Float = 1
    @Option(help: "Top-k for rollouts (0 = off).") var topK = 0
    @Option(help: "Top-p for rollouts (1 = off).") var topP: Float = 1
    @Option(help: "AdamW learning rate.") var learningRate: Float = 5e-5
    @Option(help: "Advantage estimator: reinforce, reinforce_baseline, rloo, grpo, dr_grpo.") var advantage = "grpo"
    @Option(help: "Loss: vanilla or ppo_clip.") var loss = "vanilla"
    @Option(help: "PPO clip range ε.") var epsilon: Float = 0.2
    @Option(help: "KL coefficient β (0 = no reference model).") var beta: Float = 0
    @Option(help: "KL estimator: k1 or k3.") var kl = "k3"
    @Option(help: "Optimisation passes per batch of rollouts.") var numIterations = 1
    @Option(help: "Reward: exact-match or partial-credit.") var reward = "exact-match"
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Option(help: "Output folder for metrics.jsonl and the final checkpoint (default: runs/train-<time>).") var output: String?
    @Option(help: "Threads.") var threads = 2

    func run() throws {
        BLAS.setThreads(threads)
        let loaded = try LoadedModel(path: model)
        guard let taskName = task ?? loaded.taskName else { throw CLIError("the checkpoint names no task; pass --task") }
        let task = try TaskRegistry.task(named: taskName)
        let range = try parseLengths(lengths)
        guard task.validLengths.contains(range.lowerBound), task.validLengths.contains(range.upperBound) else {
            throw TaskError.invalidLengths(task: taskName, lengths: range, valid: task.validLengths)
        }
        var config = GRPOConfig()
        config.promptsPerStep = promptsPerStep
        config.numGenerations = numGenerations
        config.maxCompletionLength = maxCompletionLength ?? task.maxReferenceLength(range.upperBound) + 1
        config.temperature = temperature
        config.topK = topK
        config.topP = topP
        config.learningRate = learningRate
        config.numIterations = numIterations
        config.seed = seed
        guard let estimator = AdvantageEstimator(rawValue: advantage) else { throw CLIError("--advantage \(advantage): one of \(AdvantageEstimator.allCases.map(\.rawValue))") }
        guard let kind = PolicyLossKind(rawValue: loss) else { throw CLIError("--loss \(loss): one of \(PolicyLossKind.allCases.map(\.rawValue))") }
        guard let klEstimator = KLEstimator(rawValue: kl) else { throw CLIError("--kl \(kl): one of k1, k3") }
        guard let rewardKind = TaskReward(rawValue: reward) else { throw CLIError("--reward \(reward): one of \(TaskReward.allCases.map(\.rawValue))") }
        config.advantageEstimator = estimator
        config.loss = PolicyLossConfig(kind: kind, epsilon: epsilon, beta: beta, klEstimator: klEstimator)

        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let out = output ?? "runs/train-\(stamp)"
        let metricsPath = out + "/metrics.jsonl"
        guard !FileManager.default.fileExists(atPath: metricsPath) else {
            throw CLIError("\(metricsPath) already exists; choose another --output")
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: metricsPath, contents: nil)
        guard let metricsFile = FileHandle(forWritingAtPath: metricsPath) else { throw CLIError("cannot write \(metricsPath)") }
        defer { try? metricsFile.close() }

        let gpt = loaded.model, tokenizer = loaded.tokenizer
        print("rft train: \(loaded.path) on \(taskName) lengths \(range.lowerBound)-\(range.upperBound), \(estimator.rawValue) + \(kind.rawValue), K=\(numGenerations), \(promptsPerStep) prompts/step, lr \(learningRate), β \(beta)")
        let before = try TaskEvaluation.evaluate(model: gpt, tokenizer: tokenizer, task: task, lengths: range, examplesPerLength: 100, seed: 1234)
        printAccuracy(before, label: "before (greedy)")
        let trainer = PolicyGradientTrainer(model: gpt, tokenizer: tokenizer, config: config,
                                            reward: TaskVerifierReward(task: task, kind: rewardKind)) { g, n in
            (0..<n).map { _ in task.example(lengths: range, using: &g) }
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = .sortedKeys
        for _ in 0..<steps {
            let m = try trainer.step()
            metricsFile.write(try encoder.encode(m) + Data("\n".utf8))
            let total = m.generationSeconds + m.scoringSeconds + m.updateSeconds
            print(String(format: "step %3d/%d  reward %.3f  reward_std %.3f  frac_reward_zero_std %.2f  kl %.4f  len %.1f  grad_norm %.3f  %.2fs (gen %.0f%%)",
                         m.step, steps, m.reward, m.rewardStd, m.fracRewardZeroStd, m.kl, m.completionLength, m.gradNorm,
                         total, 100 * m.generationSeconds / max(total, 1e-9)))
        }
        let after = try TaskEvaluation.evaluate(model: gpt, tokenizer: tokenizer, task: task, lengths: range, examplesPerLength: 100, seed: 1234)
        printAccuracy(after, label: "after (greedy)")
        let checkpoint = Checkpoint.capture(model: gpt, optimizer: trainer.optimizer, tokenizer: try JSONValue(encoding: tokenizer),
                                            metadata: ["task": taskName, "trainLengths": "\(range.lowerBound)-\(range.upperBound)"])
        let path = try CheckpointManager(directory: out).save(checkpoint, step: steps)
        print("metrics: \(metricsPath)\ncheckpoint: \(path)")
    }
}
