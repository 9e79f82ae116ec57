// `rft-bench rft-step tiny|smollm2`: one end-to-end GRPO step of PolicyGradientTrainer — sample, score,
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

/// `a+b` chat prompts for the `smollm2` config, the same list as the peer's `chat_addition_prompts`:
/// `What is a+b? Answer with the number only.` with a = 10 + (37i + 13) mod 90 and
/// b = 10 + (59i + 29) mod 90, i = 0…63 (two-digit operands, no randomness to match across languages).
func rftStepChatPrompts() -> [TaskExample] {
    (0..<64).map { i in
        let a = 10 + (37 * i + 13) % 90, b = 10 + (59 * i + 29) % 90
        return TaskExample(prompt: "What is \(a)+\(b)? Answer with the number only.", reference: String(a + b), length: 2, id: "chat-\(i)")
    }
}

/// The work of one `rft-step` config: model, tokenizer, prompts, reward, and the settings that
/// differ between configs (the rest is shared, below).
struct RFTStepWork {
    var model: GPT
    var tokenizer: Tokenizer
    var source: ExampleSource
    var reward: any RewardFunction
    var maxCompletionLength: Int
    var learningRate: Float
    var steps: (warmup: Int, timed: Int)

    /// `tiny`: a random-weight GPT on `a+b` (a of 2 digits, b of 1–2), exact match, ≤ 8 new tokens.
    /// `smollm2`: SmolLM2-135M-Instruct's GGUF (scripts/fetch-models) with its ChatML template,
    /// `rftStepChatPrompts`, number-match, ≤ 64 new tokens, stopping at `<|im_end|>`.
    init(_ name: String) throws {
        switch name {
        case "tiny":
            tokenizer = rftStepTokenizer()
            model = GPT(rftStepConfigs["tiny"]!, seed: 1)
            precondition(tokenizer.vocabularySize == model.config.vocabularySize, "rft-step: tokenizer and model vocabularies differ")
            let task = AdditionTask(trainLengths: 2...2, testLengths: 2...2)
            source = .task(task, lengths: 2...2)
            reward = TaskVerifierReward(task: task, kind: .exactMatch)
            (maxCompletionLength, learningRate, steps) = (8, 1e-4, (3, 20))
        case "smollm2":
            guard ModelCache.has(ModelCache.smolLM2) else {
                throw ConfigError.invalid(key: "config", reason: "\(ModelCache.smolLM2) missing: run scripts/fetch-models")
            }
            let imported = try PretrainedModel(path: ModelCache.smolLM2)
            model = imported.model
            tokenizer = try ChatTemplateChoice.auto.apply(to: imported.tokenizer)
            source = .fixed(rftStepChatPrompts())
            reward = NumberMatchReward(task: ChatArithmeticTask(.addition))
            (maxCompletionLength, learningRate, steps) = (64, 1e-5, (1, 4))
        default:
            throw ConfigError.invalid(key: "config", reason: "unknown rft-step config \(name); one of smollm2, tiny")
        }
    }
}

/// GRPO steps of 8 prompts × 8 generations, temperature 1, on the config's work (`RFTStepWork`).
/// Loss: PPO-clip (ε 0.2, one iteration so the ratio is 1) with token-mean aggregation, β 0, no
/// dynamic sampling (zero-std groups are trained on): TRL's `loss_type="dapo"` defaults.
/// Prints one JSON line with the median step time and the medians of its generation, scoring
/// and update parts.
func rftStepBench(_ name: String, steps: Int?, warmup: Int?) {
    let work: RFTStepWork
    do { work = try RFTStepWork(name) } catch {
        FileHandle.standardError.write("rft-step: \(error)\n".data(using: .utf8)!)
        exit(2)
    }
    var config = GRPOConfig()
    config.numGenerations = 8
    config.training.perDeviceTrainBatchSize = 8 * 8  // 8 prompts
    config.maxCompletionLength = work.maxCompletionLength
    config.temperature = 1
    config.training.learningRate = work.learningRate
    config.training.weightDecay = 0
    config.training.maxGradNorm = 1
    config.numIterations = 1
    config.advantageEstimator = .grpo
    config.loss = PolicyLossConfig(epsilon: 0.2, beta: 0, lossType: .bnpo)  // TRL's token-mean loss, as the peer
    config.dynamicSampling = false
    config.training.seed = 0
    let trainer: GRPOTrainer
    do {
        trainer = try GRPOTrainer(model: work.model, tokenizer: work.tokenizer, config: config, reward: work.reward, source: work.source)
    } catch {
        FileHandle.standardError.write("rft-step: \(error)\n".data(using: .utf8)!)
        exit(1)
    }

    let (warmupSteps, timedSteps) = (warmup ?? work.steps.warmup, steps ?? work.steps.timed)
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
        "prompt_tokens": (try? work.tokenizer.encodePrompt(rftStepChatPrompts()[0].prompt).count) ?? 0,
    ])
}
