import RFTTensor

/// Keys and values of every layer for a batch of sequences, each row with its own length, so
/// prompts of different lengths decode together and every prompt starts at position 0.
/// Layout per layer (see `DecodeKernels`): keys (batch, kvHeads, stride/16, hs, 16) — tiles of
/// 16 positions, transposed within a tile — and values (batch, kvHeads, stride, hs), with
/// `stride` = capacity rounded up to a multiple of 16. Keys are stored rotated (RoPE) when the
/// model uses rotary positions.
public final class KVCache {
    /// Rows (sequences).
    public let batch: Int
    /// Positions per row (≤ the model's context length).
    public let capacity: Int
    /// Positions each row has room for in the buffers (capacity rounded up to a multiple of 16).
    public let stride: Int
    /// Per layer: keys (batch, kvHeads, stride/16, hs, 16), in transposed tiles of 16 positions.
    public let keys: [Tensor]
    /// Per layer: values (batch, kvHeads, stride, hs).
    public let values: [Tensor]
    /// Tokens cached so far in each row; the next token of row r goes to position `lengths[r]`.
    public internal(set) var lengths: [Int]

    /// An empty cache for `batch` rows of up to `capacity` positions (default: the context length).
    public init(config: GPTConfig, batch: Int, capacity: Int? = nil) {
        let cap = min(capacity ?? config.contextLength, config.contextLength)
        precondition(batch >= 0 && cap >= 1, "KVCache: batch \(batch), capacity \(cap)")
        self.batch = batch
        self.capacity = cap
        let stride = (cap + 15) / 16 * 16
        self.stride = stride
        let (h, hs) = (config.kvHeads, config.headSize)
        // one allocation for every layer (large enough to get huge pages: decoding touches all of it each step)
        let perLayer = batch * h * stride * hs
        let buffer = Tensor(uninitialized: [2 * config.layers * perLayer])
        keys = (0..<config.layers).map { buffer.view(offset: 2 * $0 * perLayer, shape: [batch, h, stride / 16, hs, 16]) }
        values = (0..<config.layers).map { buffer.view(offset: (2 * $0 + 1) * perLayer, shape: [batch, h, stride, hs]) }
        lengths = [Int](repeating: 0, count: batch)
    }

    /// Forgets every row's tokens (the buffers are reused).
    public func reset() { for r in 0..<batch { lengths[r] = 0 } }

    /// Makes row `destination` hold the same tokens as row `source` (every layer's keys and
    /// values of its cached positions): a prompt shared by several rows is run once.
    public func copyRow(_ source: Int, to destination: Int) {
        precondition(source >= 0 && source < batch && destination >= 0 && destination < batch, "copyRow: rows \(source), \(destination) of \(batch)")
        let heads = keys[0].shape[1], hs = keys[0].shape[3], n = lengths[source]
        let block = stride * hs                    // floats per (row, head) in either buffer
        let keyFloats = (n + 15) / 16 * 16 * hs    // whole 16-position tiles up to n
        for l in keys.indices {
            for h in 0..<heads {
                let (from, to) = ((source * heads + h) * block, (destination * heads + h) * block)
                (keys[l].data + to).update(from: keys[l].data + from, count: keyFloats)
                (values[l].data + to).update(from: values[l].data + from, count: n * hs)
            }
        }
        lengths[destination] = n
    }
}

