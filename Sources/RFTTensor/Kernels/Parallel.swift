import Dispatch

/// Splits `0..<n` into at most `BLAS.threads` contiguous chunks of at least `grain` items and
/// runs `body(range)` on each, concurrently when there is more than one chunk. The split
/// depends only on `n`, `grain` and the thread count, so results are reproducible.
@inline(__always)
func parallelFor(_ n: Int, grain: Int, threads: Int = BLAS.threads, _ body: (Range<Int>) -> Void) {
    let chunks = max(1, min(threads, n / max(1, grain)))
    if chunks == 1 { body(0..<n); return }
    let size = (n + chunks - 1) / chunks
    DispatchQueue.concurrentPerform(iterations: chunks) { c in
        let lo = c * size, hi = min(n, lo + size)
        if lo < hi { body(lo..<hi) }
    }
}
