import Dispatch
import Foundation
import Testing
@testable import RFTTensor

/// `WorkerPool`: every iteration of every job runs exactly once and `run` returns only after all
/// of them, with one caller or many at once, with jobs started from inside a job, and with
/// workers that went to sleep between jobs.
@Suite(.serialized) struct WorkerPoolTests {
    /// Runs `jobs` jobs of 2 ... 5 iterations through `run` and returns how often each
    /// (job, iteration) ran, as counted when `run` returned.
    private func countRuns(jobs: Int, pauseBetween: Double = 0, seed: UInt64,
                           run: (Int, (Int) -> Void) -> Void = { WorkerPool.shared.run($0, $1) }) -> [[Int]] {
        var g = RandomGenerator(seed: seed)
        return (0..<jobs).map { _ in
            let n = 2 + Int(g.next() % 4)
            // one slot per iteration, no lock: an iteration run twice at once is a data race that
            // ThreadSanitizer reports, one run twice in turn counts 2
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
            defer { counts.deallocate() }
            counts.initialize(repeating: 0)
            run(n) { i in counts[i] += 1 }
            if pauseBetween > 0 { Thread.sleep(forTimeInterval: pauseBetween) }
            return Array(counts)
        }
    }

    @Test func everyIterationRunsOnceBeforeRunReturns() {
        let counts = countRuns(jobs: 20_000, seed: 1)
        #expect(counts.allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    /// Four threads submit jobs at once: one holds the pool, the others fall back to GCD.
    @Test func concurrentCallersEachGetTheirOwnIterations() {
        let results = UnsafeMutableBufferPointer<[[Int]]>.allocate(capacity: 4)  // a slot per caller
        defer { results.deallocate() }
        results.initialize(repeating: [])
        DispatchQueue.concurrentPerform(iterations: 4) { t in
            results[t] = countRuns(jobs: 2_000, seed: UInt64(10 + t))
        }
        #expect(results.allSatisfy { $0.count == 2_000 && $0.allSatisfy { $0.allSatisfy { $0 == 1 } } })
    }

    /// A job whose iterations start jobs of their own (the inner ones find the pool busy).
    @Test func nestedJobsComplete() {
        let inner = UnsafeMutableBufferPointer<[[Int]]>.allocate(capacity: 3)  // a slot per outer iteration
        defer { inner.deallocate() }
        inner.initialize(repeating: [])
        WorkerPool.shared.run(3) { i in
            inner[i] = countRuns(jobs: 200, seed: UInt64(20 + i))
        }
        #expect(inner.allSatisfy { $0.count == 200 && $0.allSatisfy { $0.allSatisfy { $0 == 1 } } })
    }

    /// Pauses longer than the workers' spin, so each job has to wake a sleeping worker.
    @Test func jobsAfterTheWorkersSleptComplete() {
        let pause = Double(WorkerPool.spinNanoseconds) * 3 / 1e9
        let counts = countRuns(jobs: 40, pauseBetween: pause, seed: 30)
        #expect(counts.allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    /// Jobs of more iterations than the pool starts threads (a pool of 2 here): every one still
    /// runs once.
    @Test func moreIterationsThanWorkersComplete() {
        let pool = WorkerPool(maxWorkers: 2)
        let counts = countRuns(jobs: 500, seed: 50) { n, body in pool.run(n, body) }  // 2 ... 5 iterations
        #expect(counts.allSatisfy { $0.allSatisfy { $0 == 1 } })
    }

    /// The counting above can fail: a runner that skips the last iteration is caught.
    @Test func theCountCatchesALostIteration() {
        let counts = countRuns(jobs: 10, seed: 40) { n, body in WorkerPool.shared.run(n - 1, body) }
        #expect(counts.allSatisfy { $0.last == 0 })
    }
}
