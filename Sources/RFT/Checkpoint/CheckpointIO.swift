import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// Random-access bytes the reader pulls from: a file (pread) or memory (tests, fuzzing).
/// Reads may come from several threads at once.
protocol CheckpointSource: Sendable {
    /// Total bytes.
    var size: UInt64 { get }
    /// Fills `buffer` from `offset`; the caller has checked that the range lies inside `size`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
}

/// A checkpoint file opened read-only.
final class FileSource: CheckpointSource, @unchecked Sendable {
    let path: String
    let fd: Int32
    let size: UInt64

    /// Opens `path` and reads its length.
    init(path: String) throws {
        self.path = path
        do {
            (fd, size) = try RegularFile.open(path)  // a FIFO or a device is refused, never waited on
        } catch let e as FileReadError {
            throw CheckpointError.unreadable(path: path, reason: e.reason)
        }
    }

    deinit { close(fd) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError.io(path: path, operation: "read", errno: errno)
            }
            if n == 0 {  // the file shrank under us
                throw CheckpointError.truncated(path: path, section: "data at offset \(offset)",
                                                needed: offset + UInt64(buffer.count), fileSize: offset + UInt64(done))
            }
            done += n
        }
    }
}

/// Checkpoint bytes held in memory.
struct MemorySource: CheckpointSource {
    let bytes: [UInt8]
    var size: UInt64 { UInt64(bytes.count) }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(offset)..<(Int(offset) + buffer.count)]))
        }
    }
}

/// Thin wrappers over libzstd's one-shot API.
enum Zstd {
    /// A compression context for float planes: `level`, plus (for fast levels) a small hash
    /// table and 7-byte minimum matches, which on shuffled floats is both faster and smaller.
    static func makeCompressionContext(level: Int32) -> OpaquePointer? {
        guard let cctx = ZSTD_createCCtx() else { return nil }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
        if level >= 1 && level <= 2 {
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_hashLog, 10)
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, 7)
        }
        return cctx
    }

    /// Compresses `count` bytes into `out` (grown to the bound if needed); returns the frame
    /// length, or nil on failure.
    static func compress(_ src: UnsafeRawPointer, count: Int, into out: inout [UInt8], context: OpaquePointer) -> Int? {
        let bound = ZSTD_compressBound(count)
        if out.count < bound { out = [UInt8](repeating: 0, count: bound) }
        let n = out.withUnsafeMutableBytes { ZSTD_compress2(context, $0.baseAddress, $0.count, src, count) }
        return ZSTD_isError(n) != 0 ? nil : n
    }

    /// The content size the frame header at `src` declares, or nil when it is not a single
    /// complete frame of exactly `count` bytes with a declared size.
    static func frameContentSize(_ src: UnsafeRawPointer, count: Int) -> (size: UInt64?, problem: String?) {
        let declared = ZSTD_getFrameContentSize(src, count)
        if declared == ZSTD_CONTENTSIZE_ERROR { return (nil, "not a zstd frame") }
        if declared == ZSTD_CONTENTSIZE_UNKNOWN { return (nil, "zstd frame without a content size") }
        let frame = ZSTD_findFrameCompressedSize(src, count)
        if ZSTD_isError(frame) != 0 { return (nil, "incomplete zstd frame: " + String(cString: ZSTD_getErrorName(frame))) }
        if frame != count { return (nil, "\(count - frame) bytes after the zstd frame") }
        return (declared, nil)
    }

    /// Decompresses one frame into exactly `capacity` bytes; an error message when it does not fit.
    static func decompress(_ src: UnsafeRawPointer, count: Int, into dst: UnsafeMutableRawPointer, capacity: Int,
                           context: OpaquePointer) -> String? {
        let n = ZSTD_decompressDCtx(context, dst, capacity, src, count)
        if ZSTD_isError(n) != 0 { return String(cString: ZSTD_getErrorName(n)) }
        if n != capacity { return "decompressed to \(n) bytes, expected \(capacity)" }
        return nil
    }
}
