import Foundation
import RFT
#if MPI
import RFTMPI
#endif

/// The processes of this run: under `mpirun -np N` (rft built with the `MPI` trait) the N of the
/// job, otherwise this one alone. Rank 0 prints the progress and writes the files.
enum Processes {
    /// The group, once `start` has run.
    nonisolated(unsafe) private(set) static var group: any ProcessGroup = SingleProcessGroup()

    /// Joins the job a launcher started, if one did.
    static func start() throws {
        guard let size = SingleProcessGroup.launchedWorldSize else { return }
        #if MPI
        group = try MPIProcessGroup.start()
        #else
        if size > 1 { throw ProcessGroupError.notBuiltWithMPI(size: size) }
        #endif
    }

    /// Ends the job's MPI on this rank after a successful run.
    static func finish() {
        #if MPI
        (group as? MPIProcessGroup)?.finish()
        #endif
    }

    /// Refuses a command that does not run data-parallel when the job has several processes.
    static func requireOne(_ command: String) throws {
        if group.size > 1 { throw ProcessGroupError.singleProcessOnly(command: command, size: group.size) }
    }

    /// Prints `message` as the run's one `error:` line and ends the job. In a group, rank 0
    /// prints and aborts at once; another rank waits a second first, so that an error every
    /// rank meets is printed once (rank 0's abort ends this process), and one of its own is
    /// printed with its rank.
    static func fail(_ message: String) -> Never {
        if group.size > 1 && group.rank != 0 { usleep(1_000_000) }
        let prefix = group.size > 1 && group.rank != 0 ? "rank \(group.rank) of \(group.size): " : ""
        FileHandle.standardError.write(Data("error: \(prefix)\(message)\n".utf8))
        group.abort(status: 1)
    }
}
