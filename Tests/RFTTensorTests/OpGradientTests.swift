import Foundation
import Testing
@testable import RFTTensor

// Finite-difference gradient checks (see GradCheck.swift for the method and tolerances) for
// every differentiable op, plus forward-value checks against naive scalar references in Double.

// MARK: - linear

@Suite struct LinearTests {
    @Test func gradientWithBias() {
        let x = param([2, 3, 4], seed: 1), w = param([5, 4], seed: 2), b = param([5], seed: 3)
        gradCheck([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func gradientWithoutBias() {
        let x = param([3, 4], seed: 4), w = param([5, 4], seed: 5)
        gradCheck([x, w]) { linear($0[0], weight: $0[1]) }
    }

    @Test func gradientOnlyWeightRequiresGrad() {
        let x = randn([3, 4], seed: 6), w = param([2, 4], seed: 7), b = randn([2], seed: 8)
        gradCheck([x, w, b]) { linear($0[0], weight: $0[1], bias: $0[2]) }
        #expect(x.grad == nil && b.grad == nil)
    }

    @Test func forwardMatchesNaive() {
        let x = randn([2, 3, 4], seed: 9), w = randn([5, 4], seed: 10), b = randn([5], seed: 11)
        let y = linear(x, weight: w, bias: b)
        let y0 = linear(x, weight: w)
        #expect(y.shape == [2, 3, 5] && y0.shape == [2, 3, 5])
        var ref = [Double](), ref0 = [Double]()
        for r in 0..<6 {
            for o in 0..<5 {
                var acc = 0.0
                for i in 0..<4 { acc += Double(x.data[r * 4 + i]) * Double(w.data[o * 4 + i]) }
                ref0.append(acc)
                ref.append(acc + Double(b.data[o]))
            }
        }
        #expect(maxAbsDiff(y.toArray(), ref) < 1e-5)
        #expect(maxAbsDiff(y0.toArray(), ref0) < 1e-5)
    }
}

// MARK: - matmul

/// Naive op(a)·op(b) for one (M,K)x(K,N) slice at element offsets.
func naiveMatmul(_ a: Tensor, _ b: Tensor, transposeA: Bool, transposeB: Bool) -> (shape: [Int], values: [Double]) {
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let n = transposeB ? br : bc
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let shared = b.rank == 2
    var out = [Double]()
    for bi in 0..<batch {
        let ao = bi * ar * ac, bo = shared ? 0 : bi * br * bc
        for i in 0..<m {
            for j in 0..<n {
                var acc = 0.0
                for p in 0..<k {
                    let av = transposeA ? a.data[ao + p * ac + i] : a.data[ao + i * ac + p]
                    let bv = transposeB ? b.data[bo + j * bc + p] : b.data[bo + p * bc + j]
                    acc += Double(av) * Double(bv)
                }
                out.append(acc)
            }
        }
    }
    return (batchShape + [m, n], out)
}

@Suite struct MatMulTests {
    // M = 3, K = 4, N = 5 (all different, so a transposition mix-up cannot type-check by luck)
    @Test(arguments: [false, true], [false, true])
    func gradient2D(transposeA: Bool, transposeB: Bool) {
        let a = param(transposeA ? [4, 3] : [3, 4], seed: 20)
        let b = param(transposeB ? [5, 4] : [4, 5], seed: 21)
        gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB) }
    }

    @Test(arguments: [false, true], [false, true])
    func gradientBatched(transposeA: Bool, transposeB: Bool) {
        let a = param([2, 3] + (transposeA ? [4, 3] : [3, 4]), seed: 22)
        let b = param([2, 3] + (transposeB ? [5, 4] : [4, 5]), seed: 23)
        gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB) }
    }

    @Test(arguments: [false, true], [false, true])
    func gradientSharedB(transposeA: Bool, transposeB: Bool) {
        let a = param([2] + (transposeA ? [4, 3] : [3, 4]), seed: 24)
        let b = param(transposeB ? [5, 4] : [4, 5], seed: 25)
        gradCheck([a, b]) { matmul($0[0], $0[1], transposeA: transposeA, transposeB: transposeB) }
    }

    @Test(arguments: [false, true], [false, true])
    func forwardMatchesNaive(transposeA: Bool, transposeB: Bool) {
        for (aLead, bLead) in [([], []), ([2, 3], [2, 3]), ([2], [])] as [([Int], [Int])] {
            let a = randn(aLead + (transposeA ? [4, 3] : [3, 4]), seed: 26)
            let b = randn(bLead + (transposeB ? [5, 4] : [4, 5]), seed: 27)
            let c = matmul(a, b, transposeA: transposeA, transposeB: transposeB)
            let ref = naiveMatmul(a, b, transposeA: transposeA, transposeB: transposeB)
            #expect(c.shape == ref.shape)
            #expect(maxAbsDiff(c.toArray(), ref.values) < 1e-5)
        }
    }
}

