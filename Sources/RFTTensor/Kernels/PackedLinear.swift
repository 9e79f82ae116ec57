import CKernels

/// A linear layer's weight packed once for the hand-written AVX2 + FMA product
/// (`Sources/CKernels`): y = x·Wᵀ + b for a few rows at a time, with no per-call packing of W —
/// what decoding needs, where every step multiplies ~32 rows by every weight. Exists only where
/// `NativeKernels.isAvailable` (checked at run time; the build stays baseline x86-64). On CPUs
/// with AVX-512 it runs 16-wide registers instead, with the same bits (`NativeKernels.hasAVX512`).
public final class PackedLinear: @unchecked Sendable {
    /// Output features (rows of W).
    public let outFeatures: Int
    /// Input features (columns of W).
    public let inFeatures: Int
    private let packed: Tensor
    /// True when `apply` runs the AVX-512 kernel rather than the AVX2 one.
    public let wide: Bool

    /// True when this machine runs the kernel (and it is not switched off).
    public static var isAvailable: Bool { NativeKernels.isAvailable }

    /// Packs `weight` (out, in) for the AVX-512 kernel when `wide` (and the CPU has it), else
    /// for the AVX2 one; nil when the kernels are not available.
    public init?(_ weight: Tensor, wide: Bool = NativeKernels.hasAVX512) {
        guard PackedLinear.isAvailable else { return nil }
        self.wide = wide && NativeKernels.hasAVX512
        precondition(weight.rank == 2, "PackedLinear: weight \(weight.shape) is not a matrix")
        (outFeatures, inFeatures) = (weight.shape[0], weight.shape[1])
        packed = Tensor(uninitialized: [Int(rft_packed_linear_floats(Int32(outFeatures), Int32(inFeatures)))])
        rft_pack_linear(Int32(outFeatures), Int32(inFeatures), weight.data, packed.data)
    }

    /// y (m, out) = (accumulate ? y : 0) + bias + x (m, in) · Wᵀ, rows ldx and ldy floats apart.
    @inline(__always)
    public func apply(rows m: Int, x: UnsafePointer<Float>, ldx: Int, bias: UnsafePointer<Float>?,
                      y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        let product = wide ? rft_linear_packed_avx512 : rft_linear_packed
        product(Int32(m), Int32(outFeatures), Int32(inFeatures), x, Int32(ldx), packed.data, bias, y, Int32(ldy),
                accumulate ? 1 : 0)
    }

    /// `apply` with the output features split into `threads` runs of whole 16-feature panels, one
    /// per thread of rft's pool: each thread reads only its share of W (what a model too large for
    /// the caches needs, where every decoding step streams all its weights). The same bits as `apply`.
    public func apply(rows m: Int, x: UnsafePointer<Float>, ldx: Int, bias: UnsafePointer<Float>?,
                      y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool, threads: Int) {
        let panels = (outFeatures + 15) / 16
        let parts = max(1, min(threads, panels))
        guard parts > 1 else { return apply(rows: m, x: x, ldx: ldx, bias: bias, y: y, ldy: ldy, accumulate: accumulate) }
        let product = wide ? rft_linear_packed_avx512 : rft_linear_packed
        let (k, base) = (inFeatures, UnsafePointer(packed.data))
        let per = (panels + parts - 1) / parts
        WorkerPool.shared.run(parts) { p in
            let j0 = p * per * 16, j1 = min(outFeatures, (p + 1) * per * 16)
            guard j0 < j1 else { return }
            // panel t starts at t·16·k floats: features j0 ..< j1 are one contiguous run of panels
            product(Int32(m), Int32(j1 - j0), Int32(k), x, Int32(ldx), base + j0 * k, bias.map { $0 + j0 }, y + j0,
                    Int32(ldy), accumulate ? 1 : 0)
        }
    }
}

/// rft's hand-written AVX2 + FMA kernels (`Sources/CKernels`): the packed decode product, decode
/// attention, short-span attention (forward and backward) and GELU. Chosen at run time on CPUs
/// that have both extensions. Where the CPU has AVX-512F too, the decode product, decode
/// attention, GELU and AdamW run 16 lanes wide with the same bits, and the other matrix products
/// run rft's AVX-512 sgemm instead of OpenBLAS (`BLAS`). The environment can cap the choice:
/// `RFT_KERNELS=blas` (OpenBLAS and the portable Swift kernels only) or `RFT_KERNELS=avx2`
/// (no AVX-512).
public enum NativeKernels {
    /// The CPU has AVX2 and FMA, and the environment does not switch the kernels off.
    static let supported: Bool = {
        if let choice = getenvString("RFT_KERNELS"), choice == "blas" { return false }
        return rft_has_avx2_fma() != 0
    }()

    /// The native kernels are supported, the CPU (and OS) run AVX-512F, and the environment does
    /// not say `RFT_KERNELS=avx2`.
    public static let hasAVX512: Bool = {
        if let choice = getenvString("RFT_KERNELS"), choice == "avx2" { return false }
        return supported && rft_has_avx512f() != 0
    }()

    @TaskLocal static var portableOnly = false

    /// y = GELU(x) over n floats (y may be x), tanhs (if given) receiving each tanh: the AVX-512
    /// kernel where `hasAVX512`, else the AVX2 one (the same bits). Needs `isAvailable`.
    static func gelu(_ n: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ tanhs: UnsafeMutablePointer<Float>?) {
        if hasAVX512 { rft_gelu_avx512(n, x, y, tanhs) } else { rft_gelu(n, x, y, tanhs) }
    }

    /// gx += g · GELU'(x) over n floats, with the tanhs `gelu` saved; as `gelu` chooses.
    static func geluBackward(_ n: Int, _ x: UnsafePointer<Float>, _ tanhs: UnsafePointer<Float>, _ g: UnsafePointer<Float>,
                             _ gx: UnsafeMutablePointer<Float>) {
        if hasAVX512 { rft_gelu_backward_avx512(n, x, tanhs, g, gx) } else { rft_gelu_backward(n, x, tanhs, g, gx) }
    }

    /// True when the native kernels run here (on this machine, outside `withPortableKernels`).
    public static var isAvailable: Bool { supported && !portableOnly }

    /// True inside `withPortableKernels` (on this thread, or on a worker given the caller's choice).
    public static var portableOnlyHere: Bool { portableOnly }

    /// Runs `body` on the portable paths (OpenBLAS and the Swift kernels) even where the native
    /// kernels exist (`portable` false: as chosen outside): how tests check both. The choice is
    /// task-local and does not reach worker threads (the `WorkerPool`'s, GCD's) by itself; code
    /// that fans out (rft's `parallelFor`, the sampler's groups) reads `portableOnlyHere` on the
    /// calling thread and passes it on with `withPortableKernels(choice) { … }` in each worker.
    public static func withPortableKernels<R>(_ portable: Bool = true, _ body: () throws -> R) rethrows -> R {
        try $portableOnly.withValue(portable) { try body() }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The value of environment variable `name`, if set.
func getenvString(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
}
