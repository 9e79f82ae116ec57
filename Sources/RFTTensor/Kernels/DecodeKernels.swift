import CKernels

/// Serial kernels for incremental (KV-cached) decoding, on raw pointers: LayerNorm, RMSNorm,
/// GELU, SwiGLU and RoPE rows, appending keys/values to a cache and attending with one query per (row, position)
/// over that row's cache, and a softmax row for samplers. They run on the calling thread (the
/// sampler runs groups of rows on separate threads) and record no autograd graph.
///
/// Cache layout per layer, chosen so every (row, head) reads contiguous memory:
/// keys (rows, kvHeads, stride/16, hs, 16) — tiles of 16 positions, transposed within a tile, so
/// 16 scores come from one vector multiply-add per feature and the first ⌈n/16⌉ tiles are one
/// contiguous run; values (rows, kvHeads, stride, hs). `stride` ≥ positions, a multiple of 16.
public enum DecodeKernels {
    /// y = (x − mean) / √(var + eps) · weight + bias for each of `rows` rows of `c` floats
    /// (the same arithmetic as `layerNorm`).  x and y are (rows, C); weight, bias are (C).
    public static func layerNorm(rows: Int, c: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, eps: Float, y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { layerNormRow(c, x + r * c, weight, bias, eps, y + r * c) }
    }

    /// y = x / √(mean(x²) + eps) · weight for each of `rows` rows of `c` floats (the same
    /// arithmetic as `rmsNorm`).  x and y are (rows, C); weight is (C).
    public static func rmsNorm(rows: Int, c: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>, eps: Float,
                               y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { rmsNormRow(c, x + r * c, weight, eps, y + r * c) }
    }

    /// y (rows, H) = SiLU(x[:, 0..<H]) · x[:, H..<2H] for x (rows, 2H) (the same arithmetic as `swiglu`),
    /// rows split over `threads` of rft's pool.
    public static func swiglu(rows: Int, hidden h: Int, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        parallelFor(rows, grain: 1, threads: threads) { range in
            for r in range { swigluRow(h, x + r * 2 * h, y + r * h) }
        }
    }

    /// Rotates (RoPE) the first `heads` heads of each of `rows` rows of x in place, rows ld floats
    /// apart, row r at position positions[r] (the same arithmetic as `rotaryEmbedding`).
    public static func rotate(rows: Int, heads: Int, ld: Int, positions: UnsafePointer<Int>, x: UnsafeMutablePointer<Float>,
                              rotary: RotaryEmbedding) {
        for r in 0..<rows {
            precondition(positions[r] >= 0 && positions[r] < rotary.positions, "rotate: position \(positions[r]) outside the rotary table")
            rotary.rotate(heads: heads, position: positions[r], x + r * ld, x + r * ld, inverse: false)
        }
    }

    /// GELU(tanh) of `n` floats in place (the same arithmetic as `gelu`).
    public static func geluInPlace(_ n: Int, _ p: UnsafeMutablePointer<Float>) {
        if NativeKernels.isAvailable { NativeKernels.gelu(n, p, p, nil); return }
        @inline(__always) func gelu(_ v: Vec) -> Vec { 0.5 * v * (1 + vtanh(geluScale * (v + 0.044715 * v * v * v))) }
        var i = 0
        while i + 16 <= n { store16(gelu(load16(p + i)), p + i); i += 16 }  // a plain loop: no closure call per vector
        if i < n { storePartial(gelu(loadPartial(p + i, n - i)), p + i, n - i) }
    }

    /// y[i] += x[i] over `n` floats.
    public static func add(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) { vadd(n, x, y) }

