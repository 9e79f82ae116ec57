import Foundation
import Testing
@testable import RFT

/// `mpirun -np 2 rft …` against one process. A step's micro-batches are the same whatever the
/// number of processes, and gradients, losses and metrics are summed in micro-batch order, so
/// two processes end with the same bits as one process computing both micro-batches
/// (`gradient_accumulation_steps` 2): every file of the run and every tensor of its
/// checkpoints. A rank SIGKILLed mid-run ends the job with mpirun's error, the checkpoints stay
/// intact, a resume on another number of processes is refused, and one on two ends as the
/// uninterrupted run.
@Suite(.serialized, .enabled(if: MPIRun.built, "rft was built without the MPI trait (swift test --traits MPI)"))
struct DistributedTests {
    /// A small `rft train`: 64 inputs, 8 samples each, SFT on a quarter for 4 steps of 8 per
    /// micro-batch, 20 RFT steps of 4 prompts × 8 per micro-batch with a KL reference, a
    /// checkpoint every 5 steps or diagnosis batches.
    static func train(_ output: String) -> [String] {
        ["train", "--model", "checkpoints/addition-mislabeled.rftckpt", "--task", "addition", "--lengths", "1-2", "--num-inputs", "64",
         "--monitor-num-generations", "8", "--monitor-inputs-per-batch", "16", "--sft-warmup", "25%", "--sft-max-steps", "4",
         "--sft-per-device-train-batch-size", "8", "--max-steps", "20", "--per-device-train-batch-size", "32", "--beta", "0.02",
         "--save-steps", "5", "--save-total-limit", "100", "--eval-inputs", "16", "--threads", "1", "--seed", "1", "--output", output]
    }

    /// One process computing both micro-batches of each step.
    static let twoMicroBatches = ["--gradient-accumulation-steps", "2", "--sft-gradient-accumulation-steps", "2"]

    /// The uninterrupted two-process `train` run (rank 1 listing its kill points), made once.
    static let straight: (folder: String, rankOnePoints: [String]) = {
        let folder = makeTemporaryDirectory("mpi-train") + "/straight"
        let r = try? MPIRun.run(train(folder), rankEnvironment: [1: ["RFT_KILL_POINTS": "1"]])
        #expect(r?.succeeded == true, "\(r.map { "\($0)" } ?? "mpirun did not start")")
        let points = (r?.stderr ?? "").split(separator: "\n").filter { $0.hasPrefix("kill point ") }
            .map { String($0.split(separator: ":", maxSplits: 1)[1].dropFirst()) }
        return (folder, points)
    }()

    @Test func trainOnTwoProcessesIsOneProcessWithTwoMicroBatches() throws {
        RFTBinary.expectBuilt()
        let one = makeTemporaryDirectory("mpi-one") + "/run"
        let r = try RFTBinary.run(Self.train(one) + Self.twoMicroBatches, environment: MPIRun.environment)
        #expect(r.succeeded, "\(r)")
        let two = Self.straight.folder
        let expected = KillAnywhereTests.files(one), got = KillAnywhereTests.files(two)
        #expect(expected.keys.contains("metrics.jsonl") && expected.keys.contains("diagnose-after.jsonl") && Set(expected.keys) == Set(got.keys))
        // the header records the processes and the micro-batches; the rest is the same
        let differing = expected.keys.filter { !$0.hasPrefix("checkpoint-") && expected[$0] != got[$0] }.sorted()
        #expect(differing.isEmpty, "one process with two micro-batches and two processes wrote different \(differing)")
        for name in expected.keys.filter({ $0.hasPrefix("checkpoint-") }).sorted() {
            let a = try Checkpoint.load(from: one + "/" + name), b = try Checkpoint.load(from: two + "/" + name)
            #expect(a.tensors.map(\.name) == b.tensors.map(\.name) && a.tensors.count > 0)
            let unequal = zip(a.tensors, b.tensors).filter { !bitwiseEqual($0.tensor, $1.tensor) }.map(\.0.name)
            #expect(unequal.isEmpty, "\(name): tensors differ: \(unequal.prefix(5))")
            #expect(a.header.trainer == b.header.trainer && a.header.pipeline?.reports == b.header.pipeline?.reports)
            #expect(b.header.pipeline?.worldSize == 2 && a.header.pipeline?.worldSize == nil)
        }
    }

    @Test func aKilledRankEndsTheJobAndTheRunResumesOnTwoProcesses() throws {
        RFTBinary.expectBuilt()
        let points = Self.straight.rankOnePoints
        let steps = points.indices.filter { points[$0] == "trainer step taken" }  // 4 SFT, then 20 RFT steps
        #expect(steps.count == 24, "rank 1's kill points: \(points)")
        guard steps.count == 24 else { return }
        let n = steps[16] + 1  // RFT step 13, after the checkpoint of step 10
        let folder = makeTemporaryDirectory("mpi-kill") + "/run"
        let start = Date()
        let killed = try MPIRun.run(Self.train(folder), rankEnvironment: [1: ["RFT_KILL_AT": "\(n)"]], timeout: 60)
        #expect(!killed.timedOut && !killed.succeeded, "the job must end when rank 1 dies: \(killed)")
        #expect(killed.stderr.contains("rank 1") && killed.stderr.contains("signal 9"), "mpirun names the rank that died: \(killed)")
        print("distributed: rank 1 SIGKILLed at RFT step 13; the job ended after \(String(format: "%.1f", Date().timeIntervalSince(start)))s")
        let checkpoints = CheckpointManager(directory: folder).checkpoints()
        #expect(checkpoints.count >= 4, "checkpoints before the kill: \(checkpoints)")
        for c in checkpoints { #expect(throws: Never.self, "\(c.path) is damaged") { try CheckpointReader(path: c.path).verify() } }

        let other = try RFTBinary.run(Self.train(folder) + ["--resume"], environment: MPIRun.environment)
        #expect(other.failedCleanly && other.stderr.contains("written by a run on 2 processes") && other.stderr.contains("mpirun -np 2"),
                "a resume on one process is refused: \(other)")
        let resumed = try MPIRun.run(Self.train(folder) + ["--resume"])
        #expect(resumed.succeeded, "\(resumed)")
        let expected = KillAnywhereTests.files(Self.straight.folder), got = KillAnywhereTests.files(folder)
        let differing = Set(expected.keys).union(got.keys).filter { expected[$0] != got[$0] }.sorted()
        #expect(!expected.isEmpty && differing.isEmpty, "after the kill and a resume these files differ from the uninterrupted run: \(differing)")
    }

