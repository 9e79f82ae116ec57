import COpenBLAS

/// Thin wrappers over OpenBLAS: row-major sgemm with transpose flags, and the thread count.
public enum BLAS {
    /// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major, with leading dimensions.
    /// op(A) is [M,K] (A stored [K,M] when `transA`), op(B) is [K,N] (B stored [N,K] when `transB`).
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// Sets the number of OpenBLAS threads (1 makes every BLAS call single-threaded).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }

    /// The number of threads OpenBLAS uses.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
