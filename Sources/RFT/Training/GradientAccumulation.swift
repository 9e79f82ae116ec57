import RFTTensor

/// The gradient of a step as the sum of its micro-batches' gradients, each computed from zero
/// and added in micro-batch order (((g₀ + g₁) + g₂) + …) — the order in which
/// `ProcessGroup.allReduce` adds ranks, so that A micro-batches on one process and one on each
/// of A processes give the same bits. With one micro-batch the gradients stay as computed.
struct GradientAccumulation {
    /// The parameters whose gradients are summed.
    let parameters: [Tensor]
    /// The sums so far (nil: no micro-batch gave that parameter a gradient yet).
    private var sums: [Tensor?]

    /// No micro-batch yet.
    init(_ parameters: [Tensor]) {
        self.parameters = parameters
        sums = Array(repeating: nil, count: parameters.count)
    }

    /// Adds the gradients of the micro-batch just computed and leaves the parameters without
    /// any, for the next one.
    mutating func add() {
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            p.grad = nil
            guard let sum = sums[i] else { sums[i] = g; continue }
            let s = sum.data, x = g.data
            for j in 0..<g.count { s[j] += x[j] }
        }
    }

    /// Makes the sums the parameters' gradients.
    func finish() {
        for (p, sum) in zip(parameters, sums) { p.grad = sum }
    }
}

extension GradientAccumulation {
    /// Ends a step: the sums become the gradients, summed over `group`, clipped to `maxNorm`, and
    /// `optimizer` steps — unless the norm is not finite, which throws (step `step`, the
    /// gradient of `what`) before any weight changes. → the norm before clipping and the
    /// seconds the all-reduce took.
    func applied(by optimizer: AdamW, group: any ProcessGroup, maxNorm: Float, step: Int, what: String) throws -> (gradNorm: Float, allReduceSeconds: Double) {
        finish()
        let allReduceSeconds = try group.allReduceGradients(parameters)
        let gradNorm = clipGradNorm(parameters, maxNorm: maxNorm)
        guard gradNorm.isFinite else { throw TrainingError.nonFinite(step: step, what: "the \(what) gradient norm") }
        optimizer.step()
        return (gradNorm, allReduceSeconds)
    }
}
