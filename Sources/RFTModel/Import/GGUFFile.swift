import RFTTensor

/// One tensor's entry in a GGUF file.
public struct GGUFTensorInfo: Equatable, Sendable {
    /// The tensor's name (`blk.0.attn_q.weight`).
    public let name: String
    /// ggml's dimensions, innermost (contiguous) first, as the file stores them.
    public let dimensions: [Int]
    /// The element type.
    public let type: GGMLType
    /// Offset inside the data section.
    public let offset: UInt64
    /// Bytes the tensor takes.
    public let byteCount: UInt64

    /// The row-major shape, outermost first (ggml's dimensions reversed), as PyTorch sees it.
    public var shape: [Int] { dimensions.reversed() }
    /// Number of elements.
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A GGUF v3 file (llama.cpp's format), validated before anything is allocated for tensors:
/// magic and version; counts, string and array lengths, nesting and dimensions bounded by the
/// limits and by the bytes left in the file before each allocation; every metadata type;
/// unique keys and tensor names; `general.alignment`; each tensor's type, block-divisible row
/// length, aligned offset and byte range inside the file without overlap. Tensors are
/// dequantized to Float32 on read.
public final class GGUFFile: TensorFile, @unchecked Sendable {
    /// The magic bytes "GGUF".
    public static let magic: [UInt8] = Array("GGUF".utf8)
    /// The version this build reads.
    public static let version: UInt32 = 3
    /// Alignment of the data section when `general.alignment` is absent.
    public static let defaultAlignment: UInt64 = 32

    /// The path used in error messages.
    public var path: String { source.path }
    /// The metadata key/values.
    public let metadata: GGUFMetadata
    /// The tensors in file order.
    public let tensors: [GGUFTensorInfo]
    /// The data section's alignment.
    public let alignment: UInt64
    /// Offset of the data section in the file.
    public let dataStart: UInt64
    /// The limits this reader enforces.
    public let limits: ImportLimits
    private let index: [String: Int]
    let source: ByteSource

    /// Validates the GGUF file in `source`.
    public init(source: ByteSource, limits: ImportLimits = .default) throws {
        self.source = source
        self.limits = limits
        let path = source.path, size = source.size
        var c = SourceCursor(source: source)
        c.section = "magic"
        guard try c.read(bytes: 4) == GGUFFile.magic else { throw ImportError.badMagic(path: path, format: "GGUF") }
        c.section = "version"
        let version = try c.read(UInt32.self)
        guard version == GGUFFile.version else {
            throw ImportError.unsupportedVersion(path: path, version: version, supported: GGUFFile.version)
        }
        c.section = "tensor count"
        let tensorCount = try c.read(UInt64.self)
        c.section = "metadata count"
        let kvCount = try c.read(UInt64.self)
        guard tensorCount <= limits.maxTensorCount else {
            throw ImportError.sizeOutOfBounds(path: path, field: "tensor count", value: tensorCount, limit: limits.maxTensorCount)
        }
        guard kvCount <= limits.maxMetadataCount else {
            throw ImportError.sizeOutOfBounds(path: path, field: "metadata count", value: kvCount, limit: limits.maxMetadataCount)
        }
        // Each key/value takes ≥ 8 + 4 + 1 bytes and each tensor info ≥ 8 + 4 + 4 + 8.
        guard kvCount * 13 + tensorCount * 24 <= c.remaining else {
            throw ImportError.truncated(path: path, section: "\(kvCount) metadata entries and \(tensorCount) tensor infos",
                                        needed: c.position + kvCount * 13 + tensorCount * 24, fileSize: size)
        }

        var parser = ValueParser(path: path, limits: limits)
        var keys: [String] = []
        var values: [String: GGUFValue] = [:]
        for k in 0..<Int(kvCount) {
            c.section = "metadata entry \(k) key"
            let key = try parser.string(&c)
            guard !key.isEmpty else { throw ImportError.malformedHeader(path: path, offset: c.position, reason: "metadata entry \(k) has an empty key") }
            guard values[key] == nil else { throw ImportError.duplicateKey(path: path, key: key) }
            c.section = "metadata \(key.debugDescription)"
            let typeOffset = c.position
            let code = try c.read(UInt32.self)
            guard let type = GGUFValueType(rawValue: code) else {
                throw ImportError.malformedHeader(path: path, offset: typeOffset, reason: "metadata \(key.debugDescription) has unknown value type \(code)")
            }
            values[key] = try parser.value(type, &c, key: key, depth: 0)
            keys.append(key)
        }
        let metadata = GGUFMetadata(path: path, keys: keys, values: values)

        var alignment = GGUFFile.defaultAlignment
        if let a = values["general.alignment"] {
            guard case .uint32(let v) = a else {
                throw ImportError.metadataType(path: path, key: "general.alignment", expected: "UINT32", found: a.typeDescription)
            }
            guard v > 0, v & (v - 1) == 0, v <= 1 << 16 else {
                throw ImportError.malformedHeader(path: path, offset: 0, reason: "general.alignment \(v) is not a power of two in 1...65536")
            }
            alignment = UInt64(v)
        }

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var index: [String: Int] = [:]
        for t in 0..<Int(tensorCount) {
            c.section = "tensor info \(t) name"
            let name = try parser.string(&c)
            guard !name.isEmpty else { throw ImportError.malformedHeader(path: path, offset: c.position, reason: "tensor info \(t) has an empty name") }
            guard index[name] == nil else { throw ImportError.duplicateTensor(path: path, name: name) }
            c.section = "tensor \(name.debugDescription) info"
            let rank = try c.read(UInt32.self)
            guard rank >= 1, rank <= 4 else { throw ImportError.invalidShape(path: path, tensor: name, reason: "\(rank) dimensions (GGUF allows 1 to 4)") }
            var dims: [Int] = []
            var elements: UInt64 = 1
            for _ in 0..<Int(rank) {
                let d = try c.read(UInt64.self)
                guard d <= limits.maxDimension else {
                    throw ImportError.invalidShape(path: path, tensor: name, reason: "dimension \(d) above \(limits.maxDimension)")
                }
                let (p, o) = elements.multipliedReportingOverflow(by: d)
                guard !o, p <= UInt64(Int32.max) * 64 else { throw ImportError.invalidShape(path: path, tensor: name, reason: "element count overflows") }
                elements = p
                dims.append(Int(d))
            }
            let code = try c.read(UInt32.self)
            guard let type = GGMLType(rawValue: code) else {
                throw ImportError.unsupportedDType(path: path, tensor: name, dtype: GGMLType.name(code: code))
            }
            let offset = try c.read(UInt64.self)
            guard UInt64(dims[0]) % UInt64(type.blockSize) == 0 else {
                throw ImportError.invalidShape(path: path, tensor: name,
                    reason: "row length \(dims[0]) is not a multiple of \(type.name)'s block of \(type.blockSize)")
            }
            let bytes = elements / UInt64(type.blockSize) * UInt64(type.blockBytes)  // elements < 2^37, blockBytes < 2^9
            guard elements * 4 <= limits.maxTensorBytes else {
                throw ImportError.sizeOutOfBounds(path: path, field: "tensor \(name) as Float32", value: elements * 4, limit: limits.maxTensorBytes)
            }
            guard offset % alignment == 0 else {
                throw ImportError.tensorOutOfBounds(path: path, tensor: name, reason: "offset \(offset) is not a multiple of the alignment \(alignment)")
            }
            index[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, dimensions: dims, type: type, offset: offset, byteCount: bytes))
        }
        let infoEnd = c.position
        let dataStart = (infoEnd + alignment - 1) / alignment * alignment
        var previous: GGUFTensorInfo?
        for info in infos.sorted(by: { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }) {
            let (start, o1) = dataStart.addingReportingOverflow(info.offset)
            let (end, o2) = start.addingReportingOverflow(info.byteCount)
            guard !o1, !o2, end <= size else {
                throw ImportError.truncated(path: path, section: "tensor \(info.name.debugDescription) data", needed: (o1 || o2) ? .max : end, fileSize: size)
            }
            if let p = previous, p.offset + p.byteCount > info.offset {
                throw ImportError.tensorOutOfBounds(path: path, tensor: info.name,
                    reason: "bytes [\(info.offset), \(info.offset + info.byteCount)) overlap tensor \(p.name.debugDescription) at [\(p.offset), \(p.offset + p.byteCount))")
            }
            if info.byteCount > 0 { previous = info }
        }
        self.metadata = metadata
        self.tensors = infos
        self.index = index
        self.alignment = alignment
        self.dataStart = dataStart
    }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// Reads tensor `name` and dequantizes it to Float32, in its row-major `shape`.
    public func readTensor(_ name: String) throws -> Tensor {
        guard let info = info(name) else { throw ImportError.missingTensor(path: path, name: name) }
        guard info.type.isConvertible else {
            throw ImportError.unsupportedDType(path: path, tensor: name, dtype: info.type.name + " (not dequantized by this build)")
        }
        let tensor = Tensor(uninitialized: info.shape)
        try source.readChunked(at: dataStart + info.offset, units: info.elementCount / info.type.blockSize,
                               unitBytes: info.type.blockBytes) { raw, first, n in
            GGMLDequantize.dequantize(info.type, raw, blocks: n, into: tensor.data + first * info.type.blockSize)
        }
        return tensor
    }

    /// Reads every tensor in file order (see `readTensor`).
    public func readAll() throws -> [(name: String, tensor: Tensor)] {
        try tensors.map { ($0.name, try readTensor($0.name)) }
    }
}

/// Parses GGUF metadata values, keeping a running total of the bytes they hold.
private struct ValueParser {
    let path: String
    let limits: ImportLimits
    var held: UInt64 = 0

