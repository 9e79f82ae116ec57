/// The character classes the pre-tokenizer regexes use, one byte of flags per Unicode scalar:
/// `\p{L}` (general category L*), `\p{N}` (N*), `\s` (Oniguruma's: U+0009–000D, U+0085 and the
/// Z* separators; the same set as White_Space), and CR/LF. A scalar with no flag is "other"
/// (`[^\s\p{L}\p{N}]`). Checked against Hugging Face `tokenizers` for every code point by the
/// tests (Fixtures/tokenizer/classes.json). Scalars assigned after `unicodeVersion` (the
/// Unicode of the Oniguruma inside `tokenizers` 0.23) count as unassigned, "other", as there.
enum ScalarClass {
    /// The Unicode version Hugging Face's regex engine knows.
    static let unicodeVersion: Unicode.Version = (16, 0)

    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 4
    static let newline: UInt8 = 8  // CR or LF (also `space`)

    /// The flags of scalar value `v`.
    @inline(__always) static func of(_ v: UInt32) -> UInt8 {
        v < 0x10000 ? basic[Int(v)] : compute(v)
    }

    /// Flags of the Basic Multilingual Plane, computed once.
    static let basic: [UInt8] = (0..<0x10000).map { compute(UInt32($0)) }

    /// The flags from the scalar's Unicode properties.
    static func compute(_ v: UInt32) -> UInt8 {
        switch v {
        case 0x0A, 0x0D: return space | newline
        case 0x09, 0x0B, 0x0C, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return space
        default: break
        }
        guard let scalar = Unicode.Scalar(v), let age = scalar.properties.age, age <= unicodeVersion else { return 0 }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return 0
        }
    }
}
