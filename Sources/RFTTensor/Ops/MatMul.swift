/// Matrix products through cblas_sgemm: `linear` (x·Wᵀ + b, PyTorch's nn.Linear layout) and
/// `matmul` (with transpose flags, batched over leading dimensions).

/// y = x · Wᵀ + b.  x is (..., in), weight is (out, in), bias is (out) → y is (..., out).
public func linear(_ x: Tensor, weight: Tensor, bias: Tensor? = nil) -> Tensor {
    let inF = weight.shape[1], outF = weight.shape[0]
    precondition(x.shape.last == inF, "linear: input \(x.shape) for weight \(weight.shape)")
    let n = x.count / inF
    let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
    if let b = bias {
        for r in 0..<n { (y.data + r * outF).update(from: b.data, count: outF) }
    }
    BLAS.gemm(transB: true, m: n, n: outF, k: inF, a: x.data, lda: inF, b: weight.data, ldb: inF,
              beta: bias == nil ? 0 : 1, c: y.data, ldc: outF)
    let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
    return y.recorded(from: inputs) { dy in
        // dx (N,in) += dy (N,out) · W (out,in)
        // (a gradient created here is overwritten, beta = 0, instead of zero-filled and added to)
        if x.requiresGrad {
            let (dx, fresh) = x.gradBufferForOverwrite()
            BLAS.gemm(m: n, n: inF, k: outF, a: dy.data, lda: outF, b: weight.data, ldb: inF,
                      beta: fresh ? 0 : 1, c: dx, ldc: inF)
        }
        // dW (out,in) += dyᵀ (out,N) · x (N,in)
        if weight.requiresGrad {
            let (dw, fresh) = weight.gradBufferForOverwrite()
            BLAS.gemm(transA: true, m: outF, n: inF, k: n, a: dy.data, lda: outF, b: x.data,
                      ldb: inF, beta: fresh ? 0 : 1, c: dw, ldc: inF)
        }
        // db (out) += Σ_rows dy
        if let b = bias, b.requiresGrad {
            let db = b.gradBuffer()
            for r in 0..<n { vadd(outF, dy.data + r * outF, db) }
        }
    }
}

/// Matrix product op(a) · op(b) over the last two dimensions; leading (batch) dimensions must
/// match, or `b` may be 2-D and shared by every batch.  a is (..., M, K) (or (..., K, M) when
/// `transposeA`), b is (..., K, N) (or (..., N, K) when `transposeB`) → (..., M, N).
public func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false)
    -> Tensor
{
    precondition(a.rank >= 2 && b.rank >= 2, "matmul needs matrices, got \(a.shape) and \(b.shape)")
    let (ar, ac) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
    let (br, bc) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
    let (m, k) = transposeA ? (ac, ar) : (ar, ac)
    let (k2, n) = transposeB ? (bc, br) : (br, bc)
    precondition(k == k2, "matmul: inner dimensions differ in \(a.shape) and \(b.shape)")
    let batchShape = Array(a.shape.dropLast(2))
    let batch = batchShape.reduce(1, *)
    let sharedB = b.rank == 2
    precondition(sharedB || Array(b.shape.dropLast(2)) == batchShape,
                 "matmul: batch dimensions differ in \(a.shape) and \(b.shape)")
    let (sa, sb, sc) = (ar * ac, sharedB ? 0 : br * bc, m * n)
    let c = Tensor(uninitialized: batchShape + [m, n])
    for i in 0..<batch {
        BLAS.gemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                  a: a.data + i * sa, lda: ac, b: b.data + i * sb, ldb: bc,
                  c: c.data + i * sc, ldc: n)
    }
    return c.recorded(from: [a, b]) { dc in
        for i in 0..<batch {
            let g = dc.data + i * sc
            if a.requiresGrad {
                // d op(A) = dC · op(B)ᵀ; stored A is op(A) or its transpose
                let ga = a.gradBuffer() + i * sa
                if transposeA {
                    BLAS.gemm(transA: transposeB, transB: true, m: ar, n: ac, k: n,
                              a: b.data + i * sb, lda: bc, b: g, ldb: n, beta: 1, c: ga, ldc: ac)
                } else {
                    BLAS.gemm(transB: !transposeB, m: ar, n: ac, k: n,
                              a: g, lda: n, b: b.data + i * sb, ldb: bc, beta: 1, c: ga, ldc: ac)
                }
            }
            if b.requiresGrad {
                // d op(B) = op(A)ᵀ · dC; stored B is op(B) or its transpose
                let gb = b.gradBuffer() + i * sb
                if transposeB {
                    BLAS.gemm(transA: true, transB: transposeA, m: br, n: bc, k: m,
                              a: g, lda: n, b: a.data + i * sa, ldb: ac, beta: 1, c: gb, ldc: bc)
                } else {
                    BLAS.gemm(transA: !transposeA, m: br, n: bc, k: m,
                              a: a.data + i * sa, lda: ac, b: g, ldb: n, beta: 1, c: gb, ldc: bc)
                }
            }
        }
    }
}
