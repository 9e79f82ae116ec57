/// A model file a reader validates on opening (GGUF, safetensors): opened from a path, from
/// bytes in memory, or from any `ByteSource`.
public protocol TensorFile {
    /// Validates the file in `source` (every size and offset bounded before any allocation).
    init(source: ByteSource, limits: ImportLimits) throws
}

extension TensorFile {
    /// Opens and validates the regular file at `path`.
    public init(path: String, limits: ImportLimits = .default) throws {
        try self.init(source: FileByteSource(path: path), limits: limits)
    }

    /// Validates a file held in memory (`path` names it in errors).
    public init(bytes: [UInt8], path: String = "<memory>", limits: ImportLimits = .default) throws {
        try self.init(source: MemoryByteSource(bytes: bytes, path: path), limits: limits)
    }
}
