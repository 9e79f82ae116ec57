/// The SwiGLU gate of Llama's MLP (Shazeer 2020): SiLU(gate) ⊙ up, with gate and up the two
/// halves of one fused projection.

/// y = SiLU(a) · b with a, b the first and second halves of the last dimension, SiLU(a) = a·σ(a).
/// x is (..., 2H) laid out per row as [gate | up] → y is (..., H). Saves nothing beyond x.
public func swiglu(_ x: Tensor) -> Tensor {
    let h2 = x.shape.last ?? 0
    precondition(h2 % 2 == 0 && h2 > 0, "swiglu: last dimension \(h2) is not even")
    let h = h2 / 2, rows = x.count / h2
    let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [h])
    let (px, po) = (x.data, out.data)
    let grain = max(1, 32768 / h)
    parallelFor(rows, grain: grain) { range in
        for r in range { swigluRow(h, px + r * h2, po + r * h) }
    }
    return out.recorded(from: [x]) { g in
        // da += g·b·σ(a)·(1 + a·(1 − σ(a)));  db += g·SiLU(a)
        let gx = x.gradBuffer(), pg = g.data
        parallelFor(rows, grain: grain) { range in
            for r in range {
                let a = px + r * h2, b = a + h, ga = gx + r * h2, gb = ga + h, gr = pg + r * h
                var i = 0
                @inline(__always) func grads(_ av: Vec, _ bv: Vec, _ gv: Vec) -> (Vec, Vec) {
                    let s = 1 / (1 + vexp(-av))
                    return (gv * bv * s * (1 + av * (1 - s)), gv * av * s)
                }
                while i + 16 <= h {
                    let (da, db) = grads(load16(a + i), load16(b + i), load16(gr + i))
                    store16(load16(ga + i) + da, ga + i)
                    store16(load16(gb + i) + db, gb + i)
                    i += 16
                }
                if i < h {
                    let n = h - i
                    let (da, db) = grads(loadPartial(a + i, n), loadPartial(b + i, n), loadPartial(gr + i, n))
                    storePartial(loadPartial(ga + i, n) + da, ga + i, n)
                    storePartial(loadPartial(gb + i, n) + db, gb + i, n)
                }
            }
        }
    }
}

/// One row of SwiGLU: y (h) = SiLU(x[0..<h]) · x[h..<2h].
@inline(__always)
func swigluRow(_ h: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    let b = x + h
    var i = 0
    while i + 16 <= h {
        let a = load16(x + i)
        store16(a / (1 + vexp(-a)) * load16(b + i), y + i)
        i += 16
    }
    if i < h {
        let n = h - i, a = loadPartial(x + i, n)
        storePartial(a / (1 + vexp(-a)) * loadPartial(b + i, n), y + i, n)
    }
}
