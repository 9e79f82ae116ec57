#if MPI
import CMPI
import Foundation
import RFT

/// The processes `mpirun -np N` started (MPI_COMM_WORLD), as the `ProcessGroup` the trainers,
/// the monitor and the pipeline call. MPI errors are returned, not fatal: each becomes a
/// `ProcessGroupError` naming the call and the rank. Only the thread that created the group
/// calls MPI (MPI_THREAD_FUNNELED); rft's compute threads never do.
public final class MPIProcessGroup: ProcessGroup {
    /// This process's rank in MPI_COMM_WORLD.
    public let rank: Int
    /// Number of processes in MPI_COMM_WORLD.
    public let size: Int
    private let comm: MPI_Comm?
    /// The group once MPI is initialised (MPI initialises once per process).
    nonisolated(unsafe) private static var world: MPIProcessGroup?
    /// Elements reduced per MPI call: bounds the two staging buffers (64 MB each).
    private static let segment = 1 << 24

    private init(comm: MPI_Comm?, rank: Int, size: Int) {
        self.comm = comm
        self.rank = rank
        self.size = size
    }

    /// The processes of this job: initialises MPI on the first call (from the thread that will
    /// make every MPI call).
    public static func start() throws -> MPIProcessGroup {
        if let world { return world }
        var provided: Int32 = 0
        try check(MPI_Init_thread(nil, nil, Int32(MPI_THREAD_FUNNELED), &provided), "MPI_Init_thread", rank: 0)
        let comm = rft_mpi_comm_world()
        try check(MPI_Comm_set_errhandler(comm, rft_mpi_errors_return()), "MPI_Comm_set_errhandler", rank: 0)
        var rank: Int32 = 0, size: Int32 = 0
        try check(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank", rank: 0)
        try check(MPI_Comm_size(comm, &size), "MPI_Comm_size", rank: Int(rank))
        let group = MPIProcessGroup(comm: comm, rank: Int(rank), size: Int(size))
        world = group
        return group
    }

    /// Ends MPI in this process (after the run, on every rank).
    public func finish() { MPI_Finalize() }

    /// Sums in rank order by hand, so that the order is fixed whatever MPI's collectives choose:
    /// per segment, an all-to-all hands rank j the j-th chunk of every rank's values, rank j adds
    /// those chunks in rank order, and an all-gather hands every rank every summed chunk — the
    /// traffic of a ring all-reduce, 2·(N−1)/N of the values in and out per rank.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Float>) throws {
        guard size > 1, let base = values.baseAddress, values.count > 0 else { return }
        let most = min(Self.segment, values.count)
        let chunkMost = (most + size - 1) / size
        let send = UnsafeMutablePointer<Float>.allocate(capacity: chunkMost * size)
        let receive = UnsafeMutablePointer<Float>.allocate(capacity: chunkMost * size)
        defer {
            send.deallocate()
            receive.deallocate()
        }
        for start in stride(from: 0, to: values.count, by: Self.segment) {
            let count = min(Self.segment, values.count - start)
            let chunk = (count + size - 1) / size
            send.update(from: base + start, count: count)
            (send + count).update(repeating: 0, count: chunk * size - count)
            try check(MPI_Alltoall(send, Int32(chunk), rft_mpi_float(), receive, Int32(chunk), rft_mpi_float(), comm), "MPI_Alltoall")
            for r in 1..<size {  // receive[r·chunk + i]: rank r's element rank·chunk + i
                let other = receive + r * chunk
                for i in 0..<chunk { receive[i] += other[i] }
            }
            try check(MPI_Allgather(receive, Int32(chunk), rft_mpi_float(), send, Int32(chunk), rft_mpi_float(), comm), "MPI_Allgather")
            (base + start).update(from: send, count: count)
        }
    }

    /// The lengths, then the bytes (MPI_Allgatherv).
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var length = Int64(bytes.count)
        var lengths = [Int64](repeating: 0, count: size)
        try check(MPI_Allgather(&length, 1, rft_mpi_int64(), &lengths, 1, rft_mpi_int64(), comm), "MPI_Allgather (lengths)")
        let total = lengths.reduce(0, +)
        guard total <= Int64(Int32.max) else { throw ProcessGroupError.tooLarge(what: "an all-gather", bytes: Int(total)) }
        let counts = lengths.map { Int32($0) }
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { offsets[r] = offsets[r - 1] + counts[r - 1] }
        var all = [UInt8](repeating: 0, count: Int(total))
        try bytes.withUnsafeBytes { mine in
            try all.withUnsafeMutableBytes { out in
                try check(MPI_Allgatherv(mine.baseAddress, Int32(bytes.count), rft_mpi_byte(), out.baseAddress, counts, offsets,
                                         rft_mpi_byte(), comm), "MPI_Allgatherv")
            }
        }
        return (0..<size).map { r in Array(all[Int(offsets[r])..<Int(offsets[r] + counts[r])]) }
    }

    /// The length, then the bytes in pieces of at most 1 GiB (MPI_Bcast).
    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        var length = Int64(rank == root ? bytes.count : 0)
        try check(MPI_Bcast(&length, 1, rft_mpi_int64(), Int32(root), comm), "MPI_Bcast (length)")
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        try out.withUnsafeMutableBytes { buffer in
            for start in stride(from: 0, to: Int(length), by: 1 << 30) {
                let count = min(1 << 30, Int(length) - start)
                try check(MPI_Bcast(buffer.baseAddress! + start, Int32(count), rft_mpi_byte(), Int32(root), comm), "MPI_Bcast")
            }
        }
        return out
    }

    /// MPI_Abort: mpirun stops every process of the job.
    public func abort(status: Int32) -> Never {
        MPI_Abort(comm, status)
        exit(status)
    }

    /// Throws for an MPI error code, with MPI's message.
    private func check(_ code: Int32, _ call: String) throws { try Self.check(code, call, rank: rank) }

    /// Throws for an MPI error code, with MPI's message.
    private static func check(_ code: Int32, _ call: String, rank: Int) throws {
        guard code != MPI_SUCCESS else { return }
        var text = [CChar](repeating: 0, count: Int(rft_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &text, &length)
        throw ProcessGroupError.mpi(call: call, rank: rank, message: String(cString: text))
    }
}
#endif
