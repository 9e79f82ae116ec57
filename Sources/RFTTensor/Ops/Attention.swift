import CKernels

/// Fused causal multi-head self-attention: scaled scores, causal mask, softmax and the
/// weighted sum of values in one op, with sgemm per (group, head) on strided views.
///
/// The general op, `packedSelfAttention`, runs over a packed batch of rows described by an
/// `AttentionLayout`: groups of one shared prompt and any number of branches (completions)
/// that continue it. The prompt's rows are computed once per group, however many branches
/// read them — how GRPO's K completions of one prompt are scored without repeating the prompt
/// K times. `causalSelfAttention` over a (B, T) batch is the special case of B groups with no
/// branches. Query rows are processed in blocks of `attentionBlock`, each against only the keys
/// it may see, so the masked upper triangle is (mostly) never computed. (group, key/value head)
/// pairs run in parallel when rft owns the threads; a pair owns its prompt's gradient rows, so no
/// two threads add into the same row. Grouped-query attention (fewer key/value heads than query
/// heads) and rotary position embeddings (`RotaryEmbedding`) are options of the same op.

/// Query rows per block of the causal loop.
let attentionBlock = 64

/// Which rows of a packed (N, ·) batch attend to which: a list of groups, each a prompt (a
/// range of consecutive rows at positions 0, 1, …) and branches (ranges of rows continuing the
/// prompt at positions P, P+1, …). A prompt row attends to the prompt rows up to itself; a
/// branch row to the whole prompt and to its own branch's rows up to itself — never to another
/// branch. The ranges partition 0..<rowCount.
public struct AttentionLayout: Sendable, Equatable {
    /// One prompt and its continuations.
    public struct Group: Sendable, Equatable {
        /// Rows of the shared prompt (at least one).
        public var prompt: Range<Int>
        /// Rows of each continuation (possibly empty ranges).
        public var branches: [Range<Int>]

        /// A group of `prompt` rows continued by `branches`.
        public init(prompt: Range<Int>, branches: [Range<Int>] = []) {
            self.prompt = prompt
            self.branches = branches
        }
    }

    /// The groups, in any order.
    public let groups: [Group]
    /// Rows in the packed batch.
    public let rowCount: Int

    /// A layout of `groups`; the prompts and branches must partition 0..<rowCount, and every
    /// prompt must be non-empty.
    public init(groups: [Group]) {
        var covered = [Bool]()
        for g in groups {
            precondition(!g.prompt.isEmpty, "AttentionLayout: empty prompt")
            for r in [g.prompt] + g.branches {
                precondition(r.lowerBound >= 0, "AttentionLayout: negative row")
                if covered.count < r.upperBound { covered += [Bool](repeating: false, count: r.upperBound - covered.count) }
                for i in r {
                    precondition(!covered[i], "AttentionLayout: row \(i) is in two ranges")
                    covered[i] = true
                }
            }
        }
        precondition(covered.allSatisfy { $0 }, "AttentionLayout: the ranges leave rows out")
        self.groups = groups
        self.rowCount = covered.count
    }

    /// B independent sequences of `length` rows each, stored one after another: plain causal
    /// attention over a (B, T) batch.
    public static func dense(batch: Int, length: Int) -> AttentionLayout {
        AttentionLayout(groups: (0..<batch).map { Group(prompt: ($0 * length)..<(($0 + 1) * length)) })
    }

    /// The position of every row in its sequence: i within a prompt, P + i within a branch.
    public var positions: [Int] {
        var p = [Int](repeating: 0, count: rowCount)
        for g in groups {
            for (i, r) in g.prompt.enumerated() { p[r] = i }
            for b in g.branches { for (i, r) in b.enumerated() { p[r] = g.prompt.count + i } }
        }
        return p
    }

