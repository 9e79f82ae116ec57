/// Reshapes (views) and slices (copies) that the model needs.

extension Tensor {
    /// The same elements with a new shape (a view; one dimension may be −1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            s[i] = known == 0 ? 0 : count / known
        }
        precondition(s.reduce(1, *) == count, "reshape \(shape) to \(newShape)")
        let out = Tensor(shape: s, storage: storage, offset: offset)
        return out.recorded(from: [self]) { g in vadd(self.count, g.data, self.gradBuffer()) }
    }

    /// Elements `start ..< start+length` along `axis` (a copy).
    public func narrow(axis: Int, start: Int, length: Int) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank && start >= 0 && length >= 0 && start + length <= shape[ax],
                     "narrow: axis \(axis) \(start)..<\(start + length) of \(shape)")
        let outer = shape[..<ax].reduce(1, *), len = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        outShape[ax] = length
        let out = Tensor(uninitialized: outShape)
        for o in 0..<outer {
            (out.data + o * length * inner).update(from: data + (o * len + start) * inner, count: length * inner)
        }
        return out.recorded(from: [self]) { g in
            let gx = self.gradBuffer()
            for o in 0..<outer {
                vadd(length * inner, g.data + o * length * inner, gx + (o * len + start) * inner)
            }
        }
    }
}

/// Joins tensors along `axis`; all other dimensions must agree.
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    let first = tensors[0]
    let ax = axis < 0 ? axis + first.rank : axis
    let outer = first.shape[..<ax].reduce(1, *), inner = first.shape[(ax + 1)...].reduce(1, *)
    for t in tensors {
        precondition(t.rank == first.rank && t.shape[..<ax] == first.shape[..<ax]
                     && t.shape[(ax + 1)...] == first.shape[(ax + 1)...],
                     "concatenate: \(t.shape) does not fit \(first.shape) on axis \(axis)")
    }
    let lens = tensors.map { $0.shape[ax] }
    let total = lens.reduce(0, +)
    var outShape = first.shape
    outShape[ax] = total
    let out = Tensor(uninitialized: outShape)
    var start = 0
    for (t, len) in zip(tensors, lens) {
        for o in 0..<outer {
            (out.data + (o * total + start) * inner).update(from: t.data + o * len * inner, count: len * inner)
        }
        start += len
    }
    return out.recorded(from: tensors) { g in
        var start = 0
        for (t, len) in zip(tensors, lens) {
            if t.requiresGrad {
                let gt = t.gradBuffer()
                for o in 0..<outer { vadd(len * inner, g.data + (o * total + start) * inner, gt + o * len * inner) }
            }
            start += len
        }
    }
}

extension Tensor {
    /// The elements at flat `indices` (row-major positions), as a 1-D tensor; repeated indices
    /// accumulate their gradients.  self is (...) → (indices.count).
    public func gathered(_ indices: [Int]) -> Tensor {
        precondition(indices.allSatisfy { $0 >= 0 && $0 < count }, "gathered: index out of range 0..<\(count)")
        let out = Tensor(uninitialized: [indices.count])
        for (i, j) in indices.enumerated() { out.data[i] = data[j] }
        return out.recorded(from: [self]) { g in
            let gx = self.gradBuffer()
            for (i, j) in indices.enumerated() { gx[j] += g.data[i] }
        }
    }
}
