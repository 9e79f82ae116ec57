import Testing
@testable import RFTTensor

// Finite-difference gradient checking and small helpers shared by the RFTTensor tests.
//
// How `gradCheck` works
// ---------------------
// * The scalar loss is a fixed random linear projection of the op's output,
//   L = Σ out ⊙ R with R ~ N(0, 1) drawn from a seeded generator, so every output element
//   contributes with a distinct weight (a plain `sum()` would hide e.g. a transposed or
//   permuted gradient, and softmax's gradient of `sum` is identically zero).
// * The analytic gradient is obtained with `out.backward(gradient: R)`, which is exactly
//   ∂L/∂out, so the check does not depend on `*` or `sum()` being correct.
// * The numeric gradient is the central difference (L(x+h) − L(x−h)) / 2h per input element,
//   with the forward run under `withoutGradients` and L accumulated in Double.
// * Tolerance: with Float32 forward passes and h = 1e-2 (inputs ~N(0,1)), rounding noise is
//   ~1e-5 and truncation error ~h²·f'''/6 ≈ 2e-5·f''' — in practice the relative error of a
//   correct gradient is ≤ 1e-3.  We accept
//        max_i |analytic_i − numeric_i| ≤ rtol · max_i |numeric_i| + atol,
//   rtol = 1e-2, atol = 1e-4.  A wrong gradient — off by a factor (even 1.1×), of the wrong
//   sign, with a missing term, transposed or permuted — produces an error of ≥ 10 % of the
//   largest gradient and fails clearly.
// * The gradient must not be vacuous: max |numeric| must exceed `minGradient` (default 1e-3),
//   so a test cannot pass because both sides are zero.
// * Accumulation: the forward + backward is run a second time without clearing `grad`; the
//   result must be exactly 2× the first (to 1e-5 relative), which catches a backward that
//   assigns (`=`) instead of accumulating (`+=`).
// * Allocator churn (default on): between forward and backward, many blocks of every small
//   size class are allocated from the shared caching allocator and filled with NaN.  A
//   backward closure that reads memory it does not own (a pointer into a tensor that was
//   released at the end of the forward) then reads NaN / garbage and the check fails.

/// Result of checking one input.
struct GradCheckResult: CustomStringConvertible {
    var input: Int
    var maxAbsError: Double
    var maxAbsNumeric: Double
    var maxAbsAnalytic: Double
    var relativeError: Double { maxAbsError / max(maxAbsNumeric, 1e-12) }
    var description: String {
        "input \(input): max|a−n| = \(maxAbsError), max|n| = \(maxAbsNumeric), "
            + "max|a| = \(maxAbsAnalytic), rel = \(relativeError)"
    }
}

/// Default finite-difference step (Float32: 1e-2 balances truncation against rounding).
let defaultStep: Float = 1e-2
/// Default relative tolerance on max |analytic − numeric| / max |numeric| (see above).
let defaultRelTol: Double = 1e-2
/// Default absolute slack added to the tolerance.
let defaultAbsTol: Double = 1e-4

/// Keeps freshly allocated, NaN-filled tensors of every size class up to `maxCount` floats
/// alive, so that any block freed before the call is handed out and poisoned.
func churnAllocator(maxCount: Int = 4096, copies: Int = 6) -> [Tensor] {
    var sizes: [Int] = []
    var c = 16
    while c <= maxCount {
        sizes.append(CachingAllocator.bucket(c))
        c = CachingAllocator.bucket(c) + 1
    }
    var keep: [Tensor] = []
    for s in Set(sizes).sorted() {
        for _ in 0..<copies { keep.append(Tensor(repeating: .nan, shape: [s])) }
    }
    return keep
}

/// A seeded N(0, std²) tensor that requires gradients.
func param(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var g = RandomGenerator(seed: seed)
    let t = Tensor.randomNormal(shape, std: std, using: &g)
    t.requiresGrad = true
    return t
}

/// A seeded N(0, std²) constant tensor.
func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: std, using: &g)
}

/// Σ out ⊙ r in Double.
func projected(_ out: Tensor, _ r: Tensor) -> Double {
    precondition(out.count == r.count)
    var acc = 0.0
    for i in 0..<out.count { acc += Double(out.data[i]) * Double(r.data[i]) }
    return acc
}