    /// Floats of saved probabilities one head of `group` needs: P² for the prompt plus
    /// n·(P + n) per branch of n rows.
    func probabilityFloats(_ group: Group) -> Int {
        let p = group.prompt.count
        return p * p + group.branches.reduce(0) { $0 + $1.count * (p + $1.count) }
    }
}

/// Causal self-attention over a packed projection.
/// qkv is (B, T, (H + 2·KV)·hs) laid out per token as [q | k | v]: H query heads, then KV key
/// and value heads (grouped-query attention: query head h reads key/value head h / (H/KV);
/// KV = H, the default, is plain multi-head attention), head h at columns h·hs ..< (h+1)·hs of
/// its part (PyTorch's split + view) → out is (B, T, H·hs). With `rotary`, q and k are rotated
/// at their positions 0..<T first (RoPE). Saves the attention probabilities for backward.
public func causalSelfAttention(_ qkv: Tensor, heads: Int, kvHeads: Int? = nil, rotary: RotaryEmbedding? = nil) -> Tensor {
    let kv = kvHeads ?? heads
    precondition(qkv.rank == 3 && kv >= 1 && heads % kv == 0 && qkv.shape[2] % (heads + 2 * kv) == 0,
                 "causalSelfAttention: qkv \(qkv.shape) with \(heads) heads and \(kv) key/value heads")
    let (b, t, width) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    return attention(qkv, layout: .dense(batch: b, length: t), heads: heads, kvHeads: kv, rotary: rotary,
                     outShape: [b, t, width / (heads + 2 * kv) * heads])
}

/// Self-attention over the rows of a packed batch, each row attending to the rows `layout`
/// gives it (causal within its sequence; branches share their group's prompt); with `rotary`,
/// q and k rotated at the positions `layout` gives the rows.
/// qkv is (N, (H + 2·KV)·hs) laid out per row as in `causalSelfAttention` → out is (N, H·hs).
/// Saves the attention probabilities for backward.
public func packedSelfAttention(_ qkv: Tensor, layout: AttentionLayout, heads: Int, kvHeads: Int? = nil,
                                rotary: RotaryEmbedding? = nil) -> Tensor {
    let kv = kvHeads ?? heads
    precondition(qkv.rank == 2 && kv >= 1 && heads % kv == 0 && qkv.shape[1] % (heads + 2 * kv) == 0
                    && qkv.shape[0] == layout.rowCount,
                 "packedSelfAttention: qkv \(qkv.shape) with \(heads) heads, \(kv) key/value heads for \(layout.rowCount) rows")
    return attention(qkv, layout: layout, heads: heads, kvHeads: kv, rotary: rotary,
                     outShape: [qkv.shape[0], qkv.shape[1] / (heads + 2 * kv) * heads])
}