extension GPT {
    /// The cached forward pass: query i is token `tokens[i]` at position `positions[i]` of cache
    /// row `rows[i]`; its keys and values are appended to `cache`, and it attends to positions
    /// 0...positions[i] of its row. Returns the logits (O, V) of the queries listed in `outputs`.
    /// All queries go through each layer as one (Q, C) matrix product; runs on the calling
    /// thread unless `threaded` (then products use rft's threads). With `weights` (from
    /// `DecodeWeights(self)`), products use the packed kernel: serial ones always, threaded ones
    /// (split by output features) up to `DecodeWeights.threadedRows` rows. No autograd.
    public func forwardCached(tokens: [Int], rows: [Int], positions: [Int], cache: KVCache,
                              outputs: [Int], threaded: Bool = false, weights: DecodeWeights? = nil) -> Tensor {
        let q = tokens.count, c = config.width, v = config.vocabularySize
        let (heads, kvHeads, hs) = (config.heads, config.kvHeads, config.headSize)
        let (attentionWidth, qkvWidth, hidden) = (config.attentionWidth, config.qkvWidth, config.mlpHiddenSize)
        let fcWidth = config.activation == .swiglu ? 2 * hidden : hidden
        precondition(rows.count == q && positions.count == q, "forwardCached: \(q) tokens, \(rows.count) rows, \(positions.count) positions")
        for i in 0..<q {
            precondition(tokens[i] >= 0 && tokens[i] < v, "forwardCached: token \(tokens[i]) outside 0..<\(v)")
            precondition(rows[i] >= 0 && rows[i] < cache.batch && positions[i] >= 0 && positions[i] < cache.capacity,
                         "forwardCached: row \(rows[i]), position \(positions[i]) outside the cache")
        }
        let x = Tensor(uninitialized: [q, c]), h = Tensor(uninitialized: [q, max(c, attentionWidth)])  // (Q, C)
        let qkv = Tensor(uninitialized: [q, qkvWidth]), f = Tensor(uninitialized: [q, fcWidth])
        let gated = config.activation == .swiglu ? Tensor(uninitialized: [q, hidden]) : f        // SwiGLU's output (Q, F)
        let scratch = Tensor(uninitialized: [cache.stride])
        let threads = threaded ? BLAS.callerThreads : 1  // for the packed products and the row-wise steps
        let (px, ph, pq, pf, pg) = (x.data, h.data, qkv.data, f.data, gated.data)
        // x (Q, C) = wte[token] (+ wpe[position])
        let pe = wte.weight.data
        for i in 0..<q {
            let o = px + i * c, e = pe + tokens[i] * c
            if let pp = wpe?.weight.data {
                let p = pp + positions[i] * c
                for j in 0..<c { o[j] = e[j] + p[j] }
            } else {
                o.update(from: e, count: c)
            }
        }
        /// out (m, outF) = (accumulate ? out : 0) + bias + inp (m, inF) · Wᵀ: the packed kernel when
        /// `weights` has W and this call is serial, else sgemm.
        func product(_ m: Int, _ inp: UnsafePointer<Float>, _ weight: Tensor, _ bias: Tensor?,
                     _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            let (outF, inF) = (weight.shape[0], weight.shape[1])
            if let packed = weights?[weight] {
                if threads == 1 {
                    packed.apply(rows: m, x: inp, ldx: inF, bias: bias?.data, y: out, ldy: outF, accumulate: accumulate)
                    return
                }
                if m <= DecodeWeights.threadedRows {  // decoding steps: the packed kernel on every thread
                    packed.apply(rows: m, x: inp, ldx: inF, bias: bias?.data, y: out, ldy: outF, accumulate: accumulate,
                                 threads: threads)
                    return
                }
            }
            if let b = bias {
                for r in 0..<m {
                    if accumulate { DecodeKernels.add(outF, b.data, out + r * outF) } else { (out + r * outF).update(from: b.data, count: outF) }
                }
            }
            let beta: Float = bias != nil || accumulate ? 1 : 0
            if threaded {
                BLAS.gemm(transB: true, m: m, n: outF, k: inF, a: inp, lda: inF, b: weight.data, ldb: inF, beta: beta, c: out, ldc: outF)
            } else {
                BLAS.gemmSerial(transB: true, m: m, n: outF, k: inF, a: inp, lda: inF, b: weight.data, ldb: inF, beta: beta, c: out, ldc: outF)
            }
        }
        func affine(_ inp: UnsafePointer<Float>, _ layer: Linear, _ out: UnsafeMutablePointer<Float>, accumulate: Bool) {
            product(q, inp, layer.weight, layer.bias, out, accumulate: accumulate)
        }
        rows.withUnsafeBufferPointer { rowsBuf in
            positions.withUnsafeBufferPointer { posBuf in
                for (l, block) in blocks.enumerated() {
                    block.ln1.normalize(rows: q, px, into: ph)                            // h (Q, C)
                    affine(ph, block.attn.qkv, pq, accumulate: false)                     // qkv (Q, (H + 2·KV)·hs)
                    if let rotary {                                                       // RoPE on q and k
                        DecodeKernels.rotate(rows: q, heads: heads + kvHeads, ld: qkvWidth, positions: posBuf.baseAddress!,
                                             x: pq, rotary: rotary)
                    }
                    DecodeKernels.appendAndAttend(queries: q, qkv: pq, rows: rowsBuf.baseAddress!, positions: posBuf.baseAddress!,
                                                  keys: cache.keys[l].data, values: cache.values[l].data, stride: cache.stride,
                                                  heads: heads, kvHeads: kvHeads, headSize: hs, out: ph,
                                                  scratch: scratch.data, threads: threads)  // h (Q, H·hs)
                    affine(ph, block.attn.proj, px, accumulate: true)                     // x += proj(att)
                    block.ln2.normalize(rows: q, px, into: ph)
                    affine(ph, block.mlp.fc, pf, accumulate: false)                       // f (Q, F) or (Q, 2F)
                    if block.mlp.activation == .swiglu {
                        DecodeKernels.swiglu(rows: q, hidden: hidden, x: pf, y: pg, threads: threads)  // g (Q, F)
                    } else {
                        DecodeKernels.geluInPlace(f.count, pf)
                    }
                    affine(pg, block.mlp.proj, px, accumulate: true)                      // x += mlp
                }
            }
        }
        for i in 0..<q { cache.lengths[rows[i]] = max(cache.lengths[rows[i]], positions[i] + 1) }
        // logits (O, V) = ln_f(x[outputs]) · Wᵀ
        let o = outputs.count
        for (k, i) in outputs.enumerated() { (ph + k * c).update(from: px + i * c, count: c) }
        let normed = Tensor(uninitialized: [o, c])
        lnF.normalize(rows: o, ph, into: normed.data)
        let logits = Tensor(uninitialized: [o, v])
        product(o, normed.data, outputWeight, nil, logits.data, accumulate: false)
        withExtendedLifetime((x, h, qkv, f, gated, scratch, normed)) {}  // the raw pointers above point into these
        return logits
    }


