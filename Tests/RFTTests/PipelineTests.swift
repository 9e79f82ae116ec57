import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// Diagnose → SFT on a subset → RFT on a tiny case, and the pieces it is made of.
struct PipelineTests {
    @Test func warmupParsing() throws {
        #expect(try SFTWarmup(parsing: "1%") == .fraction(0.01))
        #expect(try SFTWarmup(parsing: "0.05") == .fraction(0.05))
        #expect(try SFTWarmup(parsing: "0") == .off && (try SFTWarmup(parsing: "off")) == .off)
        #expect(try SFTWarmup(parsing: "auto") == .auto(level: 0.05, checkEvery: 10))
        #expect(try SFTWarmup(parsing: "auto:0.2") == .auto(level: 0.2, checkEvery: 10))
        for bad in ["x", "150%", "-1", "auto:2", "auto0.1"] {
            #expect(throws: PipelineError.badWarmup(bad)) { try SFTWarmup(parsing: bad) }
        }
    }

    @Test func phaseGroupsByTheInitialFlags() {
        func row(_ mean: Double, _ std: Double) -> RewardStdRow {
            RewardStdRow(id: "", prompt: "", mean: mean, std: std, lower: 0, upper: 1, flagged: std < 0.05, numSamples: 8)
        }
        let initial = RewardStdReport(mode: .sampled, rows: [row(0, 0), row(0, 0), row(1, 0), row(0.5, 0.5)], threshold: 0.05)
        let later = RewardStdReport(mode: .sampled, rows: [row(0.5, 0.5), row(0, 0), row(1, 0), row(0.75, 0.4)], threshold: 0.05)
        let p = PipelinePhase(name: "x", report: later, initial: initial)
        #expect(p.rewardInitiallyStuck == 0.25 && p.rewardInitiallySolved == 1 && p.rewardInitiallyUnflagged == 0.75)
        #expect(p.flaggedShare == 0.5 && p.stuckShare == 0.25 && p.reward == 0.5625)
        #expect(PipelinePhase.table([p]).split(separator: "\n").count == 2)
    }

    @Test func mislabeledClassShiftsTheLastDigit() {
        let m = MislabeledClass(leadingCharacter: "7")
        #expect(m.apply(TaskExample(prompt: "71+2", reference: "73", length: 2)).reference == "78")
        #expect(m.apply(TaskExample(prompt: "17+2", reference: "19", length: 2)).reference == "19")
        #expect(m.apply(TaskExample(prompt: "7+5", reference: "12", length: 1)).reference == "17")
    }

    /// A random tiny model copies nothing (every input stuck at reward 0); SFT on all inputs
    /// teaches copying, so the stuck share falls; RFT then runs on the fixed inputs.
    @Test func tinyPipelineFreesStuckInputs() throws {
        let task = try TaskRegistry.task(named: "copy")
        let tokenizer = task.tokenizer
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 8, layers: 1, heads: 2, width: 32), seed: 3)
        var inputs = task.examples(count: 24, lengths: 1...2, seed: 4)
        for i in inputs.indices { inputs[i].id = "copy-\(i)" }
        var sft = SFTConfig()
        sft.learningRate = 3e-3
        sft.batchSize = 16
        var rft = GRPOConfig()
        rft.maxCompletionLength = 3
        rft.promptsPerStep = 4
        rft.numGenerations = 4
        let pipeline = Pipeline(model: model, tokenizer: tokenizer, inputs: inputs, reward: TaskVerifierReward(task: task),
                                monitor: RewardStdMonitor(numSamples: 8, maxCompletionLength: 3, seed: 1),
                                curriculum: Curriculum(fraction: 1, sftSteps: 80, seed: 2), warmup: .fraction(1),
                                sftConfig: sft, rftConfig: rft, rftSteps: 2)
        var rftSteps = 0
        let phases = try pipeline.run { _ in rftSteps += 1 }
        #expect(phases.map(\.name) == ["before", "after SFT", "after RFT"] && rftSteps == 2)
        #expect(phases[0].stuckShare > 0.8, "a random model should copy almost nothing: \(phases[0])")
        #expect(phases[1].stuckShare < phases[0].stuckShare - 0.3 && phases[1].rewardInitiallyStuck > 0.3, "\(phases[1])")
        #expect(try pipeline.sftSubset(try pipeline.diagnose()).count == 24)
    }
}
