/// A sequential little-endian reader over a `ByteSource`, buffered in windows so that parsing
/// a header of many small fields makes few reads. Every read checks the file's length first
/// and throws a truncation naming `section` and the offset.
struct SourceCursor {
    let source: ByteSource
    /// Offset of the next byte to read.
    private(set) var position: UInt64
    /// What is being read, for error messages ("tensor info 3", "metadata key 12").
    var section = "header"
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0
    private static let windowSize: UInt64 = 1 << 20

    init(source: ByteSource, position: UInt64 = 0) {
        self.source = source
        self.position = position
    }

    /// Bytes between the position and the end of the file.
    var remaining: UInt64 { source.size - min(position, source.size) }

    /// Throws a truncation unless `count` more bytes exist.
    func require(_ count: UInt64) throws {
        guard count <= remaining else {
            let (end, o) = position.addingReportingOverflow(count)
            throw ImportError.truncated(path: source.path, section: section, needed: o ? .max : end, fileSize: source.size)
        }
    }

    /// Makes the window cover [position, position + count) (count ≤ windowSize).
    private mutating func fill(_ count: UInt64) throws {
        if position >= windowStart, position + count <= windowStart + UInt64(window.count) { return }
        let length = min(max(count, SourceCursor.windowSize), remaining)
        window = try source.bytes(at: position, count: length, section: section)
        windowStart = position
    }

    /// The next fixed-width integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws -> T {
        let size = UInt64(MemoryLayout<T>.size)
        try require(size)
        try fill(size)
        let start = Int(position - windowStart)
        var v: T = 0
        for i in 0..<Int(size) { v |= T(truncatingIfNeeded: window[start + i]) << (8 * i) }
        position += size
        return v
    }

    /// The next `count` bytes (checked against the file before allocating).
    mutating func read(bytes count: UInt64) throws -> [UInt8] {
        try require(count)
        if count > SourceCursor.windowSize {
            let out = try source.bytes(at: position, count: count, section: section)
            position += count
            return out
        }
        try fill(count)
        let start = Int(position - windowStart)
        position += count
        return Array(window[start..<(start + Int(count))])
    }

    /// Moves forward by `count` bytes (checked).
    mutating func skip(_ count: UInt64) throws {
        try require(count)
        position += count
    }
}