// MARK: - broadcasting + − ×

enum BinOp: String, CaseIterable, Sendable {
    case add, sub, mul
    func apply(_ a: Tensor, _ b: Tensor) -> Tensor {
        switch self { case .add: a + b; case .sub: a - b; case .mul: a * b }
    }
    func reference(_ x: Double, _ y: Double) -> Double {
        switch self { case .add: x + y; case .sub: x - y; case .mul: x * y }
    }
}

struct ShapePair: Sendable, CustomTestStringConvertible {
    var a: [Int], b: [Int]
    var testDescription: String { "\(a) ∘ \(b)" }
}

let broadcastCases: [ShapePair] = [
    ShapePair(a: [2, 3, 4], b: [2, 3, 4]),  // same shape
    ShapePair(a: [2, 3, 20], b: [2, 3, 20]),  // same shape, vector path (≥ 16 wide)
    ShapePair(a: [2, 3, 4], b: [4]),  // suffix
    ShapePair(a: [4], b: [2, 3, 4]),  // suffix, on the left
    ShapePair(a: [2, 1, 4], b: [3, 1]),  // middle: both sides broadcast
    ShapePair(a: [2, 3], b: [1]),  // scalar-like
    ShapePair(a: [1], b: [2, 3]),  // scalar-like, on the left
    ShapePair(a: [3, 1], b: [1, 18]),  // outer product, wide inner row
    ShapePair(a: [2, 3, 18], b: [3, 18]),  // leading broadcast with contiguous rows ≥ 16
]

@Suite struct BroadcastTests {
    @Test(arguments: BinOp.allCases, broadcastCases)
    func gradient(op: BinOp, shapes: ShapePair) {
        let a = param(shapes.a, seed: 30), b = param(shapes.b, seed: 31)
        gradCheck([a, b]) { op.apply($0[0], $0[1]) }
    }

    @Test(arguments: BinOp.allCases, broadcastCases)
    func forwardMatchesNaive(op: BinOp, shapes: ShapePair) {
        let a = randn(shapes.a, seed: 32), b = randn(shapes.b, seed: 33)
        let out = op.apply(a, b)
        let ref = naiveBroadcast(a, b, op.reference)
        #expect(out.shape == ref.shape)
        #expect(maxAbsDiff(out.toArray(), ref.values) < 1e-6)
    }

    @Test(arguments: BinOp.allCases)
    func gradientOneSideOnly(op: BinOp) {
        let a = randn([2, 3, 4], seed: 34), b = param([3, 1], seed: 35)
        gradCheck([a, b]) { op.apply($0[0], $0[1]) }
        #expect(a.grad == nil)
    }

    @Test(arguments: BinOp.allCases)
    func sameTensorBothSides(op: BinOp) {
        // x∘x: both paths accumulate into the one gradient (x+x → 2, x−x → 0, x·x → 2x).
        let x = param([5], seed: 36)
        op.apply(x, x).backward(gradient: Tensor(repeating: 1, shape: [5]))
        let g = x.grad!.toArray()
        for i in 0..<5 {
            let expected: Float = op == .add ? 2 : op == .sub ? 0 : 2 * x.data[i]
            #expect(abs(g[i] - expected) < 1e-6)
        }
    }