    @Test func sftAndPretrainOnTwoProcessesAreOneProcessWithTwoMicroBatches() throws {
        RFTBinary.expectBuilt()
        let root = makeTemporaryDirectory("mpi-sft")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let runs = [
            ["sft", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--lengths", "1-2", "--num-inputs", "64",
             "--max-steps", "10", "--per-device-train-batch-size", "8", "--save-steps", "5", "--eval-steps", "5", "--eval-fraction", "0.25"],
            ["pretrain", "--task", "addition", "--lengths", "1-2", "--max-steps", "6", "--per-device-train-batch-size", "8", "--save-steps", "3", "--eval-examples", "10"],
        ]
        for (i, run) in runs.enumerated() {
            let args = run + ["--threads", "1", "--seed", "2"]
            let one = try RFTBinary.run(args + ["--gradient-accumulation-steps", "2", "--output", "\(root)/one-\(i)"], environment: MPIRun.environment)
            let two = try MPIRun.run(args + ["--output", "\(root)/two-\(i)"])
            #expect(one.succeeded && two.succeeded, "\(run[0]): \(one)\n\(two)")
            let metrics = readBytes("\(root)/one-\(i)/metrics.jsonl")
            #expect(!metrics.isEmpty && metrics == readBytes("\(root)/two-\(i)/metrics.jsonl"), "\(run[0]): metrics.jsonl differ")
            let last = CheckpointManager.fileName(step: i == 0 ? 10 : 6)
            let a = try Checkpoint.load(from: "\(root)/one-\(i)/\(last)"), b = try Checkpoint.load(from: "\(root)/two-\(i)/\(last)")
            #expect(a.tensors.count == b.tensors.count && zip(a.tensors, b.tensors).allSatisfy { bitwiseEqual($0.tensor, $1.tensor) },
                    "\(run[0]): the weights or the optimizer state differ")
        }
    }

    /// `rft diagnose` on two processes writes the single-process report, sampled (7 inputs a
    /// batch: shares of 4 and 3) and exact.
    @Test func diagnoseOnTwoProcessesWritesTheSameReport() throws {
        RFTBinary.expectBuilt()
        let root = makeTemporaryDirectory("mpi-diagnose")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let modes = [["--num-inputs", "60", "--lengths", "1-3", "--inputs-per-batch", "7"],
                     ["--num-inputs", "9", "--lengths", "1", "--mode", "exact", "--max-completion-length", "3"]]
        for (i, mode) in modes.enumerated() {
            let args = ["diagnose", "--model", "checkpoints/addition-mislabeled.rftckpt", "--task", "addition", "--threads", "1", "--seed", "4"] + mode
            let one = try RFTBinary.run(args + ["--output", "\(root)/one-\(i)"], environment: MPIRun.environment)
            let two = try MPIRun.run(args + ["--output", "\(root)/two-\(i)"])
            #expect(one.succeeded && two.succeeded, "\(one)\n\(two)")
            for file in ["inputs.jsonl", "inputs.csv", "summary.json", "std-histogram.svg"] {
                let a = readBytes("\(root)/one-\(i)/\(file)")
                #expect(!a.isEmpty && a == readBytes("\(root)/two-\(i)/\(file)"), "\(mode): \(file) differs")
            }
        }
    }
}

/// `mpirun` command lines for the distributed tests: one app context per rank (so that a rank
/// can have its own environment), root allowed, no binding (tests share the cores).
enum MPIRun {
    /// Whether rft was built with the `MPI` trait (then mpirun must be there: `make test` installs it).
    #if MPI
    static let built = true
    #else
    static let built = false
    #endif

    /// OpenMPI's settings for the tests, and checkpoints whose bytes do not depend on the clock.
    static let environment = [
        "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1",
        "OMPI_MCA_hwloc_base_binding_policy": "none", "OMPI_MCA_btl_vader_single_copy_mechanism": "none", "SOURCE_DATE_EPOCH": "0",
        "OMPI_MCA_pml": "ob1", "OMPI_MCA_btl": "self,vader",  // one host: shared memory only, no network probing
    ]

    /// `mpirun` on PATH.
    static var mpirun: String {
        let folders = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        return folders.map { "\($0)/mpirun" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? "mpirun (not on PATH)"
    }

    /// Runs `rft arguments` on `ranks` processes; rank r also gets `rankEnvironment[r]`.
    static func run(_ arguments: [String], ranks: Int = 2, rankEnvironment: [Int: [String: String]] = [:],
                    timeout: Double = 120) throws -> RFTBinary.Result {
        try RFTBinary.run(arguments, environment: environment, timeout: timeout) { binary in
            var line = [mpirun]
            for rank in 0..<ranks {
                let extra = (rankEnvironment[rank] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                line += (rank > 0 ? [":"] : []) + ["-np", "1"] + (extra.isEmpty ? [] : ["env"] + extra) + [binary] + arguments
            }
            return line
        }
    }
}
