import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// Diagnose → SFT on a subset → RFT on a tiny case, the pieces it is made of, and resuming it
/// from its folder after it stopped anywhere.
struct PipelineTests {
    @Test func warmupParsing() throws {
        #expect(try SFTWarmup(parsing: "1%") == .fraction(0.01))
        #expect(try SFTWarmup(parsing: "0.05") == .fraction(0.05))
        #expect(try SFTWarmup(parsing: "0") == .off && (try SFTWarmup(parsing: "off")) == .off)
        #expect(try SFTWarmup(parsing: "auto") == .auto(level: 0.05, checkEvery: 10))
        #expect(try SFTWarmup(parsing: "auto:0.2") == .auto(level: 0.2, checkEvery: 10))
        for bad in ["x", "150%", "-1", "auto:2", "auto0.1", "nan"] {
            #expect(throws: ConfigError.self) { try SFTWarmup(parsing: bad) }
        }
        #expect(SFTWarmup.fraction(0.01).text == "1%" && SFTWarmup.auto(level: 0.05, checkEvery: 10).text == "auto:0.05")
    }

    /// The table groups by the first diagnosis, and an empty group is "—", never NaN.
    @Test func phaseGroupsByTheInitialFlags() {
        let criterion = StuckCriterion()
        func row(_ mean: Double, _ std: Double) -> RewardStdRow {
            RewardStdRow(id: "", prompt: "", mean: mean, std: std, lower: 0, upper: 1, flagged: criterion.isFlagged(std: std),
                         stuck: criterion.isStuck(mean: mean, std: std), numSamples: 8)
        }
        let initial = RewardStdReport(mode: .sampled, rows: [row(0, 0), row(0, 0), row(1, 0), row(0.5, 0.5)], criterion: criterion)
        let later = RewardStdReport(mode: .sampled, rows: [row(0.5, 0.5), row(0, 0), row(1, 0), row(0.75, 0.4)], criterion: criterion)
        let p = PipelinePhase(name: "x", report: later, initial: initial, greedyAccuracy: 0.5)
        #expect(p.rewardInitiallyStuck == 0.25 && p.rewardInitiallySolved == 1 && p.rewardInitiallyUnflagged == 0.75)
        #expect(p.fracFlagged == 0.5 && p.fracStuck == 0.25 && p.reward == 0.5625 && p.greedyAccuracy == 0.5)
        let allSolved = RewardStdReport(mode: .sampled, rows: [row(1, 0), row(1, 0)], criterion: criterion)
        let q = PipelinePhase(name: "y", report: allSolved, initial: allSolved, greedyAccuracy: nil)
        #expect(q.rewardInitiallyStuck == nil && q.rewardInitiallyUnflagged == nil && q.fracStuck == 0)
        let table = PipelinePhase.table([p, q])
        #expect(table.split(separator: "\n").count == 3 && !table.contains("nan") && table.contains("—"))
        #expect(throws: Never.self) { try JSONEncoder().encode([p, q]) }
    }

    /// The advice follows the numbers: a constant reward is a warning, a handful of stuck inputs
    /// needs no SFT, many need a warm-up (or references to make one).
    @Test func diagnosisAdviceDependsOnTheNumbers() {
        let criterion = StuckCriterion()
        func summary(stuck: Int, solved: Int, other: Int, constant: Double? = nil) -> RewardStdSummary {
            func row(_ mean: Double, _ std: Double) -> RewardStdRow {
                RewardStdRow(id: "", prompt: "", mean: mean, std: std, lower: 0, upper: 1, flagged: criterion.isFlagged(std: std),
                             stuck: criterion.isStuck(mean: mean, std: std), numSamples: 8)
            }
            if let constant { return RewardStdSummary(rows: Array(repeating: row(constant, 0), count: 10), criterion: criterion) }
            return RewardStdSummary(rows: Array(repeating: row(0, 0), count: stuck) + Array(repeating: row(1, 0), count: solved)
                                    + Array(repeating: row(0.5, 0.5), count: other), criterion: criterion)
        }
        #expect(DiagnosisAdvice(summary: summary(stuck: 0, solved: 0, other: 0, constant: 0), haveReferences: true).text.hasPrefix("warning: every sample"))
        #expect(DiagnosisAdvice(summary: summary(stuck: 0, solved: 30, other: 70), haveReferences: true).text.contains("none of them stuck"))
        #expect(DiagnosisAdvice(summary: summary(stuck: 3, solved: 30, other: 967), haveReferences: true).text.contains("too few for an SFT warm-up"))
        #expect(DiagnosisAdvice(summary: summary(stuck: 150, solved: 300, other: 550), haveReferences: true).text.contains("rft train --sft-warmup 1%"))
        #expect(DiagnosisAdvice(summary: summary(stuck: 150, solved: 300, other: 550), haveReferences: false).text.contains("add reference completions"))
    }

    @Test func mislabeledClassShiftsTheLastDigit() {
        let m = MislabeledClass(leadingCharacter: "7")
        #expect(m.apply(TaskExample(prompt: "71+2", reference: "73", length: 2)).reference == "78")
        #expect(m.apply(TaskExample(prompt: "17+2", reference: "19", length: 2)).reference == "19")
        #expect(m.apply(TaskExample(prompt: "7+5", reference: "12", length: 1)).reference == "17")
    }

