/// Fused causal multi-head self-attention: scaled scores, causal mask, softmax and the
/// weighted sum of values in one op, with sgemm per (batch, head) on strided views.

/// Causal self-attention over a packed projection.
/// qkv is (B, T, 3C) laid out per token as [q | k | v], each C = heads·hs wide with head h at
/// columns h·hs ..< (h+1)·hs (PyTorch's split + view) → out is (B, T, C).
/// Saves the attention probabilities (B, H, T, T) for backward.
public func causalSelfAttention(_ qkv: Tensor, heads: Int) -> Tensor {
    precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                 "causalSelfAttention: qkv \(qkv.shape) with \(heads) heads")
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    let c = c3 / 3, hs = c / heads
    let scale = 1 / Float(hs).squareRoot()
    let out = Tensor(uninitialized: [b, t, c])
    let recording = Tensor.recording([qkv])
    // probabilities: all heads kept when recording, else one reusable (T, T) scratch
    let probs = Tensor(uninitialized: recording ? [b, heads, t, t] : [t, t])
    let (pq, po, pp) = (qkv.data, out.data, probs.data)
    for bi in 0..<b {
        for h in 0..<heads {
            let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
            let p = recording ? pp + (bi * heads + h) * t * t : pp
            // S (T,T) = scale · Q (T,hs) · Kᵀ
            BLAS.gemm(transB: true, m: t, n: t, k: hs, alpha: scale, a: q, lda: c3, b: k, ldb: c3,
                      c: p, ldc: t)
            for i in 0..<t {  // causal softmax: row i attends to 0...i
                let row = p + i * t
                softmaxRow(i + 1, row, row)
                (row + i + 1).update(repeating: 0, count: t - i - 1)
            }
            // O (T,hs) = P (T,T) · V (T,hs)
            BLAS.gemm(m: t, n: hs, k: t, a: p, lda: t, b: v, ldb: c3,
                      c: po + bi * t * c + h * hs, ldc: c)
        }
    }
    guard recording else { return out }
    return out.recorded(from: [qkv]) { g in
        let gqkv = qkv.gradBuffer()
        let pp = probs.data  // the closure owns `probs`
        let dp = Tensor(uninitialized: [t, t]), pdp = dp.data
        for bi in 0..<b {
            for h in 0..<heads {
                let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
                let dq = gqkv + bi * t * c3 + h * hs, dk = dq + c, dv = dq + 2 * c
                let p = pp + (bi * heads + h) * t * t
                let go = g.data + bi * t * c + h * hs
                // dP (T,T) = dO (T,hs) · Vᵀ
                BLAS.gemm(transB: true, m: t, n: t, k: hs, a: go, lda: c, b: v, ldb: c3,
                          c: pdp, ldc: t)
                // dV (T,hs) += Pᵀ · dO
                BLAS.gemm(transA: true, m: t, n: hs, k: t, a: p, lda: t, b: go, ldb: c,
                          beta: 1, c: dv, ldc: c3)
                // dS = P ⊙ (dP − Σ_j dP·P) · scale  (zero above the diagonal, as P is)
                for i in 0..<t {
                    let pr = p + i * t, dr = pdp + i * t
                    let n = i + 1
                    let dot = vdot(n, dr, pr)
                    var j = 0
                    while j + 16 <= n {
                        store16(load16(pr + j) * (load16(dr + j) - dot) * scale, dr + j)
                        j += 16
                    }
                    while j < n { dr[j] = pr[j] * (dr[j] - dot) * scale; j += 1 }
                    (dr + n).update(repeating: 0, count: t - n)
                }
                // dQ (T,hs) += dS · K ;  dK (T,hs) += dSᵀ · Q
                BLAS.gemm(m: t, n: hs, k: t, a: pdp, lda: t, b: k, ldb: c3, beta: 1, c: dq, ldc: c3)
                BLAS.gemm(transA: true, m: t, n: hs, k: t, a: pdp, lda: t, b: q, ldb: c3,
                          beta: 1, c: dk, ldc: c3)
            }
        }
    }
}
