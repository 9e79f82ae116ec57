import RFTTensor

extension GPT {
    /// Teacher-forced log π(completion token | prompt, earlier completion tokens) for every
    /// completion token, completions concatenated in order: the tensor policy-gradient, PPO and
    /// KL losses differentiate.  One forward pass over the right-padded batch of
    /// prompt + completion; each prompt must be non-empty and each pair fit the context.
    /// → (Σ completion lengths), recorded for autograd unless inside `withoutGradients`.
    public func completionLogProbs(prompts: [[Int]], completions: [[Int]]) -> Tensor {
        precondition(prompts.count == completions.count && !prompts.isEmpty, "completionLogProbs: \(prompts.count) prompts, \(completions.count) completions")
        let lengths = zip(prompts, completions).map { $0.count + $1.count }
        let t = lengths.max()!
        precondition(prompts.allSatisfy { !$0.isEmpty } && t <= config.contextLength,
                     "completionLogProbs: empty prompt or sequence longer than the context \(config.contextLength)")
        let b = prompts.count
        var tokens = [Int](repeating: 0, count: b * t), next = [Int](repeating: 0, count: b * t)
        var picks: [Int] = []
        for (i, (p, c)) in zip(prompts, completions).enumerated() {
            let seq = p + c
            for (j, token) in seq.enumerated() { tokens[i * t + j] = token }
            for j in 0..<(seq.count - 1) { next[i * t + j] = seq[j + 1] }
            // the logits at position P−1+k predict completion token k
            for k in 0..<c.count { picks.append(i * t + p.count - 1 + k) }
        }
        let logits = self(tokens, batch: b, length: t)                 // (B, T, V)
        return tokenLogProbs(logits, tokens: next).gathered(picks)     // (B, T) → (Σ |c|)
    }
}
