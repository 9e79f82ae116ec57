import CKernels
import Foundation
import Synchronization
import Testing
@testable import RFTTensor

/// The AVX2 + FMA kernels (`Sources/CKernels`) against the portable paths they replace:
/// OpenBLAS for the packed product, the Swift `attendOne` for decode attention.
@Suite(.enabled(if: NativeKernels.isAvailable, "the CPU has no AVX2 + FMA")) struct NativeKernelTests {
    /// Row counts around the kernels' tiles (AVX2: 6, 4, 1 rows; AVX-512: 16, 8, 4, 1), output widths
    /// around their 16-feature panels, and depths below, at and above their 256-deep slices; both
    /// the AVX2 product and (where the CPU has it) the AVX-512 one.
    @Test(arguments: [(1, 16, 7), (3, 65, 128), (4, 33, 300), (5, 128, 128), (6, 16, 9), (17, 384, 64), (32, 48, 128),
                      (70, 48, 513), (29, 65, 256)], [false, true])
    func packedProductMatchesSgemm(shape: (Int, Int, Int), wide: Bool) {
        let (m, n, k) = shape
        var g = RandomGenerator(seed: UInt64(m * 1000 + n * 10 + k))
        let x = Tensor.randomNormal([m, k], using: &g), w = Tensor.randomNormal([n, k], using: &g)
        let bias = Tensor.randomNormal([n], using: &g), start = Tensor.randomNormal([m, n], using: &g)
        // reference: start + bias + x·Wᵀ
        let ref = start.copy()
        for r in 0..<m { vadd(n, bias.data, ref.data + r * n) }
        BLAS.gemmSerial(transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: w.data, ldb: k, beta: 1, c: ref.data, ldc: n)
        let packed = PackedLinear(w, wide: wide)!
        let y = start.copy()
        packed.apply(rows: m, x: x.data, ldx: k, bias: bias.data, y: y.data, ldy: n, accumulate: true)
        let tolerance = 1e-5 * Double(k).squareRoot() * 4
        #expect(maxAbsDiff(y.toArray(), ref.toArray()) < tolerance)
        // overwrite, without bias
        let y2 = Tensor(repeating: .nan, shape: [m, n])
        packed.apply(rows: m, x: x.data, ldx: k, bias: nil, y: y2.data, ldy: n, accumulate: false)
        let ref2 = Tensor(zeros: [m, n])
        BLAS.gemmSerial(transB: true, m: m, n: n, k: k, a: x.data, lda: k, b: w.data, ldb: k, c: ref2.data, ldc: n)
        #expect(maxAbsDiff(y2.toArray(), ref2.toArray()) < tolerance)
    }

    /// Each row's result is the same bits whatever rows come with it: every row count from 1 to 30
    /// (every tile of both kernels, a partial last panel, two depth slices) against the rows alone.
    @Test(arguments: [false, true]) func packedProductRowsDoNotDependOnTheBatch(wide: Bool) {
        let (n, k, rows) = (37, 300, 30)
        var g = RandomGenerator(seed: 11)
        let x = Tensor.randomNormal([rows, k], using: &g), w = Tensor.randomNormal([n, k], using: &g)
        let bias = Tensor.randomNormal([n], using: &g)
        let packed = PackedLinear(w, wide: wide)!
        let alone = Tensor(zeros: [rows, n])
        for r in 0..<rows { packed.apply(rows: 1, x: x.data + r * k, ldx: k, bias: bias.data, y: alone.data + r * n, ldy: n, accumulate: false) }
        for m in 1...rows {
            let y = Tensor(zeros: [m, n])
            packed.apply(rows: m, x: x.data, ldx: k, bias: bias.data, y: y.data, ldy: n, accumulate: false)
            #expect(y.toArray() == Array(alone.toArray()[0..<(m * n)]), "\(m) rows")
        }
    }

    /// Split across threads by 16-feature panels (2, 3 and more threads than panels), the product
    /// gives the serial product's bits, with and without bias and accumulation.
    @Test(arguments: [2, 3, 8], [false, true]) func threadedPackedProductGivesTheSerialBits(threads: Int, wide: Bool) {
        let (m, n, k) = (7, 100, 70)  // 7 panels, the last one partial
        var g = RandomGenerator(seed: 12)
        let x = Tensor.randomNormal([m, k], using: &g), w = Tensor.randomNormal([n, k], using: &g)
        let bias = Tensor.randomNormal([n], using: &g), start = Tensor.randomNormal([m, n], using: &g)
        let packed = PackedLinear(w, wide: wide)!
        for (b, accumulate) in [(bias.data, true), (nil, false)] as [(UnsafeMutablePointer<Float>?, Bool)] {
            let serial = start.copy(), split = start.copy()
            packed.apply(rows: m, x: x.data, ldx: k, bias: b, y: serial.data, ldy: n, accumulate: accumulate)
            packed.apply(rows: m, x: x.data, ldx: k, bias: b, y: split.data, ldy: n, accumulate: accumulate, threads: threads)
            #expect(split.toArray() == serial.toArray())
        }
    }

    /// The AVX-512 product gives the AVX2 product's bits (the same sums in the same order), with and
    /// without bias and accumulation, on shapes that take every tile, partial panels and depth slices:
    /// a model's numbers do not depend on which of the two the CPU runs.
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"),
          arguments: [(1, 16, 7), (16, 384, 128), (16, 128, 512), (29, 65, 300), (64, 50, 513), (13, 100, 256)])
    func wideProductGivesTheAVX2Bits(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var g = RandomGenerator(seed: UInt64(7 * m + n + k))
        let x = Tensor.randomNormal([m, k], using: &g), w = Tensor.randomNormal([n, k], using: &g)
        let bias = Tensor.randomNormal([n], using: &g), start = Tensor.randomNormal([m, n], using: &g)
        let narrow = PackedLinear(w, wide: false)!, wide = PackedLinear(w, wide: true)!
        #expect(!narrow.wide && wide.wide)
        for (withBias, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = start.copy(), b = start.copy()
            for (packed, y) in [(narrow, a), (wide, b)] {
                packed.apply(rows: m, x: x.data, ldx: k, bias: withBias ? bias.data : nil, y: y.data, ldy: n, accumulate: accumulate)
            }
            #expect(differingBits(a, b) == 0, "bias \(withBias), accumulate \(accumulate)")
        }
    }

    /// `withPortableKernels` reaches `parallelFor`'s workers: each chunk runs on a thread of its own
    /// (never the caller's, where the task-local value is set), and sees the portable choice; the
    /// same threads without it see the native kernels (so the check is not vacuous).
    @Test func portableChoiceReachesWorkerThreads() {
        let seen = Mutex<[Bool]>([])
        NativeKernels.withPortableKernels {
            parallelFor(4, grain: 1, threads: 4, runner: runOnNewThreads) { _ in
                let native = NativeKernels.isAvailable
                seen.withLock { $0.append(native) }
            }
        }
        #expect(seen.withLock { $0 } == [false, false, false, false])
        let bare = Mutex<[Bool]>([])
        NativeKernels.withPortableKernels {
            runOnNewThreads(2) { _ in
                let native = NativeKernels.isAvailable
                bare.withLock { $0.append(native) }
            }
        }
        #expect(bare.withLock { $0 } == [true, true])  // a new thread does not inherit the choice
    }

    /// Head sizes with 32-, 8- and 1-feature tails; lengths inside a tile, at its edge and past it.
    @Test(arguments: [12, 16, 20, 32, 40, 48])
    func attendOneMatchesSwift(headSize hs: Int) {
        forEachAttendCase(headSize: hs) { n, q, keys, values, scale, s in
            let o1 = Tensor(zeros: [hs]), o2 = Tensor(zeros: [hs])
            DecodeKernels.attendOne(q: q, keys: keys, values: values, count: n, headSize: hs, scale: scale, scratch: s, out: o1.data)
            rft_attend_one(q, keys, values, Int32(n), Int32(hs), scale, s, o2.data)
            #expect(maxAbsDiff(o2.toArray(), o1.toArray()) < 1e-5, "n = \(n)")
        }
    }

    /// rft's AVX-512 sgemm against OpenBLAS's: every transpose pair, alpha and beta (0 with C full of
    /// NaN, which must not be read; 1; 0.3), leading dimensions wider than the matrices, shapes with
    /// row, column and depth tails, more than one 512-column block and one 256-deep slice.
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"),
          arguments: [(1, 1, 1), (17, 33, 300), (64, 65, 128), (236, 384, 128), (5, 700, 600), (300, 50, 20)], [0, 1, 2, 3])
    func wideSgemmMatchesOpenBLAS(shape: (Int, Int, Int), transposes: Int) {
        let (m, n, k) = shape
        let (transA, transB) = (transposes & 1 == 1, transposes & 2 == 2)
        let (lda, ldb, ldc) = ((transA ? m : k) + 3, (transB ? k : n) + 5, n + 2)
        var g = RandomGenerator(seed: UInt64(m * 7 + n * 3 + k + transposes))
        let a = Tensor.randomNormal([(transA ? k : m) * lda], using: &g), b = Tensor.randomNormal([(transB ? n : k) * ldb], using: &g)
        for (alpha, beta) in [(Float(1), Float(0)), (0.7, 1), (1, 0.3)] {
            let start = beta == 0 ? Tensor(repeating: .nan, shape: [m * ldc]) : Tensor.randomNormal([m * ldc], using: &g)
            let (wide, blas) = (start.copy(), start.copy())
            rft_sgemm_avx512(transA ? 1 : 0, transB ? 1 : 0, Int32(m), Int32(n), Int32(k), alpha, a.data, Int32(lda),
                             b.data, Int32(ldb), beta, wide.data, Int32(ldc))
            NativeKernels.withPortableKernels {
                BLAS.gemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.data, lda: lda,
                                b: b.data, ldb: ldb, beta: beta, c: blas.data, ldc: ldc)
            }
            // compare C's m × n entries (the padding past n stays as it was: NaN or the start)
            let (w, o) = (wide.toArray(), blas.toArray())
            let entries = (0..<m).flatMap { i in (0..<n).map { i * ldc + $0 } }
            let worst = entries.map { abs(w[$0] - o[$0]) }.max() ?? 0
            #expect(worst < 2e-5 * Float(k).squareRoot(), "alpha \(alpha), beta \(beta): \(worst)")
            let padding = (0..<m).flatMap { i in (n..<ldc).map { i * ldc + $0 } }
            #expect(padding.allSatisfy { w[$0].bitPattern == start.toArray()[$0].bitPattern }, "alpha \(alpha), beta \(beta)")
        }
    }

    /// Each row of the AVX-512 sgemm's result is the same bits alone as in a batch (so splitting a
    /// product across threads by rows or columns does not change the numbers): rows 1 ..< 40 of a
    /// (40, 70, 300) product, both ways of storing A.
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"), arguments: [false, true])
    func wideSgemmRowsDoNotDependOnTheBatch(transA: Bool) {
        let (m, n, k) = (40, 70, 300)
        var g = RandomGenerator(seed: transA ? 5 : 6)
        let a = Tensor.randomNormal([m * k], using: &g), b = Tensor.randomNormal([k * n], using: &g)
        let lda = transA ? m : k
        let all = Tensor(zeros: [m, n]), alone = Tensor(zeros: [m, n]), columns = Tensor(zeros: [m, n])
        rft_sgemm_avx512(transA ? 1 : 0, 0, Int32(m), Int32(n), Int32(k), 1, a.data, Int32(lda), b.data, Int32(n), 0, all.data, Int32(n))
        for i in 0..<m {
            rft_sgemm_avx512(transA ? 1 : 0, 0, 1, Int32(n), Int32(k), 1, a.data + (transA ? i : i * k), Int32(lda), b.data, Int32(n), 0,
                             alone.data + i * n, Int32(n))
        }
        for j0 in stride(from: 0, to: n, by: 30) {  // column blocks, as the column split makes them
            rft_sgemm_avx512(transA ? 1 : 0, 0, Int32(m), Int32(min(30, n - j0)), Int32(k), 1, a.data, Int32(lda), b.data + j0,
                             Int32(n), 0, columns.data + j0, Int32(n))
        }
        #expect(differingBits(all, alone) == 0)
        #expect(differingBits(all, columns) == 0)
    }

    /// The AVX-512 decode attention gives the AVX2 one's bits (head sizes with 32-, 16-, 8- and
    /// 1-feature tails; lengths inside a 16-position tile, at its edge and past it).
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"), arguments: [12, 16, 20, 32, 40, 48, 56])
    func wideAttendOneGivesTheAVX2Bits(headSize hs: Int) {
        forEachAttendCase(headSize: hs) { n, q, keys, values, scale, s in
            let o1 = Tensor(zeros: [hs]), o2 = Tensor(zeros: [hs])
            rft_attend_one(q, keys, values, Int32(n), Int32(hs), scale, s, o1.data)
            rft_attend_one_avx512(q, keys, values, Int32(n), Int32(hs), scale, s, o2.data)
            #expect(differingBits(o1, o2) == 0, "n = \(n)")
        }
    }

    /// The AVX-512 GELU, forward (values and saved tanhs) and backward, gives the AVX2 one's bits, for
    /// lengths with 16-, 8- and shorter tails and inputs out to the tanh's clamp.
    @Test(.enabled(if: NativeKernels.hasAVX512, "the CPU has no AVX-512"), arguments: [1, 7, 8, 15, 16, 24, 31, 40, 1000])
    func wideGeluGivesTheAVX2Bits(count n: Int) {
        var g = RandomGenerator(seed: UInt64(n))
        let x = Tensor.randomNormal([n], std: 4, using: &g), grad = Tensor.randomNormal([n], using: &g)
        let start = Tensor.randomNormal([n], using: &g)
        let (y1, t1, gx1) = (Tensor(zeros: [n]), Tensor(zeros: [n]), start.copy())
        let (y2, t2, gx2) = (Tensor(zeros: [n]), Tensor(zeros: [n]), start.copy())
        rft_gelu(n, x.data, y1.data, t1.data)
        rft_gelu_avx512(n, x.data, y2.data, t2.data)
        rft_gelu_backward(n, x.data, t1.data, grad.data, gx1.data)
        rft_gelu_backward_avx512(n, x.data, t2.data, grad.data, gx2.data)
        for (a, b, what) in [(y1, y2, "gelu"), (t1, t2, "tanh"), (gx1, gx2, "backward")] {
            #expect(differingBits(a, b) == 0, "\(what), n = \(n)")
        }
    }

    /// Calls body(n, q, keys, values, scale, scratch) for random decode-attention inputs of head size
    /// hs and lengths 1, 7, 8, 9, 16, 17, 40: keys in (⌈n/16⌉, hs, 16) tiles, values (n, hs).
    private func forEachAttendCase(headSize hs: Int, _ body: (Int, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                                             Float, UnsafeMutablePointer<Float>) -> Void) {
        var g = RandomGenerator(seed: UInt64(hs))
        for n in [1, 7, 8, 9, 16, 17, 40] {
            let tiles = (n + 15) / 16
            let q = Tensor.randomNormal([hs], using: &g)
            let keys = Tensor.randomNormal([tiles * hs * 16], using: &g), values = Tensor.randomNormal([tiles * 16 * hs], using: &g)
            let scratch = Tensor(zeros: [tiles * 16])
            body(n, q.data, keys.data, values.data, 1 / Float(hs).squareRoot(), scratch.data)
        }
    }
}

/// How many elements of a and b (the same count) differ in any bit.
private func differingBits(_ a: Tensor, _ b: Tensor) -> Int {
    zip(a.toArray(), b.toArray()).filter { $0.bitPattern != $1.bitPattern }.count
}

/// Runs body(0..<iterations) with each iteration on a new thread, and waits for all of them.
private func runOnNewThreads(_ iterations: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
        let box = BodyBox(body)  // the threads hold the box, not the closure: it is dropped before returning
        let done = DispatchGroup()
        for i in 0..<iterations {
            done.enter()
            Thread { box.body?(i); done.leave() }.start()
        }
        done.wait()
        box.body = nil
    }
}

/// A closure handed to threads the test synchronises by hand.
private final class BodyBox: @unchecked Sendable {
    var body: ((Int) -> Void)?
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}