/// The shared body: qkv holds layout.rowCount rows of (H + 2·KV)·hs floats (any shape) → out of
/// `outShape`. Work units are (group, key/value head) pairs, each running its H/KV query heads in
/// turn, so a unit owns the gradient rows of its keys and values.
func attention(_ qkv: Tensor, layout: AttentionLayout, heads: Int, kvHeads: Int, rotary: RotaryEmbedding?,
               outShape: [Int]) -> Tensor {
    let ldq = qkv.shape.last!
    let hs = ldq / (heads + 2 * kvHeads), c = heads * hs, perKV = heads / kvHeads
    let geometry = SpanGeometry(ldq: ldq, ldo: c, vShift: kvHeads * hs, hs: hs, scale: 1 / Float(hs).squareRoot(),
                                native: NativeKernels.isAvailable)
    let n = layout.rowCount
    let positions = rotary == nil ? [] : layout.positions
    if let rotary {
        precondition(rotary.headSize == hs, "attention: rotary table for head size \(rotary.headSize), heads of \(hs)")
        rotary.checkPositions(positions, "attention")
    }
    /// q and k rotated (RoPE) at their rows' positions, v copied: (N, ldq); qkv itself without rotary.
    func rotated() -> Tensor {
        guard let rotary else { return qkv }
        let r = Tensor(uninitialized: [n, ldq])
        rotary.rotateRows(n, heads: heads + kvHeads, ld: ldq, positions: positions, qkv.data, r.data, inverse: false)
        let (src, dst, v0) = (qkv.data, r.data, c + kvHeads * hs)
        for row in 0..<n { (dst + row * ldq + v0).update(from: src + row * ldq + v0, count: kvHeads * hs) }
        return r
    }
    let source = rotated()
    let out = Tensor(uninitialized: outShape)
    let recording = Tensor.recording([qkv])
    let workers = BLAS.callerThreads
    let groups = layout.groups
    // probabilities: every (group, head) kept when recording, else one scratch per worker
    var offsets = [0]  // start of group g's probabilities (all heads)
    for g in groups { offsets.append(offsets.last! + heads * layout.probabilityFloats(g)) }
    let largest = groups.map { layout.probabilityFloats($0) }.max() ?? 0
    let probs = Tensor(uninitialized: [recording ? offsets.last! : workers * largest])
    let (po, pp) = (out.data, probs.data)
    let units = groups.count * kvHeads
    let perWorker = (units + workers - 1) / workers  // units per worker, as parallelFor splits them
    /// The query head h's q columns and its key/value head's k columns in `base`.
    func pointers(_ base: UnsafeMutablePointer<Float>, _ h: Int) -> (q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>) {
        (base + h * hs, base + c + (h / perKV) * hs)
    }
    let ps = source.data
    parallelFor(units, grain: 1, threads: workers) { chunk in
        for unit in chunk {
            let (gi, g) = unit.quotientAndRemainder(dividingBy: kvHeads)
            let group = groups[gi], per = layout.probabilityFloats(group)
            let prompt = group.prompt.lowerBound, pn = group.prompt.count
            for h in (g * perKV)..<((g + 1) * perKV) {
                var p = recording ? pp + offsets[gi] + h * per : pp + (chunk.lowerBound / perWorker) * largest
                let (q, k) = pointers(ps, h), oh = po + h * hs
                attendSpanForward(geometry, q: q + prompt * ldq, count: pn, prefix: k, prefixCount: 0,
                                  own: k + prompt * ldq, out: oh + prompt * c, probs: p)
                p += pn * pn
                for br in group.branches {
                    attendSpanForward(geometry, q: q + br.lowerBound * ldq, count: br.count, prefix: k + prompt * ldq,
                                      prefixCount: pn, own: k + br.lowerBound * ldq, out: oh + br.lowerBound * c, probs: p)
                    p += br.count * (pn + br.count)
                }
            }
        }
    }
    withExtendedLifetime(source) {}
    guard recording else { return out }
    return out.recorded(from: [qkv]) { gOut in
        let pp = probs.data  // the closure owns `probs`
        let source = rotated()  // recomputed rather than kept: one pass over qkv
        // with rotary the gradients of the rotated q, k (and of v) collect in a scratch first
        let dSource = rotary == nil ? nil : Tensor(zeros: [n, ldq])
        let (ps, dps) = (source.data, dSource?.data ?? qkv.gradBuffer())
        let scratch = Tensor(uninitialized: [workers * largest])
        parallelFor(units, grain: 1, threads: workers) { chunk in
            let dp = scratch.data + (chunk.lowerBound / perWorker) * largest
            for unit in chunk {
                let (gi, g) = unit.quotientAndRemainder(dividingBy: kvHeads)
                let group = groups[gi], per = layout.probabilityFloats(group)
                let prompt = group.prompt.lowerBound, pn = group.prompt.count
                for h in (g * perKV)..<((g + 1) * perKV) {
                    var p = pp + offsets[gi] + h * per
                    let (q, k) = pointers(ps, h), (dq, dk) = pointers(dps, h), go = gOut.data + h * hs
                    attendSpanBackward(geometry, q: q + prompt * ldq, dq: dq + prompt * ldq, count: pn,
                                       prefix: k, dPrefix: dk, prefixCount: 0,
                                       own: k + prompt * ldq, dOwn: dk + prompt * ldq,
                                       dOut: go + prompt * c, probs: p, scratch: dp)
                    p += pn * pn
                    for br in group.branches {
                        attendSpanBackward(geometry, q: q + br.lowerBound * ldq, dq: dq + br.lowerBound * ldq, count: br.count,
                                           prefix: k + prompt * ldq, dPrefix: dk + prompt * ldq, prefixCount: pn,
                                           own: k + br.lowerBound * ldq, dOwn: dk + br.lowerBound * ldq,
                                           dOut: go + br.lowerBound * c, probs: p, scratch: dp)
                        p += br.count * (pn + br.count)
                    }
                }
            }
        }
        withExtendedLifetime(source) {}
        guard let rotary, let dSource else { return }
        // dq, dk += R(p)ᵀ · d(rotated q, k);  dv += d(v)
        rotary.rotateRows(n, heads: heads + kvHeads, ld: ldq, positions: positions, dSource.data, dSource.data, inverse: true)
        let (gqkv, fresh) = qkv.gradBufferForOverwrite()
        if fresh { gqkv.update(from: dSource.data, count: n * ldq) } else { vadd(n * ldq, dSource.data, gqkv) }
    }
}

