/// GPT-2's reversible map between the 256 byte values and printable Unicode characters
/// (`bytes_to_unicode`): the printable Latin-1 bytes `!`…`~`, `¡`…`¬`, `®`…`ÿ` map to
/// themselves, the other 68 bytes to U+0100, U+0101, … in byte order. Byte-level BPE
/// vocabularies (tokenizer.json, GGUF) spell their tokens in this alphabet: space is `Ġ`.
enum ByteLevelAlphabet {
    /// The character for each byte.
    static let scalarForByte: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b) {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte for each character value below 324 (the alphabet's largest is U+0143), or -1.
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, s) in scalarForByte.enumerated() { table[Int(s.value)] = Int16(b) }
        return table
    }()

    /// `bytes` spelled in the alphabet.
    static func spell<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in bytes { out.append(scalarForByte[Int(b)]) }
        return String(out)
    }

    /// The bytes `token` spells, or nil when a character is outside the alphabet.
    static func bytes(spelledBy token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard s.value < 324, byteForScalar[Int(s.value)] >= 0 else { return nil }
            out.append(UInt8(byteForScalar[Int(s.value)]))
        }
        return out
    }

    /// The bytes of a vocabulary token: those it spells, or (like Hugging Face's ByteLevel
    /// decoder and transformers' GGUF loader) its own UTF-8 when it is not in the alphabet.
    static func tokenBytes(_ token: String) -> [UInt8] {
        bytes(spelledBy: token) ?? Array(token.utf8)
    }
}
