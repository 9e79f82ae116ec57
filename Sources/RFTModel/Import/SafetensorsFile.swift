import RFTTensor

/// Element types of the safetensors format (https://github.com/huggingface/safetensors).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL", u8 = "U8", i8 = "I8", f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32", f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteWidth: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// How the reader converts it to Float, or nil when it does not.
    var encoding: HalfPrecision.Encoding? {
        switch self {
        case .f32: return .float32
        case .f16: return .float16
        case .bf16: return .bfloat16
        default: return nil
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafetensorsTensorInfo: Equatable, Sendable {
    /// The tensor's name.
    public let name: String
    /// Its element type.
    public let dtype: SafetensorsDType
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let begin: UInt64, end: UInt64

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A safetensors file, validated before anything is allocated for tensors: the 8-byte header
/// length and the JSON header against the file's length and the limits, every tensor's dtype,
/// shape and byte range (inside the data, exactly its size, no overlap, no hole, nothing after),
/// unique names, and `__metadata__` as a string map. Tensors are read (and converted to Float)
/// one by one with pread.
public final class SafetensorsFile: TensorFile, @unchecked Sendable {
    /// The path used in error messages.
    public var path: String { source.path }
    /// The `__metadata__` map (empty when absent).
    public let metadata: [String: String]
    /// The tensors in the header's order.
    public let tensors: [SafetensorsTensorInfo]
    /// Offset of the data section (8 + header length).
    public let dataStart: UInt64
    /// The limits this reader enforces.
    public let limits: ImportLimits
    private let index: [String: Int]
    let source: ByteSource

    /// Validates the safetensors file in `source`.
    public init(source: ByteSource, limits: ImportLimits = .default) throws {
        self.source = source
        self.limits = limits
        let path = source.path, size = source.size
        var cursor = SourceCursor(source: source)
        cursor.section = "header length"
        let headerLength = try cursor.read(UInt64.self)
        guard headerLength <= limits.maxHeaderBytes else {
            throw ImportError.sizeOutOfBounds(path: path, field: "header length", value: headerLength, limit: limits.maxHeaderBytes)
        }
        guard headerLength >= 2 else {
            throw ImportError.malformedHeader(path: path, offset: 8, reason: "header of \(headerLength) bytes cannot hold a JSON object")
        }
        cursor.section = "JSON header"
        let headerBytes = try cursor.read(bytes: headerLength)
        dataStart = 8 + headerLength
        let dataLength = size - dataStart
        guard headerBytes[0] == UInt8(ascii: "{") else {
            throw ImportError.malformedHeader(path: path, offset: 8, reason: "the header does not start with '{'")
        }
        let json: StrictJSON.Value
        do {
            json = try StrictJSON.parse(headerBytes, maxDepth: limits.maxNestingDepth)
        } catch {
            if let key = error.duplicateKey, error.depth == 1 {
                throw key == "__metadata__" ? ImportError.duplicateKey(path: path, key: key) : ImportError.duplicateTensor(path: path, name: key)
            }
            throw ImportError.malformedHeader(path: path, offset: 8 + UInt64(error.offset), reason: error.reason)
        }
        guard let members = json.object else { throw ImportError.malformedHeader(path: path, offset: 8, reason: "the header is not a JSON object") }
        guard UInt64(members.count) <= limits.maxTensorCount + 1 else {
            throw ImportError.sizeOutOfBounds(path: path, field: "tensor count", value: UInt64(members.count), limit: limits.maxTensorCount)
        }
        var metadata: [String: String] = [:]
        var tensors: [SafetensorsTensorInfo] = []
        for (name, value) in members {
            if name == "__metadata__" {
                guard let entries = value.object else {
                    throw ImportError.malformedHeader(path: path, offset: 8, reason: "__metadata__ is \(value.typeName), not an object")
                }
                for (k, v) in entries {
                    guard let s = v.string else {
                        throw ImportError.malformedHeader(path: path, offset: 8, reason: "__metadata__[\(k.debugDescription)] is \(v.typeName), not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            tensors.append(try SafetensorsFile.parseEntry(name, value, path: path, dataStart: dataStart, fileSize: size, limits: limits))
        }
        // Byte ranges: sorted by start they must tile [0, dataLength) exactly.
        var expected: UInt64 = 0
        var previous: String?
        for t in tensors.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            if t.begin < expected {
                throw ImportError.tensorOutOfBounds(path: path, tensor: t.name,
                    reason: "bytes [\(t.begin), \(t.end)) overlap tensor \(previous.map { $0.debugDescription } ?? "") ending at \(expected)")
            }
            if t.begin > expected {
                throw ImportError.tensorOutOfBounds(path: path, tensor: t.name,
                    reason: "starts at \(t.begin), leaving a hole of \(t.begin - expected) bytes after offset \(expected)")
            }
            expected = t.end
            previous = t.name
        }
        guard expected == dataLength else {
            throw ImportError.tensorOutOfBounds(path: path, tensor: previous ?? "",
                reason: "\(dataLength - expected) bytes after the last tensor's data are not part of any tensor")
        }
        self.metadata = metadata
        self.tensors = tensors
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// Parses one tensor entry `{"dtype": …, "shape": […], "data_offsets": [b, e]}`.
    private static func parseEntry(_ name: String, _ value: StrictJSON.Value, path: String, dataStart: UInt64,
                                   fileSize: UInt64, limits: ImportLimits) throws -> SafetensorsTensorInfo {
        func bad(_ reason: String) -> ImportError { .malformedHeader(path: path, offset: 8, reason: "tensor \(name.debugDescription): \(reason)") }
        guard !name.isEmpty, UInt64(name.utf8.count) <= limits.maxStringBytes else { throw bad("name of \(name.utf8.count) bytes") }
        guard let fields = value.object else { throw bad("entry is \(value.typeName), not an object") }
        for (k, _) in fields where !["dtype", "shape", "data_offsets"].contains(k) { throw bad("unknown field \(k.debugDescription)") }
        guard let dtypeName = value["dtype"]?.string else { throw bad("no string \"dtype\"") }
        guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
            throw ImportError.unsupportedDType(path: path, tensor: name, dtype: dtypeName.debugDescription + " (unknown)")
        }
        guard let dims = value["shape"]?.array else { throw bad("no array \"shape\"") }
        guard dims.count <= limits.maxRank else {
            throw ImportError.invalidShape(path: path, tensor: name, reason: "rank \(dims.count) above \(limits.maxRank)")
        }
        var shape: [Int] = []
        var elements: UInt64 = 1
        for d in dims {
            guard let v = d.uint64 else { throw ImportError.invalidShape(path: path, tensor: name, reason: "dimension \(d) is not a non-negative integer") }
            guard v <= limits.maxDimension else {
                throw ImportError.invalidShape(path: path, tensor: name, reason: "dimension \(v) above \(limits.maxDimension)")
            }
            let (p, o) = elements.multipliedReportingOverflow(by: v)
            guard !o, p <= UInt64(Int32.max) * 64 else { throw ImportError.invalidShape(path: path, tensor: name, reason: "element count overflows") }
            elements = p
            shape.append(Int(v))
        }
        guard let offsets = value["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].uint64, let end = offsets[1].uint64 else {
            throw bad("\"data_offsets\" is not two non-negative integers")
        }
        guard begin <= end else {
            throw ImportError.tensorOutOfBounds(path: path, tensor: name, reason: "data_offsets [\(begin), \(end)) run backwards")
        }
        let bytes = elements * UInt64(dtype.byteWidth)
        guard end - begin == bytes else {
            throw ImportError.inconsistentSize(path: path, tensor: name,
                reason: "\(end - begin) bytes but shape \(shape) of \(dtype.rawValue) needs \(bytes)")
        }
        guard end <= fileSize - dataStart else {
            let (needed, o) = dataStart.addingReportingOverflow(end)
            throw ImportError.truncated(path: path, section: "tensor \(name.debugDescription) data", needed: o ? .max : needed, fileSize: fileSize)
        }
        guard elements * 4 <= limits.maxTensorBytes else {
            throw ImportError.sizeOutOfBounds(path: path, field: "tensor \(name) as Float32", value: elements * 4, limit: limits.maxTensorBytes)
        }
        return SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, begin: begin, end: end)
    }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> SafetensorsTensorInfo? { index[name].map { tensors[$0] } }

    /// Reads tensor `name` and converts it to Float32 (F32, F16, BF16; other dtypes throw).
    public func readTensor(_ name: String) throws -> Tensor {
        guard let info = info(name) else { throw ImportError.missingTensor(path: path, name: name) }
        guard let encoding = info.dtype.encoding else {
            throw ImportError.unsupportedDType(path: path, tensor: name, dtype: info.dtype.rawValue + " (not convertible to Float)")
        }
        let tensor = Tensor(uninitialized: info.shape)
        let count = info.elementCount
        try source.readChunked(at: dataStart + info.begin, units: count, unitBytes: encoding.byteWidth) { raw, first, n in
            HalfPrecision.decode(encoding, raw, count: n, into: tensor.data + first)
        }
        return tensor
    }

    /// Reads every tensor in header order (see `readTensor`).
    public func readAll() throws -> [(name: String, tensor: Tensor)] {
        try tensors.map { ($0.name, try readTensor($0.name)) }
    }
}
