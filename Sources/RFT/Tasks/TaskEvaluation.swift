import RFTModel
import RFTTensor

/// Accuracy of a model on one length of a task.
public struct LengthAccuracy: Codable, Equatable, Sendable {
    /// The instance length.
    public var length: Int
    /// Instances scored.
    public var count: Int
    /// Share answered exactly (greedy decoding).
    public var accuracy: Double
    /// Mean reward: partial credit for a task (or its run's reward command), the run's reward for a dataset.
    public var reward: Double
}

/// Greedy evaluation of a model on a task, per length.
public enum TaskEvaluation {
    /// Greedy-decodes `examplesPerLength` fresh instances of each length in `lengths` (drawn
    /// from `seed`, so two calls score the same instances) and scores them: exact match, and
    /// `reward` (the task's partial credit when nil). Throws `TaskError.tokenizerLacks` when the
    /// tokenizer cannot write the task.
    public static func evaluate(model: GPT, tokenizer: Tokenizer, task: any VerifiableTask, lengths: ClosedRange<Int>,
                                examplesPerLength: Int, seed: UInt64, reward: (any RewardFunction)? = nil) throws -> [LengthAccuracy] {
        try task.checkVocabulary(of: tokenizer)
        let sampler = Sampler(model: model)
        var out: [LengthAccuracy] = []
        for length in lengths {
            var g = RandomGenerator(seed: seed &+ UInt64(length) &* 0x9E37_79B9)
            let examples = (0..<examplesPerLength).map { _ in task.example(length: length, using: &g) }
            let prompts = try examples.map { try tokenizer.encodePrompt($0) }
            let maxNew = min(task.maxCompletionLength(length), model.config.contextLength - (prompts.map(\.count).max() ?? 0))
            guard maxNew > 0 else { continue }  // longer than the context: nothing to score
            let generations = try sampler.generate(prompts, options: .greedy(maxNewTokens: maxNew, stopTokens: tokenizer.stopTokens), seed: 0)
            let texts = generations.map { tokenizer.completionText($0.tokens) }
            let exact = zip(examples, texts).reduce(0.0) { $0 + TaskReward.exactMatch.score(task: task, prompt: $1.0.prompt, completion: $1.1) }
            let partial = try reward.map { try $0.rewards(prompts: examples.map(\.prompt), completions: texts, examples: examples).reduce(0, +) }
                ?? zip(examples, texts).reduce(0.0) { $0 + TaskReward.partialCredit.score(task: task, prompt: $1.0.prompt, completion: $1.1) }
            let n = Double(max(1, examples.count))
            out.append(LengthAccuracy(length: length, count: examples.count, accuracy: exact / n, reward: partial / n))
        }
        return out
    }

    /// Greedy-decodes fixed `examples` (e.g. a JSONL dataset) and scores them per `length` field:
    /// `accuracy` is the share equal to the reference (0 without one), `reward` the mean
    /// of `reward`. Prompts longer than the context are an error of the dataset loader, not here.
    public static func evaluate(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], reward: any RewardFunction,
                                maxNewTokens: Int) throws -> [LengthAccuracy] {
        let sampler = Sampler(model: model)
        var out: [LengthAccuracy] = []
        for length in Set(examples.map(\.length)).sorted() {
            let group = examples.filter { $0.length == length }
            let prompts = try group.map { try tokenizer.encodePrompt($0) }
            let room = model.config.contextLength - (prompts.map(\.count).max() ?? 0)
            let generations = try sampler.generate(prompts, options: .greedy(maxNewTokens: max(1, min(maxNewTokens, room)), stopTokens: tokenizer.stopTokens), seed: 0)
            let texts = generations.map { tokenizer.completionText($0.tokens) }
            let rewards = try reward.rewards(prompts: group.map(\.prompt), completions: texts, examples: group)
            let exact = zip(group, texts).filter { $0.0.reference == $0.1 }.count
            let n = Double(group.count)
            out.append(LengthAccuracy(length: length, count: group.count, accuracy: Double(exact) / n,
                                      reward: rewards.reduce(0, +) / n))
        }
        return out
    }

    /// The checked reward of each example's greedy completion (at most `maxNewTokens` tokens,
    /// and no more than the context leaves), in batches of 256.
    public static func greedyRewards(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], reward: any RewardFunction,
                                     range: ClosedRange<Double>, maxNewTokens: Int) throws -> [Double] {
        let sampler = Sampler(model: model)
        var out: [Double] = []
        for start in stride(from: 0, to: examples.count, by: 256) {
            let group = Array(examples[start..<min(examples.count, start + 256)])
            let prompts = try group.map { try tokenizer.encodePrompt($0) }
            let room = model.config.contextLength - (prompts.map(\.count).max() ?? 0)
            let generations = try sampler.generate(prompts, options: .greedy(maxNewTokens: max(1, min(maxNewTokens, room)), stopTokens: tokenizer.stopTokens), seed: 0)
            let texts = generations.map { tokenizer.completionText($0.tokens) }
            out += try reward.checkedRewards(prompts: group.map(\.prompt), completions: texts, examples: group, range: range)
        }
        return out
    }
}
