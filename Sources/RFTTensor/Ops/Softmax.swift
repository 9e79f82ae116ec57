/// Softmax and log-softmax over the last dimension.

/// Writes softmax of row `x` (n floats) into `y`; returns log Σ exp(x) (the row's log-partition).
@inline(__always) @discardableResult
func softmaxRow(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) -> Float {
    let m = vmax(n, x)
    var acc = Vec(repeating: 0)
    var i = 0
    while i + 16 <= n { let e = vexp(load16(x + i) - m); store16(e, y + i); acc += e; i += 16 }
    if i < n {
        var e = vexp(loadPartial(x + i, n - i) - m)
        for j in (n - i)..<16 { e[j] = 0 }
        storePartial(e, y + i, n - i); acc += e
    }
    let s = acc.sum()
    let inv = 1 / s
    i = 0
    while i + 16 <= n { store16(load16(y + i) * inv, y + i); i += 16 }
    while i < n { y[i] *= inv; i += 1 }
    return m + logf(s)
}

/// log Σ exp(x) over a row of n floats, without writing anything.
@inline(__always)
func logSumExpRow(_ n: Int, _ x: UnsafePointer<Float>) -> Float {
    let m = vmax(n, x)
    var acc = Vec(repeating: 0)
    var i = 0
    while i + 16 <= n { acc += vexp(load16(x + i) - m); i += 16 }
    if i < n {
        var e = vexp(loadPartial(x + i, n - i) - m)
        for j in (n - i)..<16 { e[j] = 0 }
        acc += e
    }
    return m + logf(acc.sum())
}

/// softmax(x) along the last dimension.  x is (..., N) → (..., N).
public func softmax(_ x: Tensor) -> Tensor {
    let n = x.shape.last!, rows = x.count / n
    let y = Tensor(uninitialized: x.shape)
    for r in 0..<rows { softmaxRow(n, x.data + r * n, y.data + r * n) }
    let saved = y.detached()  // the output's values, without a reference cycle through its node
    return y.recorded(from: [x]) { g in
        let y = saved
        // dx = y ⊙ (g − Σ g·y)
        let gx = x.gradBuffer()
        for r in 0..<rows {
            let yr = y.data + r * n, gr = g.data + r * n, dr = gx + r * n
            let dot = vdot(n, gr, yr)
            for i in 0..<n { dr[i] += yr[i] * (gr[i] - dot) }
        }
    }
}

/// log(softmax(x)) along the last dimension, computed stably.  x is (..., N) → (..., N).
public func logSoftmax(_ x: Tensor) -> Tensor {
    let n = x.shape.last!, rows = x.count / n
    let y = Tensor(uninitialized: x.shape)
    for r in 0..<rows {
        let lse = logSumExpRow(n, x.data + r * n)
        vmap(n, x.data + r * n, y.data + r * n) { $0 - lse }
    }
    let saved = y.detached()  // the output's values, without a reference cycle through its node
    return y.recorded(from: [x]) { g in
        let y = saved
        // dx = g − softmax · Σ g
        let gx = x.gradBuffer()
        for r in 0..<rows {
            let yr = y.data + r * n, gr = g.data + r * n, dr = gx + r * n
            let s = vsum(n, gr)
            var i = 0
            while i + 16 <= n {
                store16(load16(dr + i) + load16(gr + i) - vexp(load16(yr + i)) * s, dr + i)
                i += 16
            }
            while i < n { dr[i] += gr[i] - sexp(yr[i]) * s; i += 1 }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
