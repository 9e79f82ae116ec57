#if canImport(Glibc)
import Glibc
#endif

/// Random-access bytes a reader pulls from: a regular file (pread) or memory (tests, fuzzing).
/// Reads may come from several threads at once.
public protocol ByteSource: Sendable {
    /// Total bytes.
    var size: UInt64 { get }
    /// The path (or a name) used in error messages.
    var path: String { get }
    /// Fills `buffer` from `offset`; the caller has checked that the range lies inside `size`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
}

extension ByteSource {
    /// `count` bytes at `offset`, after checking the range against the file's length (so a bad
    /// offset is reported as a truncation of `section`, never read or allocated).
    public func bytes(at offset: UInt64, count: UInt64, section: @autoclosure () -> String) throws -> [UInt8] {
        let (end, overflow) = offset.addingReportingOverflow(count)
        guard !overflow, end <= size else {
            throw ImportError.truncated(path: path, section: section(), needed: overflow ? .max : end, fileSize: size)
        }
        var out = [UInt8](repeating: 0, count: Int(count))
        if count > 0 { try out.withUnsafeMutableBytes { try read(into: $0, at: offset) } }
        return out
    }
}

extension ByteSource {
    /// Reads `units` consecutive units of `unitBytes` bytes from `offset` (a range the caller
    /// has checked) in chunks of about 4 MiB, handing each chunk to `convert(bytes, first unit, units)`.
    func readChunked(at offset: UInt64, units: Int, unitBytes: Int,
                     _ convert: (UnsafeRawPointer, Int, Int) -> Void) throws {
        let perChunk = max(1, (4 << 20) / unitBytes)
        var scratch = [UInt8](repeating: 0, count: min(units, perChunk) * unitBytes)
        var done = 0
        while done < units {
            let n = min(perChunk, units - done)
            try scratch.withUnsafeMutableBytes { raw in
                let buffer = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * unitBytes)])
                try read(into: buffer, at: offset + UInt64(done * unitBytes))
                convert(UnsafeRawPointer(buffer.baseAddress!), done, n)
            }
            done += n
        }
    }
}

/// A file opened read-only: non-blocking open (a FIFO or device cannot hang the reader), then
/// refused unless it is a regular file; read with pread.
public final class FileByteSource: ByteSource, @unchecked Sendable {
    /// The path used in error messages.
    public let path: String
    /// The file's length when it was opened.
    public let size: UInt64
    private let fd: Int32

    /// Opens `path` and reads its length.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ImportError.io(path: path, operation: "open", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw ImportError.io(path: path, operation: "stat", errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ImportError.io(path: path, operation: "open (not a regular file)", errno: EINVAL)
        }
        self.fd = fd
        self.size = UInt64(max(0, st.st_size))
    }

    deinit { close(fd) }

    /// Fills `buffer` from `offset` with pread, retrying on EINTR; a file that shrank is a truncation.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw ImportError.io(path: path, operation: "read", errno: errno)
            }
            if n == 0 {
                throw ImportError.truncated(path: path, section: "data at offset \(offset) (the file shrank)",
                                            needed: offset + UInt64(buffer.count), fileSize: offset + UInt64(done))
            }
            done += n
        }
    }
}

/// Bytes held in memory, named `path` in errors.
public struct MemoryByteSource: ByteSource {
    /// The bytes.
    public let bytes: [UInt8]
    /// The name used in error messages.
    public let path: String
    /// Total bytes.
    public var size: UInt64 { UInt64(bytes.count) }

    /// A source over `bytes`.
    public init(bytes: [UInt8], path: String = "<memory>") {
        self.bytes = bytes
        self.path = path
    }

    /// Copies the range (checked by the caller, and again here) into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ImportError.truncated(path: path, section: "data at offset \(offset)",
                                        needed: offset &+ UInt64(buffer.count), fileSize: size)
        }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<(Int(offset) + buffer.count)]))
        }
    }
}
