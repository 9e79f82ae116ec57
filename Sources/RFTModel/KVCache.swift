import RFTTensor

/// Keys and values of every layer for a batch of sequences, each row with its own length, so
/// prompts of different lengths decode together and every prompt starts at position 0.
/// Layout per layer (see `DecodeKernels`): keys (batch, heads, stride/16, hs, 16) — tiles of
/// 16 positions, transposed within a tile — and values (batch, heads, stride, hs), with
/// `stride` = capacity rounded up to a multiple of 16.
public final class KVCache {
    /// Rows (sequences).
    public let batch: Int
    /// Positions per row (≤ the model's context length).
    public let capacity: Int
    /// Positions each row has room for in the buffers (capacity rounded up to a multiple of 16).
    public let stride: Int
    /// Per layer: keys (batch, heads, stride/16, hs, 16), in transposed tiles of 16 positions.
    public let keys: [Tensor]
    /// Per layer: values (batch, heads, stride, hs).
    public let values: [Tensor]
    /// Tokens cached so far in each row; the next token of row r goes to position `lengths[r]`.
    public internal(set) var lengths: [Int]

    /// An empty cache for `batch` rows of up to `capacity` positions (default: the context length).
    public init(config: GPTConfig, batch: Int, capacity: Int? = nil) {
        let cap = min(capacity ?? config.contextLength, config.contextLength)
        precondition(batch >= 0 && cap >= 1, "KVCache: batch \(batch), capacity \(cap)")
        self.batch = batch
        self.capacity = cap
        stride = (cap + 15) / 16 * 16
        let (h, hs) = (config.heads, config.headSize)
        keys = (0..<config.layers).map { _ in Tensor(uninitialized: [batch, h, (cap + 15) / 16, hs, 16]) }
        values = (0..<config.layers).map { _ in Tensor(uninitialized: [batch, h, (cap + 15) / 16 * 16, hs]) }
        lengths = [Int](repeating: 0, count: batch)
    }

    /// Forgets every row's tokens (the buffers are reused).
    public func reset() { for r in 0..<batch { lengths[r] = 0 } }
}

