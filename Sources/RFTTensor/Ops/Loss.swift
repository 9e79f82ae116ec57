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
    let lse = rowLogSumExp(logits, rows: n, where: w)
    var loss: Double = 0
    for i in 0..<n where w[i] != 0 { loss += Double(w[i] * (lse[i] - logits.data[i * v + targets[i]])) }
    let out = Tensor(shape: [], data: [Float(loss) * norm])
    return out.recorded(from: [logits]) { g in
        // dlogits_i += g · wᵢ · norm · (softmax_i − onehot(tᵢ))
        let (gl, fresh) = logits.gradBufferForOverwrite()
        let gv = g.data[0]
        parallelFor(n, grain: rowGrain(v)) { rows in
            for i in rows {
                guard w[i] != 0 else {
                    if fresh { (gl + i * v).update(repeating: 0, count: v) }
                    continue
                }
                let s = gv * w[i] * norm
                addScaledSoftmax(v, logits.data + i * v, lse[i], s, gl + i * v, overwrite: fresh)
                gl[i * v + targets[i]] -= s
            }
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
    let lse = rowLogSumExp(logits, rows: n, where: nil)
    for i in 0..<n { out.data[i] = logits.data[i * v + tokens[i]] - lse[i] }
    return out.recorded(from: [logits]) { g in
        // dlogits_i += gᵢ · (onehot(tᵢ) − softmax_i)
        let gl = logits.gradBuffer()
        parallelFor(n, grain: rowGrain(v)) { rows in
            for i in rows where g.data[i] != 0 {
                addScaledSoftmax(v, logits.data + i * v, lse[i], -g.data[i], gl + i * v)
                gl[i * v + tokens[i]] += g.data[i]
            }
        }
    }
}

/// Rows per thread chunk so that each chunk has at least ~32K elements of width `v`.
@inline(__always) func rowGrain(_ v: Int) -> Int { max(1, 32768 / max(1, v)) }

/// log Σ exp per row of `logits` (rows × V), in parallel; rows whose weight is 0 are skipped.
func rowLogSumExp(_ logits: Tensor, rows n: Int, where weights: [Float]?) -> [Float] {
    let v = logits.shape.last!
    var lse = [Float](repeating: 0, count: n)
    lse.withUnsafeMutableBufferPointer { out in
        let po = out.baseAddress!
        parallelFor(n, grain: rowGrain(v)) { rows in
            for i in rows where weights?[i] ?? 1 != 0 { po[i] = logSumExpRow(v, logits.data + i * v) }
        }
    }
    return lse
}

/// d[j] += s · exp(x[j] − lse) over a row of v floats (s times the row's softmax);
/// with `overwrite`, d[j] = … instead.
@inline(__always)
func addScaledSoftmax(_ v: Int, _ x: UnsafePointer<Float>, _ lse: Float, _ s: Float,
                      _ d: UnsafeMutablePointer<Float>, overwrite: Bool = false) {
    var j = 0
    if overwrite {
        while j + 16 <= v { store16(s * vexp(load16(x + j) - lse), d + j); j += 16 }
        while j < v { d[j] = s * sexp(x[j] - lse); j += 1 }
    } else {
        while j + 16 <= v { store16(load16(d + j) + s * vexp(load16(x + j) - lse), d + j); j += 16 }
        while j < v { d[j] += s * sexp(x[j] - lse); j += 1 }
    }
}

/// The entropy −Σ p·log p of softmax(logits) per row (nats).
/// logits is (..., V) → out has logits' shape without V.  dH/dz = −p ⊙ (log p + H).
public func softmaxEntropy(_ logits: Tensor) -> Tensor {
    let v = logits.shape.last!, n = logits.count / v
    let out = Tensor(uninitialized: Array(logits.shape.dropLast()))
    let lse = rowLogSumExp(logits, rows: n, where: nil)
    let po = out.data
    parallelFor(n, grain: rowGrain(v)) { rows in
        for i in rows {
            po[i] = rowEntropy(logits.data + i * v, count: v, logSumExp: lse[i])
        }
    }
    return out.recorded(from: [logits]) { g in
        let gl = logits.gradBuffer()
        parallelFor(n, grain: rowGrain(v)) { rows in
            for i in rows where g.data[i] != 0 {
                let row = logits.data + i * v, dr = gl + i * v
                let l = lse[i], h = po[i], gi = g.data[i]
                for j in 0..<v {
                    let logp = row[j] - l
                    dr[j] -= gi * sexp(logp) * (logp + h)
                }
            }
        }
    }
}

/// log softmax(logits)[token] and, when `entropy` is true, the softmax entropy −Σ p·log p (nats)
/// at selected rows only, sharing one log-sum-exp per row: the fused op behind
/// `GPT.completionLogProbsAndEntropy` (no pass over rows that are not asked for).
/// logits is (..., V) seen as (R, V); rows (N, strictly increasing, each < R) and tokens (N)
/// → logProbs (N) and entropy (N, nil unless asked for). Both are recorded for autograd:
/// d logp/dz = onehot(t) − p, dH/dz = −p ⊙ (log p + H); unselected rows get no gradient.
public func tokenLogProbsAndEntropy(_ logits: Tensor, rows: [Int], tokens: [Int], entropy: Bool = true)
    -> (logProbs: Tensor, entropy: Tensor?)
{
    let v = logits.shape.last!, r = logits.count / v, n = rows.count
    precondition(tokens.count == n, "tokenLogProbsAndEntropy: \(tokens.count) tokens for \(n) rows")
    precondition(zip(rows, rows.dropFirst()).allSatisfy { $0 < $1 } && rows.allSatisfy { $0 >= 0 && $0 < r },
                 "tokenLogProbsAndEntropy: rows must be strictly increasing in 0..<\(r)")
    precondition(tokens.allSatisfy { $0 >= 0 && $0 < v }, "tokenLogProbsAndEntropy: token out of range 0..<\(v)")
    let lp = Tensor(uninitialized: [n]), h = entropy ? Tensor(uninitialized: [n]) : nil
    guard n > 0 else { return (lp, h) }
    var logSumExp = [Float](repeating: 0, count: n)  // kept for backward: one Float per selected row
    let pl = lp.data, ph = h?.data
    logSumExp.withUnsafeMutableBufferPointer { out in
        let pz = out.baseAddress!
        parallelFor(n, grain: rowGrain(v)) { chunk in
            for i in chunk {
                let row = logits.data + rows[i] * v
                let l = logSumExpRow(v, row)
                pz[i] = l
                pl[i] = row[tokens[i]] - l
                guard let ph else { continue }
                ph[i] = rowEntropy(row, count: v, logSumExp: l)
            }
        }
    }
    let lse = logSumExp
    let logProbs = lp.recorded(from: [logits]) { g in
        // dlogits_row += gᵢ · (onehot(tᵢ) − softmax_row)
        let gl = logits.gradBuffer()
        parallelFor(n, grain: rowGrain(v)) { chunk in
            for i in chunk where g.data[i] != 0 {
                addScaledSoftmax(v, logits.data + rows[i] * v, lse[i], -g.data[i], gl + rows[i] * v)
                gl[rows[i] * v + tokens[i]] += g.data[i]
            }
        }
    }
    // the backward reads H through a pointer: capturing the output tensor would be a cycle
    let entropies = h.map { h -> Tensor in
        let ph = h.data
        return h.recorded(from: [logits]) { g in
            // dlogits_row −= gᵢ · p ⊙ (log p + H)
            let gl = logits.gradBuffer()
            parallelFor(n, grain: rowGrain(v)) { chunk in
                for i in chunk where g.data[i] != 0 {
                    let row = logits.data + rows[i] * v, dr = gl + rows[i] * v
                    let l = lse[i], hi = ph[i], gi = g.data[i]
                    var j = 0
                    while j + 16 <= v {
                        let logp = load16(row + j) - l
                        store16(load16(dr + j) - gi * vexp(logp) * (logp + hi), dr + j)
                        j += 16
                    }
                    while j < v { let logp = row[j] - l; dr[j] -= gi * sexp(logp) * (logp + hi); j += 1 }
                }
            }
        }
    }
    return (logProbs, entropies)
}

/// Entropy of softmax(row) given its log-sum-exp `l`: H = l − Σ p·z, p = exp(z − l). row is (v).
@inline(__always)
func rowEntropy(_ row: UnsafePointer<Float>, count v: Int, logSumExp l: Float) -> Float {
    var acc = Vec(repeating: 0)
    var j = 0
    while j + 16 <= v { let z = load16(row + j); acc += vexp(z - l) * z; j += 16 }
    var s = acc.sum()
    while j < v { s += sexp(row[j] - l) * row[j]; j += 1 }
    return l - s
}
