import Glibc
import Synchronization

/// The reward processes alive now, so that they die with rft: a process terminated by SIGTERM,
/// SIGINT or SIGHUP does not take its children along, and a reward command blocked reading its
/// stdin (or busy scoring) would otherwise keep running, orphaned.
///
/// The first registration installs a handler for those three signals, for each whose disposition
/// is still the default (a host program's own handler, or SIG_IGN, is left alone). The handler
/// sends SIGKILL to every registered process and to its process group, then restores the default
/// disposition and raises the signal again, so rft still dies of it with the usual exit status.
///
/// The registry is a fixed table read with atomic loads: nothing in the handler allocates, locks
/// or calls anything but getpid, kill, signal and raise. Each entry names the process that
/// started the child as well, so a forked copy of rft kills only its own children. (A process
/// that exits is unregistered right after it is reaped; a signal landing in between could reach
/// a process that reused its pid within those microseconds.)
enum RewardProcessRegistry {
    /// Processes tracked at once; one started when all slots are taken is simply not tracked.
    /// (Computed, so the signal handler reads no lazily initialised storage for it.)
    static var capacity: Int { 64 }

    /// The slots: `entry(owner, child)`, or 0 when free. Allocated once and never freed; the
    /// first `register` creates it before any handler exists, so the handler never initialises it.
    nonisolated(unsafe) static let slots: UnsafeMutablePointer<Atomic<Int64>> = {
        let slots = UnsafeMutablePointer<Atomic<Int64>>.allocate(capacity: capacity)
        for i in 0..<capacity { (slots + i).initialize(to: Atomic(0)) }
        return slots
    }()

    /// One slot's value: the registering process's pid in the high half, the child's in the low.
    static func entry(owner: Int32, child: Int32) -> Int64 { Int64(owner) << 32 | Int64(UInt32(bitPattern: child)) }

    /// Installs the handlers the first time it is read (Swift runs a static initializer once).
    private static let handlersInstalled: Void = {
        for signal in [SIGTERM, SIGINT, SIGHUP] {
            var old = sigaction()
            // SIG_DFL is the null handler; anything else (SIG_IGN, a function) is the host's choice
            guard sigaction(signal, nil, &old) == 0, old.__sigaction_handler.sa_handler == nil else { continue }
            var action = sigaction()
            action.__sigaction_handler.sa_handler = killRewardProcessesAndReraise
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            _ = sigaction(signal, &action, nil)
        }
    }()

    /// Tracks `pid`, a child of this process, until `unregister`; installs the handlers on first use.
    static func register(_ pid: Int32) {
        guard pid > 0 else { return }
        _ = slots
        _ = handlersInstalled
        let value = entry(owner: getpid(), child: pid)
        for i in 0..<capacity where slots[i].compareExchange(expected: 0, desired: value, ordering: .sequentiallyConsistent).exchanged {
            return
        }
    }

    /// Stops tracking `pid` (nothing happens when it is not tracked).
    static func unregister(_ pid: Int32) {
        guard pid > 0 else { return }
        let value = entry(owner: getpid(), child: pid)
        for i in 0..<capacity where slots[i].compareExchange(expected: value, desired: 0, ordering: .sequentiallyConsistent).exchanged {
            return
        }
    }
}

/// The handler for SIGTERM, SIGINT and SIGHUP: SIGKILL to every reward process this process
/// registered and to its group (`kill(-pid)` fails harmlessly when it leads none: a group with
/// that id exists only while the process, or what it started in a group of its own, is alive),
/// then the default disposition back and the signal raised again. The signal is blocked while
/// this runs, so it lands when the handler returns and ends the process as the default would.
private func killRewardProcessesAndReraise(_ signal: Int32) {
    let slots = RewardProcessRegistry.slots
    let owner = Int64(getpid())
    for i in 0..<RewardProcessRegistry.capacity {
        let value = slots[i].load(ordering: .sequentiallyConsistent)
        let pid = Int32(truncatingIfNeeded: value)
        if value >> 32 == owner, pid > 0 {
            _ = kill(-pid, SIGKILL)
            _ = kill(pid, SIGKILL)
        }
    }
    _ = Glibc.signal(signal, SIG_DFL)
    _ = raise(signal)
}
