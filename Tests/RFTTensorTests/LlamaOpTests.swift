import Foundation
import Testing
@testable import RFTTensor

// The Llama family's ops — RMSNorm, SwiGLU, rotary embeddings, grouped-query attention (dense,
// packed, with and without RoPE) — checked by finite differences (GradCheck.swift) and against
// naive references in Double.

// MARK: - RMSNorm

@Suite struct RMSNormTests {
    @Test(arguments: [[3, 20], [2, 2, 7], [2, 33]])
    func gradient(shape: [Int]) {
        let c = shape.last!
        let x = param(shape, seed: 200), w = param([c], seed: 201)
        for i in 0..<c { w.data[i] = 1 + 0.3 * w.data[i] }
        gradCheck([x, w]) { rmsNorm($0[0], weight: $0[1], eps: 1e-5) }
    }

    @Test func forwardMatchesNaive() {
        let x = randn([4, 37], seed: 202), w = randn([37], seed: 203)
        let y = rmsNorm(x, weight: w, eps: 1e-6).toArray()
        var ref = [Double]()
        for r in 0..<4 {
            var ms = 0.0
            for i in 0..<37 { ms += Double(x.data[r * 37 + i]) * Double(x.data[r * 37 + i]) }
            let rstd = 1 / (ms / 37 + 1e-6).squareRoot()
            for i in 0..<37 { ref.append(Double(x.data[r * 37 + i]) * rstd * Double(w.data[i])) }
        }
        #expect(maxAbsDiff(y, ref) < 1e-5)
    }
}

// MARK: - SwiGLU

@Suite struct SwiGLUTests {
    @Test(arguments: [[3, 10], [2, 40], [2, 2, 6]])
    func gradient(shape: [Int]) {
        let x = param(shape, seed: 210, std: 2)
        gradCheck([x]) { swiglu($0[0]) }
    }

    @Test func forwardMatchesNaive() {
        let x = randn([3, 2 * 21], seed: 211, std: 3)
        let y = swiglu(x)
        #expect(y.shape == [3, 21])
        var ref = [Double]()
        for r in 0..<3 {
            for i in 0..<21 {
                let a = Double(x.data[r * 42 + i]), b = Double(x.data[r * 42 + 21 + i])
                ref.append(a / (1 + exp(-a)) * b)
            }
        }
        #expect(maxAbsDiff(y.toArray(), ref) < 1e-5)
    }
}

// MARK: - rotary embeddings

/// x rotated as Hugging Face's apply_rotary_pos_emb does, in Double: per head, feature d < hs/2
/// pairs with d + hs/2; angle = position · ω_d.
func naiveRotate(_ x: [Double], headSize hs: Int, position: Int, frequencies: [Float]) -> [Double] {
    var y = x
    let half = hs / 2
    for h in 0..<(x.count / hs) {
        for d in 0..<half {
            let angle = Double(frequencies[d] * Float(position))
            let (a, b) = (x[h * hs + d], x[h * hs + half + d])
            y[h * hs + d] = a * cos(angle) - b * sin(angle)
            y[h * hs + half + d] = b * cos(angle) + a * sin(angle)
        }
    }
    return y
}

@Suite struct RotaryTests {
    /// Head sizes 4 (scalar loop only) and 40 (16 lanes and a tail), at scattered positions.
    @Test(arguments: [4, 40])
    func gradient(headSize: Int) {
        let rope = RotaryEmbedding(headSize: headSize, theta: 100, positions: 20)
        let x = param([5, 2 * headSize], seed: 220)
        gradCheck([x]) { rotaryEmbedding($0[0], positions: [0, 3, 7, 19, 1], rotary: rope) }
    }

    @Test(arguments: [4, 40])
    func forwardMatchesNaive(headSize hs: Int) {
        let rope = RotaryEmbedding(headSize: hs, theta: 10_000, positions: 64)
        let x = randn([3, 3 * hs], seed: 221)
        let positions = [0, 5, 63]
        let y = rotaryEmbedding(x, positions: positions, rotary: rope).toArray()
        var ref = [Double]()
        for r in 0..<3 {
            let row = (0..<(3 * hs)).map { Double(x.data[r * 3 * hs + $0]) }
            ref += naiveRotate(row, headSize: hs, position: positions[r], frequencies: rope.inverseFrequencies)
        }
        #expect(maxAbsDiff(y, ref) < 1e-5)
        // position 0 is the identity
        #expect(maxAbsDiff(Array(y[0..<(3 * hs)]), Array(ref[0..<(3 * hs)])) < 1e-7)
    }

