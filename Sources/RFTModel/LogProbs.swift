import RFTTensor

extension GPT {
    /// Teacher-forced log π(completion token | prompt, earlier completion tokens) for every
    /// completion token, completions concatenated in order: the tensor policy-gradient, PPO and
    /// KL losses differentiate.  One forward pass over the packed batch of prompt + completion
    /// without its last token (only a target), where consecutive pairs with the same prompt
    /// share one copy of it (see `AttentionLayout`); each prompt must be
    /// non-empty and fit the context, and each pair fit it plus one token — as the `Sampler`
    /// guarantees, which may sample one token from the last position of a full context.
    /// → (Σ completion lengths), recorded for autograd unless inside `withoutGradients`.
    public func completionLogProbs(prompts: [[Int]], completions: [[Int]]) -> Tensor {
        completionTokenStatistics(prompts: prompts, completions: completions, entropy: false).logProbs
    }

    /// `completionLogProbs` plus the entropy −Σ_v π(v|·)·log π(v|·) (nats) of the policy's
    /// next-token distribution at every completion token, from the same forward pass and the
    /// same log-softmax (no second pass over the vocabulary's log-partition).
    /// → logProbs (Σ |c|) and entropy (Σ |c|), both recorded for autograd unless inside
    /// `withoutGradients` (the entropy is differentiable, for an entropy bonus).
    public func completionLogProbsAndEntropy(prompts: [[Int]], completions: [[Int]]) -> (logProbs: Tensor, entropy: Tensor) {
        let r = completionTokenStatistics(prompts: prompts, completions: completions, entropy: true)
        return (r.logProbs, r.entropy!)
    }

    /// `completionLogProbsAndEntropy` plus a critic's value V(s_t) = w·ln_f(h_t) + b at every
    /// completion token's state (the row that predicts it: the prompt and the completion before
    /// it), from the same forward pass: PPO's value head on the policy's residual stream.
    /// `valueHead` is a Linear(width → 1). → logProbs, entropy and values, each (Σ |c|), recorded
    /// for autograd unless inside `withoutGradients` (the values' gradient reaches the backbone).
    public func completionLogProbsEntropyAndValues(prompts: [[Int]], completions: [[Int]], valueHead: Linear)
        -> (logProbs: Tensor, entropy: Tensor, values: Tensor)
    {
        precondition(valueHead.weight.shape == [1, config.width], "completionValues: the value head must be Linear(\(config.width) → 1)")
        let r = completionTokenStatistics(prompts: prompts, completions: completions, entropy: true, valueHead: valueHead)
        return (r.logProbs, r.entropy!, r.values!)
    }

    /// The shared body: packs the batch (consecutive completions of an identical prompt share
    /// one copy of it, as GRPO's K completions do; no padding), runs the model once, and reads
    /// log π (and H, and the value head's V) at the rows that predict completion tokens only.
    private func completionTokenStatistics(prompts: [[Int]], completions: [[Int]], entropy: Bool, valueHead: Linear? = nil)
        -> (logProbs: Tensor, entropy: Tensor?, values: Tensor?)
    {
        precondition(prompts.count == completions.count && !prompts.isEmpty, "completionLogProbs: \(prompts.count) prompts, \(completions.count) completions")
        precondition(zip(prompts, completions).allSatisfy { !$0.isEmpty && $0.count + max(0, $1.count - 1) <= config.contextLength },
                     "completionLogProbs: empty prompt or sequence longer than the context \(config.contextLength) + 1")
        // inputs: each distinct prompt once, then every completion token but the last (only a target)
        let packed = PackedSequences(prompts: prompts, continuations: completions.map { Array($0.dropLast()) })
        var picks: [Int] = [], targets: [Int] = []
        for (i, c) in completions.enumerated() {
            // completion token k is predicted by the prompt's last row (k = 0) or by the continuation's row k − 1
            for (k, token) in c.enumerated() { picks.append(k == 0 ? packed.promptEnds[i] : packed.starts[i] + k - 1); targets.append(token) }
        }
        let stream = residualStream(tokens: packed.tokens, layout: packed.layout)  // (N, C)
        let logits = self.logits(of: stream, rows: picks)                                   // (Σ |c|, V)
        let r = tokenLogProbsAndEntropy(logits, rows: Array(picks.indices), tokens: targets, entropy: entropy)  // (Σ |c|) each
        let values = valueHead.map { head in
            let picked = embedding(stream, indices: picks, shape: [picks.count])             // (Σ |c|, C)
            return head(lnF(picked)).reshaped([picks.count])                                 // (Σ |c|)
        }
        return (r.logProbs, r.entropy, values)
    }
}

/// A batch of (prompt, continuation) pairs packed into one sequence of rows for
/// `GPT.residualStream`: each run of consecutive pairs with the same prompt shares one copy of
/// it (GRPO's K completions, a preference pair's chosen and rejected), each continuation
/// attending to its prompt and itself only; no padding.
public struct PackedSequences: Sendable {
    /// The rows' token ids.
    public var tokens: [Int]
    /// Who attends to whom, and the positions.
    public var layout: AttentionLayout
    /// Per pair: the row of its prompt's last token.
    public var promptEnds: [Int]
    /// Per pair: the row of its continuation's first token (where it would be, when empty).
    public var starts: [Int]

    /// Packs `prompts[i]` + `continuations[i]` for every i; every prompt non-empty.
    public init(prompts: [[Int]], continuations: [[Int]]) {
        precondition(prompts.count == continuations.count && prompts.allSatisfy { !$0.isEmpty }, "PackedSequences: \(prompts.count) prompts, \(continuations.count) continuations, each prompt non-empty")
        var tokens: [Int] = [], groups: [AttentionLayout.Group] = [], promptEnds: [Int] = [], starts: [Int] = []
        var i = 0
        while i < prompts.count {
            let prompt = prompts[i], start = tokens.count
            tokens += prompt
            var branches: [Range<Int>] = []
            while i < prompts.count && prompts[i] == prompt {
                let first = tokens.count
                tokens += continuations[i]
                branches.append(first..<tokens.count)
                promptEnds.append(start + prompt.count - 1)
                starts.append(first)
                i += 1
            }
            groups.append(AttentionLayout.Group(prompt: start..<(start + prompt.count), branches: branches))
        }
        self.tokens = tokens
        layout = AttentionLayout(groups: groups)
        self.promptEnds = promptEnds
        self.starts = starts
    }
}
