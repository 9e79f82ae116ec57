import CKernels
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Persistent worker threads for the short parallel regions of training (one per product or
/// elementwise op, tens of microseconds each): between jobs a worker spins for a while before it
/// sleeps, so the next job starts without a thread wake-up, as OpenMP runtimes do. A job that
/// finds the pool busy (another caller, or a job started from inside a job) runs on GCD's
/// `concurrentPerform` instead, so callers never wait for one another.
public final class WorkerPool: @unchecked Sendable {
    /// The pool the tensor ops use.
    public static let shared = WorkerPool()

    /// The most threads this pool starts (a job of more iterations shares them).
    let maxWorkers: Int

    /// How long an idle worker spins before it sleeps, in nanoseconds.
    static let spinNanoseconds: UInt64 = 200_000

    /// One call of `run`: its iterations, taken one at a time by whoever comes.
    private final class Job: @unchecked Sendable {
        let count: Int
        var body: ((Int) -> Void)?  // read only after taking an iteration below `count`
        let next = Atomic(0)
        let finished = Atomic(0)
        init(_ count: Int, _ body: @escaping (Int) -> Void) { (self.count, self.body) = (count, body) }

        /// Runs iterations until none is left.
        func work() {
            while case let i = next.add(1, ordering: .relaxed).oldValue, i < count {
                body!(i)
                finished.add(1, ordering: .releasing)
            }
        }
    }

    private let busy = Atomic(false)
    private let generation = Atomic(0)  // bumped once per job
    private let current = Locked<Job?>(nil)  // the job of the latest generation (see `Locked` for why
                                              // not `Mutex`: a hand-rolled spin lock here let a worker's
                                              // retain move past the unlock, after the job was freed)
    private let sleepers = Atomic(0)
    private var workers = 0  // threads started (they never stop); changed only while `busy`
    private let sleepLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    /// A pool that starts up to `maxWorkers` threads, as jobs need them.
    init(maxWorkers: Int = 63) {
        self.maxWorkers = maxWorkers
        pthread_mutex_init(sleepLock, nil)
        pthread_cond_init(wake, nil)
    }

    /// Runs body(0..<iterations) on the caller and up to iterations − 1 workers (at most
    /// `maxWorkers`), and returns when every iteration is done.
    public func run(_ iterations: Int, _ body: (Int) -> Void) {
        guard iterations > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
            return
        }
        withoutActuallyEscaping(body) { body in
            while workers < min(iterations - 1, maxWorkers) { startWorker() }  // more iterations: taken in turn
            let job = Job(iterations, body)
            current.withLock { $0 = job }
            generation.add(1, ordering: .sequentiallyConsistent)  // publishes the job
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(sleepLock)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(sleepLock)
            }
            job.work()
            while job.finished.load(ordering: .acquiring) < iterations { rft_cpu_relax() }
            job.body = nil  // every taken iteration is done: nobody reads it again
            current.withLock { $0 = nil }
        }
        busy.store(false, ordering: .releasing)
    }

    /// The argument of a worker thread's start routine.
    private final class Start {
        let pool: WorkerPool, seen: Int
        init(_ pool: WorkerPool, _ seen: Int) { (self.pool, self.seen) = (pool, seen) }
    }

    private func startWorker() {
        workers += 1
        let start = Unmanaged.passRetained(Start(self, generation.load(ordering: .acquiring))).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            start.pool.workerLoop(seen: start.seen)
        }, start)
        precondition(created == 0, "WorkerPool: pthread_create failed (\(created))")
        pthread_detach(thread)
    }

    /// A worker: waits for each new job (spinning, then asleep) and helps with it.
    private func workerLoop(seen start: Int) -> Never {
        var seen = start
        while true {
            let deadline = DispatchTime.now().uptimeNanoseconds + Self.spinNanoseconds
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                rft_cpu_relax()
                spins += 1
                if spins & 255 == 0 && DispatchTime.now().uptimeNanoseconds > deadline { sleep(seen: seen) }
            }
            seen = generation.load(ordering: .acquiring)
            current.withLock { $0 }?.work()
        }
    }

    /// Blocks until the generation moves past `seen`.
    private func sleep(seen: Int) {
        pthread_mutex_lock(sleepLock)
        sleepers.add(1, ordering: .sequentiallyConsistent)
        while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, sleepLock) }
        sleepers.subtract(1, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(sleepLock)
    }
}
