/// Upper bounds the safetensors and GGUF readers enforce before they allocate anything. Beyond
/// these, every size is also checked against the file's length.
public struct ImportLimits: Sendable {
    /// Largest safetensors JSON header or index file (the reference implementation allows 100 MB).
    public var maxHeaderBytes: UInt64 = 100_000_000
    /// Most tensors in one file.
    public var maxTensorCount: UInt64 = 1 << 20
    /// Most GGUF metadata key/value pairs.
    public var maxMetadataCount: UInt64 = 1 << 20
    /// Longest string (key, tensor name, metadata value) in bytes.
    public var maxStringBytes: UInt64 = 16 << 20
    /// Most elements in one GGUF metadata array (a vocabulary has ~10⁵–10⁶).
    public var maxArrayCount: UInt64 = 1 << 24
    /// Deepest nesting of GGUF arrays or JSON containers.
    public var maxNestingDepth = 8
    /// Largest sum of metadata bytes held in memory (strings and array elements).
    public var maxMetadataBytes: UInt64 = 1 << 30
    /// Highest tensor rank.
    public var maxRank = 8
    /// Largest single dimension.
    public var maxDimension: UInt64 = 1 << 32
    /// Largest tensor once converted to Float32, in bytes.
    public var maxTensorBytes: UInt64 = 64 << 30
    /// Most shards in a sharded safetensors folder.
    public var maxShardCount = 10_000

    /// The default limits.
    public init() {}
    /// The default limits.
    public static let `default` = ImportLimits()
}
