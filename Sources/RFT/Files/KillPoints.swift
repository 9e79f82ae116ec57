#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Named moments at which a run may die — each diagnosis batch, each trainer step, each
/// metrics line, each checkpoint write before and after its rename — numbered in the order a
/// run reaches them, so a test can SIGKILL a real `rft` process at exactly the n-th one and
/// check that the resumed run ends as an uninterrupted one. Off unless the environment asks:
/// `RFT_KILL_AT=n` sends SIGKILL to the process itself at the n-th moment; `RFT_KILL_POINTS=1`
/// prints each moment's number and name to stderr.
public enum KillPoints {
    /// The moment to die at (0: never), read once from `RFT_KILL_AT`.
    private static let target: Int = getenv("RFT_KILL_AT").flatMap { Int(String(cString: $0)) } ?? 0
    /// Whether to list the moments, read once from `RFT_KILL_POINTS`.
    private static let listing = getenv("RFT_KILL_POINTS") != nil
    /// Moments reached so far.
    private static let count = Atomic(0)

    /// Marks the moment `name`; dies here when it is the one asked for.
    @inline(__always)
    public static func reach(_ name: StaticString) {
        guard target > 0 || listing else { return }
        let n = count.add(1, ordering: .relaxed).newValue
        if listing {
            var line = Array("kill point \(n): ".utf8) + Array(UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)) + [0x0A]
            _ = line.withUnsafeMutableBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        }
        if n == target { kill(getpid(), SIGKILL) }
    }
}
