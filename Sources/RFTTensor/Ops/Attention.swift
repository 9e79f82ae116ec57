/// Fused causal multi-head self-attention: scaled scores, causal mask, softmax and the
/// weighted sum of values in one op, with sgemm per (batch, head) on strided views.
/// Rows are processed in blocks of `attentionBlock` queries, each against only the keys it may
/// see, so the masked upper triangle is (mostly) never computed. (batch, head) pairs run in
/// parallel when rft owns the threads.

/// Query rows per block of the causal loop.
let attentionBlock = 64

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
    let workers = BLAS.callerThreads
    // probabilities: all pairs kept when recording, else one (T, T) scratch per worker
    let probs = Tensor(uninitialized: recording ? [b * heads, t, t] : [workers, t, t])
    let (pq, po, pp) = (qkv.data, out.data, probs.data)
    let perWorker = (b * heads + workers - 1) / workers  // pairs per worker, as parallelFor splits them
    parallelFor(b * heads, grain: 1, threads: workers) { pairs in
        for pair in pairs {
            let (bi, h) = pair.quotientAndRemainder(dividingBy: heads)
            let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
            let o = po + bi * t * c + h * hs
            let p = pp + (recording ? pair : pairs.lowerBound / perWorker) * t * t
            for r0 in stride(from: 0, to: t, by: attentionBlock) {
                let r1 = min(t, r0 + attentionBlock), rows = r1 - r0
                // S[r0..<r1, 0..<r1] = scale · Q[r0..<r1] · K[0..<r1]ᵀ
                BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, alpha: scale, a: q + r0 * c3, lda: c3,
                                b: k, ldb: c3, c: p + r0 * t, ldc: t)
                for i in r0..<r1 {  // causal softmax: row i attends to 0...i
                    let row = p + i * t
                    softmaxRow(i + 1, row, row)
                    (row + i + 1).update(repeating: 0, count: t - i - 1)
                }
                // O[r0..<r1] = P[r0..<r1, 0..<r1] · V[0..<r1]
                BLAS.gemmSerial(m: rows, n: hs, k: r1, a: p + r0 * t, lda: t, b: v, ldb: c3,
                                c: o + r0 * c, ldc: c)
            }
        }
    }
    guard recording else { return out }
    return out.recorded(from: [qkv]) { g in
        let gqkv = qkv.gradBuffer()
        let pp = probs.data  // the closure owns `probs`
        let scratch = Tensor(uninitialized: [workers, t, t])
        parallelFor(b * heads, grain: 1, threads: workers) { pairs in
            let dp = scratch.data + (pairs.lowerBound / perWorker) * t * t
            for pair in pairs {
                let (bi, h) = pair.quotientAndRemainder(dividingBy: heads)
                let q = pq + bi * t * c3 + h * hs, k = q + c, v = q + 2 * c
                let dq = gqkv + bi * t * c3 + h * hs, dk = dq + c, dv = dq + 2 * c
                let p = pp + pair * t * t
                let go = g.data + bi * t * c + h * hs
                for r0 in stride(from: 0, to: t, by: attentionBlock) {
                    let r1 = min(t, r0 + attentionBlock), rows = r1 - r0
                    let pb = p + r0 * t, db = dp + r0 * t
                    // dP[r0..<r1, 0..<r1] = dO[r0..<r1] · V[0..<r1]ᵀ
                    BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, a: go + r0 * c, lda: c, b: v, ldb: c3,
                                    c: db, ldc: t)
                    // dV[0..<r1] += P[r0..<r1, 0..<r1]ᵀ · dO[r0..<r1]
                    BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: pb, lda: t, b: go + r0 * c, ldb: c,
                                    beta: 1, c: dv, ldc: c3)
                    // dS = P ⊙ (dP − Σ_j dP·P) · scale on the causal part of each row
                    for i in r0..<r1 {
                        let pr = p + i * t, dr = dp + i * t
                        let n = i + 1
                        let dot = vdot(n, dr, pr)
                        var j = 0
                        while j + 16 <= n {
                            store16(load16(pr + j) * (load16(dr + j) - dot) * scale, dr + j)
                            j += 16
                        }
                        while j < n { dr[j] = pr[j] * (dr[j] - dot) * scale; j += 1 }
                        (dr + n).update(repeating: 0, count: r1 - n)
                    }
                    // dQ[r0..<r1] += dS · K[0..<r1] ;  dK[0..<r1] += dSᵀ · Q[r0..<r1]
                    BLAS.gemmSerial(m: rows, n: hs, k: r1, a: db, lda: t, b: k, ldb: c3, beta: 1,
                                    c: dq + r0 * c3, ldc: c3)
                    BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: db, lda: t, b: q + r0 * c3, ldb: c3,
                                    beta: 1, c: dk, ldc: c3)
                }
            }
        }
    }
}
