import RFTModel
import RFTTensor

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// A completion of one prompt with its exact log-probability under the sampling distribution.
public struct EnumeratedCompletion: Equatable, Sendable {
    /// The completion's token ids (a final stop token included, as the sampler returns them).
    public var tokens: [Int]
    /// log p(y|x) = Σ_l log p(y_l | x, y_<l) under the sampling distribution (temperature, top-k, top-p).
    public var logProb: Double
}

/// Exact expectations over completions and the policy-gradient quantities of Razin et al. (ICLR 2024), for
/// models small enough to enumerate: every completion with its probability, per-completion
/// gradients ∇log p(y|x) and the expected gradient ∇V(x) = Σ_y p(y)·(r(y) − V)·∇log p(y|x).
public enum GradientEvidence {
    /// Longest completion the sampler can produce for a prompt of `promptLength` tokens: it
    /// stops at `maxNewTokens`, or when the prompt plus the completion fill the context (the
    /// last token is sampled from the logits of the last context position).
    public static func completionLengthCap(promptLength: Int, maxNewTokens: Int, contextLength: Int) -> Int {
        max(0, min(maxNewTokens, contextLength - promptLength + 1))
    }

    /// Every completion of `prompt` the sampler can produce under `options` (stop-token-ended
    /// ones, plus those cut at the length cap), with its exact log-probability: a breadth-first
    /// walk of the completion tree, one batched forward pass per depth (chunked), next-token
    /// distributions from `SamplingKernel.distribution` (the sampler's own). Tokens of
    /// probability 0 (removed by top-k/top-p) are not expanded. Throws
    /// `RewardStdMonitorError.tooManyCompletions` as soon as more than `cap` would be listed.
    public static func enumerateCompletions(model: GPT, prompt: [Int], options: SamplingOptions, cap: Int,
                                            input: String = "prompt") throws -> [EnumeratedCompletion] {
        let v = model.config.vocabularySize
        let maxLength = completionLengthCap(promptLength: prompt.count, maxNewTokens: options.maxNewTokens,
                                            contextLength: model.config.contextLength)
        guard maxLength > 0, !prompt.isEmpty else { return [EnumeratedCompletion(tokens: [], logProb: 0)] }
        let stop = Set(options.stopTokens)
        var done: [EnumeratedCompletion] = []
        var frontier = [EnumeratedCompletion(tokens: [], logProb: 0)]
        for depth in 0..<maxLength where !frontier.isEmpty {
            let t = prompt.count + depth                      // every prefix at this depth has T tokens
            let chunk = max(1, 16_384 / t)
            var next: [EnumeratedCompletion] = []
            for start in stride(from: 0, to: frontier.count, by: chunk) {
                let rows = frontier[start..<min(frontier.count, start + chunk)]
                let tokens = rows.flatMap { prompt + $0.tokens }
                let logits = withoutGradients { model(tokens, batch: rows.count, length: t) }  // (B, T, V)
                for (b, prefix) in rows.enumerated() {
                    let last = Array(UnsafeBufferPointer(start: logits.data + (b * t + t - 1) * v, count: v))
                    let p = SamplingKernel.distribution(last, options: options)
                    for token in 0..<v where p[token] > 0 {
                        let child = EnumeratedCompletion(tokens: prefix.tokens + [token], logProb: prefix.logProb + log(p[token]))
                        if stop.contains(token) || depth + 1 == maxLength { done.append(child) } else { next.append(child) }
                        if done.count + next.count > cap {
                            throw RewardStdMonitorError.tooManyCompletions(input: input, atLeast: done.count + next.count,
                                                                           cap: cap, maxLength: maxLength)
                        }
                    }
                }
            }
            frontier = next
        }
        return done
    }

