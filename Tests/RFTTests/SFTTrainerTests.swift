import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// Supervised finetuning: it learns, it masks the prompt, and it resumes exactly.
struct SFTTrainerTests {
    static let task = try! TaskRegistry.task(named: "reverse")
    static var tokenizer: Tokenizer { task.tokenizer }
    static let gpt = GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 16, layers: 2, heads: 2, width: 32)

    static func trainer(seed: UInt64 = 3) -> SFTTrainer {
        var c = SFTConfig()
        c.training.perDeviceTrainBatchSize = 16
        c.training.learningRate = 3e-3
        c.training.seed = seed
        return try! SFTTrainer(model: GPT(gpt, seed: 11), tokenizer: tokenizer, config: c, source: .task(task, lengths: 2...4))
    }

    @Test func aGRPOStateIsRefused() throws {
        let t = Self.trainer()
        let grpo = GRPOTrainerState(stepCount: 1, generator: RandomGenerator(seed: 1), advantages: AdvantageComputer(.grpo),
                                    tracker: RewardStdTracker())
        #expect(throws: TrainingError.wrongState(expected: "sft", got: "grpo")) { try t.restore(.grpo(grpo)) }
    }

    @Test func lossFallsOnAnAlgorithmicTask() throws {
        let t = Self.trainer()
        let held = Self.task.examples(count: 64, lengths: 2...4, seed: 77)
        let before = try t.evaluationLoss(held)
        var last: SFTStepMetrics?
        for _ in 0..<60 { last = try t.step() }
        let after = try t.evaluationLoss(held)
        #expect(after < 0.7 * before, "held-out loss \(before) → \(after)")
        #expect(last?.step == 60 && last!.numTokens > 0 && last!.loss.isFinite)
    }

    /// The prompt is only context: changing which prompt tokens would be "predicted" changes nothing,
    /// so the loss equals the mean over completion tokens computed by hand from log-probs.
    @Test func lossCoversCompletionTokensOnly() throws {
        let t = Self.trainer()
        let examples = Self.task.examples(count: 4, lengths: 3...3, seed: 5)
        let loss = try t.evaluationLoss(examples)
        let prompts = try examples.map { try Self.tokenizer.encodePrompt($0.prompt) }
        let completions = try examples.map { try Self.tokenizer.encodeCompletion($0.reference!) }
        let lp = withoutGradients { t.model.completionLogProbs(prompts: prompts, completions: completions).toArray() }
        let byHand = -lp.reduce(0) { $0 + Double($1) } / Double(lp.count)
        #expect(abs(loss - byHand) < 1e-5 * max(1, abs(byHand)), "\(loss) vs \(byHand)")
    }

    /// 3 steps, a checkpoint round trip into fresh objects, 3 more steps = 6 steps straight, bit for bit.
    @Test func resumesExactly() throws {
        let straight = Self.trainer()
        for _ in 0..<6 { _ = try straight.step() }

        let first = Self.trainer()
        for _ in 0..<3 { _ = try first.step() }
        let path = makeTemporaryDirectory("sft") + "/step-3.rftckpt"
        try Checkpoint.capture(first).save(to: path)
        let loaded = try Checkpoint.load(from: path)
        let second = Self.trainer()  // fresh weights and optimizer, replaced from the file
        try loaded.restore(into: second, path: path)
        #expect(second.stepCount == 3)
        var a: [SFTStepMetrics] = [], b: [SFTStepMetrics] = []
        for _ in 0..<3 { b.append(try second.step()) }
        let again = Self.trainer()
        for _ in 0..<6 { a.append(try again.step()) }
        #expect(a.suffix(3).map(\.loss) == b.map(\.loss))
        for ((_, x), (_, y)) in zip(straight.model.namedParameters(), second.model.namedParameters()) { #expect(bitwiseEqual(x, y)) }
    }

    @Test func examplesWithoutReferencesAreRefused() {
        let t = try! SFTTrainer(model: GPT(Self.gpt, seed: 1), tokenizer: Self.tokenizer,
                                source: .fixed([TaskExample(prompt: "ab", reference: nil, length: 2, id: "line 3")]))
        #expect(throws: TaskBatchError.missingReference("line 3")) { try t.step() }
        #expect(t.stepCount == 0)
    }
}
