import Foundation
import RFT
import RFTModel

// The data, defined in code: "a+b=" over single digits; the reference is the sum.
func example(using g: inout some RandomNumberGenerator) -> TaskExample {
    let a = Int.random(in: 0...9, using: &g), b = Int.random(in: 0...9, using: &g)
    return TaskExample(prompt: "\(a)+\(b)=", reference: String(a + b), length: 1)
}

// The reward: 1 for the sum, partial credit for a number near it, 0 for anything else.
let reward = ClosureReward { _, completion, example in
    guard let guess = Int(completion), let answer = Int(example.reference ?? "") else { return 0 }
    return max(0, 1 - Double(abs(guess - answer)) / 10)
}

// A tiny GPT from scratch over the task's characters.
let tokenizer = Tokenizer(characters: "0123456789+=")
let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 10, layers: 2, heads: 2, width: 32), seed: 1)

var config = GRPOConfig()
config.promptsPerStep = 16
config.numGenerations = 8
config.maxCompletionLength = 3
config.learningRate = 1e-2
let trainer = PolicyGradientTrainer(model: model, tokenizer: tokenizer, config: config, reward: reward) { g, n in
    (0..<n).map { _ in example(using: &g) }
}
for _ in 0..<60 {
    let m = try trainer.step()
    print(String(format: "step %2d  reward %.3f  reward_std %.3f  entropy %.3f", m.step, m.reward, m.rewardStd, m.entropy))
}
