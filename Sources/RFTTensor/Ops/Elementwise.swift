import CKernels
/// Elementwise arithmetic with NumPy broadcasting (add, subtract, multiply, scale), and GELU.

/// The broadcast shape of `a` and `b` (NumPy rules), or nil when they do not broadcast.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else { return nil }
        out[i] = max(da, db)
    }
    return out
}

/// Element strides of `shape` read as `out` (0 along broadcast dimensions).
func broadcastStrides(_ shape: [Int], to out: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: out.count)
    var s = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        let o = i + out.count - shape.count
        strides[o] = shape[i] == 1 ? 0 : s
        s *= shape[i]
    }
    return strides
}

/// Calls `body(outOffset, aOffset, bOffset)` once per innermost row of `out`; the row has
/// `out.last` elements, walked with strides `sa.last` and `sb.last` in a and b.
func forEachBroadcastRow(_ out: [Int], _ sa: [Int], _ sb: [Int], _ body: (Int, Int, Int) -> Void) {
    guard let inner = out.last else { body(0, 0, 0); return }
    let rows = inner == 0 ? 0 : out.reduce(1, *) / inner
    var index = [Int](repeating: 0, count: out.count)
    var (ia, ib) = (0, 0)
    for r in 0..<rows {
        body(r * inner, ia, ib)
        // advance the multi-index over all but the last dimension
        var d = out.count - 2
        while d >= 0 {
            index[d] += 1; ia += sa[d]; ib += sb[d]
            if index[d] < out[d] { break }
            ia -= sa[d] * out[d]; ib -= sb[d] * out[d]; index[d] = 0
            d -= 1
        }
    }
}

/// The binary ops that broadcast.
enum BinaryOp { case add, sub, mul }

/// Applies `op` with broadcasting and records its backward.
func broadcasting(_ a: Tensor, _ b: Tensor, _ op: BinaryOp) -> Tensor {
    guard let outShape = broadcastShape(a.shape, b.shape) else {
        preconditionFailure("shapes \(a.shape) and \(b.shape) do not broadcast")
    }
    let out = Tensor(uninitialized: outShape)
    let sa = broadcastStrides(a.shape, to: outShape), sb = broadcastStrides(b.shape, to: outShape)
    let inner = outShape.last ?? 1
    let (ia, ib) = (sa.last ?? 0, sb.last ?? 0)
    let (pa, pb, po) = (a.data, b.data, out.data)
    forEachBroadcastRow(outShape, sa, sb) { o, oa, ob in
        if ia == 1 && ib == 1 {
            var i = 0
            while i + 16 <= inner {
                let x = load16(pa + oa + i), y = load16(pb + ob + i)
                store16(op == .add ? x + y : op == .sub ? x - y : x * y, po + o + i)
                i += 16
            }
            while i < inner {
                let x = pa[oa + i], y = pb[ob + i]
                po[o + i] = op == .add ? x + y : op == .sub ? x - y : x * y
                i += 1
            }
        } else {
            for i in 0..<inner {
                let x = pa[oa + i * ia], y = pb[ob + i * ib]
                po[o + i] = op == .add ? x + y : op == .sub ? x - y : x * y
            }
        }
    }
    return out.recorded(from: [a, b]) { g in
        let pg = g.data
        let ga = a.requiresGrad ? a.gradBuffer() : nil
        let gb = b.requiresGrad ? b.gradBuffer() : nil
        forEachBroadcastRow(outShape, sa, sb) { o, oa, ob in
            for i in 0..<inner {
                let gi = pg[o + i]
                let xa = oa + i * ia, xb = ob + i * ib
                switch op {
                case .add: ga?[xa] += gi; gb?[xb] += gi
                case .sub: ga?[xa] += gi; gb?[xb] -= gi
                case .mul: ga?[xa] += gi * pb[xb]; gb?[xb] += gi * pa[xa]
                }
            }
        }
    }
}

/// Elementwise a + b with broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor {
    if a.shape == b.shape { return sameShapeAdd(a, b) }
    return broadcasting(a, b, .add)
}

/// Elementwise a − b with broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, .sub) }

/// Elementwise a · b with broadcasting.
public func * (a: Tensor, b: Tensor) -> Tensor { broadcasting(a, b, .mul) }

