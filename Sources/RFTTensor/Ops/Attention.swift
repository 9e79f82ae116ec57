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
/// it may see, so the masked upper triangle is (mostly) never computed. (group, head) pairs run
/// in parallel when rft owns the threads; a pair owns its prompt's gradient rows, so no two
/// threads add into the same row.

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
/// qkv is (B, T, 3C) laid out per token as [q | k | v], each C = heads·hs wide with head h at
/// columns h·hs ..< (h+1)·hs (PyTorch's split + view) → out is (B, T, C).
/// Saves the attention probabilities for backward.
public func causalSelfAttention(_ qkv: Tensor, heads: Int) -> Tensor {
    precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                 "causalSelfAttention: qkv \(qkv.shape) with \(heads) heads")
    let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
    return attention(qkv, layout: .dense(batch: b, length: t), heads: heads, outShape: [b, t, c3 / 3])
}

/// Self-attention over the rows of a packed batch, each row attending to the rows `layout`
/// gives it (causal within its sequence; branches share their group's prompt).
/// qkv is (N, 3C) laid out per row as [q | k | v] as in `causalSelfAttention` → out is (N, C).
/// Saves the attention probabilities for backward.
public func packedSelfAttention(_ qkv: Tensor, layout: AttentionLayout, heads: Int) -> Tensor {
    precondition(qkv.rank == 2 && qkv.shape[1] % (3 * heads) == 0 && qkv.shape[0] == layout.rowCount,
                 "packedSelfAttention: qkv \(qkv.shape) with \(heads) heads for \(layout.rowCount) rows")
    return attention(qkv, layout: layout, heads: heads, outShape: [qkv.shape[0], qkv.shape[1] / 3])
}

/// The shared body: qkv holds layout.rowCount rows of 3C floats (any shape) → out of `outShape`.
func attention(_ qkv: Tensor, layout: AttentionLayout, heads: Int, outShape: [Int]) -> Tensor {
    let c3 = qkv.shape.last!
    let c = c3 / 3, hs = c / heads
    let geometry = SpanGeometry(c3: c3, c: c, hs: hs, scale: 1 / Float(hs).squareRoot(), native: NativeKernels.isAvailable)
    let out = Tensor(uninitialized: outShape)
    let recording = Tensor.recording([qkv])
    let workers = BLAS.callerThreads
    let groups = layout.groups
    // probabilities: every (group, head) kept when recording, else one scratch per worker
    var offsets = [0]  // start of group g's probabilities (all heads)
    for g in groups { offsets.append(offsets.last! + heads * layout.probabilityFloats(g)) }
    let largest = groups.map { layout.probabilityFloats($0) }.max() ?? 0
    let probs = Tensor(uninitialized: [recording ? offsets.last! : workers * largest])
    let (pq, po, pp) = (qkv.data, out.data, probs.data)
    let units = groups.count * heads
    let perWorker = (units + workers - 1) / workers  // units per worker, as parallelFor splits them
    parallelFor(units, grain: 1, threads: workers) { chunk in
        for unit in chunk {
            let (gi, h) = unit.quotientAndRemainder(dividingBy: heads)
            let g = groups[gi], per = layout.probabilityFloats(g)
            var p = recording ? pp + offsets[gi] + h * per : pp + (chunk.lowerBound / perWorker) * largest
            let head = pq + h * hs, oh = po + h * hs
            let prompt = g.prompt.lowerBound, pn = g.prompt.count
            attendSpanForward(geometry, q: head + prompt * c3, count: pn, prefix: head, prefixCount: 0,
                              own: head + prompt * c3, out: oh + prompt * c, probs: p)
            p += pn * pn
            for br in g.branches {
                attendSpanForward(geometry, q: head + br.lowerBound * c3, count: br.count, prefix: head + prompt * c3,
                                  prefixCount: pn, own: head + br.lowerBound * c3, out: oh + br.lowerBound * c, probs: p)
                p += br.count * (pn + br.count)
            }
        }
    }
    guard recording else { return out }
    return out.recorded(from: [qkv]) { gOut in
        let gqkv = qkv.gradBuffer()
        let pp = probs.data  // the closure owns `probs`
        let scratch = Tensor(uninitialized: [workers * largest])
        parallelFor(units, grain: 1, threads: workers) { chunk in
            let dp = scratch.data + (chunk.lowerBound / perWorker) * largest
            for unit in chunk {
                let (gi, h) = unit.quotientAndRemainder(dividingBy: heads)
                let g = groups[gi], per = layout.probabilityFloats(g)
                var p = pp + offsets[gi] + h * per
                let head = pq + h * hs, dhead = gqkv + h * hs, go = gOut.data + h * hs
                let prompt = g.prompt.lowerBound, pn = g.prompt.count
                attendSpanBackward(geometry, q: head + prompt * c3, dq: dhead + prompt * c3, count: pn,
                                   prefix: head, dPrefix: dhead, prefixCount: 0,
                                   own: head + prompt * c3, dOwn: dhead + prompt * c3,
                                   dOut: go + prompt * c, probs: p, scratch: dp)
                p += pn * pn
                for br in g.branches {
                    attendSpanBackward(geometry, q: head + br.lowerBound * c3, dq: dhead + br.lowerBound * c3, count: br.count,
                                       prefix: head + prompt * c3, dPrefix: dhead + prompt * c3, prefixCount: pn,
                                       own: head + br.lowerBound * c3, dOwn: dhead + br.lowerBound * c3,
                                       dOut: go + br.lowerBound * c, probs: p, scratch: dp)
                    p += br.count * (pn + br.count)
                }
            }
        }
    }
}