/// Strides and scale shared by every span of one attention call.
struct SpanGeometry {
    /// Floats per qkv row ((H + 2·KV)·hs) and per output row (H·hs).
    let ldq: Int, ldo: Int
    /// From a row's k columns of a key/value head to its v columns (KV·hs).
    let vShift: Int
    /// Head size and 1/√hs.
    let hs: Int, scale: Float
    /// Whether short spans take the AVX2 kernels (read once per call, on the calling thread), which
    /// need v to lie as far after k as one output row is long (multi-head attention, KV = H).
    let native: Bool

    init(ldq: Int, ldo: Int, vShift: Int, hs: Int, scale: Float, native: Bool) {
        (self.ldq, self.ldo, self.vShift, self.hs, self.scale) = (ldq, ldo, vShift, hs, scale)
        self.native = native && vShift == ldo
    }

    /// True when a span of n queries over m prefix rows is small enough that per-row vector
    /// loops beat sgemm calls (whose fixed cost dominates products of a few thousand flops).
    @inline(__always)
    func isSmall(_ n: Int, _ m: Int) -> Bool { n <= 32 && m + n <= 96 }

    /// The k columns of row j of the keys a span sees: prefix row j for j < m, else own row j − m
    /// (its v columns are `vShift` further).
    @inline(__always)
    func keyValueRow(_ j: Int, _ prefix: UnsafePointer<Float>, _ m: Int, _ own: UnsafePointer<Float>) -> UnsafePointer<Float> {
        j < m ? prefix + j * ldq : own + (j - m) * ldq
    }

    /// The gradient row matching `keyValueRow`.
    @inline(__always)
    func gradientRow(_ j: Int, _ prefix: UnsafeMutablePointer<Float>, _ m: Int, _ own: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        j < m ? prefix + j * ldq : own + (j - m) * ldq
    }
}

