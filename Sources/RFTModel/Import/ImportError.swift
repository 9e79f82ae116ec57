#if canImport(Glibc)
import Glibc
#endif

/// Everything that can go wrong reading (or writing) a safetensors or GGUF file. Each case names
/// the file and, where there is one, the tensor or metadata key, the section and the offset.
public enum ImportError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A system call failed (open, stat, read, write, rename…), with its errno.
    case io(path: String, operation: String, errno: Int32)
    /// The file ends inside `section`: it needs `needed` bytes but has `fileSize`.
    case truncated(path: String, section: String, needed: UInt64, fileSize: UInt64)
    /// The first bytes are not those of the format (`format` says which was expected).
    case badMagic(path: String, format: String)
    /// A format version this build does not read.
    case unsupportedVersion(path: String, version: UInt32, supported: UInt32)
    /// A size, count or length exceeds the reader's limit (before anything was allocated for it).
    case sizeOutOfBounds(path: String, field: String, value: UInt64, limit: UInt64)
    /// The header (safetensors JSON, GGUF key/values, index file) is malformed at `offset`.
    case malformedHeader(path: String, offset: UInt64, reason: String)
    /// A metadata key appears twice.
    case duplicateKey(path: String, key: String)
    /// A tensor name appears twice (in one file or across shards).
    case duplicateTensor(path: String, name: String)
    /// A tensor's shape is invalid (rank, zero or huge dimensions, overflowing element count).
    case invalidShape(path: String, tensor: String, reason: String)
    /// A tensor's dtype is unknown, or known but not one this reader converts to Float.
    case unsupportedDType(path: String, tensor: String, dtype: String)
    /// A tensor's bytes are not where they may be: past the end, overlapping, misaligned, holes.
    case tensorOutOfBounds(path: String, tensor: String, reason: String)
    /// A tensor's byte count disagrees with its shape and dtype.
    case inconsistentSize(path: String, tensor: String, reason: String)
    /// A tensor asked for by name is not in the file.
    case missingTensor(path: String, name: String)
    /// A metadata key asked for is absent.
    case missingMetadata(path: String, key: String)
    /// A metadata value has another type than the one asked for.
    case metadataType(path: String, key: String, expected: String, found: String)
    /// A value cannot be written (bad name, shape and data disagree…).
    case invalidValue(path: String, reason: String)
    /// A well-formed file holds a model rft does not build (architecture, scaling, sizes).
    case unsupportedModel(path: String, reason: String)

    /// One line naming the file, the place and the problem.
    public var description: String {
        switch self {
        case .io(let p, let op, let e): return "\(p): \(op) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .truncated(let p, let s, let n, let f): return "\(p): truncated: \(s) needs \(n) bytes but the file has \(f)"
        case .badMagic(let p, let f): return "\(p): not a \(f) file (bad magic bytes)"
        case .unsupportedVersion(let p, let v, let s): return "\(p): unsupported format version \(v) (this build reads version \(s))"
        case .sizeOutOfBounds(let p, let f, let v, let l): return "\(p): \(f) is \(v), above the limit \(l)"
        case .malformedHeader(let p, let o, let r): return "\(p): malformed header at offset \(o): \(r)"
        case .duplicateKey(let p, let k): return "\(p): metadata key \(k.debugDescription) appears twice"
        case .duplicateTensor(let p, let n): return "\(p): tensor \(n.debugDescription) appears twice"
        case .invalidShape(let p, let t, let r): return "\(p): tensor \(t.debugDescription): invalid shape: \(r)"
        case .unsupportedDType(let p, let t, let d): return "\(p): tensor \(t.debugDescription): unsupported dtype \(d)"
        case .tensorOutOfBounds(let p, let t, let r): return "\(p): tensor \(t.debugDescription): data out of place: \(r)"
        case .inconsistentSize(let p, let t, let r): return "\(p): tensor \(t.debugDescription): inconsistent size: \(r)"
        case .missingTensor(let p, let n): return "\(p): no tensor \(n.debugDescription)"
        case .missingMetadata(let p, let k): return "\(p): no metadata key \(k.debugDescription)"
        case .metadataType(let p, let k, let e, let f): return "\(p): metadata \(k.debugDescription) is \(f), expected \(e)"
        case .invalidValue(let p, let r): return "\(p): cannot write: \(r)"
        case .unsupportedModel(let p, let r): return "\(p): unsupported model: \(r)"
        }
    }
}