    @Test func broadcastShapeRules() {
        #expect(broadcastShape([2, 3, 4], [4]) == [2, 3, 4])
        #expect(broadcastShape([2, 1, 4], [3, 1]) == [2, 3, 4])
        #expect(broadcastShape([1], [2, 3]) == [2, 3])
        #expect(broadcastShape([2, 3], [3, 2]) == nil)
        #expect(broadcastShape([], [5]) == [5])
    }
}

// MARK: - scalar arithmetic and gelu

@Suite struct ScalarOpTests {
    @Test func timesFloatGradient() {
        let x = param([37], seed: 40)
        gradCheck([x]) { $0[0] * 2.5 }
        gradCheck([x]) { -1.5 * $0[0] }
    }

    @Test func plusFloatGradient() {
        let x = param([37], seed: 41)
        gradCheck([x]) { $0[0] + 3 }
    }

    @Test func negationGradient() {
        let x = param([2, 19], seed: 42)
        gradCheck([x]) { -$0[0] }
    }

    @Test func scalarForwardValues() {
        let x = randn([37], seed: 43)
        let a = (x * 2.5).toArray(), b = (0.5 * x).toArray(), c = (x + 3).toArray(), d = (-x).toArray()
        for i in 0..<37 {
            let v = x.data[i]
            #expect(a[i] == v * 2.5 && b[i] == v * 0.5 && c[i] == v + 3 && d[i] == -v)
        }
    }

    /// On the native kernel (where the CPU has it) and on the portable Swift path.
    @Test(arguments: [false, true])
    func geluGradient(portable: Bool) {
        // 37 = two 16-lane blocks + a 5-element tail; spread over [-4, 4]
        let x = param([37], seed: 44, std: 2)
        onKernels(portable: portable) { gradCheck([x]) { gelu($0[0]) } }
    }

    @Test(arguments: [false, true])
    func geluForwardMatchesTanhFormula(portable: Bool) {
        let n = 401
        let x = Tensor(shape: [n], data: (0..<n).map { Float(-10 + 20 * Double($0) / Double(n - 1)) })
        var y: [Float] = []
        onKernels(portable: portable) { y = gelu(x).toArray() }
        // the decoder's in-place GELU agrees with the op
        let inPlace = x.copy()
        onKernels(portable: portable) { DecodeKernels.geluInPlace(n, inPlace.data) }
        #expect(maxAbsDiff(inPlace.toArray(), y) < 1e-6)
        var maxErr = 0.0
        for i in 0..<n {
            let v = Double(x.data[i])
            let ref = 0.5 * v * (1 + tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
            maxErr = max(maxErr, nanToInf(abs(Double(y[i]) - ref) / max(1, abs(ref))))
        }
        #expect(maxErr < 2e-6)  // ≈ 16 float ulps: the Swift kernel stays under 1e-6, the AVX2 one (FMA) measured 1.2e-6
    }
}

// MARK: - reductions

@Suite struct ReductionTests {
    @Test func sumGradient() {
        let x = param([3, 5], seed: 50)
        gradCheck([x]) { $0[0].sum() }
    }

    @Test func meanGradient() {
        let x = param([3, 5], seed: 51)
        gradCheck([x]) { $0[0].mean() }
    }

    @Test func sumAndMeanValues() {
        let x = randn([3, 5, 7], seed: 52)
        let ref = x.toArray().reduce(0.0) { $0 + Double($1) }
        let s = x.sum(), m = x.mean()
        #expect(s.shape == [] && m.shape == [])
        #expect(abs(Double(s.item()) - ref) < 1e-5)
        #expect(abs(Double(m.item()) - ref / 105) < 1e-6)
    }

    @Test(arguments: [0, 1, 2, -1], [false, true])
    func sumAxisGradient(axis: Int, keepDims: Bool) {
        let x = param([2, 3, 4], seed: 53)
        gradCheck([x]) { $0[0].sum(axis: axis, keepDims: keepDims) }
    }

    @Test(arguments: [0, 1, 2, -1], [false, true])
    func meanAxisGradient(axis: Int, keepDims: Bool) {
        let x = param([2, 3, 4], seed: 54)
        gradCheck([x]) { $0[0].mean(axis: axis, keepDims: keepDims) }
    }