    /// Runs `prompts` (one per cache row, any lengths ≥ 1) into `cache` (row b at positions
    /// 0..<prompts[b].count) and returns the logits of each prompt's last token, (B, V).
    /// A prompt equal to the one before it is not run again: its row is copied (as GRPO's K
    /// completions of one prompt are laid out), and its logits row repeated.
    public func prefill(_ prompts: [[Int]], cache: KVCache, threaded: Bool = true, weights: DecodeWeights? = nil) -> Tensor {
        precondition(prompts.count == cache.batch, "prefill: \(prompts.count) prompts for a cache of \(cache.batch) rows")
        precondition(prompts.allSatisfy { !$0.isEmpty }, "prefill: empty prompt")
        var tokens: [Int] = [], rows: [Int] = [], positions: [Int] = [], outputs: [Int] = []
        var source = [Int](prompts.indices)  // the row whose prefill row r reuses (itself when distinct)
        for (r, p) in prompts.enumerated() {
            if r > 0 && p == prompts[r - 1] { source[r] = source[r - 1]; continue }
            tokens += p
            rows += Array(repeating: r, count: p.count)
            positions += Array(0..<p.count)
            outputs.append(tokens.count - 1)
        }
        let distinct = forwardCached(tokens: tokens, rows: rows, positions: positions, cache: cache, outputs: outputs,
                                     threaded: threaded, weights: weights)  // (U, V)
        guard outputs.count < prompts.count else { return distinct }
        let v = config.vocabularySize
        let logits = Tensor(uninitialized: [prompts.count, v])  // (B, V)
        var u = -1
        for r in prompts.indices {
            if source[r] == r { u += 1 } else { cache.copyRow(source[r], to: r) }
            (logits.data + r * v).update(from: distinct.data + u * v, count: v)
        }
        return logits
    }

    /// One decoding step: appends `tokens[a]` to cache row `rows[a]` (at position
    /// `cache.lengths[rows[a]]`) for each active row a and returns the next-token logits (A, V).
    public func decodeStep(tokens: [Int], rows: [Int], cache: KVCache, threaded: Bool = true,
                           weights: DecodeWeights? = nil) -> Tensor {
        forwardCached(tokens: tokens, rows: rows, positions: rows.map { cache.lengths[$0] }, cache: cache,
                      outputs: Array(rows.indices), threaded: threaded, weights: weights)
    }
}

/// Every matrix of a GPT packed for the decode kernel (`PackedLinear`), made once per
/// generation call: the weights are read, not copied back, so pack again after they change.
public final class DecodeWeights: @unchecked Sendable {
    private let packed: [ObjectIdentifier: PackedLinear]

    /// The packed matrices of `model` (its blocks' linears and the output projection), or nil
    /// when this machine has no packed kernel.
    public init?(_ model: GPT) {
        guard PackedLinear.isAvailable else { return nil }
        let linears = model.blocks.flatMap { [$0.attn.qkv, $0.attn.proj, $0.mlp.fc, $0.mlp.proj] }
        var packed: [ObjectIdentifier: PackedLinear] = [:]
        for w in linears.map(\.weight) + [model.outputWeight] {
            packed[ObjectIdentifier(w)] = PackedLinear(w)
        }
        self.packed = packed
    }

    /// Rows up to which a threaded product uses the packed kernel split by features; above it (a
    /// long prefill) sgemm, which blocks for the caches, is faster.
    static let threadedRows = 128

    /// The packed form of `weight`, if it is one of the model's.
    subscript(weight: Tensor) -> PackedLinear? { packed[ObjectIdentifier(weight)] }
}
