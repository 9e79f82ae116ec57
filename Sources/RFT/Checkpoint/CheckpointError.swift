/// Everything that can go wrong writing, reading or applying a checkpoint. Each case names the
/// file and what is wrong with it; the reader throws a distinct case for each kind of damage.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed (open, read, write, fsync, rename…), with its errno.
    case io(path: String, operation: String, errno: Int32)
    /// The file cannot be opened for reading: missing, a folder, a FIFO…
    case unreadable(path: String, reason: String)
    /// The file ends before the section it must contain (`needed` bytes, the file has `fileSize`).
    case truncated(path: String, section: String, needed: UInt64, fileSize: UInt64)
    /// The first 8 bytes are not `RFTCKPT\0`: not an rft checkpoint.
    case badMagic(path: String)
    /// A format version this build cannot read.
    case unsupportedVersion(path: String, version: UInt32)
    /// A size or count field exceeds the reader's sane maximum.
    case sizeOutOfBounds(path: String, field: String, value: UInt64, limit: UInt64)
    /// The checksum over preamble, header and table does not match: bits flipped there.
    case headerChecksumMismatch(path: String, stored: UInt64, computed: UInt64)
    /// The JSON header does not decode or holds invalid values.
    case malformedHeader(path: String, reason: String)
    /// The tensor table cannot be parsed (bad name, dtype, counts, leftovers).
    case malformedTable(path: String, reason: String)
    /// A tensor's shape is absurd (rank, negative or overflowing dimensions).
    case invalidShape(path: String, tensor: String, reason: String)
    /// A tensor's byte counts disagree with its shape, dtype or chunking.
    case inconsistentSize(path: String, tensor: String, reason: String)
    /// Two tensors share a name.
    case duplicateTensor(path: String, name: String)
    /// A tensor's stored block is not where the layout says it must be.
    case tensorOutOfBounds(path: String, tensor: String, reason: String)
    /// Bytes follow the last tensor block.
    case trailingData(path: String, bytes: UInt64)
    /// A compressed chunk does not decompress to its declared size.
    case corruptTensorData(path: String, tensor: String, chunk: Int, reason: String)
    /// A decompressed chunk's checksum does not match: bits flipped in the payload.
    case tensorChecksumMismatch(path: String, tensor: String, chunk: Int)
    /// A tensor the model or optimizer needs is not in the checkpoint.
    case missingTensor(path: String, name: String)
    /// A tensor has another shape than the model or optimizer expects.
    case shapeMismatch(path: String, name: String, expected: [Int], found: [Int])
    /// The checkpoint cannot be applied (no model config, wrong optimizer kind, invalid config…).
    case incompatible(path: String, reason: String)
    /// A value cannot be written (bad tensor name, non-finite header number…).
    case invalidValue(path: String, reason: String)
    /// A checkpoint folder holds no loadable checkpoint.
    case noValidCheckpoint(directory: String, skipped: [String])

    /// One line naming the file and the problem.
    public var description: String {
        switch self {
        case .io(let p, let op, let e): return "\(p): \(op) failed: \(RegularFile.describe(e))"
        case .unreadable(let p, let r): return "\(p): \(r)"
        case .truncated(let p, let s, let n, let f): return "\(p): truncated checkpoint: \(s) needs \(n) bytes but the file has \(f)"
        case .badMagic(let p): return "\(p): not an rft checkpoint (bad magic bytes)"
        case .unsupportedVersion(let p, let v): return "\(p): unsupported checkpoint format version \(v) (this build reads versions \(CheckpointFormat.readableVersions.lowerBound)–\(CheckpointFormat.readableVersions.upperBound); a newer rft wrote it)"
        case .sizeOutOfBounds(let p, let f, let v, let l): return "\(p): \(f) is \(v), above the limit \(l)"
        case .headerChecksumMismatch(let p, let s, let c):
            return "\(p): header/table checksum mismatch (stored \(hex(s)), computed \(hex(c))): the file is corrupt"
        case .malformedHeader(let p, let r): return "\(p): malformed header: \(r)"
        case .malformedTable(let p, let r): return "\(p): malformed tensor table: \(r)"
        case .invalidShape(let p, let t, let r): return "\(p): tensor \(t): invalid shape: \(r)"
        case .inconsistentSize(let p, let t, let r): return "\(p): tensor \(t): inconsistent sizes: \(r)"
        case .duplicateTensor(let p, let n): return "\(p): tensor \(n) appears twice"
        case .tensorOutOfBounds(let p, let t, let r): return "\(p): tensor \(t): block out of place: \(r)"
        case .trailingData(let p, let b): return "\(p): \(b) unexpected bytes after the last tensor"
        case .corruptTensorData(let p, let t, let c, let r): return "\(p): tensor \(t) chunk \(c): corrupt compressed data: \(r)"
        case .tensorChecksumMismatch(let p, let t, let c): return "\(p): tensor \(t) chunk \(c): checksum mismatch: the file is corrupt"
        case .missingTensor(let p, let n): return "\(p): missing tensor \(n)"
        case .shapeMismatch(let p, let n, let e, let f): return "\(p): tensor \(n): expected shape \(e), found \(f)"
        case .incompatible(let p, let r): return "\(p): cannot apply checkpoint: \(r)"
        case .invalidValue(let p, let r): return "\(p): cannot write checkpoint: \(r)"
        case .noValidCheckpoint(let d, let s):
            return "\(d): no valid checkpoint" + (s.isEmpty ? "" : " (skipped: " + s.joined(separator: "; ") + ")")
        }
    }
}

private func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

#if canImport(Glibc)
import Glibc
#endif