    @Test(arguments: [0, 1, 2, -1], [false, true])
    func axisReductionValues(axis: Int, keepDims: Bool) {
        let shape = [2, 3, 4]
        let x = randn(shape, seed: 55)
        let ax = axis < 0 ? axis + 3 : axis
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        var refFull = shape
        refFull[ax] = 1
        var ref = [Double](repeating: 0, count: refFull.reduce(1, *))
        let rs = strides(of: refFull)
        for flat in 0..<x.count {
            var idx = unravel(flat, shape)
            idx[ax] = 0
            ref[zip(idx, rs).map(*).reduce(0, +)] += Double(x.data[flat])
        }
        let s = x.sum(axis: axis, keepDims: keepDims), m = x.mean(axis: axis, keepDims: keepDims)
        #expect(s.shape == outShape && m.shape == outShape)
        #expect(maxAbsDiff(s.toArray(), ref) < 1e-5)
        #expect(maxAbsDiff(m.toArray(), ref.map { $0 / Double(shape[ax]) }) < 1e-6)
    }
}

// MARK: - layerNorm

func naiveLayerNorm(_ x: Tensor, _ w: Tensor, _ b: Tensor, eps: Double = 1e-5) -> [Double] {
    let c = x.shape.last!, rows = x.count / c
    var out = [Double]()
    for r in 0..<rows {
        let row = (0..<c).map { Double(x.data[r * c + $0]) }
        let mean = row.reduce(0, +) / Double(c)
        let v = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(c)
        for i in 0..<c { out.append((row[i] - mean) / (v + eps).squareRoot() * Double(w.data[i]) + Double(b.data[i])) }
    }
    return out
}

@Suite struct LayerNormTests {
    // C = 20: one 16-lane block plus a 4-element tail.  Churn is off here (this test checks the
    // maths); `backwardDoesNotReadFreedStats` below checks the same with allocator churn.
    @Test(arguments: [[3, 20], [2, 2, 7]])
    func gradient(shape: [Int]) {
        let c = shape.last!
        let x = param(shape, seed: 60), w = param([c], seed: 61), b = param([c], seed: 62)
        gradCheck([x, w, b], churn: false) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func gradientOnlyX() {
        let x = param([3, 20], seed: 63), w = randn([20], seed: 64), b = randn([20], seed: 65)
        gradCheck([x, w, b], churn: false) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
    }

    /// Regression: the backward closure must own `stats` (per-row mean and rstd).  Reading it
    /// through a raw pointer captured in the forward, without retaining the tensor, hands the
    /// block back to the caching allocator and any later allocation overwrites it (the churn
    /// fills it with NaN).
    @Test(arguments: [[3, 20], [64, 20]])
    func backwardDoesNotReadFreedStats(shape: [Int]) {
        let c = shape.last!
        let x = param(shape, seed: 66), w = param([c], seed: 67), b = param([c], seed: 68)
        gradCheck([x, w, b], churn: true) { layerNorm($0[0], weight: $0[1], bias: $0[2]) }
    }

    @Test func forwardMatchesNaive() {
        let x = randn([4, 37], seed: 69, std: 3), w = randn([37], seed: 70), b = randn([37], seed: 71)
        let y = layerNorm(x, weight: w, bias: b)
        #expect(y.shape == [4, 37])
        #expect(maxAbsDiff(y.toArray(), naiveLayerNorm(x, w, b)) < 1e-5)
    }
}

// MARK: - softmax / logSoftmax

func naiveSoftmax(_ x: Tensor) -> [Double] {
    let n = x.shape.last!, rows = x.count / n
    var out = [Double]()
    for r in 0..<rows {
        let row = (0..<n).map { Double(x.data[r * n + $0]) }
        let m = row.max()!
        let e = row.map { exp($0 - m) }
        let s = e.reduce(0, +)
        out += e.map { $0 / s }
    }
    return out
}

@Suite struct SoftmaxTests {
    @Test(arguments: [[2, 5], [3, 20], [2, 2, 33]])
    func softmaxGradient(shape: [Int]) {
        let x = param(shape, seed: 80, std: 2)
        gradCheck([x]) { softmax($0[0]) }
    }

