import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// rft's trainers on a real instruct model: SmolLM2-135M-Instruct's GGUF (scripts/fetch-models).
/// Skipped, saying why, when the file is not in the cache.
@Suite(.enabled(if: ModelCache.has(ModelCache.smolLM2), "skipped: \(ModelCache.smolLM2) missing (run scripts/fetch-models)"))
struct RealModelTests {
    /// A fresh copy of the model (each test trains its own).
    static func load() throws -> PretrainedModel { try PretrainedModel(path: ModelCache.smolLM2) }

    /// Four question/answer pairs to finetune on.
    static let examples = [("The capital of Italy is", " Rome."), ("Two plus two equals", " four."),
                           ("The color of the sky is", " blue."), ("Water freezes at zero degrees", " Celsius.")]
        .enumerated().map { TaskExample(prompt: $1.0, reference: $1.1, length: 1, id: "qa-\($0)") }

    /// Greedy answers to factual questions, with the model's own chat template (ChatML, with
    /// SmolLM2's default system message) and stopping at `<|im_end|>`, name the expected word.
    @Test func greedyChatAnswersNameTheExpectedWord() throws {
        let imported = try Self.load()
        let tokenizer = try ChatTemplateChoice.auto.apply(to: imported.tokenizer)
        let questions = [("What is the capital of France?", "Paris"), ("What is the capital of Japan?", "Tokyo"),
                         ("What is the largest ocean on Earth?", "Pacific")]
        let prompts = try questions.map { try tokenizer.encodePrompt($0.0) }
        let generations = try Sampler(model: imported.model).generate(prompts, options: .greedy(maxNewTokens: 40, stopTokens: tokenizer.stopTokens), seed: 0)
        for ((question, word), generation) in zip(questions, generations) {
            let answer = tokenizer.completionText(generation.tokens)
            print("smollm2: \(question) → \(answer.debugDescription)")
            #expect(answer.lowercased().contains(word.lowercased()), "\(question) → \(answer.debugDescription)")
            #expect(generation.finishReason == .stop, "the answer ends at the end of its turn: \(answer.debugDescription)")
        }
    }

    /// A few SFT steps on a handful of examples lower their loss.
    @Test func sftLowersTheLossOfItsExamples() throws {
        let imported = try Self.load()
        var config = SFTConfig()
        config.training.perDeviceTrainBatchSize = 4
        config.training.learningRate = 1e-4
        config.training.seed = 1
        let trainer = try SFTTrainer(model: imported.model, tokenizer: imported.tokenizer, config: config, source: .fixed(Self.examples))
        let before = try trainer.evaluationLoss(Self.examples)
        for _ in 0..<3 { _ = try trainer.step() }
        let after = try trainer.evaluationLoss(Self.examples)
        print("smollm2: SFT on 4 examples, loss \(String(format: "%.3f", before)) → \(String(format: "%.3f", after)) after 3 steps")
        #expect(after < 0.8 * before, "loss \(before) → \(after)")
    }

    /// One GRPO step runs on the real model, and the log-probs the update computes (teacher
    /// forced, packed) are the sampler's (KV cache) to 1e-4.
    @Test func aGRPOStepRunsAndItsLogProbsAreTheSamplers() throws {
        let imported = try Self.load()
        var config = GRPOConfig()
        config.numGenerations = 4
        config.training.perDeviceTrainBatchSize = 8  // 2 prompts × 4
        config.maxCompletionLength = 8
        config.training.seed = 2
        // longer answers score higher: a reward whose std is not zero, so the step moves the weights
        let reward = ClosureReward { _, completion, _ in Double(min(completion.count, 40)) / 40 }
        let trainer = try GRPOTrainer(model: imported.model, tokenizer: imported.tokenizer, config: config, reward: reward,
                                      source: .fixed(Self.examples))
        let model = imported.model
        let prompts = try Self.examples.prefix(2).map { try imported.tokenizer.encodePrompt($0.prompt) }
        let rows = prompts.flatMap { Array(repeating: $0, count: 4) }
        let options = SamplingOptions(temperature: 1, maxNewTokens: 8, stopTokens: imported.tokenizer.stopTokens)
        let generations = try Sampler(model: model).generate(rows, options: options, seed: 5)
        let lp = withoutGradients { model.completionLogProbs(prompts: rows, completions: generations.map(\.tokens)).toArray() }
        let sampled = generations.flatMap(\.logProbs)
        #expect(lp.count == sampled.count && !lp.isEmpty)
        let worst = zip(lp, sampled).map { Double(abs($0 - $1)) / max(1, Double(abs($1))) }.max() ?? .infinity
        print("smollm2: sampler vs teacher-forced log-probs, worst relative error \(String(format: "%.2e", worst)) over \(lp.count) tokens")
        #expect(worst <= 1e-4)

        let watched = Array(model.parameters().suffix(4))  // the last block's and the final norm's
        let before = watched.map { $0.toArray() }
        let metrics = try trainer.step()
        let after = watched.map { $0.toArray() }
        #expect(metrics.step == 1 && metrics.loss.isFinite && metrics.gradNorm.isFinite && metrics.gradNorm > 0, "\(metrics)")
        #expect(before != after, "the step must change the weights")
    }
}
