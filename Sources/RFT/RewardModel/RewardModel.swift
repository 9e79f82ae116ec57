import Foundation
import RFTModel
import RFTTensor

/// A learned reward: a decoder with a scalar head read at the last token of prompt +
/// completion — Hugging Face's sequence classifier with one label (`score.weight`, Linear(width →
/// 1), no bias), as TRL's RewardTrainer trains it. Its parameters are the decoder's under their
/// own names plus `score.weight`, which is how a checkpoint stores them.
public final class RewardModel: Module {
    /// The decoder (trained in place by `RewardTrainer`).
    public let model: GPT
    /// The scalar head, Linear(width → 1) without bias.
    public let head: Linear
    /// Encodes prompts and completions.
    public let tokenizer: Tokenizer

    /// The head's checkpoint name.
    public static let headName = "score.weight"

    /// A reward model on `model` with a fresh head, weight ~ N(0, 1/(width + 1)) drawn from `seed`
    /// (the value head's initialisation: rewards start near 0).
    public init(model: GPT, tokenizer: Tokenizer, seed: UInt64) {
        var g = RandomGenerator(seed: seed &+ 0x5C0E)
        self.model = model
        self.tokenizer = tokenizer
        head = Linear(model.config.width, 1, bias: false, std: 1 / Float(model.config.width + 1).squareRoot(), using: &g)
    }

    /// A reward model from a decoder and a trained head weight (1, width).
    public init(model: GPT, tokenizer: Tokenizer, headWeight: Tensor) {
        precondition(headWeight.shape == [1, model.config.width], "RewardModel: the head must be (1, \(model.config.width)), got \(headWeight.shape)")
        var g = RandomGenerator(seed: 0)
        self.model = model
        self.tokenizer = tokenizer
        head = Linear(model.config.width, 1, bias: false, std: 0, using: &g)
        head.weight.assign(headWeight)
    }

    /// Loads a reward model that `rft reward-train` wrote: a checkpoint file or a run folder (its
    /// newest valid checkpoint), which must hold `score.weight`.
    public convenience init(path: String) throws {
        let loaded = try LoadedModel(path: path)
        guard let weight = loaded.scoreHead else {
            throw CheckpointError.incompatible(path: loaded.path, reason: "it holds no reward head (\(Self.headName)): a reward model comes from rft reward-train")
        }
        self.init(model: loaded.model, tokenizer: loaded.tokenizer, headWeight: weight)
    }

    /// The decoder's children, then `score`.
    public override var children: [(name: String, module: Module)] { model.children + [("score", head)] }

    /// The reward r(x, y) of each prompt / completion pair: the head on ln_f of the residual
    /// stream at the pair's last token. Packed as the policy's log-probs are (consecutive pairs
    /// with the same prompt share one copy of it: a preference pair's chosen and rejected, a
    /// group's completions); every prompt non-empty, every completion at least one token, each
    /// pair within the context. prompts, completions: N each → (N), recorded for autograd
    /// unless inside `withoutGradients`.
    public func rewards(prompts: [[Int]], completions: [[Int]]) -> Tensor {
        precondition(prompts.count == completions.count && !prompts.isEmpty, "RewardModel.rewards: \(prompts.count) prompts, \(completions.count) completions")
        precondition(zip(prompts, completions).allSatisfy { !$0.isEmpty && !$1.isEmpty && $0.count + $1.count <= model.config.contextLength },
                     "RewardModel.rewards: an empty prompt or completion, or a pair longer than the context \(model.config.contextLength)")
        let packed = PackedSequences(prompts: prompts, continuations: completions)
        let last = zip(packed.starts, completions).map { $0 + $1.count - 1 }                     // each pair's last row
        let stream = model.residualStream(tokens: packed.tokens, layout: packed.layout)           // (T, C)
        let picked = embedding(stream, indices: last, shape: [last.count])                         // (N, C)
        return head(model.lnF(picked)).reshaped([last.count])                                      // (N)
    }

    /// The rewards of completions (texts) of prompts (examples), in batches of `batchSize` pairs,
    /// without gradients.
    public func rewards(examples: [TaskExample], completions: [String], batchSize: Int = 32) throws -> [Double] {
        precondition(examples.count == completions.count, "RewardModel.rewards: \(examples.count) examples, \(completions.count) completions")
        var prompts: [[Int]] = [], encoded: [[Int]] = []
        for (example, completion) in zip(examples, completions) {
            let p = try tokenizer.encodePrompt(example), c = try tokenizer.encodeCompletion(completion, unknown: .mapToUnknown)
            guard p.count + c.count <= model.config.contextLength else {
                throw RewardError.tooLongForRewardModel(prompt: example.prompt, tokens: p.count + c.count, context: model.config.contextLength)
            }
            prompts.append(p)
            encoded.append(c)
        }
        var out: [Double] = []
        for start in stride(from: 0, to: prompts.count, by: max(1, batchSize)) {
            let end = min(prompts.count, start + batchSize)
            out += withoutGradients { rewards(prompts: Array(prompts[start..<end]), completions: Array(encoded[start..<end])) }.toArray().map(Double.init)
        }
        return out
    }
}

/// A trained reward model as a reward function (`reward_model` in a run's config): σ(r(x, y)),
/// the Bradley–Terry probability that the completion beats one scored 0, so that its range is
/// [0, 1] like rft's other rewards and the stuck criterion's defaults apply; σ is monotone, so
/// it orders completions as r does. Scored in batches, without gradients.
public final class LearnedReward: RewardFunction {
    /// The reward model.
    public let rewardModel: RewardModel
    /// Pairs per forward pass.
    public let batchSize: Int

    /// Scores with `rewardModel`, `batchSize` pairs at a time.
    public init(_ rewardModel: RewardModel, batchSize: Int = 32) {
        self.rewardModel = rewardModel
        self.batchSize = batchSize
    }

    /// σ(r) of each completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try rewardModel.rewards(examples: examples, completions: completions, batchSize: batchSize).map { 1 / (1 + exp(-$0)) }
    }
}
