/// Layer normalisation over the last dimension (as torch.nn.functional.layer_norm).

/// y = (x − mean) / √(var + eps) · weight + bias per row.
/// x is (..., C), weight and bias are (C) → y is (..., C).  Keeps mean and 1/std per row for backward.
public func layerNorm(_ x: Tensor, weight: Tensor, bias: Tensor, eps: Float = 1e-5) -> Tensor {
    let c = x.shape.last!
    precondition(weight.shape == [c] && bias.shape == [c], "layerNorm: \(x.shape) with \(weight.shape)")
    let rows = x.count / c
    let out = Tensor(uninitialized: x.shape)
    let recording = Tensor.recording([x, weight, bias])
    let stats = Tensor(uninitialized: [rows, 2])  // (mean, rstd) per row
    let (px, po, pw, pb) = (x.data, out.data, weight.data, bias.data)
    let ps = stats.data
    for r in 0..<rows {
        let xr = px + r * c, yr = po + r * c
        let mean = vsum(c, xr) / Float(c)
        var acc = Vec(repeating: 0)
        var i = 0
        while i + 16 <= c { let d = load16(xr + i) - mean; acc += d * d; i += 16 }
        var v = acc.sum()
        while i < c { let d = xr[i] - mean; v += d * d; i += 1 }
        let rstd = 1 / (v / Float(c) + eps).squareRoot()
        i = 0
        while i + 16 <= c {
            store16((load16(xr + i) - mean) * rstd * load16(pw + i) + load16(pb + i), yr + i)
            i += 16
        }
        while i < c { yr[i] = (xr[i] - mean) * rstd * pw[i] + pb[i]; i += 1 }
        ps[2 * r] = mean; ps[2 * r + 1] = rstd
    }
    guard recording else { return out }
    return out.recorded(from: [x, weight, bias]) { g in
        let gx = x.requiresGrad ? x.gradBuffer() : nil
        let gw = weight.requiresGrad ? weight.gradBuffer() : nil
        let gb = bias.requiresGrad ? bias.gradBuffer() : nil
        let ps = stats.data  // the closure owns `stats`
        for r in 0..<rows {
            let xr = px + r * c, gr = g.data + r * c
            let mean = ps[2 * r], rstd = ps[2 * r + 1]
            // dnorm = g·w; dx = (dnorm − mean(dnorm) − norm·mean(dnorm·norm)) · rstd
            var s1 = Vec(repeating: 0), s2 = Vec(repeating: 0)
            var i = 0
            while i + 16 <= c {
                let norm = (load16(xr + i) - mean) * rstd
                let dn = load16(gr + i) * load16(pw + i)
                s1 += dn; s2 += dn * norm
                if let gw { store16(load16(gw + i) + load16(gr + i) * norm, gw + i) }
                if let gb { store16(load16(gb + i) + load16(gr + i), gb + i) }
                i += 16
            }
            var m1 = s1.sum(), m2 = s2.sum()
            while i < c {
                let norm = (xr[i] - mean) * rstd
                let dn = gr[i] * pw[i]
                m1 += dn; m2 += dn * norm
                gw?[i] += gr[i] * norm
                gb?[i] += gr[i]
                i += 1
            }
            m1 /= Float(c); m2 /= Float(c)
            guard let gx else { continue }
            let dxr = gx + r * c
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
