/// The type codes of GGUF metadata values (GGUF v3).
public enum GGUFValueType: UInt32, Sendable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes a value of this type takes in the file at the least (fixed-size types: exactly).
    var minimumSize: UInt64 {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string: return 8  // the length
        case .array: return 12  // element type + count
        }
    }

    /// The spec's name (`UINT32`, `STRING`…).
    public var name: String { String(describing: self).uppercased() }
}

/// One GGUF metadata value.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String)
    /// An array: its element type and elements (arrays may nest).
    case array(GGUFValueType, [GGUFValue])
    case uint64(UInt64), int64(Int64), float64(Double)

    /// The value's type code.
    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// Any integer type as an Int, or nil (not an integer, or out of Int's range).
    public var int: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// A float or integer as a Double, or nil.
    public var double: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return int.map(Double.init)
        }
    }

    /// The string, or nil.
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    /// The bool, or nil.
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    /// The elements of an array, or nil.
    public var elements: [GGUFValue]? { if case .array(_, let e) = self { return e }; return nil }

    /// A short type description for error messages (`ARRAY[STRING]`).
    public var typeDescription: String {
        if case .array(let t, _) = self { return "ARRAY[\(t.name)]" }
        return type.name
    }
}

/// The metadata of a GGUF file with typed accessors that name the file and key when a value is
/// missing or of another type.
public struct GGUFMetadata: Sendable {
    /// The path used in error messages.
    public let path: String
    /// Keys in file order.
    public let keys: [String]
    /// Values by key.
    public let values: [String: GGUFValue]

    /// The raw value, or nil.
    public subscript(key: String) -> GGUFValue? { values[key] }

    /// True when `key` is present.
    public func contains(_ key: String) -> Bool { values[key] != nil }

    private func value(_ key: String) throws -> GGUFValue {
        guard let v = values[key] else { throw ImportError.missingMetadata(path: path, key: key) }
        return v
    }

    private func scalar<T>(_ key: String, _ expected: String, _ extract: (GGUFValue) -> T?) throws -> T {
        let v = try value(key)
        guard let x = extract(v) else { throw ImportError.metadataType(path: path, key: key, expected: expected, found: v.typeDescription) }
        return x
    }

    /// A string value.
    public func string(_ key: String) throws -> String { try scalar(key, "STRING") { $0.string } }

    /// An integer value of any width (in Int's range).
    public func int(_ key: String) throws -> Int { try scalar(key, "an integer") { $0.int } }

    /// A float (or integer) value.
    public func float(_ key: String) throws -> Double { try scalar(key, "a number") { $0.double } }

    /// A bool value.
    public func bool(_ key: String) throws -> Bool { try scalar(key, "BOOL") { $0.bool } }

    /// An array of strings.
    public func strings(_ key: String) throws -> [String] {
        try array(key, "ARRAY[STRING]") { $0.string }
    }

    /// An array of integers (any width).
    public func ints(_ key: String) throws -> [Int] {
        try array(key, "ARRAY of integers") { $0.int }
    }

    /// An array of numbers.
    public func floats(_ key: String) throws -> [Double] {
        try array(key, "ARRAY of numbers") { $0.double }
    }

    private func array<T>(_ key: String, _ expected: String, _ element: (GGUFValue) -> T?) throws -> [T] {
        let v = try value(key)
        guard let items = v.elements else { throw ImportError.metadataType(path: path, key: key, expected: expected, found: v.typeDescription) }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let x = element(item) else { throw ImportError.metadataType(path: path, key: key, expected: expected, found: v.typeDescription) }
            out.append(x)
        }
        return out
    }
}
