/// Layer normalisation over the last dimension (as torch.nn.functional.layer_norm).

/// y = (x − mean) / √(var + eps) · weight + bias per row.
/// x is (..., C), weight and bias are (C) → y is (..., C).  Keeps mean and 1/std per row for backward.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last!
    precondition(weight.shape == [c] && bias.shape == [c], "layerNorm: \(x.shape) with \(weight.shape)")
    let rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    let stats = Tensor(uninitialized: [rows, 2])  // (mean, rstd) per row
    let (px, po, pw, pb, ps) = (x.data, out.data, weight.data, bias.data, stats.data)
    let grain = max(1, 16384 / c)
    parallelFor(rows, grain: grain) { range in
        for r in range {
            let (mean, rstd) = layerNormRow(c, px + r * c, pw, pb, eps, po + r * c)
            ps[2 * r] = mean; ps[2 * r + 1] = rstd
        }
    }
    return out.recorded(from: [x, weight, bias]) { g in
        let ps = stats.data  // the closure owns `stats`
        let pg = g.data
        if x.requiresGrad {
            // dnorm = g·w;  dx += (dnorm − mean(dnorm) − norm·mean(dnorm·norm)) · rstd
            let gx = x.gradBuffer()
            parallelFor(rows, grain: grain) { range in
                for r in range {
                    let xr = px + r * c, gr = pg + r * c, dxr = gx + r * c
                    let mean = ps[2 * r], rstd = ps[2 * r + 1]
                    var s1 = Vec(repeating: 0), s2 = Vec(repeating: 0)
                    var i = 0
                    while i + 16 <= c {
                        let dn = load16(gr + i) * load16(pw + i)
                        s1 += dn; s2 += dn * (load16(xr + i) - mean) * rstd
                        i += 16
                    }
                    var m1 = s1.sum(), m2 = s2.sum()
                    while i < c { let dn = gr[i] * pw[i]; m1 += dn; m2 += dn * (xr[i] - mean) * rstd; i += 1 }
                    m1 /= Float(c); m2 /= Float(c)
                    i = 0
                    while i + 16 <= c {
                        let norm = (load16(xr + i) - mean) * rstd
                        let dn = load16(gr + i) * load16(pw + i)
                        store16(load16(dxr + i) + (dn - m1 - norm * m2) * rstd, dxr + i)
                        i += 16
                    }
                    while i < c {
                        let norm = (xr[i] - mean) * rstd
                        dxr[i] += (gr[i] * pw[i] - m1 - norm * m2) * rstd
                        i += 1
                    }
                }
            }
        }
        // dweight += Σ_rows g·norm;  dbias += Σ_rows g  (split by columns: no two threads share one)
        let gw = weight.requiresGrad ? weight.gradBuffer() : nil
        let gb = bias.requiresGrad ? bias.gradBuffer() : nil
        guard gw != nil || gb != nil else { return }
        parallelFor(c, grain: max(16, 65536 / max(1, rows))) { cols in
            for r in 0..<rows {
                let xr = px + r * c, gr = pg + r * c
                let mean = ps[2 * r], rstd = ps[2 * r + 1]
                if let gw { for i in cols { gw[i] += gr[i] * (xr[i] - mean) * rstd } }
                if let gb { for i in cols { gb[i] += gr[i] } }
            }
        }
    }
}

/// One row of layer normalisation: y = (x − mean)·rstd·w + b over `c` floats; returns (mean, rstd).
@inline(__always) @discardableResult
func layerNormRow(_ c: Int, _ xr: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                  _ eps: Float, _ yr: UnsafeMutablePointer<Float>) -> (mean: Float, rstd: Float) {
    let mean = vsum(c, xr) / Float(c)
    var acc = Vec(repeating: 0)
    var i = 0
    while i + 16 <= c { let d = load16(xr + i) - mean; acc += d * d; i += 16 }
    var v = acc.sum()
    while i < c { let d = xr[i] - mean; v += d * d; i += 1 }
    let rstd = 1 / (v / Float(c) + eps).squareRoot()
    i = 0
    while i + 16 <= c {
        store16((load16(xr + i) - mean) * rstd * load16(w + i) + load16(b + i), yr + i)
        i += 16
    }
    while i < c { yr[i] = (xr[i] - mean) * rstd * w[i] + b[i]; i += 1 }
    return (mean, rstd)
}
