import RFTTensor

extension GPT {
    /// Teacher-forced log π(completion token | prompt, earlier completion tokens) for every
    /// completion token, completions concatenated in order: the tensor policy-gradient, PPO and
    /// KL losses differentiate.  One forward pass over the right-padded batch of
    /// prompt + completion without its last token (only a target); each prompt must be
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

    /// The shared body: pads the batch, runs the model once, and reads log π (and H) at the
    /// positions that predict completion tokens only.
    private func completionTokenStatistics(prompts: [[Int]], completions: [[Int]], entropy: Bool)
        -> (logProbs: Tensor, entropy: Tensor?)
    {
        precondition(prompts.count == completions.count && !prompts.isEmpty, "completionLogProbs: \(prompts.count) prompts, \(completions.count) completions")
        // inputs: the prompt and every completion token but the last
        let lengths = zip(prompts, completions).map { $0.count + max(0, $1.count - 1) }
        let t = lengths.max()!
        precondition(prompts.allSatisfy { !$0.isEmpty } && t <= config.contextLength,
                     "completionLogProbs: empty prompt or sequence longer than the context \(config.contextLength) + 1")
        let b = prompts.count
        var tokens = [Int](repeating: 0, count: b * t)
        var picks: [Int] = [], targets: [Int] = []
        for (i, (p, c)) in zip(prompts, completions).enumerated() {
            for (j, token) in (p + c.dropLast()).enumerated() { tokens[i * t + j] = token }
            // the logits at position P−1+k predict completion token k
            for (k, token) in c.enumerated() { picks.append(i * t + p.count - 1 + k); targets.append(token) }
        }
        let logits = self(tokens, batch: b, length: t)                                    // (B, T, V)
        return tokenLogProbsAndEntropy(logits, rows: picks, tokens: targets, entropy: entropy)  // (Σ |c|) each
    }
}
