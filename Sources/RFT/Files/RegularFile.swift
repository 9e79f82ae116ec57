#if canImport(Glibc)
import Glibc
#endif

/// A file that cannot be read, and why, in words (never a raw errno or a Foundation domain code).
public struct FileReadError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What is wrong (`no such file`, `is a directory`, `not a regular file (a FIFO)`, …).
    public var reason: String

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// Reading user-named files without trusting them: only regular files (a FIFO, socket or device
/// is refused at once instead of blocking), bounded in size before anything is allocated.
public enum RegularFile {
    /// Opens `path` for reading without blocking, and checks it is a regular file of at most
    /// `limit` bytes; returns the descriptor (blocking again, close-on-exec) and the size.
    public static func open(_ path: String, limit: UInt64 = .max) throws -> (fd: Int32, size: UInt64) {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(path: path, reason: describe(errno)) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw FileReadError(path: path, reason: describe(e))
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG else {
            close(fd)
            let what: String
            switch type {
            case S_IFDIR: what = "is a folder, not a file"
            case S_IFIFO: what = "is a FIFO (named pipe), not a regular file"
            case S_IFSOCK: what = "is a socket, not a regular file"
            case S_IFCHR, S_IFBLK: what = "is a device, not a regular file"
            default: what = "is not a regular file"
            }
            throw FileReadError(path: path, reason: what)
        }
        let size = UInt64(max(0, st.st_size))
        guard size <= limit else {
            close(fd)
            throw FileReadError(path: path, reason: "is \(size) bytes, above the limit of \(limit) bytes for this kind of file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return (fd, size)
    }

    /// The whole contents of the regular file `path` (at most `limit` bytes), read to its end
    /// (files of /proc and /sys report size 0 and still have contents).
    public static func read(_ path: String, limit: UInt64) throws -> [UInt8] {
        let (fd, size) = try open(path, limit: limit)
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(max(size + 1, 4096)))  // one spare byte sees the end
        var done = 0
        while true {
            if done == bytes.count {
                guard UInt64(done) < limit else {
                    throw FileReadError(path: path, reason: "is larger than the limit of \(limit) bytes for this kind of file")
                }
                bytes += [UInt8](repeating: 0, count: min(bytes.count, Int(min(limit, UInt64(Int.max / 2))) - done + 1))
            }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileReadError(path: path, reason: describe(errno))
            }
            if n == 0 { break }
            done += n
        }
        bytes.removeLast(bytes.count - done)
        return bytes
    }

    /// Whether `path` names an existing folder.
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// errno in words: `no such file or folder`, `permission denied`, …
    public static func describe(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file or folder"
        case EACCES, EPERM: return "permission denied"
        case EISDIR: return "is a folder, not a file"
        case ENOTDIR: return "a part of the path is not a folder"
        case ENOSPC: return "no space left on the device"
        case EDQUOT: return "disk quota exceeded"
        case EFBIG: return "file too large (a size limit of this process or file system)"
        case EROFS: return "read-only file system"
        case ENAMETOOLONG: return "file name too long"
        case ELOOP: return "too many symbolic links"
        case EMFILE, ENFILE: return "too many open files"
        case EIO: return "input/output error"
        default: return String(cString: strerror(code)).lowercased()
        }
    }
}
