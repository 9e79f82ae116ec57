import CKernels
import COpenBLAS
import Dispatch

/// Row-major sgemm, parallelised by rft itself: each block runs OpenBLAS single-threaded, or rft's
/// AVX-512 sgemm (`rft_sgemm_avx512`) where `NativeKernels.hasAVX512` and the native kernels are
/// on; a large product is split into `threads` row (or column) blocks computed concurrently.
/// One kind of thread per region, and no OpenBLAS worker spinning between small calls.
public enum BLAS {
    nonisolated(unsafe) private static var threadCount = 1
    nonisolated(unsafe) private static var splitInSwift = true
    /// The thread count of the current task or thread, set by `withThreads`.
    @TaskLocal private static var scopedThreads: Int?

    /// Products below this many multiply-adds run on the calling thread alone.
    static let parallelThreshold = 1 << 18

    /// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major, with leading dimensions.
    /// op(A) is [M,K] (A stored [K,M] when `transA`), op(B) is [K,N] (B stored [N,K] when `transB`).
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = splitInSwift ? threads : 1
        let wide = NativeKernels.isAvailable && NativeKernels.hasAVX512  // read here: workers do not see a task-local
        if parts == 1 || m * n * k < parallelThreshold || (m < 2 * parts && n < 2 * parts) {
            sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, wide: wide)
            return
        }
        if m >= n {  // split rows of C: rows of op(A)
            let block = (m + parts - 1) / parts
            WorkerPool.shared.run(parts) { p in
                let lo = p * block, rows = min(m, lo + block) - lo
                guard rows > 0 else { return }
                let aOff = transA ? lo : lo * lda
                sgemm(transA, transB, rows, n, k, alpha, a + aOff, lda, b, ldb, beta, c + lo * ldc, ldc, wide: wide)
            }
        } else {  // split columns of C: columns of op(B)
            let block = (n + parts - 1) / parts
            WorkerPool.shared.run(parts) { p in
                let lo = p * block, cols = min(n, lo + block) - lo
                guard cols > 0 else { return }
                let bOff = transB ? lo * ldb : lo
                sgemm(transA, transB, m, cols, k, alpha, a, lda, b + bOff, ldb, beta, c + lo, ldc, wide: wide)
            }
        }
    }

    /// The same product on the calling thread only (for use inside parallel regions).
    @inline(__always)
    public static func gemmSerial(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
              wide: NativeKernels.isAvailable && NativeKernels.hasAVX512)
    }

    /// Threads that may call `gemmSerial` concurrently: rft's thread count when it splits
    /// products itself, else 1 (OpenBLAS's own threads are in charge).
    public static var callerThreads: Int { splitInSwift ? threads : 1 }

    /// One product on this thread: rft's AVX-512 sgemm when `wide`, else OpenBLAS's.
    @inline(__always)
    private static func sgemm(
        _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, wide: Bool
    ) {
        if wide {
            rft_sgemm_avx512(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b,
                             Int32(ldb), beta, c, Int32(ldc))
            return
        }
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }

    /// Sets how many threads rft uses for products and elementwise work (OpenBLAS itself stays
    /// single-threaded). Call it before training, not concurrently with tensor ops.
    /// With `splitInSwift` false, OpenBLAS's own threads parallelise each product instead.
    public static func setThreads(_ n: Int, splitInSwift: Bool = true) {
        threadCount = max(1, n)
        Self.splitInSwift = splitInSwift
        openblas_set_num_threads(Int32(splitInSwift ? 1 : threadCount))
    }

    /// The number of threads rft computes with here: the innermost `withThreads`, else the
    /// process default set by `setThreads` (1 until set).
    public static var threads: Int { scopedThreads ?? threadCount }

    /// Runs `body` with `n` threads for rft's products and elementwise work on this thread (and
    /// the tasks it starts), whatever other callers use: how a trainer or a run sets its own
    /// thread count without changing the process's.
    public static func withThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        _ = openBLASSingleThreaded
        return try $scopedThreads.withValue(max(1, n)) { try body() }
    }

    /// OpenBLAS's own threads off (once), as `setThreads` leaves them when rft splits products:
    /// two kinds of threads on the same cores would fight.
    private static let openBLASSingleThreaded: Void = {
        if splitInSwift { openblas_set_num_threads(1) }
    }()
}
