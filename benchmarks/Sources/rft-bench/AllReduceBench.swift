// `mpirun -np N rft-bench allreduce [--elements E] [--repeats R]` (built with --traits MPI): the
// time of the trainers' all-reduce (MPIProcessGroup.allReduce, sums in rank order) of E floats
// on N processes, the traffic it moves per rank, and the bus bandwidth that makes.
import Foundation
import RFT
#if MPI
import RFTMPI
#endif

/// Times `repeats` all-reduces of `elements` floats after 2 untimed ones; rank 0 prints one
/// JSON line (median and every time, bytes per rank each way, bus GB/s = 2(N−1)/N · bytes / time).
func allReduceBench(elements: Int, repeats: Int) {
    #if MPI
    do {
        let group = try MPIProcessGroup.start()
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: elements)
        defer { buffer.deallocate() }
        buffer.initialize(repeating: Float(group.rank + 1))
        let ready = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1)
        defer { ready.deallocate() }
        var times: [Double] = []
        for i in 0..<(repeats + 2) {
            ready[0] = 0
            try group.allReduce(ready)  // every rank starts together
            let t0 = now()
            try group.allReduce(buffer)
            if i >= 2 { times.append(now() - t0) }
        }
        let n = Double(group.size), bytes = Double(elements * MemoryLayout<Float>.size)
        if group.rank == 0 {
            printJSON(["suite": "allreduce", "ranks": group.size, "elements": elements, "median_s": median(times),
                       "bytes_per_rank": 2 * (n - 1) / n * bytes, "bus_gb_s": 2 * (n - 1) / n * bytes / median(times) / 1e9,
                       "times_s": times.map { ($0 * 1e6).rounded() / 1e6 }])
        }
        group.finish()
    } catch {
        FileHandle.standardError.write("rft-bench allreduce: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    #else
    FileHandle.standardError.write("rft-bench allreduce: built without MPI (swift build -c release --traits MPI --product rft-bench)\n".data(using: .utf8)!)
    exit(2)
    #endif
}
