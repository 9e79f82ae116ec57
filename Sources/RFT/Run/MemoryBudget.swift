import Foundation
import RFTModel

/// Bounds every size a user can ask for against the memory this process may use, before
/// anything is allocated: a batch or context too big for the machine is a clear error naming the
/// key, not an allocation the kernel kills. The estimates are upper bounds of the big buffers
/// (weights and optimizer state, activations kept for backward, logits, KV caches).
public enum MemoryBudget {
    /// Bytes this process may allocate: the smaller of the machine's available memory
    /// (/proc/meminfo `MemAvailable`) and the cgroup's limit, when there is one.
    public static var available: UInt64 {
        var bytes = UInt64(ProcessInfo.processInfo.physicalMemory)
        if let info = try? RegularFile.read("/proc/meminfo", limit: 1 << 20),
           let line = String(decoding: info, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = UInt64(line.split(separator: " ").dropFirst().first ?? "") {
            bytes = min(bytes, kb * 1024)
        }
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? RegularFile.read(path, limit: 64),
               let limit = UInt64(String(decoding: text, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) {
                bytes = min(bytes, limit)
            }
        }
        return bytes
    }

    /// Throws `ConfigError.invalid` for `key` when `bytes` (nil: beyond counting) exceed what is available.
    public static func check(_ bytes: Double, for what: String, key: String) throws {
        let limit = Double(available)
        guard bytes.isFinite, bytes <= limit else {
            throw ConfigError.invalid(key: key, reason: "\(what) would need about \(format(bytes)) of memory; this machine has \(format(limit)) available")
        }
    }

    /// Bytes of a model's weights with gradients and AdamW's two moments (and a frozen copy).
    public static func training(_ c: GPTConfig, copies: Double = 4) -> Double {
        c.weightBytes.map { Double($0) * copies } ?? .infinity
    }

    /// Bytes of one training step's activations for `rows` sequences of `length` positions.
    public static func step(_ c: GPTConfig, rows: Int, length: Int) -> Double {
        c.activationBytes(batch: rows, length: length).map(Double.init) ?? .infinity
    }

    /// Bytes of sampling `rows` sequences of up to `length` positions (KV cache and logits).
    public static func sampling(_ c: GPTConfig, rows: Int, length: Int) -> Double {
        guard let cache = c.kvCacheBytes(rows: rows, positions: min(length, c.contextLength)) else { return .infinity }
        return Double(cache) + 8 * Double(rows) * Double(c.vocabularySize + c.width)
    }

    /// `3.2 GB`, `512 MB`.
    static func format(_ bytes: Double) -> String {
        guard bytes.isFinite else { return "more than can be counted" }
        for (unit, size) in [("TB", 1e12), ("GB", 1e9), ("MB", 1e6)] where bytes >= size {
            return String(format: "%.1f %@", bytes / size, unit)
        }
        return String(format: "%.0f KB", bytes / 1e3)
    }
}
