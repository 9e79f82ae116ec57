/// Embedding lookup: rows of a table gathered at integer indices.

/// out[i] = weight[indices[i]].  weight is (N, C), indices has `indexShape` → out is (indexShape..., C).
/// Indices must lie in 0..<N (checked).
public func embedding(_ weight: Tensor, indices: [Int], shape indexShape: [Int]) -> Tensor {
    let (n, c) = (weight.shape[0], weight.shape[1])
    precondition(indices.count == indexShape.reduce(1, *), "embedding: \(indices.count) indices for \(indexShape)")
    precondition(indices.allSatisfy { $0 >= 0 && $0 < n }, "embedding: index out of range 0..<\(n)")
    let out = Tensor(uninitialized: indexShape + [c])
    for (i, idx) in indices.enumerated() {
        (out.data + i * c).update(from: weight.data + idx * c, count: c)
    }
    return out.recorded(from: [weight]) { g in
        // dW[idx] += dOut[i]
        let gw = weight.gradBuffer()
        for (i, idx) in indices.enumerated() { vadd(c, g.data + i * c, gw + idx * c) }
    }
}