    @Test(arguments: [[2, 5], [3, 20], [2, 2, 33]])
    func logSoftmaxGradient(shape: [Int]) {
        let x = param(shape, seed: 81, std: 2)
        gradCheck([x]) { logSoftmax($0[0]) }
    }

    @Test(arguments: [[2, 5], [3, 20], [2, 2, 33]])
    func forwardMatchesNaive(shape: [Int]) {
        let x = randn(shape, seed: 82, std: 4)
        x.data[0] = 50  // large logits must not overflow
        let n = shape.last!
        let y = softmax(x).toArray(), ly = logSoftmax(x).toArray()
        let ref = naiveSoftmax(x)
        #expect(maxAbsDiff(y, ref) < 1e-6)
        #expect(maxAbsDiff(ly, ref.map { log($0) }) < 1e-4)
        for r in 0..<(x.count / n) {
            let s = y[(r * n)..<((r + 1) * n)].reduce(0.0) { $0 + Double($1) }
            #expect(abs(s - 1) < 1e-5)
        }
    }
}

// MARK: - causal self-attention

/// Naive causal attention over packed qkv (B, T, 3C) → (B, T, C), in Double: multi-head
/// attention as the grouped reference (LlamaOpTests.swift) with one key/value head per query head.
func naiveAttention(_ qkv: Tensor, heads: Int) -> [Double] {
    let (b, t) = (qkv.shape[0], qkv.shape[1])
    return naiveGroupedAttention(qkv, heads: heads, kvHeads: heads, sequences: (0..<b).map { Array(($0 * t)..<(($0 + 1) * t)) })
}

/// Runs `body` on the portable kernels when asked, else on whatever this machine uses.
func onKernels(portable: Bool, _ body: () -> Void) {
    NativeKernels.withPortableKernels(portable, body)
}

struct AttentionCase: Sendable, CustomTestStringConvertible {
    var b: Int, t: Int, heads: Int, c: Int
    var testDescription: String { "B=\(b) T=\(t) heads=\(heads) C=\(c)" }
}

let attentionCases: [AttentionCase] = [
    AttentionCase(b: 2, t: 5, heads: 2, c: 8),  // T not a multiple of 16
    AttentionCase(b: 1, t: 18, heads: 2, c: 4),  // T > 16: rows use the 16-lane path
]

@Suite struct AttentionTests {
    // Churn off: this checks the maths; see `backwardDoesNotReadFreedProbabilities`.
    @Test(arguments: attentionCases)
    func gradient(cfg: AttentionCase) {
        let qkv = param([cfg.b, cfg.t, 3 * cfg.c], seed: 90)
        gradCheck([qkv], churn: false) { causalSelfAttention($0[0], heads: cfg.heads) }
    }

    /// Regression: the backward closure must own the saved probabilities `probs`; a raw pointer
    /// captured in the forward without retaining the tensor reads a block that the caching
    /// allocator has already handed out again (the churn fills it with NaN).
    @Test(arguments: attentionCases)
    func backwardDoesNotReadFreedProbabilities(cfg: AttentionCase) {
        let qkv = param([cfg.b, cfg.t, 3 * cfg.c], seed: 91)
        gradCheck([qkv], churn: true) { causalSelfAttention($0[0], heads: cfg.heads) }
    }

    @Test(arguments: attentionCases)
    func forwardMatchesNaive(cfg: AttentionCase) {
        let qkv = randn([cfg.b, cfg.t, 3 * cfg.c], seed: 92)
        let ref = naiveAttention(qkv, heads: cfg.heads)
        let y = causalSelfAttention(qkv, heads: cfg.heads)
        #expect(y.shape == [cfg.b, cfg.t, cfg.c])
        #expect(maxAbsDiff(y.toArray(), ref) < 1e-5)
        // the no-grad path (one reused (T,T) scratch) must give the same values
        let y2 = withoutGradients { causalSelfAttention(qkv, heads: cfg.heads) }
        #expect(maxAbsDiff(y2.toArray(), ref) < 1e-5)
        qkv.requiresGrad = true
        let y3 = causalSelfAttention(qkv, heads: cfg.heads)
        #expect(y3.requiresGrad)
        #expect(maxAbsDiff(y3.toArray(), ref) < 1e-5)
    }