/// Strides and scale shared by every span of one attention call.
struct SpanGeometry {
    /// Floats per qkv row (3C) and per output row (C).
    let c3: Int, c: Int
    /// Head size and 1/√hs.
    let hs: Int, scale: Float
    /// Whether short spans take the AVX2 kernels (read once per call, on the calling thread).
    let native: Bool

    /// True when a span of n queries over m prefix rows is small enough that per-row vector
    /// loops beat sgemm calls (whose fixed cost dominates products of a few thousand flops).
    @inline(__always)
    func isSmall(_ n: Int, _ m: Int) -> Bool { n <= 32 && m + n <= 96 }

    /// Row j of the keys a span sees: prefix row j for j < m, else own row j − m.
    @inline(__always)
    func keyValueRow(_ j: Int, _ prefix: UnsafePointer<Float>, _ m: Int, _ own: UnsafePointer<Float>) -> UnsafePointer<Float> {
        j < m ? prefix + j * c3 : own + (j - m) * c3
    }

    /// The gradient row matching `keyValueRow`.
    @inline(__always)
    func gradientRow(_ j: Int, _ prefix: UnsafeMutablePointer<Float>, _ m: Int, _ own: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        j < m ? prefix + j * c3 : own + (j - m) * c3
    }
}

/// One head of one span: n query rows that see m prefix rows and their own rows causally.
/// q, prefix and own point at the head's q columns of their first row (k at +C, v at +2C, rows
/// C3 apart); out at the head's columns of the first output row (rows C apart).
/// probs receives the (n, m + n) probabilities, row i nonzero on columns 0 ..< m + i + 1.
@inline(__always)
func attendSpanForward(_ s: SpanGeometry, q: UnsafePointer<Float>, count n: Int, prefix: UnsafePointer<Float>,
                       prefixCount m: Int, own: UnsafePointer<Float>, out o: UnsafeMutablePointer<Float>,
                       probs p: UnsafeMutablePointer<Float>) {
    let (c3, c, hs) = (s.c3, s.c, s.hs)
    let ld = m + n
    if s.isSmall(n, m) {  // row by row: a few hundred multiply-adds per product cost less than an sgemm call
        if s.native {
            rft_span_attention_forward(Int32(n), Int32(m), Int32(hs), Int32(c3), Int32(c), s.scale, q, prefix, own, o, p)
            return
        }
        for i in 0..<n {
            let qi = q + i * c3, row = p + i * ld, oi = o + i * c, visible = m + i + 1
            for j in 0..<visible { row[j] = vdot(hs, qi, s.keyValueRow(j, prefix, m, own) + c) * s.scale }
            softmaxRow(visible, row, row)
            (row + visible).update(repeating: 0, count: ld - visible)
            oi.update(repeating: 0, count: hs)
            for j in 0..<visible { vaxpy(hs, row[j], s.keyValueRow(j, prefix, m, own) + 2 * c, oi) }
        }
        return
    }
    for r0 in stride(from: 0, to: n, by: attentionBlock) {
        let r1 = min(n, r0 + attentionBlock), rows = r1 - r0
        let pb = p + r0 * ld
        // S[r0..<r1] = scale · Q[r0..<r1] · [K_prefix ; K_own[0..<r1]]ᵀ
        if m > 0 {
            BLAS.gemmSerial(transB: true, m: rows, n: m, k: hs, alpha: s.scale, a: q + r0 * c3, lda: c3,
                            b: prefix + c, ldb: c3, c: pb, ldc: ld)
        }
        BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, alpha: s.scale, a: q + r0 * c3, lda: c3,
                        b: own + c, ldb: c3, c: pb + m, ldc: ld)
        for i in r0..<r1 {  // row i sees the prefix and own rows 0...i
            let row = p + i * ld
            softmaxRow(m + i + 1, row, row)
            (row + m + i + 1).update(repeating: 0, count: n - i - 1)
        }
        // O[r0..<r1] = P[·, prefix] · V_prefix + P[·, own 0..<r1] · V_own[0..<r1]
        if m > 0 {
            BLAS.gemmSerial(m: rows, n: hs, k: m, a: pb, lda: ld, b: prefix + 2 * c, ldb: c3, c: o + r0 * c, ldc: c)
        }
        BLAS.gemmSerial(m: rows, n: hs, k: r1, a: pb + m, lda: ld, b: own + 2 * c, ldb: c3, beta: m > 0 ? 1 : 0,
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
    let (c3, c, hs, scale) = (s.c3, s.c, s.hs, s.scale)
    let ld = m + n
    if s.isSmall(n, m) {  // row by row, as the forward
        if s.native {
            rft_span_attention_backward(Int32(n), Int32(m), Int32(hs), Int32(c3), Int32(c), scale, q, dq, prefix, dPrefix,
                                        own, dOwn, go, p, dp)
            return
        }
        for i in 0..<n {
            let qi = q + i * c3, dqi = dq + i * c3, pr = p + i * ld, gi = go + i * c, visible = m + i + 1
            // dP_j = dO_i · v_j ;  dV_j += P_ij · dO_i
            for j in 0..<visible {
                dp[j] = vdot(hs, gi, s.keyValueRow(j, prefix, m, own) + 2 * c)
                vaxpy(hs, pr[j], gi, s.gradientRow(j, dPrefix, m, dOwn) + 2 * c)
            }
            // dS_j = P_ij (dP_j − Σ dP·P) · scale ;  dQ_i += dS_j k_j ;  dK_j += dS_j q_i
            let dot = vdot(visible, dp, pr)
            for j in 0..<visible {
                let ds = pr[j] * (dp[j] - dot) * scale
                vaxpy(hs, ds, s.keyValueRow(j, prefix, m, own) + c, dqi)
                vaxpy(hs, ds, qi, s.gradientRow(j, dPrefix, m, dOwn) + c)
            }
        }
        return
    }
    for r0 in stride(from: 0, to: n, by: attentionBlock) {
        let r1 = min(n, r0 + attentionBlock), rows = r1 - r0
        let pb = p + r0 * ld, db = dp + r0 * ld, gb = go + r0 * c
        // dP[r0..<r1] = dO[r0..<r1] · [V_prefix ; V_own[0..<r1]]ᵀ
        if m > 0 {
            BLAS.gemmSerial(transB: true, m: rows, n: m, k: hs, a: gb, lda: c, b: prefix + 2 * c, ldb: c3, c: db, ldc: ld)
        }
        BLAS.gemmSerial(transB: true, m: rows, n: r1, k: hs, a: gb, lda: c, b: own + 2 * c, ldb: c3, c: db + m, ldc: ld)
        // dV_prefix += P[·, prefix]ᵀ · dO ;  dV_own[0..<r1] += P[·, own]ᵀ · dO
        if m > 0 {
            BLAS.gemmSerial(transA: true, m: m, n: hs, k: rows, a: pb, lda: ld, b: gb, ldb: c, beta: 1,
                            c: dPrefix + 2 * c, ldc: c3)
        }
        BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: pb + m, lda: ld, b: gb, ldb: c, beta: 1,
                        c: dOwn + 2 * c, ldc: c3)
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
            BLAS.gemmSerial(m: rows, n: hs, k: m, a: db, lda: ld, b: prefix + c, ldb: c3, beta: 1, c: dq + r0 * c3, ldc: c3)
            BLAS.gemmSerial(transA: true, m: m, n: hs, k: rows, a: db, lda: ld, b: q + r0 * c3, ldb: c3, beta: 1,
                            c: dPrefix + c, ldc: c3)
        }
        BLAS.gemmSerial(m: rows, n: hs, k: r1, a: db + m, lda: ld, b: own + c, ldb: c3, beta: 1, c: dq + r0 * c3, ldc: c3)
        BLAS.gemmSerial(transA: true, m: r1, n: hs, k: rows, a: db + m, lda: ld, b: q + r0 * c3, ldb: c3, beta: 1,
                        c: dOwn + c, ldc: c3)
    }
}