    init(path: String, limits: ImportLimits) {
        self.path = path
        self.limits = limits
    }

    mutating func charge(_ bytes: UInt64, _ c: SourceCursor) throws {
        held += bytes
        guard held <= limits.maxMetadataBytes else {
            throw ImportError.sizeOutOfBounds(path: path, field: "metadata held in memory (at \(c.section))", value: held, limit: limits.maxMetadataBytes)
        }
    }

    /// A length-prefixed UTF-8 string.
    mutating func string(_ c: inout SourceCursor) throws -> String {
        let at = c.position
        let length = try c.read(UInt64.self)
        guard length <= limits.maxStringBytes else {
            throw ImportError.sizeOutOfBounds(path: path, field: "string length in \(c.section) at offset \(at)", value: length, limit: limits.maxStringBytes)
        }
        let bytes = try c.read(bytes: length)
        try charge(length + 16, c)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw ImportError.malformedHeader(path: path, offset: at + 8, reason: "\(c.section): string is not valid UTF-8")
        }
        return s
    }

    /// One value of `type`.
    mutating func value(_ type: GGUFValueType, _ c: inout SourceCursor, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self))
        case .int8: return .int8(try c.read(Int8.self))
        case .uint16: return .uint16(try c.read(UInt16.self))
        case .int16: return .int16(try c.read(Int16.self))
        case .uint32: return .uint32(try c.read(UInt32.self))
        case .int32: return .int32(try c.read(Int32.self))
        case .uint64: return .uint64(try c.read(UInt64.self))
        case .int64: return .int64(try c.read(Int64.self))
        case .float32: return .float32(Float(bitPattern: try c.read(UInt32.self)))
        case .float64: return .float64(Double(bitPattern: try c.read(UInt64.self)))
        case .bool:
            let at = c.position
            let b = try c.read(UInt8.self)
            guard b <= 1 else { throw ImportError.malformedHeader(path: path, offset: at, reason: "metadata \(key.debugDescription): bool byte \(b) is not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try string(&c))
        case .array:
            let at = c.position
            guard depth < limits.maxNestingDepth else {
                throw ImportError.sizeOutOfBounds(path: path, field: "array nesting in metadata \(key.debugDescription)", value: UInt64(depth + 1),
                                                  limit: UInt64(limits.maxNestingDepth))
            }
            let code = try c.read(UInt32.self)
            guard let element = GGUFValueType(rawValue: code) else {
                throw ImportError.malformedHeader(path: path, offset: at, reason: "metadata \(key.debugDescription): unknown array element type \(code)")
            }
            let count = try c.read(UInt64.self)
            guard count <= limits.maxArrayCount else {
                throw ImportError.sizeOutOfBounds(path: path, field: "array length of metadata \(key.debugDescription)", value: count, limit: limits.maxArrayCount)
            }
            guard count * element.minimumSize <= c.remaining else {
                throw ImportError.truncated(path: path, section: "metadata \(key.debugDescription): \(count) × \(element.name)",
                                            needed: c.position + count * element.minimumSize, fileSize: c.source.size)
            }
            try charge(count * 16, c)
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<Int(count) { items.append(try value(element, &c, key: key, depth: depth + 1)) }
            return .array(element, items)
        }
    }
}
