#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What rft knows of this CPU's caches (to size work so it stays in them).
public enum CPUCaches {
    /// Bytes of the largest cache level CPU 0 sees, one instance of it (Linux sysfs, e.g. one
    /// CCX's 32 MiB L3 on an EPYC, where `sysconf` reports the whole package); 32 MiB where the
    /// system does not say.
    public static let lastLevelBytes: Int = {
        var best = (level: 0, bytes: 0)
        for index in 0..<8 {
            let dir = "/sys/devices/system/cpu/cpu0/cache/index\(index)/"
            guard let level = readFirstLine(dir + "level").flatMap({ Int($0) }),
                  let size = readFirstLine(dir + "size").flatMap(parseSize) else { continue }
            if level > best.level { best = (level, size) }
        }
        return best.bytes > 0 ? best.bytes : 32 << 20
    }()

    /// "32768K" / "32M" / "1024" → bytes.
    static func parseSize(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
        if let unit = text.last, let scale = units[unit] { return Int(text.dropLast()).map { $0 * scale } }
        return Int(text)
    }

    /// The first line of a small text file, without its newline; nil if it cannot be read.
    private static func readFirstLine(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return nil }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return line.trimmingSuffix()
    }
}

private extension String {
    /// Without trailing newlines and spaces.
    func trimmingSuffix() -> String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " || last == "\r" { s = s.dropLast() }
        return String(s)
    }
}