/// One head of one span: n query rows that see m prefix rows and their own rows causally.
/// q points at the query head's q columns of its first row, prefix and own at its key/value
/// head's k columns of their first rows (v at +vShift; rows ldq apart); out at the head's columns
/// of the first output row (rows ldo apart).
/// probs receives the (n, m + n) probabilities, row i nonzero on columns 0 ..< m + i + 1.
@inline(__always)
func attendSpanForward(_ s: SpanGeometry, q: UnsafePointer<Float>, count n: Int, prefix: UnsafePointer<Float>,
                       prefixCount m: Int, own: UnsafePointer<Float>, out o: UnsafeMutablePointer<Float>,
                       probs p: UnsafeMutablePointer<Float>) {
    let (c3, c, hs, vs) = (s.ldq, s.ldo, s.hs, s.vShift)
    let ld = m + n
    if s.isSmall(n, m) {  // row by row: a few hundred multiply-adds per product cost less than an sgemm call
        if s.native {  // the kernel reads k at +c and v at +2c from the pointers it is given
            rft_span_attention_forward(Int32(n), Int32(m), Int32(hs), Int32(c3), Int32(c), s.scale, q, prefix - c, own - c, o, p)
            return
        }
        for i in 0..<n {
            let qi = q + i * c3, row = p + i * ld, oi = o + i * c, visible = m + i + 1
            for j in 0..<visible { row[j] = vdot(hs, qi, s.keyValueRow(j, prefix, m, own)) * s.scale }
            softmaxRow(visible, row, row)
            (row + visible).update(repeating: 0, count: ld - visible)
            oi.update(repeating: 0, count: hs)
            for j in 0..<visible { vaxpy(hs, row[j], s.keyValueRow(j, prefix, m, own) + vs, oi) }
        }
        return
    }
    for r0 in stride(from: 0, to: n, by: attentionBlock) {
        let r1 = min(n, r0 + attentionBlock), rows = r1 - r0
        let pb = p + r0 * ld
        // S[r0..<r1] = scale · Q[r0..<r1] · [K_prefix ; K_own[0..<r1]]ᵀ
        if m > 0 {
            BLAS.gemmSerial(transB: true, m: rows, n: m, k: hs, alpha: s.scale, a: q + r0 * c3, lda: c3,
                            b: prefix, ldb: c3, c: pb, ldc: ld)
        }
        BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, alpha: s.scale, a: q + r0 * c3, lda: c3,
                        b: own, ldb: c3, c: pb + m, ldc: ld)
        for i in r0..<r1 {  // row i sees the prefix and own rows 0...i
            let row = p + i * ld
            softmaxRow(m + i + 1, row, row)
            (row + m + i + 1).update(repeating: 0, count: n - i - 1)
        }
        // O[r0..<r1] = P[·, prefix] · V_prefix + P[·, own 0..<r1] · V_own[0..<r1]
        if m > 0 {
            BLAS.gemmSerial(m: rows, n: hs, k: m, a: pb, lda: ld, b: prefix + vs, ldb: c3, c: o + r0 * c, ldc: c)
        }
        BLAS.gemmSerial(m: rows, n: hs, k: r1, a: pb + m, lda: ld, b: own + vs, ldb: c3, beta: m > 0 ? 1 : 0,
                        c: o + r0 * c, ldc: c)
    }
}

