/// Constants of the checkpoint file layout (see docs/checkpoint-format.md).
///
/// ```
/// 0   8  magic "RFTCKPT\0"
/// 8   4  format version (UInt32, little-endian)
/// 12  4  reserved, 0
/// 16  8  header length H (UInt64)
/// 24  8  table length T (UInt64)
/// 32  8  XXH64 of bytes [0, end of table) with this field zeroed
/// 40  H  JSON header (UTF-8)
/// …   T  binary tensor table
/// …      payload: each tensor's zstd frames, in table order, back to back, to the end of file
/// ```
public enum CheckpointFormat {
    /// The 8 bytes every checkpoint starts with.
    public static let magic: [UInt8] = Array("RFTCKPT".utf8) + [0]
    /// The format version this build writes: 2 (the `trainer` and `pipeline` header slots).
    public static let version: UInt32 = 2
    /// The versions this build reads: version 1 files (rft 0.1) load as models; they hold no
    /// trainer state of this version's form, so a run cannot resume from them.
    public static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Bytes before the JSON header.
    public static let preambleSize = 40
    /// Elements per zstd frame unless the writer is told otherwise (4 MiB of float32).
    public static let defaultChunkElements = 1 << 20
    /// The largest ratio of raw to compressed bytes a zstd frame can reach (a 4-byte RLE block
    /// per 128 KiB); the reader refuses chunks claiming more before it allocates.
    public static let maxCompressionRatio: UInt64 = 32_768
}

/// How a tensor's elements are stored.
public enum CheckpointDType: String, Codable, Sendable, CaseIterable {
    /// IEEE float32, 4 byte planes.
    case f32
    /// bfloat16 (float32 rounded to nearest even, upper 16 bits), 2 byte planes; loads back as Float.
    case bf16

    /// Bytes per stored element.
    public var byteWidth: Int { self == .f32 ? 4 : 2 }
    /// The code in the binary table.
    var code: UInt8 { self == .f32 ? 0 : 1 }
    /// The dtype for a table code, or nil.
    init?(code: UInt8) {
        switch code {
        case 0: self = .f32
        case 1: self = .bf16
        default: return nil
        }
    }
}

/// Upper bounds the reader enforces before it allocates anything.
public struct CheckpointLimits: Sendable {
    /// Largest JSON header.
    public var maxHeaderBytes: UInt64 = 64 << 20
    /// Largest tensor table.
    public var maxTableBytes: UInt64 = 256 << 20
    /// Most tensors in one file.
    public var maxTensorCount: UInt64 = 1 << 20
    /// Highest tensor rank.
    public var maxRank = 8
    /// Longest tensor name in UTF-8 bytes.
    public var maxNameBytes = 1024
    /// Largest decompressed chunk (one zstd frame).
    public var maxChunkBytes: UInt64 = 256 << 20
    /// Largest decompressed tensor.
    public var maxTensorBytes: UInt64 = 64 << 30
    /// Largest sum of decompressed tensors (what loading allocates).
    public var maxTotalBytes: UInt64 = 64 << 30

    /// The default limits (64 GiB of tensors, 64 MiB of header).
    public init() {}
    /// The default limits.
    public static let `default` = CheckpointLimits()
}

/// One tensor's entry in the table: where its frames are and what they decode to.
public struct CheckpointTableEntry: Equatable, Sendable {
    /// The tensor's name (model parameter or `optimizer.`-prefixed state name).
    public var name: String
    /// How the elements are stored.
    public var dtype: CheckpointDType
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// File offset of the first frame.
    public var offset: UInt64
    /// Total compressed bytes (sum of the frames).
    public var storedBytes: UInt64
    /// Decompressed bytes (element count × dtype width).
    public var rawBytes: UInt64
    /// Elements per frame (the last frame may hold fewer).
    public var chunkElements: UInt64
    /// Per frame: compressed length and XXH64 of its decompressed (byte-shuffled) bytes.
    public var chunks: [(length: UInt64, checksum: UInt64)]

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Equal when every field is equal.
    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.dtype == b.dtype && a.shape == b.shape && a.offset == b.offset
            && a.storedBytes == b.storedBytes && a.rawBytes == b.rawBytes && a.chunkElements == b.chunkElements
            && a.chunks.count == b.chunks.count
            && zip(a.chunks, b.chunks).allSatisfy { $0.length == $1.length && $0.checksum == $1.checksum }
    }

    /// Bytes this entry takes in the binary table.
    var encodedSize: Int { 2 + name.utf8.count + 1 + 1 + 8 * shape.count + 8 * 4 + 4 + 16 * chunks.count }

    /// Appends the binary form (all integers little-endian).
    func encode(into out: inout [UInt8]) {
        out.appendLE(UInt16(name.utf8.count))
        out.append(contentsOf: name.utf8)
        out.append(dtype.code)
        out.append(UInt8(shape.count))
        for d in shape { out.appendLE(UInt64(d)) }
        out.appendLE(offset); out.appendLE(storedBytes); out.appendLE(rawBytes); out.appendLE(chunkElements)
        out.appendLE(UInt32(chunks.count))
        for c in chunks { out.appendLE(c.length); out.appendLE(c.checksum) }
    }
}

extension Array where Element == UInt8 {
    /// Appends a fixed-width integer, little-endian.
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        var x = v.littleEndian
        Swift.withUnsafeBytes(of: &x) { append(contentsOf: $0) }
    }
}

/// A bounds-checked little-endian reader over untrusted bytes: every read says whether it fit.
struct ByteCursor {
    let bytes: [UInt8]
    var position = 0

    /// Bytes not yet read.
    var remaining: Int { bytes.count - position }

    /// The next fixed-width integer, or nil past the end.
    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var v: T = 0
        for i in 0..<size { v |= T(truncatingIfNeeded: bytes[position + i]) << (8 * i) }
        position += size
        return v
    }

    /// The next `count` bytes, or nil past the end.
    mutating func read(bytes count: Int) -> ArraySlice<UInt8>? {
        guard count >= 0, remaining >= count else { return nil }
        defer { position += count }
        return bytes[position..<(position + count)]
    }
}
