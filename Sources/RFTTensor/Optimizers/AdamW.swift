import CKernels

/// AdamW: Adam with bias correction and decoupled weight decay, the same update as
/// `torch.optim.AdamW` (weight decay first, then the Adam step).
public final class AdamW: Optimizer {
    /// Parameters by name, in a stable order.
    public let parameters: [(name: String, tensor: Tensor)]
    /// Learning rate for the next step.
    public var learningRate: Float
    /// (β₁, β₂): decay of the first and second moment averages.
    public var betas: (Float, Float)
    /// Added to the denominator for stability.
    public var eps: Float
    /// Decoupled weight decay λ: p ← p − lr·λ·p.
    public var weightDecay: Float
    /// Steps taken so far (bias correction uses it).
    public var stepCount = 0
    /// First moments (exp_avg), one per parameter.
    public let exponentialAverage: [Tensor]
    /// Second moments (exp_avg_sq), one per parameter.
    public let exponentialAverageSquared: [Tensor]

    /// An AdamW over `parameters` with torch's defaults.
    public init(
        parameters: [(name: String, tensor: Tensor)], learningRate: Float = 1e-3,
        betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8, weightDecay: Float = 0.01
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        exponentialAverage = parameters.map { Tensor(zeros: $0.tensor.shape) }
        exponentialAverageSquared = parameters.map { Tensor(zeros: $0.tensor.shape) }
    }

    /// One AdamW update of every parameter that has a gradient.
    public func step() {
        stepCount += 1
        let (b1, b2) = betas
        let lr = learningRate, wd = weightDecay, eps = eps
        let bc1 = 1 - Float(pow(Double(b1), Double(stepCount)))
        let bc2 = 1 - Float(pow(Double(b2), Double(stepCount)))
        let stepSize = lr / bc1
        let bc2Sqrt = bc2.squareRoot()
        let decay = 1 - lr * wd
        // one pass over all parameters, split evenly across threads by element count
        let work = parameters.indices.compactMap { i -> (Int, Tensor)? in
            parameters[i].tensor.grad == nil ? nil : (i, parameters[i].tensor)
        }
        let wide = NativeKernels.isAvailable && NativeKernels.hasAVX512  // read here: workers do not see a task-local
        forEachSlice(of: work.map { $0.1.count }, grain: 1 << 15) { w, range in
            let (i, p) = work[w]
            let (pp, pg) = (p.data, p.grad!.data)
            let (pm, pv) = (exponentialAverage[i].data, exponentialAverageSquared[i].data)
            if wide {  // the same arithmetic, 16 lanes wide
                let o = range.lowerBound
                rft_adamw_avx512(range.count, pp + o, pg + o, pm + o, pv + o, b1, b2, bc2Sqrt, eps, decay, stepSize)
                return
            }
            var j = range.lowerBound
            let end = range.upperBound
            while j + 16 <= end {
                let gj = load16(pg + j)
                let m = b1 * load16(pm + j) + (1 - b1) * gj
                let v = b2 * load16(pv + j) + (1 - b2) * gj * gj
                store16(m, pm + j); store16(v, pv + j)
                let denom = v.squareRoot() / bc2Sqrt + eps
                store16(load16(pp + j) * decay - stepSize * (m / denom), pp + j)
                j += 16
            }
            while j < end {
                let gj = pg[j]
                pm[j] = b1 * pm[j] + (1 - b1) * gj
                pv[j] = b2 * pv[j] + (1 - b2) * gj * gj
                let denom = pv[j].squareRoot() / bc2Sqrt + eps
                pp[j] = pp[j] * decay - stepSize * (pm[j] / denom)
                j += 1
            }
        }
    }

    /// `exp_avg` and `exp_avg_sq` for each parameter, by name.
    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        parameters.indices.flatMap { i in
            [(parameters[i].name + ".exp_avg", exponentialAverage[i]),
             (parameters[i].name + ".exp_avg_sq", exponentialAverageSquared[i])]
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
