import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a run's output folder cannot be used.
public enum RunDirectoryError: Error, Equatable, CustomStringConvertible {
    /// The folder already holds a run and `resume` was not asked for.
    case holdsRun(path: String)
    /// Another process has the folder open (its lock is held).
    case inUse(path: String, pid: String)
    /// The folder cannot be made or used.
    case unusable(path: String, reason: String)

    /// One line naming the folder and what to do.
    public var description: String {
        switch self {
        case .holdsRun(let p): return "\(p) already holds a run; pass --resume to continue it, or choose another --output"
        case .inUse(let p, let pid): return "\(p) is in use by another rft process\(pid.isEmpty ? "" : " (pid \(pid))"); wait for it, or choose another --output"
        case .unusable(let p, let r): return "\(p): \(r)"
        }
    }
}

/// A run's output folder, held for the run's lifetime: locked (a second process on it gets a
/// clear error), checkpoints through the manager, an append-only metrics.jsonl, report files
/// written atomically. Opening removes temp files an earlier, killed process left behind. A
/// run that fails before its first checkpoint removes what it wrote (and the folder, if it made
/// it), so nothing empty is left and nothing written before is lost.
public final class RunDirectory {
    /// The folder.
    public let path: String
    /// Its checkpoints.
    public let manager: CheckpointManager
    private let lockFD: Int32
    private let createdFolder: Bool
    private var written: Set<String> = []

    /// Opens (creating when missing) `path` for a run. A fresh run refuses a folder that already
    /// holds one (`config.yaml`, `metrics.jsonl` or a checkpoint); `resume` continues it.
    public init(path: String, resume: Bool, keepLast: Int = 2) throws {
        self.path = path
        var st = stat()
        let existed = stat(path, &st) == 0
        if existed && (st.st_mode & S_IFMT) != S_IFDIR { throw RunDirectoryError.unusable(path: path, reason: "exists and is not a folder") }
        if !existed {
            do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
                throw RunDirectoryError.unusable(path: path, reason: "cannot create the folder: \(RegularFile.describe(errno == 0 ? EACCES : errno))")
            }
        }
        createdFolder = !existed
        let lock = path + "/.lock"
        let fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw RunDirectoryError.unusable(path: path, reason: "cannot create its lock file: \(RegularFile.describe(errno))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let pid = (try? RegularFile.read(lock, limit: 64)).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
            close(fd)
            throw RunDirectoryError.inUse(path: path, pid: pid)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        lockFD = fd
        manager = CheckpointManager(directory: path, keepLast: keepLast)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if !resume && (names.contains("config.yaml") || names.contains("metrics.jsonl") || !manager.checkpoints().isEmpty) {
            releaseLock()
            throw RunDirectoryError.holdsRun(path: path)
        }
        for name in names where name.hasPrefix(".") && name.contains(".tmp-") { unlink(path + "/" + name) }  // a killed save's
    }

    deinit { releaseLock() }

    private func releaseLock() {
        flock(lockFD, LOCK_UN)
        close(lockFD)
    }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Writes `text` to `name` atomically (and remembers it was written by this run).
    public func write(_ text: String, to name: String) throws {
        written.insert(name)
        try AtomicFile.write(text, to: file(name))
    }

    /// metrics.jsonl opened for appending, first cut to `bytes` (what the checkpoint being
    /// resumed had written; 0 for a fresh run). A file shorter than that is an error.
    public func openMetrics(keeping bytes: UInt64) throws -> MetricsLog {
        written.insert("metrics.jsonl")
        return try MetricsLog(path: file("metrics.jsonl"), keeping: bytes)
    }

    /// timings.jsonl opened for appending, keeping the lines of positions up to `position`.
    public func openTimings(keepingThrough position: Int) throws -> MetricsLog {
        written.insert("timings.jsonl")
        return try MetricsLog(path: file("timings.jsonl"), keepingPositionsThrough: position)
    }

    /// After a failed run: when no checkpoint was written, removes what this run wrote and the
    /// folder if this run made it, so a failure leaves nothing empty behind.
    public func discardIfUnused() {
        guard manager.checkpoints().isEmpty else { return }
        for name in written { unlink(file(name)) }
        if createdFolder {
            unlink(file(".lock"))
            rmdir(path)
        }
    }
}