/// The backward of `attendSpanForward`: accumulates (+=) into dq, the prefix's dk/dv (dPrefix)
/// and the span's own dk/dv (dOwn), pointers laid out as their forward counterparts.
/// dOut is the head's output gradient (rows C apart); scratch holds n·(m + n) floats.
@inline(__always)
func attendSpanBackward(_ s: SpanGeometry, q: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, count n: Int,
                        prefix: UnsafePointer<Float>, dPrefix: UnsafeMutablePointer<Float>, prefixCount m: Int,
                        own: UnsafePointer<Float>, dOwn: UnsafeMutablePointer<Float>, dOut go: UnsafePointer<Float>,
                        probs p: UnsafePointer<Float>, scratch dp: UnsafeMutablePointer<Float>) {
    let (c3, c, hs, scale, vs) = (s.ldq, s.ldo, s.hs, s.scale, s.vShift)
    let ld = m + n
    if s.isSmall(n, m) {  // row by row, as the forward
        if s.native {
            rft_span_attention_backward(Int32(n), Int32(m), Int32(hs), Int32(c3), Int32(c), scale, q, dq, prefix - c, dPrefix - c,
                                        own - c, dOwn - c, go, p, dp)
            return
        }
        for i in 0..<n {
            let qi = q + i * c3, dqi = dq + i * c3, pr = p + i * ld, gi = go + i * c, visible = m + i + 1
            // dP_j = dO_i · v_j ;  dV_j += P_ij · dO_i
            for j in 0..<visible {
                dp[j] = vdot(hs, gi, s.keyValueRow(j, prefix, m, own) + vs)
                vaxpy(hs, pr[j], gi, s.gradientRow(j, dPrefix, m, dOwn) + vs)
            }
            // dS_j = P_ij (dP_j − Σ dP·P) · scale ;  dQ_i += dS_j k_j ;  dK_j += dS_j q_i
            let dot = vdot(visible, dp, pr)
            for j in 0..<visible {
                let ds = pr[j] * (dp[j] - dot) * scale
                vaxpy(hs, ds, s.keyValueRow(j, prefix, m, own), dqi)
                vaxpy(hs, ds, qi, s.gradientRow(j, dPrefix, m, dOwn))
            }
        }
        return
    }
    for r0 in stride(from: 0, to: n, by: attentionBlock) {
        let r1 = min(n, r0 + attentionBlock), rows = r1 - r0
        let pb = p + r0 * ld, db = dp + r0 * ld, gb = go + r0 * c
        // dP[r0..<r1] = dO[r0..<r1] · [V_prefix ; V_own[0..<r1]]ᵀ
        if m > 0 {
            BLAS.gemmSerial(transB: true, m: rows, n: m, k: hs, a: gb, lda: c, b: prefix + vs, ldb: c3, c: db, ldc: ld)
        }
        BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, a: gb, lda: c, b: own + vs, ldb: c3, c: db + m, ldc: ld)
        // dV_prefix += P[·, prefix]ᵀ · dO ;  dV_own[0..<r1] += P[·, own]ᵀ · dO
        if m > 0 {
            BLAS.gemmSerial(transA: true, m: m, n: hs, k: rows, a: pb, lda: ld, b: gb, ldb: c, beta: 1,
                            c: dPrefix + vs, ldc: c3)
        }
        BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: pb + m, lda: ld, b: gb, ldb: c, beta: 1,
                        c: dOwn + vs, ldc: c3)
        // dS = P ⊙ (dP − Σ_j dP·P) · scale on the visible part of each row
        for i in r0..<r1 {
            let pr = p + i * ld, dr = dp + i * ld
            let visible = m + i + 1
            let dot = vdot(visible, dr, pr)
            var j = 0
            while j + 16 <= visible {
                store16(load16(pr + j) * (load16(dr + j) - dot) * scale, dr + j)
                j += 16
            }
            while j < visible { dr[j] = pr[j] * (dr[j] - dot) * scale; j += 1 }
            (dr + visible).update(repeating: 0, count: m + r1 - visible)
        }
        // dQ[r0..<r1] += dS · [K_prefix ; K_own] ;  dK_prefix += dS[·, prefix]ᵀ · Q ;  dK_own += dS[·, own]ᵀ · Q
        if m > 0 {
            BLAS.gemmSerial(m: rows, n: hs, k: m, a: db, lda: ld, b: prefix, ldb: c3, beta: 1, c: dq + r0 * c3, ldc: c3)
            BLAS.gemmSerial(transA: true, m: m, n: hs, k: rows, a: db, lda: ld, b: q + r0 * c3, ldb: c3, beta: 1,
                            c: dPrefix, ldc: c3)
        }
        BLAS.gemmSerial(m: rows, n: hs, k: r1, a: db + m, lda: ld, b: own, ldb: c3, beta: 1, c: dq + r0 * c3, ldc: c3)
        BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: db + m, lda: ld, b: q + r0 * c3, ldb: c3, beta: 1,
                        c: dOwn, ldc: c3)
    }
}
