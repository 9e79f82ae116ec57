/// Conversions between Float32 and the 16-bit float formats of model files.
public enum HalfPrecision {
    /// IEEE binary16 bits → Float (exact; subnormals, infinities and NaNs kept).
    @inline(__always) public static func float(fromHalf bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    /// bfloat16 bits → Float (exact: the upper half of a Float32).
    @inline(__always) public static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// Float → bfloat16 bits, rounded to nearest even; NaN stays a (quiet) NaN.
    @inline(__always) public static func bfloat16(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}

extension HalfPrecision {
    /// The 16- and 32-bit float encodings model files store, little-endian.
    public enum Encoding: Sendable {
        case float32, float16, bfloat16

        /// Bytes per element.
        public var byteWidth: Int { self == .float32 ? 4 : 2 }
    }

    /// Converts `count` little-endian elements at `src` (any alignment) to Float at `dst`.
    public static func decode(_ encoding: Encoding, _ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
        switch encoding {
        case .float32:
            for i in 0..<count { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .float16:
            for i in 0..<count { dst[i] = float(fromHalf: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bfloat16:
            for i in 0..<count { dst[i] = float(fromBFloat16: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        }
    }
}