    /// A 3-row prompt continued by branches of 2, 0 and 4 rows, then a 1-row prompt with one
    /// branch of 2 rows: 12 packed rows.
    static let packed = AttentionLayout(groups: [
        AttentionLayout.Group(prompt: 0..<3, branches: [3..<5, 5..<5, 5..<9]),
        AttentionLayout.Group(prompt: 9..<10, branches: [10..<12]),
    ])

    @Test func packedPositions() {
        #expect(Self.packed.rowCount == 12)
        #expect(Self.packed.positions == [0, 1, 2, 3, 4, 3, 4, 5, 6, 0, 1, 2])
        #expect(AttentionLayout.dense(batch: 2, length: 3).positions == [0, 1, 2, 0, 1, 2])
    }

    /// Gradients of the shared prompt's keys and values collect from every branch; on the native
    /// kernels (where the CPU has them) and on the portable Swift path.
    @Test(arguments: [false, true])
    func packedGradient(portable: Bool) {
        let qkv = param([12, 12], seed: 94)  // C = 4, two heads of 2
        onKernels(portable: portable) {
            gradCheck([qkv], churn: true) { packedSelfAttention($0[0], layout: Self.packed, heads: 2) }
        }
    }

    /// Each prompt row equals causal attention over the prompt alone, and each branch row equals
    /// causal attention over prompt + that branch as one dense sequence.
    @Test(arguments: [false, true])
    func packedMatchesEachSequenceAlone(portable: Bool) {
        onKernels(portable: portable) { packedMatchesEachSequenceAlone() }
    }

    func packedMatchesEachSequenceAlone() {
        let (c3, c) = (12, 4)
        let qkv = randn([12, c3], seed: 95)
        let y = packedSelfAttention(qkv, layout: Self.packed, heads: 2).toArray()
        var compared = 0
        for g in Self.packed.groups {
            for branch in [g.prompt.upperBound..<g.prompt.upperBound] + g.branches {
                let rows = Array(g.prompt) + Array(branch)
                let dense = Tensor(shape: [1, rows.count, c3], data: rows.flatMap { r in (0..<c3).map { qkv.data[r * c3 + $0] } })
                let ref = naiveAttention(dense, heads: 2)
                for (i, r) in rows.enumerated() {
                    #expect(maxAbsDiff(Array(y[(r * c)..<((r + 1) * c)]), Array(ref[(i * c)..<((i + 1) * c)])) < 1e-5)
                    compared += 1
                }
            }
        }
        #expect(compared == (3 + 5 + 3 + 7) + (1 + 3))  // each sequence: the prompt alone, then prompt + each branch
    }

    @Test func causality() {
        // Changing a later token must not change earlier outputs.
        let qkv = randn([1, 6, 12], seed: 93)
        let y1 = causalSelfAttention(qkv, heads: 2).toArray()
        for col in 0..<12 { qkv.data[4 * 12 + col] += 1 }
        let y2 = causalSelfAttention(qkv, heads: 2).toArray()
        #expect(y1[0..<(4 * 4)] == y2[0..<(4 * 4)])
        #expect(y1[(4 * 4)...] != y2[(4 * 4)...])
    }
}

// MARK: - embedding

@Suite struct EmbeddingTests {
    @Test func gradientWithRepeatedIndices() {
        let w = param([6, 4], seed: 100)
        let idx = [1, 3, 1, 0, 5, 1]
        gradCheck([w]) { embedding($0[0], indices: idx, shape: [2, 3]) }
    }

    @Test func gradientValuesForRepeatedIndices() {
        let w = param([4, 3], seed: 101)
        let out = embedding(w, indices: [2, 2, 0], shape: [3])
        out.backward(gradient: Tensor(shape: [3, 3], data: [1, 2, 3, 10, 20, 30, 5, 6, 7]))
        #expect(w.grad!.toArray() == [5, 6, 7, 0, 0, 0, 11, 22, 33, 0, 0, 0])
    }

