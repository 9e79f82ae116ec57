import Foundation
@testable import RFT
import RFTModel
import RFTTensor
import Testing

/// A short, fully deterministic training run whose whole state lives in checkpoints: model,
/// AdamW moments and step count, and the data RNG in the trainer slot (the schedule is a
/// function of the step).
struct TinyRun {
    static let config = GPTConfig(vocabularySize: 13, contextLength: 16, layers: 2, heads: 2, width: 32)
    static let batch = 4, length = 16, totalSteps = 14, every = 3, baseLR: Float = 3e-3
    static let schedule = LRSchedule(.cosineWithMinLR, warmupSteps: 2, totalSteps: totalSteps, minRatio: 0.1)

    let directory: String
    var manager: CheckpointManager {
        var o = CheckpointWriteOptions()
        o.durable = false
        o.chunkElements = 500  // several frames per weight, to exercise chunking
        return CheckpointManager(directory: directory, keepLast: 2, options: o)
    }

    /// Runs (or resumes from the latest checkpoint) until `totalSteps`, or returns nil right
    /// after step `stopAfter`, dropping everything in memory as a killed process would.
    func run(stopAfter: Int? = nil) throws -> (GPT, AdamW)? {
        let model: GPT, optimizer: AdamW
        var state: SFTTrainerState
        if let latest = try manager.latest() {
            model = try latest.checkpoint.makeModel(path: latest.path)
            optimizer = AdamW(parameters: model.namedParameters())
            try latest.checkpoint.restore(into: model, optimizer: optimizer, path: latest.path)
            guard case .sft(let saved)? = latest.checkpoint.header.trainer else { Issue.record("no trainer state"); return nil }
            state = saved
        } else {
            model = GPT(Self.config, seed: 42)
            optimizer = AdamW(parameters: model.namedParameters(), learningRate: Self.baseLR, weightDecay: 0.1)
            state = SFTTrainerState(step: 0, generator: RandomGenerator(seed: 8))
        }
        while state.step < Self.totalSteps {
            var data = state.generator
            let n = Self.batch * Self.length
            let stream = (0..<(n + Self.batch)).map { _ in Int(data.next() % UInt64(Self.config.vocabularySize)) }
            var inputs: [Int] = [], targets: [Int] = []
            for b in 0..<Self.batch {
                let row = Array(stream[(b * (Self.length + 1))..<((b + 1) * (Self.length + 1))])
                inputs += row.dropLast()
                targets += row.dropFirst()
            }
            state.generator = data
            optimizer.learningRate = Self.schedule.learningRate(base: Self.baseLR, step: state.step)
            optimizer.zeroGrad()
            crossEntropy(model(inputs, batch: Self.batch, length: Self.length), targets: targets).backward()
            clipGradNorm(model.parameters(), maxNorm: 0.5)
            optimizer.step()
            state.step += 1
            if state.step % Self.every == 0 {
                let c = Checkpoint.capture(model: model, optimizer: optimizer, trainer: .sft(state))
                try manager.save(c, step: state.step)
            }
            if state.step == stopAfter { return nil }
        }
        return (model, optimizer)
    }
}

@Suite(.serialized) struct CheckpointResumeTests {
    @Test func resumedRunIsBitIdenticalToUninterruptedRun() throws {
        let dirA = makeTemporaryDirectory("runA"), dirB = makeTemporaryDirectory("runB")
        defer { for d in [dirA, dirB] { try? FileManager.default.removeItem(atPath: d) } }
        let (modelA, optA) = try #require(try TinyRun(directory: dirA).run())

        // Run B is "killed" after steps 4, 7, 8 and 13 — between checkpoints, right after one,
        // and one step before the end — and each time resumes from the folder alone.
        let runB = TinyRun(directory: dirB)
        for stop in [4, 7, 8, 13] { #expect(try runB.run(stopAfter: stop) == nil) }
        let (modelB, optB) = try #require(try runB.run())

        for (a, b) in zip(modelA.namedParameters(), modelB.namedParameters()) {
            #expect(a.name == b.name && bitwiseEqual(a.tensor, b.tensor), "\(a.name) differs")
        }
        for (a, b) in zip(optA.stateTensors(), optB.stateTensors()) {
            #expect(bitwiseEqual(a.tensor, b.tensor), "\(a.name) differs")
        }
        #expect(optA.stepCount == TinyRun.totalSteps && optB.stepCount == TinyRun.totalSteps)
        #expect(CheckpointManager(directory: dirB, keepLast: 2).checkpoints().map(\.step) == [9, 12])

        // Sanity: interrupting without the data RNG in the checkpoint would have diverged —
        // the state really matters (the weights moved away from initialisation).
        #expect(!bitwiseEqual(modelA.wte.weight, GPT(TinyRun.config, seed: 42).wte.weight))
    }
}

@Suite struct CheckpointManagerTests {
    func small(step: Int, loss: Double) -> Checkpoint {
        var c = sampleCheckpoint().checkpoint
        c.header.trainer = .sft(SFTTrainerState(step: step, generator: RandomGenerator(seed: 2)))
        c.header.metrics = ["loss": loss]
        return c
    }

