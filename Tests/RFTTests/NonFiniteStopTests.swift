import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// A NaN reward stops the step with a typed error before the weights or the optimizer change,
/// so the last checkpoint written stays the last good state.
struct NonFiniteStopTests {
    @Test func nanRewardStopsBeforeTheUpdate() throws {
        let task = try TaskRegistry.task(named: "copy")
        let tokenizer = task.tokenizer
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 10, layers: 1, heads: 2, width: 16), seed: 9)
        var config = GRPOConfig()
        config.numGenerations = 4
        config.training.perDeviceTrainBatchSize = 16  // 4 prompts
        config.maxCompletionLength = 3
        var calls = 0
        let reward = ClosureReward { _, _, _ in
            calls += 1
            return calls > 16 ? .nan : 1  // the first step is fine, the second sees a NaN
        }
        let trainer = try GRPOTrainer(model: model, tokenizer: tokenizer, config: config, reward: reward, source: .task(task, lengths: 2...2))
        _ = try trainer.step()
        let before = model.parameters().map { $0.toArray() }
        let adamSteps = trainer.optimizer.stepCount
        do {
            _ = try trainer.step()
            Issue.record("a NaN reward did not stop the step")
        } catch let error as RewardError {
            guard case .invalidReward(let value, _, _, _) = error, value.isNaN else { Issue.record("\(error)"); return }
            #expect("\(error)".contains("not a finite number"), "\(error)")
        }
        #expect(model.parameters().map { $0.toArray() } == before)
        #expect(trainer.optimizer.stepCount == adamSteps && trainer.stepCount == 1)
    }
}
