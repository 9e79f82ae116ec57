/// An optimizer over named parameters whose state is itself named tensors (so it checkpoints).
public protocol Optimizer: AnyObject {
    /// The parameters, in a stable order, by name.
    var parameters: [(name: String, tensor: Tensor)] { get }
    /// The learning rate the next `step()` uses.
    var learningRate: Float { get set }
    /// Number of `step()` calls so far.
    var stepCount: Int { get set }
    /// Applies one update from the parameters' accumulated gradients.
    func step()
    /// The optimizer's state tensors by name (e.g. `h.0.attn.qkv.weight.exp_avg`).
    func stateTensors() -> [(name: String, tensor: Tensor)]
}

extension Optimizer {
    /// Clears every parameter's gradient (sets it to nil, like `zero_grad(set_to_none=True)`).
    public func zeroGrad() { for p in parameters { p.tensor.grad = nil } }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping (like `torch.nn.utils.clip_grad_norm_`).
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        guard let g = p.grad else { continue }
        var i = 0
        while i < g.count {
            let n = min(4096, g.count - i)
            total += Double(vdot(n, g.data + i, g.data + i))
            i += n
        }
    }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters {
            guard let g = p.grad else { continue }
            vmap(g.count, g.data, g.data) { $0 * coef }
        }
    }
    return norm
}
