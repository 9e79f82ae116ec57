/// Stochastic gradient descent with optional momentum and weight decay (as `torch.optim.SGD`).
public final class SGD: Optimizer {
    /// Parameters by name, in a stable order.
    public let parameters: [(name: String, tensor: Tensor)]
    /// Learning rate for the next step.
    public var learningRate: Float
    /// Momentum μ (0 disables the buffer).
    public var momentum: Float
    /// L2 weight decay added to the gradient.
    public var weightDecay: Float
    /// Steps taken so far.
    public var stepCount = 0
    /// Momentum buffers, one per parameter.
    public let momentumBuffers: [Tensor]

    /// An SGD over `parameters`.
    public init(parameters: [(name: String, tensor: Tensor)], learningRate: Float,
                momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        momentumBuffers = parameters.map { Tensor(zeros: $0.tensor.shape) }
    }

    /// One update: d = g + λp; b = μb + d (b = d on the first step); p −= lr·b.
    public func step() {
        let first = stepCount == 0
        stepCount += 1
        for (i, p) in parameters.enumerated() {
            guard let g = p.tensor.grad else { continue }
            let (pp, pg, pb) = (p.tensor.data, g.data, momentumBuffers[i].data)
            for j in 0..<p.tensor.count {
                let d = pg[j] + weightDecay * pp[j]
                if momentum != 0 {
                    pb[j] = first ? d : momentum * pb[j] + d
                    pp[j] -= learningRate * pb[j]
                } else {
                    pp[j] -= learningRate * d
                }
            }
        }
    }

    /// The momentum buffers by name.
    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        momentum == 0 ? [] : parameters.indices.map { (parameters[$0].name + ".momentum_buffer", momentumBuffers[$0]) }
    }
}
