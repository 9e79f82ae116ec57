/// Dequantization of ggml blocks to Float32. Block layouts (little-endian, ggml-common.h):
///   Q8_0: d: f16, q: 32 × int8                    x[i] = q[i]·d
///   Q4_0: d: f16, q: 16 bytes                     x[i] = (lo(q[i]) − 8)·d, x[i+16] = (hi(q[i]) − 8)·d
///   Q4_1: d: f16, m: f16, q: 16 bytes             x[i] = lo(q[i])·d + m,   x[i+16] = hi(q[i])·d + m
/// where lo/hi are a byte's low and high nibbles, i in 0..<16 for the 4-bit types.
public enum GGMLDequantize {
    /// Converts `blocks` blocks of `type` at `src` to `blocks × type.blockSize` Floats at `dst`.
    /// `type` must be convertible (`GGMLType.isConvertible`).
    public static func dequantize(_ type: GGMLType, _ src: UnsafeRawPointer, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        switch type {
        case .f32: HalfPrecision.decode(.float32, src, count: blocks, into: dst)
        case .f16: HalfPrecision.decode(.float16, src, count: blocks, into: dst)
        case .bf16: HalfPrecision.decode(.bfloat16, src, count: blocks, into: dst)
        case .q8_0:
            for b in 0..<blocks {
                let block = src + 34 * b
                let d = half(block, 0)
                let out = dst + 32 * b
                for i in 0..<32 { out[i] = Float(Int8(bitPattern: block.load(fromByteOffset: 2 + i, as: UInt8.self))) * d }
            }
        case .q4_0:
            for b in 0..<blocks {
                let block = src + 18 * b
                let d = half(block, 0)
                let out = dst + 32 * b
                for i in 0..<16 {
                    let q = block.load(fromByteOffset: 2 + i, as: UInt8.self)
                    out[i] = Float(Int(q & 0x0F) - 8) * d
                    out[i + 16] = Float(Int(q >> 4) - 8) * d
                }
            }
        case .q4_1:
            for b in 0..<blocks {
                let block = src + 20 * b
                let d = half(block, 0), m = half(block, 2)
                let out = dst + 32 * b
                for i in 0..<16 {
                    let q = block.load(fromByteOffset: 4 + i, as: UInt8.self)
                    out[i] = Float(q & 0x0F) * d + m
                    out[i + 16] = Float(q >> 4) * d + m
                }
            }
        default:
            break  // not convertible: the reader refuses before calling
        }
    }

    @inline(__always) private static func half(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
        HalfPrecision.float(fromHalf: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
    }
}
