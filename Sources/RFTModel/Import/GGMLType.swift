/// ggml tensor types as GGUF stores them. The reader converts F32, F16, BF16, Q8_0, Q4_0 and
/// Q4_1 to Float; it knows the block sizes of the other common types (so a file holding them
/// still opens and its metadata reads) but refuses to convert them.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3, q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28, bf16 = 30

    /// Elements per block (1 for plain types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .i8, .i16, .i32, .i64, .f64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8: return 1
        case .i64, .f64: return 8
        case .q4_0: return 18   // f16 scale + 16 bytes of 4-bit values
        case .q4_1: return 20   // f16 scale, f16 minimum + 16 bytes of 4-bit values
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34   // f16 scale + 32 int8
        case .q8_1: return 36
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        }
    }

    /// True when the reader converts this type to Float.
    public var isConvertible: Bool { [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1].contains(self) }

    /// ggml's name (`Q4_1`, `BF16`…).
    public var name: String { String(describing: self).uppercased() }

    /// ggml's name for a type code, known to this build or not.
    public static func name(code: UInt32) -> String {
        if let t = GGMLType(rawValue: code) { return t.name }
        let others: [UInt32: String] = [16: "IQ2_XXS", 17: "IQ2_XS", 18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S",
                                         22: "IQ2_S", 23: "IQ4_XS", 29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4"]
        return "\(others[code] ?? "unknown type") (\(code))"
    }
}
