import RFTModel
import RFTTensor

/// Times each forward op of one block at a config's shapes (median of `repeats`, ms), and the
/// same op's backward, to show where a training step's time goes: the config's own parts
/// (LayerNorm or RMSNorm, GELU or SwiGLU, grouped-query attention with RoPE where it has them).
func opProfile(_ name: String, repeats: Int = 50) {
    guard let spec = trainStepConfigs[name] else { return }
    let c = spec.config
    let (b, t, w) = (spec.batch, spec.seq, c.width)
    let swiglu = c.activation == .swiglu
    let fcWidth = swiglu ? 2 * c.mlpHiddenSize : c.mlpHiddenSize
    var g = RandomGenerator(seed: 5)
    func leaf(_ shape: [Int]) -> Tensor {
        let x = Tensor.randomNormal(shape, std: 0.5, using: &g)
        x.requiresGrad = true
        return x
    }
    let x = leaf([b, t, w]), wqkv = leaf([c.qkvWidth, w]), bqkv = leaf([c.qkvWidth])
    let wfc = leaf([fcWidth, w]), wproj = leaf([w, c.mlpHiddenSize]), lnw = leaf([w]), lnb = leaf([w])
    let qkv = leaf([b, t, c.qkvWidth]), f = leaf([b, t, fcWidth]), h = leaf([b, t, c.mlpHiddenSize])
    let wte = leaf([c.vocabularySize, w])
    let rotary = c.positionEncoding == .rotary
        ? RotaryEmbedding(headSize: c.headSize, theta: c.ropeTheta, scaling: c.ropeScaling, positions: t) : nil
    let targets = (0..<(b * t)).map { $0 % c.vocabularySize }
    let ops: [(String, () -> Tensor)] = [
        c.normalization == .rmsNorm ? ("rmsNorm", { rmsNorm(x, weight: lnw, eps: c.layerNormEps) })
            : ("layerNorm", { layerNorm(x, weight: lnw, bias: lnb) }),
        ("linear qkv", { linear(x, weight: wqkv, bias: c.qkvBias ? bqkv : nil) }),
        ("attention", { causalSelfAttention(qkv, heads: c.heads, kvHeads: c.kvHeads, rotary: rotary) }),
        ("linear fc", { linear(x, weight: wfc, bias: nil) }),
        swiglu ? ("swiglu", { RFTTensor.swiglu(f) }) : ("gelu", { gelu(h) }),
        ("linear proj", { linear(h, weight: wproj, bias: nil) }),
        ("residual add", { x + x }),
        ("lm_head", { linear(x, weight: wte) }),
        ("crossEntropy", { crossEntropy(linear(x, weight: wte).detached(), targets: targets) }),
    ]
    timeOps(ops, repeats: repeats)
}

/// The ops of one block at `rft-step tiny`'s update shapes: 8 prompts of 7 tokens, each continued
/// by 8 completions of 7 rows, packed (472 rows) — what `completionLogProbs` runs.
func packedOpProfile(repeats: Int = 50) {
    let (w, heads) = (128, 4)
    let layout = AttentionLayout(groups: (0..<8).map { g in
        let start = g * (7 + 8 * 7)
        return AttentionLayout.Group(prompt: start..<(start + 7), branches: (0..<8).map { (start + 7 + $0 * 7)..<(start + 14 + $0 * 7) })
    })
    let n = layout.rowCount
    var g = RandomGenerator(seed: 5)
    func leaf(_ shape: [Int]) -> Tensor {
        let x = Tensor.randomNormal(shape, std: 0.5, using: &g)
        x.requiresGrad = true
        return x
    }
    let x = leaf([n, w]), wqkv = leaf([3 * w, w]), bqkv = leaf([3 * w]), wfc = leaf([4 * w, w]), wproj = leaf([w, 4 * w])
    let qkv = leaf([n, 3 * w]), h = leaf([n, 4 * w])
    timeOps([
        ("linear qkv", { linear(x, weight: wqkv, bias: bqkv) }),
        ("attention", { packedSelfAttention(qkv, layout: layout, heads: heads) }),
        ("linear fc", { linear(x, weight: wfc, bias: nil) }),
        ("gelu", { gelu(h) }),
        ("linear proj", { linear(h, weight: wproj, bias: nil) }),
    ], repeats: repeats)
}

/// Prints the median forward and backward time of each op.
func timeOps(_ ops: [(String, () -> Tensor)], repeats: Int) {
    for (label, op) in ops {
        var fwd: [Double] = [], bwd: [Double] = []
        for _ in 0..<repeats {
            let t0 = now()
            let y = op()
            let t1 = now()
            let grad = Tensor(repeating: 1, shape: y.shape)
            let t2 = now()
            if y.requiresGrad { y.backward(gradient: grad) }
            bwd.append((now() - t2) * 1000)
            fwd.append((t1 - t0) * 1000)
        }
        print(label.padding(toLength: 14, withPad: " ", startingAt: 0), "fwd", String(format: "%.3f", median(fwd)), "ms  bwd", String(format: "%.3f", median(bwd)), "ms")
    }
}

/// The decode products, (rows, out, in) at `sample tiny`'s shapes: the packed AVX2 kernel (and
/// the AVX-512 one where the CPU has it) against a single-threaded sgemm, median µs per product.
func packedLinearProfile(repeats: Int = 2000) {
    var g = RandomGenerator(seed: 3)
    let shapes = [(32, 384, 128), (32, 128, 128), (32, 512, 128), (32, 128, 512), (32, 65, 128), (6, 384, 128),
                  (236, 384, 128), (236, 128, 384), (236, 128, 128), (236, 512, 128), (236, 128, 512),
                  // smollm2's decode products (32 rows): qkv, o, gate+up, down, lm_head
                  (32, 960, 576), (32, 576, 576), (32, 3072, 576), (32, 576, 1536), (32, 49152, 576)]
    for (m, n, k) in shapes {
        let x = Tensor.randomNormal([m, k], using: &g), w = Tensor.randomNormal([n, k], using: &g)
        let y = Tensor(zeros: [m, n])
        func time(_ body: () -> Void) -> Double {
            var t: [Double] = []
            for _ in 0..<repeats { let t0 = now(); body(); t.append((now() - t0) * 1e6) }
            return median(t)
        }
        let blas = time { BLAS.gemmSerial(transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: w.data, ldb: k, c: y.data, ldc: n) }
        guard let packed = PackedLinear(w), let narrow = PackedLinear(w, wide: false) else {
            print("packed kernel not available"); return
        }
        let kernel = time { packed.apply(rows: m, x: x.data, ldx: k, bias: nil, y: y.data, ldy: n, accumulate: false) }
        let avx2 = time { narrow.apply(rows: m, x: x.data, ldx: k, bias: nil, y: y.data, ldy: n, accumulate: false) }
        let pack = time { _ = PackedLinear(w) }

        let gflop = 2.0 * Double(m * n * k) / 1e3
        func rate(_ us: Double) -> String { String(format: "%.2f µs (%.1f GFLOP/s)", us, gflop / us) }
        let wide = packed.wide ? "  avx512 \(rate(kernel))" : ""
        // split over the pool's threads, as a decoding step runs it
        let threaded = time { packed.apply(rows: m, x: x.data, ldx: k, bias: nil, y: y.data, ldy: n, accumulate: false, threads: BLAS.threads) }
        print("(\(m), \(n), \(k)) sgemm \(rate(blas))  avx2 \(rate(avx2))\(wide)  \(BLAS.threads) threads \(rate(threaded))  pack \(String(format: "%.1f", pack)) µs")
    }
}
