import RFTModel
import RFTTensor

/// Times each forward op of one GPT block at a config's shapes (median of `repeats`, ms), and
/// the same op's backward, to show where a training step's time goes.
func opProfile(_ name: String, repeats: Int = 50) {
    guard let spec = trainStepConfigs[name] else { return }
    let c = spec.config
    let (b, t, w) = (spec.batch, spec.seq, c.width)
    var g = RandomGenerator(seed: 5)
    func leaf(_ shape: [Int]) -> Tensor {
        let x = Tensor.randomNormal(shape, std: 0.5, using: &g)
        x.requiresGrad = true
        return x
    }
    let x = leaf([b, t, w]), wqkv = leaf([3 * w, w]), bqkv = leaf([3 * w])
    let wfc = leaf([4 * w, w]), wproj = leaf([w, 4 * w]), lnw = leaf([w]), lnb = leaf([w])
    let qkv = leaf([b, t, 3 * w]), h = leaf([b, t, 4 * w]), wte = leaf([c.vocabularySize, w])
    let targets = (0..<(b * t)).map { $0 % c.vocabularySize }
    let ops: [(String, () -> Tensor)] = [
        ("layerNorm", { layerNorm(x, weight: lnw, bias: lnb) }),
        ("linear qkv", { linear(x, weight: wqkv, bias: bqkv) }),
        ("attention", { causalSelfAttention(qkv, heads: c.heads) }),
        ("linear fc", { linear(x, weight: wfc, bias: nil) }),
        ("gelu", { gelu(h) }),
        ("linear proj", { linear(h, weight: wproj, bias: nil) }),
        ("residual add", { x + x }),
        ("lm_head", { linear(x, weight: wte) }),
        ("crossEntropy", { crossEntropy(linear(x, weight: wte).detached(), targets: targets) }),
    ]
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
