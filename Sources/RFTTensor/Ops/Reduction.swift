/// Reductions: sum and mean over everything or over one axis.

extension Tensor {
    /// The sum of all elements, a scalar (shape []).
    public func sum() -> Tensor {
        var acc: Double = 0
        var i = 0
        while i < count {  // blocks of 4096 in Float, accumulated in Double
            let n = Swift.min(4096, count - i)
            acc += Double(vsum(n, data + i))
            i += n
        }
        let out = Tensor(shape: [], data: [Float(acc)])
        return out.recorded(from: [self]) { g in
            let gv = g.data[0], gx = self.gradBuffer()
            for j in 0..<self.count { gx[j] += gv }
        }
    }

    /// The mean of all elements, a scalar.
    public func mean() -> Tensor { sum() * (1 / Float(Swift.max(count, 1))) }

    /// The sum along `axis` (negative counts from the end); the axis is dropped unless `keepDims`.
    public func sum(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "sum: axis \(axis) for shape \(shape)")
        let outer = shape[..<ax].reduce(1, *), len = shape[ax], inner = shape[(ax + 1)...].reduce(1, *)
        var outShape = shape
        if keepDims { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor(zeros: outShape)
        for o in 0..<outer {
            for j in 0..<len { vadd(inner, data + (o * len + j) * inner, out.data + o * inner) }
        }
        return out.recorded(from: [self]) { g in
            let gx = self.gradBuffer()
            for o in 0..<outer {
                for j in 0..<len { vadd(inner, g.data + o * inner, gx + (o * len + j) * inner) }
            }
        }
    }

    /// The mean along `axis`.
    public func mean(axis: Int, keepDims: Bool = false) -> Tensor {
        let ax = axis < 0 ? axis + rank : axis
        return sum(axis: axis, keepDims: keepDims) * (1 / Float(shape[ax]))
    }
}