    @Test func keepsLastNAndBestAndSkipsTempFiles() throws {
        let dir = makeTemporaryDirectory("mgr")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = CheckpointWriteOptions()
        o.durable = false
        let m = CheckpointManager(directory: dir + "/sub", keepLast: 2, bestMetric: "loss", lowerIsBetter: true, keepBest: 1, options: o)
        #expect(try m.latest() == nil)
        let losses = [5.0, 1.0, 3.0, 4.0, 6.0]
        for (i, l) in losses.enumerated() { try m.save(small(step: (i + 1) * 10, loss: l), step: (i + 1) * 10) }
        #expect(m.checkpoints().map(\.step) == [20, 40, 50])  // last 2 + best (loss 1 at step 20)
        #expect(m.best() == dir + "/sub/" + CheckpointManager.fileName(step: 20))
        // A leftover temp file and unrelated files are ignored.
        _ = FileManager.default.createFile(atPath: dir + "/sub/.checkpoint-000060.rftckpt.tmp-1-2", contents: Data([1, 2, 3]))
        _ = FileManager.default.createFile(atPath: dir + "/sub/notes.txt", contents: Data())
        let latest = try #require(try m.latest())
        #expect(latest.checkpoint.header.trainer == .sft(SFTTrainerState(step: 50, generator: RandomGenerator(seed: 2))) && latest.skipped.isEmpty)
        #expect(CheckpointManager.step(fromFileName: "checkpoint-000123.rftckpt") == 123)
        #expect(CheckpointManager.step(fromFileName: ".checkpoint-000123.rftckpt.tmp-1-2") == nil)
        #expect(CheckpointManager.step(fromFileName: "checkpoint-.rftckpt") == nil)
    }

    @Test func latestFallsBackPastCorruptFiles() throws {
        let dir = makeTemporaryDirectory("mgr2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var o = CheckpointWriteOptions()
        o.durable = false
        let m = CheckpointManager(directory: dir, keepLast: 5, options: o)
        for s in [1, 2, 3] { try m.save(small(step: s, loss: 1), step: s) }
        // Newest truncated (a crash mid-copy), second newest with a flipped payload bit.
        let p3 = dir + "/" + CheckpointManager.fileName(step: 3), p2 = dir + "/" + CheckpointManager.fileName(step: 2)
        let b3 = readBytes(p3)
        _ = FileManager.default.createFile(atPath: p3, contents: Data(b3[0..<(b3.count / 2)]))
        var b2 = readBytes(p2)
        b2[b2.count - 20] ^= 0x10
        _ = FileManager.default.createFile(atPath: p2, contents: Data(b2))
        let latest = try #require(try m.latest())
        #expect(latest.path == dir + "/" + CheckpointManager.fileName(step: 1))
        #expect(latest.skipped.count == 2)
        // With every file damaged, the error lists each.
        _ = FileManager.default.createFile(atPath: latest.path, contents: Data("junk".utf8))
        do {
            _ = try m.latest()
            Issue.record("found a valid checkpoint among damaged ones")
        } catch let e as CheckpointError {
            guard case .noValidCheckpoint(_, let skipped) = e else { Issue.record("\(e)"); return }
            #expect(skipped.count == 3)
        }
    }
}
