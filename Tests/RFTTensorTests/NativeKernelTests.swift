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
            let differing = zip(a.toArray(), b.toArray()).filter { $0.bitPattern != $1.bitPattern }.count
            #expect(differing == 0, "bias \(withBias), accumulate \(accumulate): \(differing) of \(m * n) differ")
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
        var g = RandomGenerator(seed: UInt64(hs))
        for n in [1, 7, 16, 17, 40] {
            let tiles = (n + 15) / 16
            let q = Tensor.randomNormal([hs], using: &g)
            let keys = Tensor.randomNormal([tiles * hs * 16], using: &g), values = Tensor.randomNormal([tiles * 16 * hs], using: &g)
            let scale = 1 / Float(hs).squareRoot()
            let s1 = Tensor(zeros: [tiles * 16]), s2 = Tensor(zeros: [tiles * 16])
            let o1 = Tensor(zeros: [hs]), o2 = Tensor(zeros: [hs])
            DecodeKernels.attendOne(q: q.data, keys: keys.data, values: values.data, count: n, headSize: hs, scale: scale,
                                    scratch: s1.data, out: o1.data)
            rft_attend_one(q.data, keys.data, values.data, Int32(n), Int32(hs), scale, s2.data, o2.data)
            #expect(maxAbsDiff(o2.toArray(), o1.toArray()) < 1e-5, "n = \(n)")
        }
    }
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