    /// For each query i: writes the k and v of `qkv[i]` into the cache of row `rows[i]` at
    /// position `positions[i]`; then (all appends done) sets out[i] = softmax(q·Kᵀ/√hs)·V over
    /// positions 0...positions[i] of that row, per head. Queries of one row may be many
    /// consecutive positions (a prompt): causality comes from the per-query length.
    /// qkv is (Q, (H + 2·KV)·hs) laid out [q | k | v] (head h at columns h·hs ..< (h+1)·hs of its
    /// part; query head h reads key/value head h / (H/KV); kvHeads nil means KV = H); out is
    /// (Q, H·hs); keys (B, KV, stride/16, hs, 16) and values (B, KV, stride, hs); scratch holds
    /// `stride` floats. With `threads` > 1 the queries are split over rft's pool after the appends
    /// (each query's result is computed alone, so the bits do not depend on the split).
    public static func appendAndAttend(
        queries: Int, qkv: UnsafePointer<Float>, rows: UnsafePointer<Int>, positions: UnsafePointer<Int>,
        keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, stride: Int,
        heads: Int, kvHeads: Int? = nil, headSize hs: Int, out: UnsafeMutablePointer<Float>, scratch s: UnsafeMutablePointer<Float>,
        threads: Int = 1
    ) {
        let kv = kvHeads ?? heads, perKV = heads / kv
        let c = heads * hs, ldq = c + 2 * kv * hs
        let block = hs * stride  // floats per (row, key/value head) in either cache
        for i in 0..<queries {  // append keys (into position p's tile, transposed) and values
            let (r, p) = (rows[i], positions[i])
            let k = qkv + i * ldq + c, v = k + kv * hs
            for h in 0..<kv {
                let kt = keys + (r * kv + h) * block + (p / 16) * hs * 16 + p % 16
                let vt = values + (r * kv + h) * block + p * hs
                for d in 0..<hs { kt[d * 16] = k[h * hs + d] }
                vt.update(from: v + h * hs, count: hs)
            }
        }
        let scale = 1 / Float(hs).squareRoot()
        let native = NativeKernels.isAvailable  // a task-local read: once per call, not per query
        let attend = NativeKernels.hasAVX512 ? rft_attend_one_avx512 : rft_attend_one  // the same bits
        /// Queries `range`, with `s` as their scratch.
        func attendQueries(_ range: Range<Int>, _ s: UnsafeMutablePointer<Float>) {
            for i in range {
                let (r, n) = (rows[i], positions[i] + 1)
                for h in 0..<heads {
                    let g = r * kv + h / perKV
                    let (q, kt, vt, o) = (qkv + i * ldq + h * hs, keys + g * block, values + g * block, out + i * c + h * hs)
                    if native {
                        attend(q, kt, vt, Int32(n), Int32(hs), scale, s, o)
                    } else {
                        attendOne(q: q, keys: kt, values: vt, count: n, headSize: hs, scale: scale, scratch: s, out: o)
                    }
                }
            }
        }
        parallelFor(queries, grain: 1, threads: threads) { range in  // the first chunk uses the caller's scratch
            if range.lowerBound == 0 { return attendQueries(range, s) }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: stride) { attendQueries(range, $0.baseAddress!) }
        }
    }

    /// One query of one head over `n` cached positions, in one pass per stage with no calls:
    /// o (hs) = softmax(scale · K q) · V, the softmax normalised at the end (o /= Σ e).
    /// kt is the head's keys (stride/16, hs, 16), vt its values (stride, hs); scratch holds `stride`
    /// floats. Score lanes past n (computed from unwritten keys) are replaced by select, never used in
    /// arithmetic; values are read only below n.
    @inline(__always)
    static func attendOne(q: UnsafePointer<Float>, keys kt: UnsafePointer<Float>, values vt: UnsafePointer<Float>,
                          count n: Int, headSize hs: Int, scale: Float,
                          scratch s: UnsafeMutablePointer<Float>, out o: UnsafeMutablePointer<Float>) {
        let laneIndex = Vec(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)  // masks lanes past n
        // s (n) = scale · K q, 16 positions per vector, lanes ≥ n set to −∞; running max
        var mx = Vec(repeating: -.infinity)
        var j0 = 0
        while j0 < n {
            let tile = kt + j0 * hs  // (hs, 16): positions j0 ..< j0+16
            var acc0 = Vec(repeating: 0), acc1 = Vec(repeating: 0)  // two accumulators: half the dependency chain
            var d = 0
            while d + 2 <= hs {
                acc0 += q[d] * load16(tile + d * 16)
                acc1 += q[d + 1] * load16(tile + (d + 1) * 16)
                d += 2
            }
            if d < hs { acc0 += q[d] * load16(tile + d * 16) }
            var sc = (acc0 + acc1) * scale
            if j0 + 16 > n { sc.replace(with: -.infinity, where: laneIndex .>= Float(n - j0)) }
            store16(sc, s + j0)
            mx.replace(with: sc, where: sc .> mx)
            j0 += 16
        }
        // s = exp(s − max), masked lanes 0; Σ e
        let m = mx.max()
        var total = Vec(repeating: 0)
        j0 = 0
        while j0 < n {
            var e = vexp(load16(s + j0) - m)
            if j0 + 16 > n { e.replace(with: 0, where: laneIndex .>= Float(n - j0)) }
            store16(e, s + j0)
            total += e
            j0 += 16
        }
        let inv = 1 / total.sum()
        // o (hs) = Σ_j e_j · V[j] / Σ e: 32, then 16 features per pass over the positions
        var d0 = 0
        while d0 + 32 <= hs {
            var a0 = Vec(repeating: 0), a1 = Vec(repeating: 0)
            for j in 0..<n {
                let w = s[j], row = vt + j * hs + d0
                a0 += w * load16(row)
                a1 += w * load16(row + 16)
            }
            store16(a0 * inv, o + d0)
            store16(a1 * inv, o + d0 + 16)
            d0 += 32
        }
        while d0 + 16 <= hs {
            var a0 = Vec(repeating: 0)
            for j in 0..<n { a0 += s[j] * load16(vt + j * hs + d0) }
            store16(a0 * inv, o + d0)
            d0 += 16
        }
        while d0 < hs {
            var acc: Float = 0
            for j in 0..<n { acc += s[j] * vt[j * hs + d0] }
            o[d0] = acc * inv
            d0 += 1
        }
    }

    /// Writes softmax of the `n` floats at `x` into `y` (which may equal `x`); returns
    /// log Σ exp(x), the row's log-partition.
    @discardableResult
    public static func softmax(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Float {
        softmaxRow(n, x, y)
    }
}
