import Foundation
import RFT
import RFTModel

// The data, defined in code: "a+b=" over single digits; the reference is the sum.
@Sendable func examples(using g: inout some RandomNumberGenerator, count: Int) -> [TaskExample] {
    (0..<count).map { _ in
        let a = Int.random(in: 0...9, using: &g), b = Int.random(in: 0...9, using: &g)
        return TaskExample(prompt: "\(a)+\(b)=", reference: String(a + b), length: 1)
    }
}

// The reward: 1 for the sum, partial credit for a number near it, 0 for anything else.
let reward = ClosureReward { _, completion, example in
    guard let guess = Int(completion), let answer = Int(example.reference ?? "") else { return 0 }
    return max(0, 1 - Double(abs(guess - answer)) / 10)
}

// A tiny GPT from scratch over the task's characters.
let tokenizer = Tokenizer(characters: "0123456789+=")
let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 10, layers: 2, heads: 2, width: 32), seed: 1)

// TRL's names: 16 prompts × 8 completions a step, completions of up to 3 tokens.
var config = GRPOConfig()
config.numGenerations = 8
config.training.perDeviceTrainBatchSize = 16 * 8
config.maxCompletionLength = 3
config.training.learningRate = 1e-2
let trainer = try GRPOTrainer(model: model, tokenizer: tokenizer, config: config, reward: reward,
                              source: .generated { g, n in examples(using: &g, count: n) })
for _ in 0..<60 {
    let m = try trainer.step()
    print(String(format: "step %2d  reward %.3f  reward_std %.3f  entropy %.3f", m.step, m.reward, m.rewardStd, m.entropy))
}
