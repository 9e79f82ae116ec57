/// Kernels for incremental (KV-cached) decoding: appending one token's keys and values to a
/// cache and attending with one query per row over that row's cached keys, plus a public
/// softmax row for samplers. No autograd: these run under `withoutGradients` only.
public enum DecodeKernels {
    /// For each active row a: writes the k and v of `qkv[a]` into the cache at
    /// (`rows[a]`, `positions[a]`) and sets out[a] = softmax(q·Kᵀ/√hs)·V over cache positions
    /// 0...positions[a] of that row, per head.
    /// qkv is (A, 3C) laid out per row as [q | k | v] (head h at columns h·hs ..< (h+1)·hs);
    /// keys and values are (B, capacity, C); out is (A, C).
    public static func appendAndAttend(
        qkv: Tensor, keys: Tensor, values: Tensor, rows: [Int], positions: [Int], heads: Int, out: Tensor
    ) {
        let a = rows.count
        let c3 = qkv.shape[qkv.rank - 1], c = c3 / 3, hs = c / heads
        let capacity = keys.shape[1]
        precondition(qkv.count == a * c3 && out.count == a * c && positions.count == a,
                     "appendAndAttend: qkv \(qkv.shape), out \(out.shape), \(a) rows")
        precondition(keys.shape == values.shape && keys.shape.count == 3 && keys.shape[2] == c,
                     "appendAndAttend: cache \(keys.shape) for width \(c)")
        let scale = 1 / Float(hs).squareRoot()
        let (pq, pk, pv, po) = (qkv.data, keys.data, values.data, out.data)
        rows.withUnsafeBufferPointer { rowsBuf in
            positions.withUnsafeBufferPointer { posBuf in
                for i in 0..<a {  // append this step's keys and values
                    let (r, p) = (rowsBuf[i], posBuf[i])
                    precondition(p >= 0 && p < capacity && r >= 0 && r < keys.shape[0], "appendAndAttend: position \(p) of row \(r) outside cache \(keys.shape)")
                    (pk + (r * capacity + p) * c).update(from: pq + i * c3 + c, count: c)
                    (pv + (r * capacity + p) * c).update(from: pq + i * c3 + 2 * c, count: c)
                }
                let grain = max(1, 4096 / max(1, hs * (capacity / 2 + 1)))
                parallelFor(a * heads, grain: grain) { pairs in
                    withUnsafeTemporaryAllocation(of: Float.self, capacity: capacity) { scratch in
                        let s = scratch.baseAddress!
                        for pair in pairs {
                            let (i, h) = pair.quotientAndRemainder(dividingBy: heads)
                            let (r, p) = (rowsBuf[i], posBuf[i])
                            let q = pq + i * c3 + h * hs
                            let k0 = pk + r * capacity * c + h * hs, v0 = pv + r * capacity * c + h * hs
                            let n = p + 1
                            for j in 0..<n { s[j] = scale * vdot(hs, q, k0 + j * c) }  // scores (n)
                            softmaxRow(n, s, s)
                            let o = po + i * c + h * hs  // o (hs) = Σ_j s_j · V[j]
                            o.update(repeating: 0, count: hs)
                            for j in 0..<n { vaxpy(hs, s[j], v0 + j * c, o) }
                        }
                    }
                }
            }
        }
    }

    /// Writes softmax of the `n` floats at `x` into `y` (which may equal `x`); returns
    /// log Σ exp(x), the row's log-partition.
    @discardableResult
    public static func softmax(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Float {
        softmaxRow(n, x, y)
    }
}