    @Test func forwardGathersRows() {
        let w = randn([5, 3], seed: 102)
        let idx = [4, 0, 4, 2]
        let y = embedding(w, indices: idx, shape: [2, 2])
        #expect(y.shape == [2, 2, 3])
        let expected = idx.flatMap { i in (0..<3).map { w.data[i * 3 + $0] } }
        #expect(y.toArray() == expected)
    }
}

// MARK: - losses

/// Naive weighted cross-entropy in Double.
func naiveCrossEntropy(_ logits: Tensor, _ targets: [Int], _ weights: [Float]?, _ reduction: Reduction) -> Double {
    let v = logits.shape.last!, n = logits.count / v
    let p = naiveSoftmax(logits)
    var total = 0.0, wsum = 0.0
    for i in 0..<n where targets[i] >= 0 {
        let w = Double(weights?[i] ?? 1)
        total += w * -log(p[i * v + targets[i]])
        wsum += w
    }
    return reduction == .sum ? total : total / wsum
}

struct CECase: Sendable, CustomTestStringConvertible {
    var shape: [Int]
    var targets: [Int]
    var weights: [Float]?
    var reduction: Reduction
    var testDescription: String { "\(shape) targets \(targets) weights \(weights.map { "\($0)" } ?? "nil") \(reduction)" }
}

let crossEntropyCases: [CECase] = [
    CECase(shape: [4, 7], targets: [3, -1, 0, 6], weights: nil, reduction: .mean),
    CECase(shape: [4, 7], targets: [3, -1, 0, 6], weights: nil, reduction: .sum),
    CECase(shape: [4, 7], targets: [3, -1, 0, 6], weights: [0.5, 2, 1.5, 0.25], reduction: .mean),
    CECase(shape: [4, 7], targets: [3, -1, 0, 6], weights: [0.5, 2, 1.5, 0.25], reduction: .sum),
    CECase(shape: [2, 3, 20], targets: [19, 0, -1, 7, 7, 16], weights: [1, 0, 3, 0.5, 2, 1], reduction: .mean),
    CECase(shape: [2, 3, 20], targets: [19, 0, -1, 7, 7, 16], weights: nil, reduction: .sum),
]

@Suite struct LossTests {
    @Test(arguments: crossEntropyCases)
    func crossEntropyGradient(cfg: CECase) {
        let logits = param(cfg.shape, seed: 110, std: 2)
        let results = gradCheck([logits]) {
            crossEntropy($0[0], targets: cfg.targets, weights: cfg.weights, reduction: cfg.reduction)
        }
        #expect(!results.isEmpty)
    }

    @Test func crossEntropyIgnoredRowsGetZeroGradient() {
        let logits = param([3, 5], seed: 111)
        crossEntropy(logits, targets: [2, -1, 4], weights: [1, 1, 0]).backward()
        let g = logits.grad!.toArray()
        #expect(g[5..<15].allSatisfy { $0 == 0 })  // row 1 ignored, row 2 has weight 0
        #expect(g[0..<5].contains { $0 != 0 })
    }

    @Test(arguments: crossEntropyCases)
    func crossEntropyForwardMatchesNaive(cfg: CECase) {
        let logits = randn(cfg.shape, seed: 112, std: 3)
        let loss = crossEntropy(logits, targets: cfg.targets, weights: cfg.weights, reduction: cfg.reduction)
        #expect(loss.shape == [])
        let ref = naiveCrossEntropy(logits, cfg.targets, cfg.weights, cfg.reduction)
        #expect(abs(Double(loss.item()) - ref) < 1e-5 * max(1, abs(ref)))
    }

    @Test func crossEntropyAllIgnoredIsZero() {
        let logits = randn([2, 4], seed: 113)
        #expect(crossEntropy(logits, targets: [-1, -1]).item() == 0)
    }

    @Test(arguments: [[2, 7], [2, 3, 20]])
    func tokenLogProbsGradient(shape: [Int]) {
        let logits = param(shape, seed: 114, std: 2)
        let n = logits.count / shape.last!
        let tokens = (0..<n).map { ($0 * 5 + 3) % shape.last! }
        gradCheck([logits]) { tokenLogProbs($0[0], tokens: tokens) }
    }

