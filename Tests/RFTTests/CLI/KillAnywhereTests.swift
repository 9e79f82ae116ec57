import Foundation
import Testing
@testable import RFT

/// The real `rft` binary SIGKILLed at many moments — diagnosis batches, SFT and RFT steps,
/// metrics lines, checkpoint and report writes before and after their rename — and resumed with
/// `--resume` ends with the same files as a run never interrupted: every checkpoint (weights,
/// AdamW state, trainer and run state) byte for byte, metrics.jsonl, summary.json and the
/// per-input reports. The moments are the binary's numbered kill points (`RFT_KILL_AT=n` makes
/// it SIGKILL itself at the n-th), so each kill lands exactly where it is meant to.
@Suite(.serialized) struct KillAnywhereTests {
    /// A small `rft train`: 64 inputs, 8 samples each, SFT on a quarter for 6 steps, 6 RFT steps
    /// with a KL reference, a checkpoint every 2 steps or diagnosis batches, all of them kept.
    static func train(_ output: String) -> [String] {
        ["train", "--model", "checkpoints/addition-mislabeled.rftckpt", "--task", "addition", "--lengths", "1-2", "--num-inputs", "64",
         "--monitor-num-generations", "8", "--monitor-inputs-per-batch", "16", "--sft-warmup", "25%", "--sft-max-steps", "6",
         "--sft-per-device-train-batch-size", "8", "--max-steps", "6", "--per-device-train-batch-size", "64", "--beta", "0.02",
         "--save-steps", "2", "--save-total-limit", "1000", "--eval-inputs", "16", "--threads", "1", "--logging-steps", "100",
         "--output", output]
    }

    /// A small `rft sft` with a held-out evaluation every 4 steps.
    static func sft(_ output: String) -> [String] {
        ["sft", "--model", "checkpoints/addition-base.rftckpt", "--task", "addition", "--lengths", "1-2", "--num-inputs", "64",
         "--max-steps", "12", "--per-device-train-batch-size", "8", "--save-steps", "3", "--save-total-limit", "1000",
         "--eval-steps", "4", "--eval-fraction", "0.25", "--threads", "1", "--output", output]
    }

    static let reproducible = ["SOURCE_DATE_EPOCH": "0"]

    /// The kill points an uninterrupted run reaches, in order (from `RFT_KILL_POINTS=1`).
    static func killPoints(_ arguments: [String]) throws -> [String] {
        let r = try RFTBinary.run(arguments, environment: reproducible.merging(["RFT_KILL_POINTS": "1"]) { $1 })
        #expect(r.succeeded, "\(r)")
        return r.stderr.split(separator: "\n").filter { $0.hasPrefix("kill point ") }.map { String($0.split(separator: ":", maxSplits: 1)[1].dropFirst()) }
    }

    /// `count` moments spread evenly over the run, plus the first two of every kind not hit yet.
    static func moments(_ points: [String], count: Int) -> [Int] {
        var chosen = Set((0..<count).map { 1 + Int((Double($0) * Double(points.count - 1) / Double(max(1, count - 1))).rounded()) })
        for kind in Set(points) {
            let hits = points.indices.filter { points[$0] == kind }.map { $0 + 1 }
            if chosen.isDisjoint(with: hits) { chosen.formUnion(hits.prefix(2)) }
        }
        return chosen.sorted()
    }

    /// Every file of a finished run, by name (the lock and config.yaml, which names the folder, aside).
    static func files(_ folder: String) -> [String: [UInt8]] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return Dictionary(uniqueKeysWithValues: names.filter { ![".lock", "config.yaml", "timings.jsonl"].contains($0) }.map { ($0, readBytes(folder + "/" + $0)) })
    }

    func killAndResume(_ make: (String) -> [String], command: String, count: Int) throws {
        RFTBinary.expectBuilt()
        let root = makeTemporaryDirectory("kill-\(command)")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let straight = try RFTBinary.run(make(root + "/straight"), environment: Self.reproducible)
        #expect(straight.succeeded, "\(straight)")
        let expected = Self.files(root + "/straight")
        #expect(expected.keys.contains("metrics.jsonl") && expected.keys.filter { $0.hasPrefix("checkpoint-") }.count >= 4)
        let twice = try RFTBinary.run(make(root + "/twice"), environment: Self.reproducible)
        #expect(twice.succeeded && Self.files(root + "/twice") == expected, "the same run twice must write the same bytes")

        let points = try Self.killPoints(make(root + "/listed"))
        let moments = Self.moments(points, count: count)
        #expect(moments.count >= count && Set(moments.map { points[$0 - 1] }) == Set(points), "kill points: \(Set(points))")
        var summary: [String] = []
        for n in moments {
            let folder = root + "/killed-\(n)"
            let killed = try RFTBinary.run(make(folder), environment: Self.reproducible.merging(["RFT_KILL_AT": "\(n)"]) { $1 })
            #expect(killed.signaled && killed.status == SIGKILL, "kill point \(n) (\(points[n - 1])) was not reached: \(killed)")
            let resumed = try RFTBinary.run(make(folder) + ["--resume"], environment: Self.reproducible)
            #expect(resumed.succeeded, "resume after kill point \(n) (\(points[n - 1])): \(resumed)")
            let got = Self.files(folder)
            let differing = Set(expected.keys).union(got.keys).filter { expected[$0] != got[$0] }.sorted()
            #expect(differing.isEmpty, "after a kill at point \(n) (\(points[n - 1])) these files differ from the uninterrupted run: \(differing)")
            summary.append("\(n):\(points[n - 1])")
        }
        print("\(command): \(points.count) kill points in a run; killed and resumed at \(moments.count): \(summary.joined(separator: ", "))")
    }

    @Test func trainKilledAnywhereEndsTheSame() throws {
        try killAndResume(Self.train, command: "train", count: 22)
    }

    @Test func sftKilledAnywhereEndsTheSame() throws {
        try killAndResume(Self.sft, command: "sft", count: 10)
    }

    @Test func rewardTrainKilledAnywhereEndsTheSame() throws {
        let data = makeTemporaryDirectory("kill-pairs") + "/pairs.jsonl"
        RewardModelCLITests.writePairs(data, count: 64)
        try killAndResume({ RewardModelCLITests.rewardTrain(data: data, output: $0) }, command: "reward-train", count: 10)
    }

    /// The same on a Hugging Face folder of the Llama family, with a dataset: the checkpoints
    /// hold its configuration and BPE tokenizer, and the resume reads them from there.
    @Test func trainOnAnImportedModelKilledAnywhereEndsTheSame() throws {
        let data = makeTemporaryDirectory("kill-data") + "/data.jsonl"
        ImportedModelTests.writeData(data)
        try killAndResume({ ImportedModelTests.train(model: ImportedModelTests.fixtures + "llama", data: data, output: $0) }, command: "train-llama", count: 8)
    }
}
