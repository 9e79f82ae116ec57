/// A strict JSON parser for untrusted headers (safetensors, index files, tokenizer.json): it
/// keeps object order, refuses duplicate keys, invalid UTF-8, lone surrogates and trailing
/// bytes, bounds nesting, and reports the byte offset of every problem. Numbers are kept as
/// their text, so offsets up to 2⁶⁴ − 1 read back exactly.
enum StrictJSON {
    /// A parsed JSON value.
    indirect enum Value: Equatable, Sendable {
        case null
        case bool(Bool)
        /// The number's literal text (validated against the JSON grammar).
        case number(String)
        case string(String)
        case array([Value])
        /// Members in file order (keys unique).
        case object([(key: String, value: Value)])

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.null, .null): return true
            case (.bool(let x), .bool(let y)): return x == y
            case (.number(let x), .number(let y)): return x == y
            case (.string(let x), .string(let y)): return x == y
            case (.array(let x), .array(let y)): return x == y
            case (.object(let x), .object(let y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }

        /// The member named `key` of an object, or nil.
        subscript(key: String) -> Value? {
            guard case .object(let members) = self else { return nil }
            return members.first { $0.key == key }?.value
        }
        /// The string, or nil.
        var string: String? { if case .string(let s) = self { return s }; return nil }
        /// The bool, or nil.
        var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
        /// The array, or nil.
        var array: [Value]? { if case .array(let a) = self { return a }; return nil }
        /// The object's members, or nil.
        var object: [(key: String, value: Value)]? { if case .object(let o) = self { return o }; return nil }
        /// The number as an exact non-negative integer, or nil (fractions, exponents, signs, overflow).
        var uint64: UInt64? { if case .number(let s) = self { return UInt64(s) }; return nil }
        /// The number as an exact Int, or nil.
        var int: Int? { if case .number(let s) = self { return Int(s) }; return nil }
        /// The number as a Double, or nil.
        var double: Double? { if case .number(let s) = self { return Double(s) }; return nil }
        /// True for null.
        var isNull: Bool { if case .null = self { return true }; return false }
        /// The JSON type's name, for error messages.
        var typeName: String {
            switch self {
            case .null: return "null"
            case .bool: return "a bool"
            case .number: return "a number"
            case .string: return "a string"
            case .array: return "an array"
            case .object: return "an object"
            }
        }
    }

    /// A parse failure at a byte offset.
    struct Failure: Error, Equatable {
        let offset: Int
        let reason: String
        /// Set when the failure is a repeated key: the key and the depth of its object (1 = top level).
        var duplicateKey: String? = nil
        var depth = 0
    }

