import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// metrics.jsonl: one JSON object a line (sorted snake_case keys: TRL's metric names), appended
/// with checked writes — a full disk or a size limit is a `FileWriteError`, not a crash — and
/// synced before each checkpoint, which records how many bytes it had.
public final class MetricsLog {
    /// The file.
    public let path: String
    /// Bytes in the file so far.
    public private(set) var bytes: UInt64
    private let fd: Int32
    private let encoder: JSONEncoder

    /// Opens `path` for appending after cutting it to `keeping` bytes (created when missing).
    public init(path: String, keeping: UInt64) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileWriteError(path: path, reason: "cannot open: \(RegularFile.describe(errno))") }
        var st = stat()
        fstat(fd, &st)
        guard UInt64(max(0, st.st_size)) >= keeping else {
            close(fd)
            throw FileWriteError(path: path, reason: "is \(st.st_size) bytes, shorter than the \(keeping) the checkpoint recorded: it was changed outside rft")
        }
        guard ftruncate(fd, off_t(keeping)) == 0 else {
            let e = errno
            close(fd)
            throw FileWriteError(path: path, reason: "cannot truncate: \(RegularFile.describe(e))")
        }
        self.fd = fd
        bytes = keeping
        encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    }

    /// Opens `path` for appending after dropping its lines whose `position` is past `position`
    /// (for timings.jsonl, whose length no checkpoint records: wall-clock figures differ from
    /// run to run, so they are kept out of metrics.jsonl and the checkpoints).
    public convenience init(path: String, keepingPositionsThrough position: Int) throws {
        var kept: [UInt8] = []
        if let old = try? RegularFile.read(path, limit: 1 << 30) {
            for line in old.split(separator: UInt8(ascii: "\n")) {
                guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
                      case .number(let p)? = o["position"], Int(p) <= position else { continue }
                kept += line + [0x0A]
            }
            try AtomicFile.write(kept, to: path)
        }
        try self.init(path: path, keeping: UInt64(kept.count))
    }

    deinit { close(fd) }

    /// Appends `value` (an object) as one line, with `fields` added to it.
    public func append(_ value: some Encodable, adding fields: [String: JSONValue] = [:]) throws {
        var line: Data
        do {
            line = try encoder.encode(value)
            if !fields.isEmpty, case .object(var object) = try JSONDecoder().decode(JSONValue.self, from: line) {
                for (k, v) in fields { object[k] = v }
                line = try encoder.encode(object)
            }
        } catch {
            throw FileWriteError(path: path, reason: "cannot encode a metrics line: \(error)")
        }
        line.append(0x0A)
        KillPoints.reach("metrics line to append")
        try line.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(bytes) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    let e = errno
                    _ = ftruncate(fd, off_t(bytes))  // no half line
                    throw FileWriteError(path: path, reason: "write failed: \(RegularFile.describe(e))")
                }
                done += n
            }
        }
        bytes += UInt64(line.count)
    }

    /// Flushes the file to disk (before a checkpoint records its length).
    public func sync() throws {
        guard fsync(fd) == 0 else { throw FileWriteError(path: path, reason: "fsync failed: \(RegularFile.describe(errno))") }
    }
}
