import Foundation
import RFTTensor

/// Writes a safetensors file of Float tensors stored as F32 or BF16: header JSON (tensors in the
/// given order, `__metadata__` first, padded with spaces to 8 bytes), then the data back to back.
/// Written to a temporary file, fsync'd, then renamed over `path`.
public enum SafetensorsWriter {
    /// Writes `tensors` (names unique and non-empty) to `path` in `dtype` (`.f32` or `.bf16`).
    public static func write(_ tensors: [(name: String, tensor: Tensor)], dtype: SafetensorsDType = .f32,
                             metadata: [String: String] = [:], to path: String) throws {
        let bytes = try encode(tensors, dtype: dtype, metadata: metadata, path: path)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ImportError.io(path: temporary, operation: "open", errno: errno) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, bytes.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = errno
                close(fd); unlink(temporary)
                throw ImportError.io(path: temporary, operation: "write", errno: e)
            }
            done += n
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); unlink(temporary); throw ImportError.io(path: temporary, operation: "fsync", errno: e) }
        close(fd)
        guard rename(temporary, path) == 0 else { let e = errno; unlink(temporary); throw ImportError.io(path: path, operation: "rename", errno: e) }
    }

    /// The file's bytes (see `write`); `path` only names it in errors.
    public static func encode(_ tensors: [(name: String, tensor: Tensor)], dtype: SafetensorsDType = .f32,
                              metadata: [String: String] = [:], path: String = "<memory>") throws -> [UInt8] {
        guard dtype == .f32 || dtype == .bf16 else { throw ImportError.invalidValue(path: path, reason: "dtype \(dtype.rawValue): only F32 and BF16 are written") }
        var header = "{"
        var parts: [String] = []
        if !metadata.isEmpty {
            parts.append("\"__metadata__\":{" + metadata.sorted { $0.key < $1.key }.map { StrictJSON.quoted($0.key) + ":" + StrictJSON.quoted($0.value) }.joined(separator: ",") + "}")
        }
        var names = Set<String>()
        var offset = 0
        for (name, tensor) in tensors {
            guard !name.isEmpty, name != "__metadata__" else { throw ImportError.invalidValue(path: path, reason: "tensor name \(name.debugDescription)") }
            guard names.insert(name).inserted else { throw ImportError.duplicateTensor(path: path, name: name) }
            let bytes = tensor.count * dtype.byteWidth
            parts.append(StrictJSON.quoted(name) + ":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[" + tensor.shape.map(String.init).joined(separator: ",")
                         + "],\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        header += parts.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        var length = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for (_, tensor) in tensors {
            let values = UnsafeBufferPointer(start: tensor.data, count: tensor.count)
            if dtype == .f32 {
                for v in values { var b = v.bitPattern.littleEndian; withUnsafeBytes(of: &b) { out.append(contentsOf: $0) } }
            } else {
                for v in values { let b = HalfPrecision.bfloat16(v); out.append(UInt8(b & 0xFF)); out.append(UInt8(b >> 8)) }
            }
        }
        return out
    }
}