    /// Parses one JSON value filling `bytes` (surrounding whitespace allowed).
    static func parse(_ bytes: [UInt8], maxDepth: Int = 64) throws(Failure) -> Value {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.position == bytes.count else { throw Failure(offset: parser.position, reason: "bytes after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        var position = 0

        init(bytes: [UInt8], maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        mutating func skipWhitespace() {
            while position < bytes.count, bytes[position] == 0x20 || bytes[position] == 0x0A || bytes[position] == 0x0D || bytes[position] == 0x09 {
                position += 1
            }
        }

        func fail(_ reason: String) -> Failure { Failure(offset: position, reason: reason) }

        mutating func value(depth: Int) throws(Failure) -> Value {
            guard position < bytes.count else { throw fail("unexpected end of JSON") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw fail("unexpected byte 0x\(String(bytes[position], radix: 16)) where a value must start")
            }
        }

        mutating func literal(_ word: StaticString) throws(Failure) {
            let n = word.utf8CodeUnitCount
            guard bytes.count - position >= n else { throw fail("unexpected end of JSON") }
            for i in 0..<n where bytes[position + i] != word.utf8Start[i] { throw fail("invalid literal") }
            position += n
        }

        mutating func number() throws(Failure) -> Value {
            let start = position
            func digits(_ p: inout Int) -> Int {
                let s = p
                while p < bytes.count, bytes[p] >= 0x30, bytes[p] <= 0x39 { p += 1 }
                return p - s
            }
            var p = position
            if bytes[p] == UInt8(ascii: "-") { p += 1 }
            guard p < bytes.count else { throw fail("incomplete number") }
            if bytes[p] == UInt8(ascii: "0") { p += 1 } else if digits(&p) == 0 { throw Failure(offset: p, reason: "invalid number") }
            if p < bytes.count, bytes[p] == UInt8(ascii: ".") {
                p += 1
                guard digits(&p) > 0 else { throw Failure(offset: p, reason: "invalid number: no digits after '.'") }
            }
            if p < bytes.count, bytes[p] == UInt8(ascii: "e") || bytes[p] == UInt8(ascii: "E") {
                p += 1
                if p < bytes.count, bytes[p] == UInt8(ascii: "+") || bytes[p] == UInt8(ascii: "-") { p += 1 }
                guard digits(&p) > 0 else { throw Failure(offset: p, reason: "invalid number: no exponent digits") }
            }
            guard p - start <= 400 else { throw fail("number of \(p - start) characters") }
            position = p
            return .number(String(decoding: bytes[start..<p], as: UTF8.self))
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            guard bytes.count - position >= 4 else { throw fail("incomplete \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[position]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("invalid hex digit in \\u escape")
                }
                v = v << 4 | d
                position += 1
            }
            return v
        }

        mutating func string() throws(Failure) -> String {
            position += 1  // opening quote
            let start = position
            // Fast path: no escapes.
            while position < bytes.count {
                let c = bytes[position]
                if c == UInt8(ascii: "\"") {
                    guard let s = String(validating: bytes[start..<position], as: UTF8.self) else {
                        throw Failure(offset: start, reason: "string is not valid UTF-8")
                    }
                    position += 1
                    return s
                }
                if c == UInt8(ascii: "\\") { break }
                guard c >= 0x20 else { throw fail("control character in string") }
                position += 1
            }
            var out = Array(bytes[start..<position])
            while true {
                guard position < bytes.count else { throw Failure(offset: start - 1, reason: "unterminated string") }
                let c = bytes[position]
                if c == UInt8(ascii: "\"") { position += 1; break }
                guard c >= 0x20 else { throw fail("control character in string") }
                guard c == UInt8(ascii: "\\") else { out.append(c); position += 1; continue }
                position += 1
                guard position < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[position]
                position += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800, scalar < 0xDC00 {
                        guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                            throw fail("lone high surrogate in \\u escape")
                        }
                        position += 2
                        let low = try hex4()
                        guard low >= 0xDC00, low < 0xE000 else { throw fail("high surrogate not followed by a low one") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00, scalar < 0xE000 {
                        throw fail("lone low surrogate in \\u escape")
                    }
                    out.append(contentsOf: String(Unicode.Scalar(scalar)!).utf8)
                default: throw fail("invalid escape \\\(Character(Unicode.Scalar(e)))")
                }
            }
            guard let s = String(validating: out, as: UTF8.self) else { throw Failure(offset: start, reason: "string is not valid UTF-8") }
            return s
        }

        mutating func array(depth: Int) throws(Failure) -> Value {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
            position += 1
            var items: [Value] = []
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw fail("expected ',' or ']' in array")
            }
        }

        mutating func object(depth: Int) throws(Failure) -> Value {
            guard depth <= maxDepth else { throw fail("nesting deeper than \(maxDepth)") }
            position += 1
            var members: [(key: String, value: Value)] = []
            var seen = Set<String>()
            skipWhitespace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw fail("expected a string key in object") }
                let keyOffset = position
                let key = try string()
                guard seen.insert(key).inserted else {
                    throw Failure(offset: keyOffset, reason: "duplicate key \(key.debugDescription)", duplicateKey: key, depth: depth)
                }
                skipWhitespace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw fail("expected ':' after object key") }
                position += 1
                skipWhitespace()
                members.append((key, try value(depth: depth)))
                skipWhitespace()
                guard position < bytes.count else { throw fail("unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw fail("expected ',' or '}' in object")
            }
        }
    }
}
