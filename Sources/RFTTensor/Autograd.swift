/// One recorded op: its differentiable inputs and the function that, given the gradient of
/// the op's output, accumulates (`+=`) the gradients of those inputs.
final class Node {
    let inputs: [Tensor]
    let backward: (Tensor) -> Void
    init(inputs: [Tensor], backward: @escaping (Tensor) -> Void) {
        self.inputs = inputs
        self.backward = backward
    }
}

extension Tensor {
    /// True when an op on `inputs` should record its backward.
    @inline(__always)
    static func recording(_ inputs: [Tensor]) -> Bool {
        GradMode.enabled && inputs.contains { $0.requiresGrad }
    }

    /// Records `backward` as the way `self` was computed from `inputs` when gradients are on
    /// and any input requires them, and returns self: the way to write a custom op (like
    /// torch.autograd.Function). `backward` receives the output's gradient and accumulates
    /// into the inputs' `gradBuffer()`.
    @discardableResult
    public func recorded(from inputs: [Tensor], _ backward: @escaping (Tensor) -> Void) -> Tensor {
        guard Tensor.recording(inputs) else { return self }
        requiresGrad = true
        node = Node(inputs: inputs.filter { $0.requiresGrad }, backward: backward)
        return self
    }

    /// The gradient buffer of this tensor, created zero-filled on first use; backward
    /// functions accumulate into it.
    public func gradBuffer() -> UnsafeMutablePointer<Float> {
        if let g = grad { return g.data }
        let g = Tensor(zeros: shape)
        grad = g
        return g.data
    }

    /// The gradient buffer for a backward that will write all of it: when no gradient exists yet
    /// it is allocated uninitialised and `fresh` is true, so the caller stores (`=`) instead of
    /// accumulating (`+=`) and no zero-fill pass is spent.
    public func gradBufferForOverwrite() -> (pointer: UnsafeMutablePointer<Float>, fresh: Bool) {
        if let g = grad { return (g.data, false) }
        let g = Tensor(uninitialized: shape)
        grad = g
        return (g.data, true)
    }

    /// Computes the gradient of this tensor with respect to every tensor that requires it and
    /// accumulates it into their `grad`. `gradient` defaults to 1 for a one-element tensor.
    /// Intermediate gradients and the recorded graph are released as the walk passes them, so a
    /// second `backward()` through the same graph stops with an error (as PyTorch raises one
    /// without `retain_graph`): run the forward pass again.
    public func backward(gradient: Tensor? = nil) {
        precondition(requiresGrad, "backward() on a tensor that does not require gradients")
        Tensor.checkGraphNotReleased(self)
        if let g = gradient {
            precondition(g.shape == shape, "backward gradient \(g.shape) for \(shape)")
            let buf = gradBuffer()
            for i in 0..<count { buf[i] += g.data[i] }
        } else {
            precondition(count == 1, "backward() without a gradient needs a scalar, got \(shape)")
            gradBuffer()[0] += 1
        }
        for t in topologicalOrder().reversed() {
            guard let node = t.node else { Tensor.checkGraphNotReleased(t); continue }
            t.node = nil
            t.graphReleased = true
            if let g = t.grad {
                node.backward(g)
                t.grad = nil  // not a leaf: its gradient is consumed
            }
        }
    }

    /// Stops when `t` was computed by a graph an earlier backward() released: the gradient
    /// reaching it would go nowhere.
    private static func checkGraphNotReleased(_ t: Tensor) {
        precondition(!t.graphReleased, "backward() through a graph that an earlier backward() already released "
            + "(rft frees the graph as it goes, like PyTorch without retain_graph): run the forward pass again")
    }

    /// Tensors reachable from self through recorded nodes, each after all of its inputs.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (t, expanded) = stack.popLast() {
            if expanded { order.append(t); continue }
            guard visited.insert(ObjectIdentifier(t)).inserted else { continue }
            stack.append((t, true))
            for input in t.node?.inputs ?? [] where !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }
        return order
    }
}