/// a + b for equal shapes (the residual connection): one vector loop each way.
func sameShapeAdd(_ a: Tensor, _ b: Tensor) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    let n = a.count
    let (pa, pb, po) = (a.data, b.data, out.data)
    var i = 0
    while i + 16 <= n { store16(load16(pa + i) + load16(pb + i), po + i); i += 16 }
    while i < n { po[i] = pa[i] + pb[i]; i += 1 }
    return out.recorded(from: [a, b]) { g in
        for t in [a, b] where t.requiresGrad {
            let (d, fresh) = t.gradBufferForOverwrite()
            if fresh { d.update(from: g.data, count: n) } else { vadd(n, g.data, d) }
        }
    }
}

/// Every element multiplied by `s`.
public func * (a: Tensor, s: Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    vmap(a.count, a.data, out.data) { $0 * s }
    return out.recorded(from: [a]) { g in vaxpy(a.count, s, g.data, a.gradBuffer()) }
}

/// Every element multiplied by `s`.
public func * (s: Float, a: Tensor) -> Tensor { a * s }

/// Every element plus `s`.
public func + (a: Tensor, s: Float) -> Tensor {
    let out = Tensor(uninitialized: a.shape)
    vmap(a.count, a.data, out.data) { $0 + s }
    return out.recorded(from: [a]) { g in vadd(a.count, g.data, a.gradBuffer()) }
}

/// −a.
public prefix func - (a: Tensor) -> Tensor { a * -1 }

/// √(2/π), the GELU tanh constant.
let geluScale: Float = 0.7978845608028654

/// GELU with the tanh approximation (GPT-2's): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
/// x is (...) → same shape. Keeps the tanh values for backward when recording.
public func gelu(_ x: Tensor) -> Tensor {
    let out = Tensor(uninitialized: x.shape)
    let recording = Tensor.recording([x])
    let tanhs = recording ? Tensor(uninitialized: x.shape) : nil
    let (px, po, pt) = (x.data, out.data, tanhs?.data)
    parallelFor(x.count, grain: 1 << 15) { r in
        if NativeKernels.isAvailable {
            NativeKernels.gelu(r.count, px + r.lowerBound, po + r.lowerBound, pt.map { $0 + r.lowerBound })
            return
        }
        var i = r.lowerBound
        @inline(__always) func step(_ v: Vec) -> (Vec, Vec) {
            let t = vtanh(geluScale * (v + 0.044715 * v * v * v))
            return (0.5 * v * (1 + t), t)
        }
        while i + 16 <= r.upperBound {
            let (y, t) = step(load16(px + i))
            store16(y, po + i)
            if let pt { store16(t, pt + i) }
            i += 16
        }
        if i < r.upperBound {
            let n = r.upperBound - i
            let (y, t) = step(loadPartial(px + i, n))
            storePartial(y, po + i, n)
            if let pt { storePartial(t, pt + i, n) }
        }
    }
    guard let tanhs else { return out }
    return out.recorded(from: [x]) { g in
        // dx += g · (0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²)),  t = the saved tanh
        let gx = x.gradBuffer(), pt = tanhs.data, pg = g.data
        parallelFor(x.count, grain: 1 << 15) { r in
            if NativeKernels.isAvailable {
                NativeKernels.geluBackward(r.count, px + r.lowerBound, pt + r.lowerBound, pg + r.lowerBound, gx + r.lowerBound)
                return
            }
            @inline(__always) func grad(_ v: Vec, _ t: Vec) -> Vec {
                let du: Vec = geluScale * (1 + 0.134145 * v * v)  // d/dx of √(2/π)(x + 0.044715x³)
                let half: Vec = 0.5 * (1 + t)
                return half + 0.5 * v * (1 - t * t) * du
            }
            var i = r.lowerBound
            while i + 16 <= r.upperBound {
                store16(load16(gx + i) + load16(pg + i) * grad(load16(px + i), load16(pt + i)), gx + i)
                i += 16
            }
            if i < r.upperBound {
                let n = r.upperBound - i
                let d = loadPartial(pg + i, n) * grad(loadPartial(px + i, n), loadPartial(pt + i, n))
                storePartial(loadPartial(gx + i, n) + d, gx + i, n)
            }
        }
    }
}
