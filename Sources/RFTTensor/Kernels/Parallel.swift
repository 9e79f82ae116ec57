import Dispatch

/// Runs `body(0..<iterations)`, concurrently: how `parallelFor` fans out (rft's `WorkerPool`;
/// tests pass one that runs every iteration on a thread of its own).
typealias ConcurrentRunner = (_ iterations: Int, _ body: (Int) -> Void) -> Void

/// Splits `0..<n` into at most `BLAS.threads` contiguous chunks of at least `grain` items and
/// runs `body(range)` on each, concurrently when there is more than one chunk (each worker with
/// the caller's kernel choice, see `NativeKernels.withPortableKernels`). The split depends only
/// on `n`, `grain` and the thread count, so results are reproducible.
@inline(__always)
func parallelFor(_ n: Int, grain: Int, threads: Int = BLAS.threads,
                 runner: ConcurrentRunner = { WorkerPool.shared.run($0, $1) },
                 _ body: (Range<Int>) -> Void) {
    chunked(n, grain: grain, threads: threads, runner: runner) { _, range in body(range) }
}

/// `parallelFor` for the other modules, with each chunk's index (0..<chunks, each run once) for
/// work that needs a buffer per chunk: body(chunk, range).
public func parallelChunks(_ n: Int, grain: Int = 1, threads: Int = BLAS.threads,
                           _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
    chunked(n, grain: grain, threads: threads, runner: { WorkerPool.shared.run($0, $1) }, body)
}

/// The split of `parallelFor` and `parallelChunks`.
@inline(__always)
private func chunked(_ n: Int, grain: Int, threads: Int, runner: ConcurrentRunner, _ body: (Int, Range<Int>) -> Void) {
    let chunks = max(1, min(threads, n / max(1, grain)))
    if chunks == 1 { body(0, 0..<n); return }
    let size = (n + chunks - 1) / chunks
    let portable = NativeKernels.portableOnlyHere
    withoutActuallyEscaping(body) { body in
        runner(chunks) { c in
            let lo = c * size, hi = min(n, lo + size)
            if lo < hi { NativeKernels.withPortableKernels(portable) { body(c, lo..<hi) } }
        }
    }
}

/// Treats `counts` as consecutive segments of one long range, splits that range across threads
/// (as `parallelFor`) and calls `body(segment, rangeInSegment)` for every piece, so many small
/// tensors share the threads as well as one large one does.
func forEachSlice(of counts: [Int], grain: Int, _ body: (Int, Range<Int>) -> Void) {
    var starts = [0]
    for c in counts { starts.append(starts.last! + c) }
    parallelFor(starts.last!, grain: grain) { range in
        var s = 0
        while s < counts.count && starts[s + 1] <= range.lowerBound { s += 1 }
        while s < counts.count && starts[s] < range.upperBound {
            let lo = max(range.lowerBound, starts[s]) - starts[s]
            let hi = min(range.upperBound, starts[s + 1]) - starts[s]
            if lo < hi { body(s, lo..<hi) }
            s += 1
        }
    }
}