    /// The default frequencies θ^(−2d/hs) and both scalings, against the formulas written out.
    @Test func frequenciesFollowTheScalingRules() {
        let base = RotaryEmbedding.frequencies(headSize: 8, theta: 10_000, scaling: nil)
        for d in 0..<4 { #expect(abs(Double(base[d]) - pow(10_000, -Double(2 * d) / 8)) < 1e-6 * Double(base[d])) }
        let linear = RotaryEmbedding.frequencies(headSize: 8, theta: 10_000, scaling: RoPEScaling(type: .linear, factor: 4))
        for d in 0..<4 { #expect(abs(linear[d] - base[d] / 4) <= 1e-7 * base[d]) }
        // llama3 with original context 64: wavelengths 2π/ω = 6.3, 63, 628, 6283 for θ = 10⁴, hs = 8;
        // low factor 1 → above 64 fully scaled; high factor 4 → below 16 kept; between, blended
        let s = RoPEScaling(type: .llama3, factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContextLength: 64)
        let l3 = RotaryEmbedding.frequencies(headSize: 8, theta: 10_000, scaling: s)
        #expect(l3[0] == base[0])                          // wavelength 6.3 < 16: kept
        #expect(abs(l3[2] - base[2] / 8) <= 1e-7 * base[2])  // 628 > 64: divided by the factor
        #expect(abs(l3[3] - base[3] / 8) <= 1e-7 * base[3])
        let wavelength = 2 * Double.pi / Double(base[1])    // ≈ 62.8: between 16 and 64
        let smooth = (64 / wavelength - 1) / (4 - 1)
        let blended = (1 - smooth) * Double(base[1]) / 8 + smooth * Double(base[1])
        #expect(abs(Double(l3[1]) - blended) < 1e-6 * blended)
        #expect(s.validationError() == nil)
        #expect(RoPEScaling(type: .llama3, factor: 8).validationError() != nil)
        #expect(RoPEScaling(type: .linear, factor: 0).validationError() != nil)
    }
}

// MARK: - grouped-query attention

/// Naive causal attention over qkv (rows of (H + 2·KV)·hs: q heads, k heads, v heads) for
/// `sequences` (each a list of row indices in order, position = index in the list), query head
/// h reading key/value head h / (H/KV), q and k rotated first when `rotary` is given. Returns
/// the (rows, H·hs) output in Double, filled for the rows the sequences list (last one wins).
func naiveGroupedAttention(_ qkv: Tensor, heads: Int, kvHeads: Int, sequences: [[Int]],
                           rotary: RotaryEmbedding? = nil) -> [Double] {
    let ld = qkv.shape.last!, hs = ld / (heads + 2 * kvHeads), c = heads * hs, n = qkv.count / ld
    var out = [Double](repeating: 0, count: n * c)
    for seq in sequences {
        // rotated copies of the sequence's rows
        var rows = seq.map { r in (0..<ld).map { Double(qkv.data[r * ld + $0]) } }
        if let rotary {
            for (p, _) in seq.enumerated() {
                let qk = Array(rows[p][0..<((heads + kvHeads) * hs)])
                rows[p].replaceSubrange(0..<qk.count, with: naiveRotate(qk, headSize: hs, position: p,
                                                                       frequencies: rotary.inverseFrequencies))
            }
        }
        for h in 0..<heads {
            let g = h / (heads / kvHeads), k0 = c + g * hs, v0 = c + kvHeads * hs + g * hs
            for i in seq.indices {
                var scores = [Double]()
                for j in 0...i {
                    var s = 0.0
                    for d in 0..<hs { s += rows[i][h * hs + d] * rows[j][k0 + d] }
                    scores.append(s / Double(hs).squareRoot())
                }
                let m = scores.max()!
                let e = scores.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for d in 0..<hs {
                    var acc = 0.0
                    for j in 0...i { acc += e[j] / z * rows[j][v0 + d] }
                    out[seq[i] * c + h * hs + d] = acc
                }
            }
        }
    }
    return out
}

struct GroupedCase: Sendable, CustomTestStringConvertible {
    var b: Int, t: Int, heads: Int, kvHeads: Int, hs: Int, rotary: Bool
    var width: Int { (heads + 2 * kvHeads) * hs }
    var testDescription: String { "B=\(b) T=\(t) H=\(heads) KV=\(kvHeads) hs=\(hs)\(rotary ? " RoPE" : "")" }
}

let groupedCases: [GroupedCase] = [
    GroupedCase(b: 2, t: 5, heads: 4, kvHeads: 2, hs: 4, rotary: false),
    GroupedCase(b: 1, t: 7, heads: 3, kvHeads: 1, hs: 6, rotary: true),
    GroupedCase(b: 2, t: 4, heads: 2, kvHeads: 2, hs: 4, rotary: true),  // multi-head with RoPE: the C span kernels
    GroupedCase(b: 1, t: 70, heads: 2, kvHeads: 1, hs: 4, rotary: true),  // past the short-span size: the sgemm path
]

@Suite struct GroupedQueryAttentionTests {
    @Test(arguments: groupedCases)
    func gradient(cfg: GroupedCase) {
        let qkv = param([cfg.b, cfg.t, cfg.width], seed: 230)
        let rope = cfg.rotary ? RotaryEmbedding(headSize: cfg.hs, theta: 50, positions: cfg.t) : nil
        gradCheck([qkv]) { causalSelfAttention($0[0], heads: cfg.heads, kvHeads: cfg.kvHeads, rotary: rope) }
    }

    @Test(arguments: groupedCases, [false, true])
    func forwardMatchesNaive(cfg: GroupedCase, portable: Bool) {
        NativeKernels.withPortableKernels(portable) {
            let qkv = randn([cfg.b, cfg.t, cfg.width], seed: 232)
            let rope = cfg.rotary ? RotaryEmbedding(headSize: cfg.hs, theta: 50, positions: cfg.t) : nil
            let sequences = (0..<cfg.b).map { b in Array((b * cfg.t)..<((b + 1) * cfg.t)) }
            let ref = naiveGroupedAttention(qkv, heads: cfg.heads, kvHeads: cfg.kvHeads, sequences: sequences, rotary: rope)
            let y = causalSelfAttention(qkv, heads: cfg.heads, kvHeads: cfg.kvHeads, rotary: rope)
            #expect(y.shape == [cfg.b, cfg.t, cfg.heads * cfg.hs])
            #expect(maxAbsDiff(y.toArray(), ref) < 1e-5)
            qkv.requiresGrad = true  // the recording path keeps every probability: the same values
            #expect(maxAbsDiff(causalSelfAttention(qkv, heads: cfg.heads, kvHeads: cfg.kvHeads, rotary: rope).toArray(), ref) < 1e-5)
        }
    }

    /// The packed layout of `AttentionTests` (a shared prompt with branches of 2, 0 and 4 rows,
    /// then a 1-row prompt with a 2-row branch), 4 query heads over 2 key/value heads of 4,
    /// rotary at the layout's positions.
    static let layout = AttentionTests.packed

    @Test(arguments: [false, true], [false, true])
    func packedGradient(rotary: Bool, portable: Bool) {
        let qkv = param([12, 8 * 4], seed: 233)
        let rope = rotary ? RotaryEmbedding(headSize: 4, theta: 30, positions: 8) : nil
        NativeKernels.withPortableKernels(portable) {
            _ = gradCheck([qkv]) { packedSelfAttention($0[0], layout: Self.layout, heads: 4, kvHeads: 2, rotary: rope) }
        }
    }

    /// Each packed row equals dense attention over its own sequence (the prompt, or the prompt
    /// followed by the row's branch), positions counted from the prompt's start; for multi-head
    /// attention too (KV = H: the native short-span kernels with RoPE).
    @Test(arguments: [2, 4], [false, true])
    func packedMatchesEachSequenceAlone(kvHeads: Int, portable: Bool) {
        NativeKernels.withPortableKernels(portable) {
            let width = (4 + 2 * kvHeads) * 4
            let qkv = randn([12, width], seed: 234)
            let rope = RotaryEmbedding(headSize: 4, theta: 30, positions: 8)
            let y = packedSelfAttention(qkv, layout: Self.layout, heads: 4, kvHeads: kvHeads, rotary: rope).toArray()
            for g in Self.layout.groups {
                for branch in [g.prompt.upperBound..<g.prompt.upperBound] + g.branches {
                    let seq = Array(g.prompt) + Array(branch)
                    let ref = naiveGroupedAttention(qkv, heads: 4, kvHeads: kvHeads, sequences: [seq], rotary: rope)
                    for r in seq { #expect(maxAbsDiff(Array(y[(r * 16)..<((r + 1) * 16)]), Array(ref[(r * 16)..<((r + 1) * 16)])) < 1e-5) }
                }
            }
        }
    }
}