    /// log p_T(y_l | x, y_<l) for every completion token, completions concatenated in order, at
    /// sampling temperature `temperature` (> 0): log-softmax(logits / T) gathered at the
    /// completion tokens. Like `GPT.completionLogProbs` (equal at T = 1) but feeds only
    /// prompt + completion minus its last token, so a completion the sampler cut at the context
    /// still fits. Recorded for autograd unless inside `withoutGradients`.
    /// → (Σ completion lengths).
    public static func completionLogProbs(model: GPT, prompts: [[Int]], completions: [[Int]], temperature: Float) -> Tensor {
        precondition(prompts.count == completions.count && !prompts.isEmpty, "completionLogProbs: \(prompts.count) prompts, \(completions.count) completions")
        let inputs = zip(prompts, completions).map { $0 + $1.dropLast() }
        let b = inputs.count, t = max(1, inputs.map(\.count).max()!)
        var tokens = [Int](repeating: 0, count: b * t)
        var picks: [Int] = [], targets: [Int] = []
        for (i, (p, c)) in zip(prompts, completions).enumerated() {
            for (j, token) in inputs[i].enumerated() { tokens[i * t + j] = token }
            // the logits at position P−1+k predict completion token k
            for (k, token) in c.enumerated() { picks.append(i * t + p.count - 1 + k); targets.append(token) }
        }
        let logits = model(tokens, batch: b, length: t)                        // (B, T, V)
        let scaled = temperature == 1 ? logits : logits * (1 / temperature)    // (B, T, V)
        return tokenLogProbsAndEntropy(scaled, rows: picks, tokens: targets, entropy: false).logProbs  // (Σ |c|)
    }

    /// The gradient of Σ_j weights[j]·log p_T(completions[j] | prompt) with respect to every
    /// parameter, accumulated into the parameters' `grad` (chunks of `chunk` completions per
    /// forward pass). Call inside `isolatingGradients`.
    public static func accumulateWeightedGradient(model: GPT, prompt: [Int], completions: [[Int]], weights: [Double],
                                                  temperature: Float, chunk: Int = 256) {
        precondition(completions.count == weights.count, "accumulateWeightedGradient: \(completions.count) completions, \(weights.count) weights")
        for start in stride(from: 0, to: completions.count, by: max(1, chunk)) {
            let range = start..<min(completions.count, start + max(1, chunk))
            let ys = range.filter { !completions[$0].isEmpty && weights[$0] != 0 }
            guard !ys.isEmpty else { continue }
            let lp = completionLogProbs(model: model, prompts: Array(repeating: prompt, count: ys.count),
                                        completions: ys.map { completions[$0] }, temperature: temperature)  // (Σ |y|)
            let perToken = ys.flatMap { Array(repeating: Float(weights[$0]), count: completions[$0].count) }
            (lp * Tensor(shape: [perToken.count], data: perToken)).sum().backward()
        }
    }

    /// ‖Σ_j weights[j]·∇log p_T(completions[j] | prompt)‖ over all parameters (the model's
    /// existing gradients are left untouched).
    public static func weightedGradientNorm(model: GPT, prompt: [Int], completions: [[Int]], weights: [Double],
                                            temperature: Float) -> Double {
        isolatingGradients(model) {
            accumulateWeightedGradient(model: model, prompt: prompt, completions: completions, weights: weights, temperature: temperature)
            return gradientNormSquared(model).squareRoot()
        }
    }

    /// ‖∇log p_T(y | prompt)‖² over all parameters for each completion y: one forward and
    /// backward pass per distinct completion (the model's existing gradients are left untouched).
    public static func gradientNormsSquared(model: GPT, prompt: [Int], completions: [[Int]], temperature: Float) -> [Double] {
        isolatingGradients(model) {
            var known: [[Int]: Double] = [:]
            return completions.map { y in
                if let n = known[y] { return n }
                guard !y.isEmpty else { return 0 }
                for p in model.parameters() { p.grad = nil }
                completionLogProbs(model: model, prompts: [prompt], completions: [y], temperature: temperature).sum().backward()
                let n = gradientNormSquared(model)
                known[y] = n
                return n
            }
        }
    }

    /// The parameters' gradients flattened in `parameters()` order (zeros where none).
    public static func flatGradient(_ model: GPT) -> [Float] {
        model.parameters().flatMap { $0.grad?.toArray() ?? [Float](repeating: 0, count: $0.count) }
    }

    /// Σ over all parameters of grad² (Double accumulation; absent gradients count as 0).
    public static func gradientNormSquared(_ model: GPT) -> Double {
        var total = 0.0
        for p in model.parameters() {
            guard let g = p.grad else { continue }
            for i in 0..<g.count { let x = Double(g.data[i]); total += x * x }
        }
        return total
    }

    /// Runs `body` with every parameter requiring gradients and starting from no gradient, then
    /// puts back the gradients and `requiresGrad` flags the parameters had before.
    public static func isolatingGradients<R>(_ model: GPT, _ body: () throws -> R) rethrows -> R {
        let parameters = model.parameters()
        let saved = parameters.map { ($0.grad, $0.requiresGrad) }
        for p in parameters { p.grad = nil; p.requiresGrad = true }
        defer { for (p, s) in zip(parameters, saved) { p.grad = s.0; p.requiresGrad = s.1 } }
        return try body()
    }
}