    @Test func tokenLogProbsForwardMatchesNaive() {
        let logits = randn([2, 3, 20], seed: 115, std: 3)
        let tokens = [0, 19, 5, 5, 17, 2]
        let y = tokenLogProbs(logits, tokens: tokens)
        #expect(y.shape == [2, 3])
        let p = naiveSoftmax(logits)
        #expect(maxAbsDiff(y.toArray(), tokens.enumerated().map { log(p[$0.offset * 20 + $0.element]) }) < 1e-5)
    }

    @Test(arguments: [[2, 7], [2, 3, 20]])
    func softmaxEntropyGradient(shape: [Int]) {
        gradCheck([param(shape, seed: 116, std: 2)]) { softmaxEntropy($0[0]) }
    }

    @Test func softmaxEntropyForwardMatchesNaive() {
        let logits = randn([3, 20], seed: 117, std: 3)
        let p = naiveSoftmax(logits)
        let expected = (0..<3).map { r in -(0..<20).reduce(0.0) { $0 + p[r * 20 + $1] * log(p[r * 20 + $1]) } }
        #expect(maxAbsDiff(softmaxEntropy(logits).toArray(), expected) < 1e-5)
        // uniform logits: log V
        #expect(abs(softmaxEntropy(Tensor(zeros: [1, 20])).item() - logf(20)) < 1e-5)
    }
}

// MARK: - shape ops

@Suite struct ShapeOpTests {
    @Test func reshapedGradient() {
        let x = param([2, 3, 4], seed: 120)
        gradCheck([x]) { $0[0].reshaped([4, -1]) }
        gradCheck([x]) { $0[0].reshaped([24]) * $0[0].reshaped([24]) }
    }

    @Test func gatheredGradientAccumulatesRepeats() {
        let x = param([3, 4], seed: 122)
        gradCheck([x]) { $0[0].gathered([0, 5, 5, 11, 2]) }
        let y = randn([3, 4], seed: 123)
        #expect(y.gathered([11, 0]).toArray() == [y.data[11], y.data[0]])
    }

    @Test func reshapedIsAViewWithInferredDimension() {
        let x = randn([2, 3, 4], seed: 121)
        let y = x.reshaped([-1, 6])
        #expect(y.shape == [4, 6])
        #expect(y.toArray() == x.toArray())
        y.data[5] = 42
        #expect(x.data[5] == 42)
    }

    @Test(arguments: [(0, 1, 1), (1, 1, 2), (2, 0, 3), (-1, 2, 2)] as [(Int, Int, Int)])
    func narrowGradient(axis: Int, start: Int, length: Int) {
        let x = param([2, 3, 4], seed: 122)
        gradCheck([x]) { $0[0].narrow(axis: axis, start: start, length: length) }
    }

    @Test func narrowValues() {
        let x = Tensor(shape: [2, 3, 4], data: (0..<24).map(Float.init))
        let y = x.narrow(axis: 1, start: 1, length: 2)
        #expect(y.shape == [2, 2, 4])
        #expect(y.toArray() == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        #expect(x.narrow(axis: -1, start: 3, length: 1).toArray() == [3, 7, 11, 15, 19, 23])
    }

    @Test(arguments: [0, 1, 2, -1])
    func concatenateGradient(axis: Int) {
        var sa = [2, 3, 4], sb = [2, 3, 4], sc = [2, 3, 4]
        let ax = axis < 0 ? axis + 3 : axis
        sa[ax] = 1; sb[ax] = 2; sc[ax] = 3
        let a = param(sa, seed: 123), b = randn(sb, seed: 124), c = param(sc, seed: 125)
        gradCheck([a, b, c]) { concatenate($0, axis: axis) }
        #expect(b.grad == nil)
    }

    @Test func concatenateValues() {
        let a = Tensor(shape: [2, 2], data: [1, 2, 3, 4]), b = Tensor(shape: [2, 1], data: [9, 8])
        let y = concatenate([a, b], axis: 1)
        #expect(y.shape == [2, 3])
        #expect(y.toArray() == [1, 2, 9, 3, 4, 8])
        let z = concatenate([a, Tensor(shape: [1, 2], data: [7, 7])], axis: 0)
        #expect(z.shape == [3, 2])
        #expect(z.toArray() == [1, 2, 3, 4, 7, 7])
    }
}
