/// Byte shuffling (splitting each element's bytes into planes) and bfloat16 conversion: the
/// transforms applied to tensor data before zstd compression. Plane k holds byte k (little-endian
/// order) of every element, so the sign/exponent bytes of neighbouring floats sit together and
/// compress, while the noisy low mantissa bytes stay out of their way.
enum ByteShuffle {
    /// Writes the 4 byte planes of `count` floats at `source` into `destination` (4·count bytes).
    static func shuffleFloat32(_ source: UnsafePointer<Float>, count n: Int, into destination: UnsafeMutablePointer<UInt8>) {
        let d0 = destination, d1 = destination + n, d2 = destination + 2 * n, d3 = destination + 3 * n
        source.withMemoryRebound(to: UInt32.self, capacity: n) { s in
            for i in 0..<n {
                let w = s[i]
                d0[i] = UInt8(truncatingIfNeeded: w)
                d1[i] = UInt8(truncatingIfNeeded: w >> 8)
                d2[i] = UInt8(truncatingIfNeeded: w >> 16)
                d3[i] = UInt8(truncatingIfNeeded: w >> 24)
            }
        }
    }

    /// Inverse of `shuffleFloat32`: 4 planes of `count` bytes back to floats.
    static func unshuffleFloat32(_ source: UnsafePointer<UInt8>, count n: Int, into destination: UnsafeMutablePointer<Float>) {
        let s0 = source, s1 = source + n, s2 = source + 2 * n, s3 = source + 3 * n
        destination.withMemoryRebound(to: UInt32.self, capacity: n) { d in
            for i in 0..<n {
                d[i] = UInt32(s0[i]) | UInt32(s1[i]) << 8 | UInt32(s2[i]) << 16 | UInt32(s3[i]) << 24
            }
        }
    }

    /// Rounds `count` floats to bfloat16 (round to nearest, ties to even; NaN stays NaN) and
    /// writes the 2 byte planes into `destination` (2·count bytes).
    static func shuffleBFloat16(_ source: UnsafePointer<Float>, count n: Int, into destination: UnsafeMutablePointer<UInt8>) {
        let d0 = destination, d1 = destination + n
        source.withMemoryRebound(to: UInt32.self, capacity: n) { s in
            for i in 0..<n {
                let b = bfloat16Bits(s[i])
                d0[i] = UInt8(truncatingIfNeeded: b)
                d1[i] = UInt8(truncatingIfNeeded: b >> 8)
            }
        }
    }

    /// Inverse of `shuffleBFloat16`: 2 planes of `count` bytes back to (exactly representable) floats.
    static func unshuffleBFloat16(_ source: UnsafePointer<UInt8>, count n: Int, into destination: UnsafeMutablePointer<Float>) {
        let s0 = source, s1 = source + n
        destination.withMemoryRebound(to: UInt32.self, capacity: n) { d in
            for i in 0..<n { d[i] = (UInt32(s0[i]) | UInt32(s1[i]) << 8) << 16 }
        }
    }

    /// The bfloat16 bit pattern nearest to a float's bit pattern (ties to even; NaN kept quiet).
    @inline(__always) static func bfloat16Bits(_ bits: UInt32) -> UInt16 {
        if bits & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: (bits >> 16) | 0x40) }
        let rounding: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }

    /// `value` rounded to the nearest bfloat16, as a Float.
    static func roundedToBFloat16(_ value: Float) -> Float {
        Float(bitPattern: UInt32(bfloat16Bits(value.bitPattern)) << 16)
    }
}
