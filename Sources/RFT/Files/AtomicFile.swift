/// A file that cannot be written, and why, in words.
public struct FileWriteError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// What failed (`no space left on the device`, …).
    public var reason: String

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// Whole-file writes that a reader never sees half done, and that a crash leaves either old or
/// new: a temp file in the same folder, fsync'd, renamed over the target.
public enum AtomicFile {
    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String, durable: Bool = true) throws {
        do {
            let file = try TempFile(target: path)
            do {
                try bytes.withUnsafeBytes { try file.write($0, at: 0) }
                try file.commit(durable: durable)
            } catch {
                file.discard()
                throw error
            }
        } catch let CheckpointError.io(_, operation, code) {
            throw FileWriteError(path: path, reason: "\(operation.split(separator: " ").first ?? "write") failed: \(RegularFile.describe(code))")
        }
    }

    /// Writes `text` (UTF-8) to `path` atomically.
    public static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }
}
