/// Serial kernels for incremental (KV-cached) decoding, on raw pointers: LayerNorm and GELU
/// rows, appending keys/values to a cache and attending with one query per (row, position)
/// over that row's cache, and a softmax row for samplers. They run on the calling thread (the
/// sampler runs groups of rows on separate threads) and record no autograd graph.
///
/// Cache layout per layer, chosen so every (row, head) reads contiguous memory:
/// keys (rows, heads, hs, stride) — transposed, so 16 scores come from one vector FMA per
/// feature; values (rows, heads, stride, hs). `stride` ≥ positions, a multiple of 16.
public enum DecodeKernels {
    /// y = (x − mean) / √(var + eps) · weight + bias for each of `rows` rows of `c` floats
    /// (the same arithmetic as `layerNorm`).  x and y are (rows, C); weight, bias are (C).
    public static func layerNorm(rows: Int, c: Int, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                 bias: UnsafePointer<Float>, eps: Float, y: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { layerNormRow(c, x + r * c, weight, bias, eps, y + r * c) }
    }

    /// GELU(tanh) of `n` floats in place (the same arithmetic as `gelu`).
    public static func geluInPlace(_ n: Int, _ p: UnsafeMutablePointer<Float>) {
        vmap(n, p, p) { v in 0.5 * v * (1 + vtanh(geluScale * (v + 0.044715 * v * v * v))) }
    }

    /// y[i] += x[i] over `n` floats.
    public static func add(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) { vadd(n, x, y) }

    /// For each query i: writes the k and v of `qkv[i]` into the cache of row `rows[i]` at
    /// position `positions[i]`; then (all appends done) sets out[i] = softmax(q·Kᵀ/√hs)·V over
    /// positions 0...positions[i] of that row, per head. Queries of one row may be many
    /// consecutive positions (a prompt): causality comes from the per-query length.
    /// qkv is (Q, 3C) laid out [q | k | v] (head h at columns h·hs ..< (h+1)·hs); out is (Q, C);
    /// keys (B, H, hs, stride) and values (B, H, stride, hs); scratch holds `stride` floats.
    public static func appendAndAttend(
        queries: Int, qkv: UnsafePointer<Float>, rows: UnsafePointer<Int>, positions: UnsafePointer<Int>,
        keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>, stride: Int,
        heads: Int, headSize hs: Int, out: UnsafeMutablePointer<Float>, scratch s: UnsafeMutablePointer<Float>
    ) {
        let c = heads * hs, c3 = 3 * c
        let block = hs * stride  // floats per (row, head) in either cache
        for i in 0..<queries {  // append keys (transposed) and values
            let (r, p) = (rows[i], positions[i])
            let k = qkv + i * c3 + c, v = qkv + i * c3 + 2 * c
            for h in 0..<heads {
                let kt = keys + (r * heads + h) * block + p, vt = values + (r * heads + h) * block + p * hs
                for d in 0..<hs { kt[d * stride] = k[h * hs + d] }
                vt.update(from: v + h * hs, count: hs)
            }
        }
        let scale = 1 / Float(hs).squareRoot()
        for i in 0..<queries {
            let (r, n) = (rows[i], positions[i] + 1)
            for h in 0..<heads {
                let q = qkv + i * c3 + h * hs
                let kt = UnsafePointer(keys + (r * heads + h) * block), vt = UnsafePointer(values + (r * heads + h) * block)
                // s (n) = scale · K q, 16 positions per vector
                var j0 = 0
                while j0 < n {  // two accumulators: half the dependency chain
                    var acc0 = Vec(repeating: 0), acc1 = Vec(repeating: 0)
                    var d = 0
                    while d + 2 <= hs {
                        acc0 += q[d] * load16(kt + d * stride + j0)
                        acc1 += q[d + 1] * load16(kt + (d + 1) * stride + j0)
                        d += 2
                    }
                    if d < hs { acc0 += q[d] * load16(kt + d * stride + j0) }
                    store16((acc0 + acc1) * scale, s + j0)
                    j0 += 16
                }
                softmaxRow(n, s, s)
                // o (hs) = Σ_j s_j · V[j], 16 features per vector
                let o = out + i * c + h * hs
                var d0 = 0
                while d0 + 16 <= hs {
                    var acc0 = Vec(repeating: 0), acc1 = Vec(repeating: 0)
                    var j = 0
                    while j + 2 <= n {
                        acc0 += s[j] * load16(vt + j * hs + d0)
                        acc1 += s[j + 1] * load16(vt + (j + 1) * hs + d0)
                        j += 2
                    }
                    if j < n { acc0 += s[j] * load16(vt + j * hs + d0) }
                    store16(acc0 + acc1, o + d0)
                    d0 += 16
                }
                while d0 < hs {
                    var acc: Float = 0
                    for j in 0..<n { acc += s[j] * vt[j * hs + d0] }
                    o[d0] = acc
                    d0 += 1
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
