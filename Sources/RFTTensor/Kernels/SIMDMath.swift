/// Vectorised float math on SIMD16<Float>: exp, tanh and unaligned loads/stores, so the hot
/// loops of softmax, GELU and cross-entropy run 16 lanes at a time without libm calls.
public typealias Vec = SIMD16<Float>

/// Loads 16 floats from `p` (no alignment needed).
@inline(__always) func load16(_ p: UnsafePointer<Float>) -> Vec {
    UnsafeRawPointer(p).loadUnaligned(as: Vec.self)
}

/// Stores 16 floats at `p` (no alignment needed).
@inline(__always) func store16(_ v: Vec, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vec.self)
}

/// Loads `n` < 16 floats, padding with `fill`.
@inline(__always) func loadPartial(_ p: UnsafePointer<Float>, _ n: Int, fill: Float = 0) -> Vec {
    var v = Vec(repeating: fill)
    for i in 0..<n { v[i] = p[i] }
    return v
}

/// Stores the first `n` < 16 lanes of `v`.
@inline(__always) func storePartial(_ v: Vec, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { p[i] = v[i] }
}

/// e^x per lane (Cephes-style: 2^k · poly(r)), relative error ~2e-7; inputs clamped to ±87.
@inline(__always) func vexp(_ x: Vec) -> Vec {
    // clamp with compare-and-select masks (`clamped`/`pointwiseMin` go lane by lane for NaN rules)
    var xc = x.replacing(with: -87.0, where: x .< -87.0)
    xc.replace(with: 88.0, where: xc .> 88.0)
    // round to nearest with the 1.5·2²³ trick (baseline x86-64 has no vector round instruction)
    let shifted = xc * 1.442695040888963 + 12582912.0
    let k = shifted - 12582912.0
    let r = xc - k * 0.693359375 + k * 2.12194440e-4
    var p = Vec(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let y = p * r * r + r + 1
    let ki = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((ki &+ 127) &<< 23, to: Vec.self)
    return y * scale
}

/// tanh per lane: a 13/6-degree rational approximation on [−7.9, 7.9] (Eigen's fast tanh,
/// error ~1 ulp), one division and no exp.
@inline(__always) func vtanh(_ x: Vec) -> Vec {
    var xc = x.replacing(with: -7.90531110763549805, where: x .< -7.90531110763549805)
    xc.replace(with: 7.90531110763549805, where: xc .> 7.90531110763549805)
    let x2 = xc * xc
    var p = Vec(repeating: -2.76076847742355e-16)
    p = p * x2 + 2.00018790482477e-13
    p = p * x2 - 8.60467152213735e-11
    p = p * x2 + 5.12229709037114e-08
    p = p * x2 + 1.48572235717979e-05
    p = p * x2 + 6.37261928875436e-04
    p = p * x2 + 4.89352455891786e-03
    var q = Vec(repeating: 1.19825839466702e-06)
    q = q * x2 + 1.18534705686654e-04
    q = q * x2 + 2.26843463243900e-03
    q = q * x2 + 4.89352518554385e-03
    return xc * p / q
}

/// Scalar e^x through the vector kernel (one lane), for tails and reductions.
@inline(__always) func sexp(_ x: Float) -> Float { vexp(Vec(repeating: x))[0] }

/// Applies `f` to 16 lanes at a time over `n` floats from `src` into `dst`.
@inline(__always)
func vmap(_ n: Int, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>,
          _ f: (Vec) -> Vec) {
    var i = 0
    while i + 16 <= n { store16(f(load16(src + i)), dst + i); i += 16 }
    if i < n { storePartial(f(loadPartial(src + i, n - i)), dst + i, n - i) }
}

/// Sum of `n` floats with 16 accumulators (a fixed order, so results are reproducible).
@inline(__always)
func vsum(_ n: Int, _ p: UnsafePointer<Float>) -> Float {
    var acc = Vec(repeating: 0)
    var i = 0
    while i + 16 <= n { acc += load16(p + i); i += 16 }
    if i < n { acc += loadPartial(p + i, n - i) }
    return acc.sum()
}

/// Dot product of `n` floats.
@inline(__always)
func vdot(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> Float {
    var acc = Vec(repeating: 0)
    var i = 0
    while i + 16 <= n { acc += load16(a + i) * load16(b + i); i += 16 }
    if i < n { acc += loadPartial(a + i, n - i) * loadPartial(b + i, n - i) }
    return acc.sum()
}

/// Maximum of `n` > 0 floats.
@inline(__always)
func vmax(_ n: Int, _ p: UnsafePointer<Float>) -> Float {
    var acc = Vec(repeating: -.infinity)
    var i = 0
    while i + 16 <= n { let v = load16(p + i); acc.replace(with: v, where: v .> acc); i += 16 }
    if i < n { let v = loadPartial(p + i, n - i, fill: -.infinity); acc.replace(with: v, where: v .> acc) }
    return acc.max()
}

/// y[i] += a · x[i] over `n` floats.
@inline(__always)
func vaxpy(_ n: Int, _ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    while i + 16 <= n { store16(load16(y + i) + a * load16(x + i), y + i); i += 16 }
    while i < n { y[i] += a * x[i]; i += 1 }
}

/// y[i] += x[i] over `n` floats.
@inline(__always)
func vadd(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var i = 0
    while i + 16 <= n { store16(load16(y + i) + load16(x + i), y + i); i += 16 }
    while i < n { y[i] += x[i]; i += 1 }
}
