// `rft-bench rft-step tiny`: one end-to-end GRPO step of PolicyGradientTrainer — sample, score,
// advantages, update — on the same work as benchmarks/peers/trl_grpo_step.py (TRL's GRPOTrainer).
import Foundation
import RFT
import RFTModel
import RFTTensor

/// The model shapes `rft-step` knows (the `tiny` GPT of train-step; vocabulary 65 = 5 specials + 60 characters).
let rftStepConfigs: [String: GPTConfig] = [
    "tiny": GPTConfig(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128),
]

/// The peer's tokenizer: rft's specials and the 60 ASCII characters '!'…'\' (ids 5…64), digits and '+' among them.
func rftStepTokenizer() -> Tokenizer {
    Tokenizer(characters: (33..<93).map { Character(Unicode.Scalar(UInt8($0))) })
}

/// GRPO steps of 8 prompts × 8 generations, ≤ 8 new tokens, temperature 1, on a random-weight
/// GPT with addition prompts (`a+b`, a of 2 digits, b of 1–2) and an exact-match reward.
/// Loss: PPO-clip (ε 0.2, one iteration so the ratio is 1) with token-mean aggregation, β 0, no
/// dynamic sampling (zero-std groups are trained on): TRL's `loss_type="dapo"` defaults.
/// Prints one JSON line with the median step time and the medians of its generation, scoring
/// and update parts.
func rftStepBench(_ name: String, steps: Int?, warmup: Int?) {
    guard let modelConfig = rftStepConfigs[name] else {
        FileHandle.standardError.write("unknown config \(name); one of \(rftStepConfigs.keys.sorted())\n".data(using: .utf8)!)
        exit(2)
    }
    let tokenizer = rftStepTokenizer()
    precondition(tokenizer.vocabularySize == modelConfig.vocabularySize, "rft-step: tokenizer and model vocabularies differ")
    let model = GPT(modelConfig, seed: 1)
    let task = AdditionTask(trainLengths: 2...2, testLengths: 2...2)
    var config = GRPOConfig()
    config.numGenerations = 8
    config.training.perDeviceTrainBatchSize = 8 * 8  // 8 prompts
    config.maxCompletionLength = 8
    config.temperature = 1
    config.training.learningRate = 1e-4
    config.training.weightDecay = 0
    config.training.maxGradNorm = 1
    config.numIterations = 1
    config.advantageEstimator = .grpo
    config.loss = PolicyLossConfig(epsilon: 0.2, beta: 0, lossType: .bnpo)  // TRL's token-mean loss, as the peer
    config.dynamicSampling = false
    config.training.seed = 0
    let trainer: GRPOTrainer
    do {
        trainer = try GRPOTrainer(model: model, tokenizer: tokenizer, config: config, reward: TaskVerifierReward(task: task, kind: .exactMatch),
                                  source: .task(task, lengths: 2...2))
    } catch {
        FileHandle.standardError.write("rft-step: \(error)\n".data(using: .utf8)!)
        exit(1)
    }

    let (warmupSteps, timedSteps) = (warmup ?? 3, steps ?? 20)
    var times: [Double] = [], generation: [Double] = [], scoring: [Double] = [], update: [Double] = []
    var rewards: [Double] = [], lengths: [Double] = []
    for i in 0..<(warmupSteps + timedSteps) {
        let t0 = now()
        let metrics: GRPOStepMetrics
        do {
            metrics = try trainer.step()
        } catch {
            FileHandle.standardError.write("rft-step: step \(i + 1): \(error)\n".data(using: .utf8)!)
            exit(1)
        }
        let dt = now() - t0
        guard i >= warmupSteps else { continue }
        times.append(dt)
        generation.append(metrics.generationSeconds)
        scoring.append(metrics.scoringSeconds)
        update.append(metrics.updateSeconds)
        rewards.append(metrics.reward)
        lengths.append(metrics.completionLength)
    }
    printJSON([
        "suite": "rft-step", "config": name, "median_s": median(times), "gen_s": median(generation),
        "score_s": median(scoring), "update_s": median(update), "steps": timedSteps, "warmup": warmupSteps,
        "times_s": times.map { ($0 * 1e5).rounded() / 1e5 },
        "reward": rewards.reduce(0, +) / Double(max(1, rewards.count)),
        "completion_length": lengths.reduce(0, +) / Double(max(1, lengths.count)),
        "peak_rss_mb": peakRSSMegabytes(), "threads": BLAS.threads,
    ])
}
