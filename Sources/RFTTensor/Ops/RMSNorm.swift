/// Root-mean-square normalisation over the last dimension (Zhang & Sennrich 2019; Llama's
/// `LlamaRMSNorm`, torch.nn.functional.rms_norm): no mean subtracted, no shift.

/// y = x / √(mean(x²) + eps) · weight per row.
/// x is (..., C), weight is (C) → y is (..., C).  Keeps 1/rms per row for backward.
public func rmsNorm(_ x: Tensor, weight: Tensor, eps: Float = 1e-6) -> Tensor {
    let c = x.shape.last!
    precondition(weight.shape == [c], "rmsNorm: \(x.shape) with \(weight.shape)")
    let rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    let rstds = Tensor(uninitialized: [rows])
    let (px, po, pw, ps) = (x.data, out.data, weight.data, rstds.data)
    let grain = max(1, 16384 / c)
    parallelFor(rows, grain: grain) { range in
        for r in range { ps[r] = rmsNormRow(c, px + r * c, pw, eps, po + r * c) }
    }
    return out.recorded(from: [x, weight]) { g in
        let ps = rstds.data  // the closure owns `rstds`
        let pg = g.data
        if x.requiresGrad {
            // with n = x·rstd and dn = g·w:  dx += (dn − n·mean(dn·n)) · rstd
            let gx = x.gradBuffer()
            parallelFor(rows, grain: grain) { range in
                for r in range {
                    let xr = px + r * c, gr = pg + r * c, dxr = gx + r * c, rstd = ps[r]
                    var acc = Vec(repeating: 0)
                    var i = 0
                    while i + 16 <= c { acc += load16(gr + i) * load16(pw + i) * load16(xr + i); i += 16 }
                    var dot = acc.sum()
                    while i < c { dot += gr[i] * pw[i] * xr[i]; i += 1 }
                    let m = dot * rstd * rstd / Float(c)  // mean(dn·n) · rstd  (one factor of rstd folded into n)
                    i = 0
                    while i + 16 <= c {
                        store16(load16(dxr + i) + (load16(gr + i) * load16(pw + i) - load16(xr + i) * m) * rstd, dxr + i)
                        i += 16
                    }
                    while i < c { dxr[i] += (gr[i] * pw[i] - xr[i] * m) * rstd; i += 1 }
                }
            }
        }
        // dweight += Σ_rows g·x·rstd  (split by columns: no two threads share one)
        guard weight.requiresGrad else { return }
        let gw = weight.gradBuffer()
        parallelFor(c, grain: max(16, 65536 / max(1, rows))) { cols in
            for r in 0..<rows {
                let xr = px + r * c, gr = pg + r * c, rstd = ps[r]
                for i in cols { gw[i] += gr[i] * xr[i] * rstd }
            }
        }
    }
}

/// One row of RMS normalisation: y = x·rstd·w over `c` floats; returns rstd = 1/√(mean(x²) + eps).
@inline(__always) @discardableResult
func rmsNormRow(_ c: Int, _ xr: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ eps: Float,
                _ yr: UnsafeMutablePointer<Float>) -> Float {
    let rstd = 1 / (vdot(c, xr, xr) / Float(c) + eps).squareRoot()
    var i = 0
    while i + 16 <= c { store16(load16(xr + i) * rstd * load16(w + i), yr + i); i += 16 }
    while i < c { yr[i] = xr[i] * rstd * w[i]; i += 1 }
    return rstd
}