    /// A tiny copy task: a random model copies nothing (every input stuck at reward 0).
    static func tinyInputs() -> RunInputs {
        let task = try! TaskRegistry.task(named: "copy")
        let tokenizer = task.tokenizer
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 8, layers: 1, heads: 2, width: 32), seed: 3)
        var inputs = task.examples(count: 24, lengths: 1...2, seed: 4)
        for i in inputs.indices { inputs[i].id = "copy-\(i)" }
        return RunInputs(model: model, tokenizer: tokenizer, examples: inputs, task: task, label: "copy")
    }

    /// The plan of the tiny pipeline: SFT on every input (a warm-up of 100%), then 3 RFT steps.
    static func tinyPlan(saveSteps: Int = 2) -> PipelinePlan {
        var plan = PipelinePlan(stages: [.before, .sft, .afterSFT, .rft, .afterRFT])
        plan.warmup = .fraction(1)
        plan.sft.training.learningRate = 3e-3
        plan.sft.training.maxSteps = 60
        plan.grpo.maxCompletionLength = 3
        plan.grpo.numGenerations = 4
        plan.grpo.training.perDeviceTrainBatchSize = 16
        plan.grpo.training.maxSteps = 3
        plan.monitor = RewardStdMonitor(numGenerations: 8, maxCompletionLength: 3, seed: 1, inputsPerBatch: 5)
        plan.saveSteps = saveSteps
        plan.threads = 1
        plan.settings = ["seed": "0"]
        return plan
    }

    /// SFT on all inputs teaches copying, so the stuck share falls; RFT then runs on the fixed inputs.
    @Test func tinyPipelineFreesStuckInputs() throws {
        let inputs = Self.tinyInputs()
        let result = try Pipeline(plan: Self.tinyPlan(), inputs: inputs, reward: TaskVerifierReward(task: inputs.task!)).run()
        let phases = result.phases
        #expect(phases.map(\.name) == ["before", "after SFT", "after RFT"] && result.inputReport.count > 0)
        #expect(phases[0].fracStuck > 0.8, "a random model should copy almost nothing: \(phases[0])")
        #expect(phases[1].fracStuck < phases[0].fracStuck - 0.3 && (phases[1].rewardInitiallyStuck ?? 0) > 0.3, "\(phases[1])")
    }

    /// A reward that stops the run (as a kill would) after `calls` scoring calls.
    final class FailingReward: RewardFunction, @unchecked Sendable {
        let inner: any RewardFunction
        var left: Int
        init(_ inner: any RewardFunction, failAfter calls: Int) { (self.inner, left) = (inner, calls) }
        struct Stopped: Error {}
        func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
            left -= 1
            if left < 0 { throw Stopped() }
            return try inner.rewards(prompts: prompts, completions: completions, examples: examples)
        }
    }

    /// A run stopped in any stage (each diagnosis, SFT, RFT) and resumed from its folder by a new
    /// pipeline on freshly loaded inputs ends with the weights, the tables and metrics.jsonl of an
    /// uninterrupted run, bit for bit; a resume with another setting or other inputs is refused.
    @Test func resumedFromAnyStageEndsTheSame() throws {
        let root = makeTemporaryDirectory("pipeline")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let reward = TaskVerifierReward(task: Self.tinyInputs().task!)
        func run(_ folder: String, resume: Bool, failAfter: Int? = nil) throws -> (PipelineResult, [Float]) {
            let inputs = Self.tinyInputs()
            let r: any RewardFunction = failAfter.map { FailingReward(reward, failAfter: $0) } ?? reward
            let directory = try RunDirectory(path: root + "/" + folder, resume: resume)
            let result = try Pipeline(plan: Self.tinyPlan(), inputs: inputs, reward: r).run(in: directory)
            return (result, inputs.model.parameters().flatMap { $0.toArray() })
        }
        func metrics(_ folder: String) -> [JSONValue] { metricsWithoutTimings(root + "/" + folder + "/metrics.jsonl") }
        let (straight, weights) = try run("straight", resume: false)
        // scoring calls: 5 per diagnosis (24 inputs in batches of 5), 1 per RFT step
        for failAfter in [2, 5, 7, 11, 13, 16, 17] {
            let folder = "stopped-\(failAfter)"
            #expect(throws: FailingReward.Stopped.self) { try run(folder, resume: false, failAfter: failAfter) }
            let (resumed, w) = try run(folder, resume: true)
            #expect(w == weights, "stopped after \(failAfter) scoring calls: the weights differ")
            #expect(resumed.phases == straight.phases && resumed.inputReport == straight.inputReport)
            #expect(metrics(folder) == metrics("straight"), "stopped after \(failAfter): metrics.jsonl differs")
        }
        var other = Self.tinyPlan()
        other.settings = ["seed": "1"]
        let inputs = Self.tinyInputs()
        #expect(throws: PipelineError.self) {
            _ = try Pipeline(plan: other, inputs: inputs, reward: reward).run(in: try RunDirectory(path: root + "/stopped-2", resume: true))
        }
        var otherInputs = Self.tinyInputs()
        otherInputs.examples.removeLast()
        #expect(throws: PipelineError.inputsChanged(path: root + "/stopped-2/" + CheckpointManager.fileName(step: CheckpointManager(directory: root + "/stopped-2").checkpoints().last!.step))) {
            _ = try Pipeline(plan: Self.tinyPlan(), inputs: otherInputs, reward: reward).run(in: try RunDirectory(path: root + "/stopped-2", resume: true))
        }
    }
}
