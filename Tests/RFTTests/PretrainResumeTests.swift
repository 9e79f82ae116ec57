import Foundation
import Testing
@testable import RFT

/// `rft pretrain` killed with SIGKILL mid-run and continued with `--resume` ends with the same
/// weights and optimizer state, bit for bit, as one uninterrupted run: the checkpoint carries the
/// data stream's generator, AdamW's moments and the schedule position, and a kill never leaves a
/// half-written checkpoint behind. Runs the `rft` executable `swift test` builds next to the tests.
@Suite struct PretrainResumeTests {
    /// The `rft` binary in the build folder of this test bundle.
    static var rftBinary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("rft")
    }

    static func arguments(out: String, steps: Int, resume: Bool) -> [String] {
        ["pretrain", "--task", "addition", "--steps", "\(steps)", "--batch-size", "8", "--layers", "1", "--width", "32",
         "--heads", "2", "--save-every", "4", "--eval-every", "0", "--eval-examples", "2", "--log-every", "1000",
         "--threads", "1", "--out", out] + (resume ? ["--resume"] : [])
    }

    static func start(_ args: [String]) throws -> Process {
        let p = Process()
        p.executableURL = rftBinary
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        return p
    }

    @Test func killedAndResumedEqualsUninterrupted() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.rftBinary.path), "no rft binary at \(Self.rftBinary.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rft-pretrain-resume-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (straight, killed) = (dir.appendingPathComponent("straight").path, dir.appendingPathComponent("killed").path)
        let steps = 400

        let whole = try Self.start(Self.arguments(out: straight, steps: steps, resume: false))
        whole.waitUntilExit()
        #expect(whole.terminationStatus == 0)

        // the second run is killed once it has written a checkpoint past step 4 (or at the end)
        let victim = try Self.start(Self.arguments(out: killed, steps: steps, resume: false))
        let manager = CheckpointManager(directory: killed)
        let deadline = Date().addingTimeInterval(120)
        while victim.isRunning && Date() < deadline && (manager.checkpoints().last?.step ?? 0) <= 4 { usleep(2000) }
        let killedEarly = victim.isRunning
        if killedEarly { kill(victim.processIdentifier, SIGKILL) }
        victim.waitUntilExit()
        let stepAtKill = manager.checkpoints().last?.step ?? 0
        print("killed at checkpoint step \(stepAtKill) of \(steps) (killed before the end: \(killedEarly))")
        #expect(killedEarly && stepAtKill < steps, "the run finished before it could be killed; raise the step count")

        let resumed = try Self.start(Self.arguments(out: killed, steps: steps, resume: true))
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)

        let a = try Checkpoint.load(from: "\(straight)/\(CheckpointManager.fileName(step: steps))")
        let b = try Checkpoint.load(from: "\(killed)/\(CheckpointManager.fileName(step: steps))")
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        #expect(a.tensors.count > 10)
        let differing = zip(a.tensors, b.tensors).filter { $0.tensor.toArray() != $1.tensor.toArray() }.map(\.0.name)
        #expect(differing.isEmpty, "tensors that differ: \(differing)")
        #expect(a.header.training?.step == b.header.training?.step)
    }
}
