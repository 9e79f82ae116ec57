/// Losses over logits: masked, weighted cross-entropy and per-token log-probabilities.

/// How a per-token loss is reduced.
public enum Reduction: String, Codable, Sendable {
    /// Σ wᵢ·lossᵢ / Σ wᵢ (the mean over counted tokens).
    case mean
    /// Σ wᵢ·lossᵢ.
    case sum
}

/// Cross-entropy of `logits` against `targets`, a scalar.
/// logits is (N, V) (or (..., V), flattened), targets has N entries; a negative target is
/// ignored (PyTorch's ignore_index); `weights` (N, optional) scales each token's loss.
/// The softmax is recomputed in backward from the per-row log-partition (no (N, V) copy kept).
public func crossEntropy(
    _ logits: Tensor, targets: [Int], weights: [Float]? = nil, reduction: Reduction = .mean
) -> Tensor {
    let v = logits.shape.last!, n = logits.count / v
    precondition(targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows")
    precondition(weights == nil || weights!.count == n, "crossEntropy: weights count")
    precondition(targets.allSatisfy { $0 < v }, "crossEntropy: target out of range 0..<\(v)")
    var w = weights ?? [Float](repeating: 1, count: n)
    for i in 0..<n where targets[i] < 0 { w[i] = 0 }
    let total = w.reduce(0, +)
    let norm: Float = reduction == .sum ? 1 : (total > 0 ? 1 / total : 0)
    var lse = [Float](repeating: 0, count: n)
    var loss: Double = 0
    for i in 0..<n where w[i] != 0 {
        let row = logits.data + i * v
        lse[i] = logSumExpRow(v, row)
        loss += Double(w[i] * (lse[i] - row[targets[i]]))
    }
    let out = Tensor(shape: [], data: [Float(loss) * norm])
    return out.recorded(from: [logits]) { g in
        // dlogits_i += g · wᵢ · norm · (softmax_i − onehot(tᵢ))
        let gl = logits.gradBuffer(), gv = g.data[0]
        for i in 0..<n where w[i] != 0 {
            let s = gv * w[i] * norm, l = lse[i]
            let row = logits.data + i * v, dr = gl + i * v
            var j = 0
            while j + 16 <= v { store16(load16(dr + j) + s * vexp(load16(row + j) - l), dr + j); j += 16 }
            while j < v { dr[j] += s * sexp(row[j] - l); j += 1 }
            dr[targets[i]] -= s
        }
    }
}

/// log softmax(logits)[token] per row: the log-probability of each given token.
/// logits is (..., V), tokens has one entry per row → out has logits' shape without V.
public func tokenLogProbs(_ logits: Tensor, tokens: [Int]) -> Tensor {
    let v = logits.shape.last!, n = logits.count / v
    precondition(tokens.count == n, "tokenLogProbs: \(tokens.count) tokens for \(n) rows")
    precondition(tokens.allSatisfy { $0 >= 0 && $0 < v }, "tokenLogProbs: token out of range 0..<\(v)")
    let out = Tensor(uninitialized: Array(logits.shape.dropLast()))
    var lse = [Float](repeating: 0, count: n)
    for i in 0..<n {
        let row = logits.data + i * v
        lse[i] = logSumExpRow(v, row)
        out.data[i] = row[tokens[i]] - lse[i]
    }
    return out.recorded(from: [logits]) { g in
        // dlogits_i += gᵢ · (onehot(tᵢ) − softmax_i)
        let gl = logits.gradBuffer()
        for i in 0..<n {
            let s = g.data[i], l = lse[i]
            guard s != 0 else { continue }
            let row = logits.data + i * v, dr = gl + i * v
            var j = 0
            while j + 16 <= v { store16(load16(dr + j) - s * vexp(load16(row + j) - l), dr + j); j += 16 }
            while j < v { dr[j] -= s * sexp(row[j] - l); j += 1 }
            dr[tokens[i]] += s
        }
    }
}