/// Checks the gradients of `f` with respect to every input that requires gradients against
/// central finite differences of L = Σ f(inputs) ⊙ R (R fixed, seeded).  Records `#expect`
/// failures at the caller's location and returns one result per checked input.
@discardableResult
func gradCheck(
    _ inputs: [Tensor],
    seed: UInt64 = 12345,
    step h: Float = defaultStep,
    relTol: Double = defaultRelTol,
    absTol: Double = defaultAbsTol,
    minGradient: Double = 1e-3,
    churn: Bool = true,
    checkAccumulation: Bool = true,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ f: ([Tensor]) -> Tensor
) -> [GradCheckResult] {
    let checked = inputs.indices.filter { inputs[$0].requiresGrad }
    #expect(!checked.isEmpty, "gradCheck: no input requires gradients", sourceLocation: sourceLocation)
    for x in inputs { x.grad = nil }

    // Analytic gradient.
    let out = f(inputs)
    #expect(out.requiresGrad, "gradCheck: output does not require gradients", sourceLocation: sourceLocation)
    guard out.requiresGrad else { return [] }
    var gen = RandomGenerator(seed: seed)
    let r = Tensor.randomNormal(out.shape, using: &gen)
    do {
        let poison = churn ? churnAllocator() : []
        out.backward(gradient: r)
        withExtendedLifetime(poison) {}
    }
    var analytic: [Int: [Float]] = [:]
    for i in checked {
        guard let g = inputs[i].grad else {
            Issue.record("gradCheck: input \(i) got no gradient", sourceLocation: sourceLocation)
            return []
        }
        #expect(g.shape == inputs[i].shape, "gradCheck: grad shape \(g.shape) for input \(inputs[i].shape)",
                sourceLocation: sourceLocation)
        analytic[i] = g.toArray()
    }

    // Second pass without clearing: gradients must accumulate (exactly double).
    if checkAccumulation {
        let out2 = f(inputs)
        let poison = churn ? churnAllocator() : []
        out2.backward(gradient: r)
        withExtendedLifetime(poison) {}
        for i in checked {
            let a = analytic[i]!, g2 = inputs[i].grad!.toArray()
            let scale = a.map { nanToInf(abs(Double($0))) }.max() ?? 0
            var err = 0.0
            for j in a.indices { err = max(err, nanToInf(abs(Double(g2[j]) - 2 * Double(a[j])))) }
            #expect(err <= 1e-5 * scale + 1e-7,
                    "gradCheck: input \(i): second backward did not accumulate (max |g2 − 2g1| = \(err))",
                    sourceLocation: sourceLocation)
        }
    }
    for x in inputs { x.grad = nil }

    // Numeric gradient.
    var results: [GradCheckResult] = []
    withoutGradients {
        for i in checked {
            let x = inputs[i], a = analytic[i]!
            var maxErr = 0.0, maxNum = 0.0, maxAna = 0.0
            var worst = (index: 0, analytic: 0.0, numeric: 0.0)
            for j in 0..<x.count {
                let saved = x.data[j]
                x.data[j] = saved + h
                let lp = projected(f(inputs), r)
                x.data[j] = saved - h
                let lm = projected(f(inputs), r)
                x.data[j] = saved
                // the actual perturbation in Float (saved ± h may round)
                let num = (lp - lm) / (Double(saved + h) - Double(saved - h))
                // NaN-safe: Swift's max() ignores a NaN operand, so map NaN to +∞
                let err = nanToInf(abs(Double(a[j]) - num))
                if err > maxErr { maxErr = err; worst = (j, Double(a[j]), num) }
                maxNum = max(maxNum, nanToInf(abs(num)))
                maxAna = max(maxAna, nanToInf(abs(Double(a[j]))))
            }
            let res = GradCheckResult(input: i, maxAbsError: maxErr, maxAbsNumeric: maxNum, maxAbsAnalytic: maxAna)
            results.append(res)
            #expect(maxNum > minGradient, "gradCheck: vacuous gradient for \(res)", sourceLocation: sourceLocation)
            #expect(maxErr <= relTol * maxNum + absTol,
                    "gradCheck: \(res); worst element \(worst.index): analytic \(worst.analytic) vs numeric \(worst.numeric)",
                    sourceLocation: sourceLocation)
        }
    }
    return results
}

/// Max |a − b| over two equal-length arrays, in Double.
func maxAbsDiff(_ a: [Float], _ b: [Double]) -> Double {
    precondition(a.count == b.count, "maxAbsDiff: \(a.count) vs \(b.count)")
    var m = 0.0
    for i in a.indices { m = max(m, nanToInf(abs(Double(a[i]) - b[i]))) }
    return m
}

/// +∞ for NaN (so a NaN anywhere fails a `≤ tolerance` check), else the value.
func nanToInf(_ x: Double) -> Double { x.isNaN ? .infinity : x }

/// Max |a − b| over two equal-length Float arrays.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Double { maxAbsDiff(a, b.map(Double.init)) }

/// Row-major strides of `shape`.
func strides(of shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

/// The multi-index of flat position `flat` in `shape`.
func unravel(_ flat: Int, _ shape: [Int]) -> [Int] {
    var idx = [Int](repeating: 0, count: shape.count)
    var rem = flat
    for d in stride(from: shape.count - 1, through: 0, by: -1) {
        idx[d] = rem % shape[d]; rem /= shape[d]
    }
    return idx
}

/// Naive NumPy-broadcast reference: out[idx] = op(a[idx'], b[idx'']).
func naiveBroadcast(_ a: Tensor, _ b: Tensor, _ op: (Double, Double) -> Double) -> (shape: [Int], values: [Double]) {
    let rank = max(a.rank, b.rank)
    let pa = [Int](repeating: 1, count: rank - a.rank) + a.shape
    let pb = [Int](repeating: 1, count: rank - b.rank) + b.shape
    let out = (0..<rank).map { max(pa[$0], pb[$0]) }
    let sa = strides(of: pa), sb = strides(of: pb)
    let n = out.reduce(1, *)
    var values = [Double](repeating: 0, count: n)
    for flat in 0..<n {
        let idx = unravel(flat, out)
        var ia = 0, ib = 0
        for d in 0..<rank {
            ia += (pa[d] == 1 ? 0 : idx[d]) * sa[d]
            ib += (pb[d] == 1 ? 0 : idx[d]) * sb[d]
        }
        values[flat] = op(Double(a.data[ia]), Double(b.data[ib]))
    }
    return (out, values)
}
