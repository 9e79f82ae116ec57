import Foundation
import RFTTensor

/// The processes of a data-parallel run as the trainers, the monitor and the pipeline see them:
/// each knows its rank among `size`, and they exchange values collectively — every process calls
/// the same operations in the same order. One process is the group of size 1
/// (`SingleProcessGroup`, where every operation hands its input back); `MPIProcessGroup` (target
/// RFTMPI, built with the `MPI` trait) is the N processes that `mpirun -np N` started.
public protocol ProcessGroup: AnyObject {
    /// This process's number, 0..<size; rank 0 writes the run's files.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Replaces `values` on every rank by their sum over the ranks, added in rank order
    /// (((x₀ + x₁) + x₂) + …), so that every rank gets the same bits, run after run.
    func allReduce(_ values: UnsafeMutableBufferPointer<Float>) throws
    /// Every rank's `bytes`, in rank order, on every rank.
    func allGather(_ bytes: [UInt8]) throws -> [[UInt8]]
    /// `root`'s `bytes` on every rank (the others' argument is not read).
    func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8]
    /// Ends every process of the group now with exit status `status` (after an error on one rank).
    func abort(status: Int32) -> Never
}

/// One process: the group of size 1. Every collective operation hands its input back, so the
/// single-process path through the trainers is the same code as the distributed one.
public final class SingleProcessGroup: ProcessGroup {
    /// Rank 0.
    public var rank: Int { 0 }
    /// One process.
    public var size: Int { 1 }

    /// The group of this process alone.
    public init() {}

    /// The sum over one rank: `values` as they are.
    public func allReduce(_ values: UnsafeMutableBufferPointer<Float>) throws {}
    /// `[bytes]`.
    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    /// `bytes`.
    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
    /// Exits with `status`.
    public func abort(status: Int32) -> Never { exit(status) }

    /// The number of processes a launcher started this one among (`mpirun` sets
    /// OMPI_COMM_WORLD_SIZE, MPICH's PMI_SIZE), or nil when none did.
    public static var launchedWorldSize: Int? {
        for name in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
            if let value = ProcessInfo.processInfo.environment[name], let n = Int(value), n >= 1 { return n }
        }
        return nil
    }
}

/// Why a collective operation failed, naming the operation and the rank.
public enum ProcessGroupError: Error, Equatable, CustomStringConvertible {
    /// An MPI call returned an error.
    case mpi(call: String, rank: Int, message: String)
    /// A message too large for one MPI call (counts are 32-bit).
    case tooLarge(what: String, bytes: Int)
    /// A rank received something it cannot read.
    case malformed(what: String, rank: Int, message: String)
    /// `mpirun` started N > 1 processes but this rft was built without MPI.
    case notBuiltWithMPI(size: Int)
    /// A command that does not run data-parallel was started on N > 1 processes.
    case singleProcessOnly(command: String, size: Int)

    /// One line naming what and where.
    public var description: String {
        switch self {
        case .mpi(let call, let rank, let message): return "rank \(rank): \(call) failed: \(message)"
        case .tooLarge(let what, let bytes): return "\(what): \(bytes) bytes is more than one MPI message can carry (2 GiB)"
        case .malformed(let what, let rank, let message): return "rank \(rank): cannot read \(what) from the other ranks: \(message)"
        case .notBuiltWithMPI(let n):
            return "mpirun started \(n) processes, but this rft was built without MPI: build it with `swift build -c release --traits MPI` (apt: libopenmpi-dev)"
        case .singleProcessOnly(let command, let n): return "rft \(command) runs in one process; it was started on \(n) (run it without mpirun)"
        }
    }
}

/// Part `part` of `count` items cut into `parts` contiguous parts in order, the first
/// `count % parts` parts one item longer.
public func shardRange(_ count: Int, part: Int, of parts: Int) -> Range<Int> {
    let base = count / parts, extra = count % parts
    let start = part * base + min(part, extra)
    return start..<(start + base + (part < extra ? 1 : 0))
}

extension ProcessGroup {
    /// This rank's share of `count` items (`shardRange`: rank 0 the first ones).
    public func shard(_ count: Int) -> Range<Int> { shardRange(count, part: rank, of: size) }

    /// The micro-batches of a step that this rank computes when each rank computes
    /// `accumulation` of them, ranks in order: the step's micro-batches are the same for any
    /// number of processes × `accumulation` of the same product.
    public func microBatches(_ accumulation: Int) -> Range<Int> { (rank * accumulation)..<((rank + 1) * accumulation) }

    /// The element-wise sums of `values` over the ranks, added in rank order from rank 0's
    /// values (so that on one process they are `values`, bit for bit).
    public func allReduce(_ values: [Double]) throws -> [Double] {
        guard size > 1 else { return values }
        let all = try allGather(values)
        guard all.count == size * values.count else {
            throw ProcessGroupError.malformed(what: "\(values.count) sums", rank: rank, message: "got \(all.count) values from \(size) ranks")
        }
        var sums = Array(all[0..<values.count])
        for r in 1..<size { for i in values.indices { sums[i] += all[r * values.count + i] } }
        return sums
    }

    /// Every rank's `values`, concatenated in rank order.
    public func allGather(_ values: [Double]) throws -> [Double] {
        guard size > 1 else { return values }
        return try allGather(values.withUnsafeBytes { Array($0) }).flatMap { bytes -> [Double] in
            guard bytes.count % MemoryLayout<Double>.size == 0 else {
                throw ProcessGroupError.malformed(what: "numbers", rank: rank, message: "\(bytes.count) bytes")
            }
            return bytes.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
        }
    }

    /// Every rank's `value` (JSON on the wire), in rank order.
    public func allGather<T: Codable>(_ value: T) throws -> [T] {
        guard size > 1 else { return [value] }
        let parts = try allGather([UInt8](try JSONEncoder().encode(value)))
        return try parts.map { bytes in
            do { return try JSONDecoder().decode(T.self, from: Data(bytes)) } catch {
                throw ProcessGroupError.malformed(what: "\(T.self)", rank: rank, message: "\(error)")
            }
        }
    }

    /// Sums the gradients of `parameters` over the ranks (`allReduce`, one flat buffer for all
    /// of them, as llm.c keeps one). A parameter without a gradient on every rank keeps none;
    /// one with a gradient on some ranks gets the sum of theirs. Nothing happens on one process.
    /// → the seconds it took (0 on one process).
    @discardableResult
    public func allReduceGradients(_ parameters: [Tensor]) throws -> Double {
        guard size > 1 else { return 0 }
        let start = ContinuousClock.now
        let elements = parameters.reduce(0) { $0 + $1.count }
        let flat = UnsafeMutableBufferPointer<Float>.allocate(capacity: elements + parameters.count)
        defer { flat.deallocate() }
        var offset = 0
        for (i, p) in parameters.enumerated() {  // the gradients, then one presence flag per parameter
            if let g = p.grad { (flat.baseAddress! + offset).update(from: g.data, count: p.count) } else {
                (flat.baseAddress! + offset).initialize(repeating: 0, count: p.count)
            }
            flat[elements + i] = p.grad == nil ? 0 : 1
            offset += p.count
        }
        try allReduce(flat)
        offset = 0
        for (i, p) in parameters.enumerated() {
            if flat[elements + i] > 0 { p.gradBuffer().update(from: flat.baseAddress! + offset, count: p.count) } else { p.grad = nil }
            offset += p.count
        }
        return (ContinuousClock.now - start).seconds
    }
}