extension GPT {
    /// The cached forward pass: query i is token `tokens[i]` at position `positions[i]` of cache
    /// row `rows[i]`; its keys and values are appended to `cache`, and it attends to positions
    /// 0...positions[i] of its row. Returns the logits (O, V) of the queries listed in `outputs`.
    /// All queries go through each layer as one (Q, C) matrix product; runs on the calling
    /// thread unless `threaded` (then products use rft's threads). No autograd.
    public func forwardCached(tokens: [Int], rows: [Int], positions: [Int], cache: KVCache,
                              outputs: [Int], threaded: Bool = false) -> Tensor {
        let q = tokens.count, c = config.width, v = config.vocabularySize
        let (heads, hs) = (config.heads, config.headSize)
        precondition(rows.count == q && positions.count == q, "forwardCached: \(q) tokens, \(rows.count) rows, \(positions.count) positions")
        for i in 0..<q {
            precondition(tokens[i] >= 0 && tokens[i] < v, "forwardCached: token \(tokens[i]) outside 0..<\(v)")
            precondition(rows[i] >= 0 && rows[i] < cache.batch && positions[i] >= 0 && positions[i] < cache.capacity,
                         "forwardCached: row \(rows[i]), position \(positions[i]) outside the cache")
        }
        let x = Tensor(uninitialized: [q, c]), h = Tensor(uninitialized: [q, c])           // (Q, C)
        let qkv = Tensor(uninitialized: [q, 3 * c]), f = Tensor(uninitialized: [q, config.mlpRatio * c])
        let scratch = Tensor(uninitialized: [cache.stride])
        let (px, ph, pq, pf) = (x.data, h.data, qkv.data, f.data)
        // x (Q, C) = wte[token] + wpe[position]
        let (pe, pp) = (wte.weight.data, wpe.weight.data)
        for i in 0..<q {
            let o = px + i * c, e = pe + tokens[i] * c, p = pp + positions[i] * c
            for j in 0..<c { o[j] = e[j] + p[j] }
        }
        /// out (Q, out) = (accumulate ? out : 0) + bias + inp (Q, in) · Wᵀ
        func affine(_ inp: UnsafePointer<Float>, _ layer: Linear, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            let (outF, inF) = (layer.weight.shape[0], layer.weight.shape[1])
            if let b = layer.bias {
                for r in 0..<q {
                    if accumulate { DecodeKernels.add(outF, b.data, out + r * outF) } else { (out + r * outF).update(from: b.data, count: outF) }
                }
            }
            let beta: Float = layer.bias != nil || accumulate ? 1 : 0
            if threaded {
                BLAS.gemm(transB: true, m: q, n: outF, k: inF, a: inp, lda: inF, b: layer.weight.data, ldb: inF, beta: beta, c: out, ldc: outF)
            } else {
                BLAS.gemmSerial(transB: true, m: q, n: outF, k: inF, a: inp, lda: inF, b: layer.weight.data, ldb: inF, beta: beta, c: out, ldc: outF)
            }
        }
        rows.withUnsafeBufferPointer { rowsBuf in
            positions.withUnsafeBufferPointer { posBuf in
                for (l, block) in blocks.enumerated() {
                    DecodeKernels.layerNorm(rows: q, c: c, x: px, weight: block.ln1.weight.data, bias: block.ln1.bias.data,
                                            eps: block.ln1.eps, y: ph)
                    affine(ph, block.attn.qkv, pq, accumulate: false)                     // qkv (Q, 3C)
                    DecodeKernels.appendAndAttend(queries: q, qkv: pq, rows: rowsBuf.baseAddress!, positions: posBuf.baseAddress!,
                                                  keys: cache.keys[l].data, values: cache.values[l].data, stride: cache.stride,
                                                  heads: heads, headSize: hs, out: ph, scratch: scratch.data)  // h (Q, C)
                    affine(ph, block.attn.proj, px, accumulate: true)                     // x += proj(att)
                    DecodeKernels.layerNorm(rows: q, c: c, x: px, weight: block.ln2.weight.data, bias: block.ln2.bias.data,
                                            eps: block.ln2.eps, y: ph)
                    affine(ph, block.mlp.fc, pf, accumulate: false)                       // f (Q, 4C)
                    DecodeKernels.geluInPlace(f.count, pf)
                    affine(pf, block.mlp.proj, px, accumulate: true)                      // x += mlp
                }
            }
        }
        for i in 0..<q { cache.lengths[rows[i]] = max(cache.lengths[rows[i]], positions[i] + 1) }
        // logits (O, V) = ln_f(x[outputs]) · Wᵀ
        let o = outputs.count
        for (k, i) in outputs.enumerated() { (ph + k * c).update(from: px + i * c, count: c) }
        let normed = Tensor(uninitialized: [o, c])
        DecodeKernels.layerNorm(rows: o, c: c, x: ph, weight: lnF.weight.data, bias: lnF.bias.data, eps: lnF.eps, y: normed.data)
        let logits = Tensor(uninitialized: [o, v])
        let w = lmHead?.weight ?? wte.weight
        if threaded {
            BLAS.gemm(transB: true, m: o, n: v, k: c, a: normed.data, lda: c, b: w.data, ldb: c, c: logits.data, ldc: v)
        } else {
            BLAS.gemmSerial(transB: true, m: o, n: v, k: c, a: normed.data, lda: c, b: w.data, ldb: c, c: logits.data, ldc: v)
        }
        withExtendedLifetime((x, h, qkv, f, scratch, normed)) {}  // the raw pointers above point into these
        return logits
    }

    /// Runs `prompts` (one per cache row, any lengths ≥ 1) into `cache` (row b at positions
    /// 0..<prompts[b].count) and returns the logits of each prompt's last token, (B, V).
    public func prefill(_ prompts: [[Int]], cache: KVCache, threaded: Bool = true) -> Tensor {
        precondition(prompts.count == cache.batch, "prefill: \(prompts.count) prompts for a cache of \(cache.batch) rows")
        precondition(prompts.allSatisfy { !$0.isEmpty }, "prefill: empty prompt")
        var tokens: [Int] = [], rows: [Int] = [], positions: [Int] = [], outputs: [Int] = []
        for (r, p) in prompts.enumerated() {
            tokens += p
            rows += Array(repeating: r, count: p.count)
            positions += Array(0..<p.count)
            outputs.append(tokens.count - 1)
        }
        return forwardCached(tokens: tokens, rows: rows, positions: positions, cache: cache, outputs: outputs, threaded: threaded)
    }

    /// One decoding step: appends `tokens[a]` to cache row `rows[a]` (at position
    /// `cache.lengths[rows[a]]`) for each active row a and returns the next-token logits (A, V).
    public func decodeStep(tokens: [Int], rows: [Int], cache: KVCache, threaded: Bool = true) -> Tensor {
        forwardCached(tokens: tokens, rows: rows, positions: rows.map { cache.lengths[$0] }, cache: cache,
                      outputs: Array(rows.indices), threaded: threaded)
    }
}
