import Foundation
import RFTModel
import RFTTensor

/// Whether and how much SFT runs before RFT.
public enum SFTWarmup: Codable, Equatable, Sendable {
    /// RFT only.
    case off
    /// SFT on this share of the inputs (chosen by the curriculum) for the curriculum's step budget.
    case fraction(Double)
    /// SFT on the curriculum's subset in rounds of `checkEvery` steps, re-measuring after each,
    /// until the share of stuck inputs falls below `level`, stops falling (the weights of the best
    /// check are kept: SFT on a tiny subset overfits), or the step budget is spent.
    case auto(level: Double, checkEvery: Int)

    /// Parses `0`, `off`, `1%`, `0.01` or `auto` / `auto:0.05`.
    public init(parsing text: String) throws {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        if t == "off" || t == "none" { self = .off; return }
        if t.hasPrefix("auto") {
            let rest = t.dropFirst(4)
            if rest.isEmpty { self = .auto(level: 0.05, checkEvery: 10); return }
            if rest.hasPrefix(":"), let level = Double(rest.dropFirst()), level >= 0, level < 1 { self = .auto(level: level, checkEvery: 10); return }
            throw PipelineError.badWarmup(text)
        }
        let percent = t.hasSuffix("%")
        guard let v = Double(percent ? String(t.dropLast()) : t), v >= 0 else { throw PipelineError.badWarmup(text) }
        let f = percent ? v / 100 : v
        guard f <= 1 else { throw PipelineError.badWarmup(text) }
        self = f == 0 ? .off : .fraction(f)
    }
}

/// Errors configuring the pipeline.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// `--sft-warmup` is not a fraction, a percentage or `auto`.
    case badWarmup(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .badWarmup(let t): return "--sft-warmup \(t): expected a fraction (0.01), a percentage (1%), 0/off, or auto[:level]"
        }
    }
}

/// Rewards of the initially flagged and the other inputs at one point of the pipeline.
public struct PipelinePhase: Codable, Equatable, Sendable {
    /// `before`, `after SFT`, `after RFT`.
    public var name: String
    /// Share of inputs whose reward std is below the threshold now.
    public var flaggedShare: Double
    /// Share of inputs flagged now with a mean reward in the lower half of [0, 1]: stuck, not solved.
    public var stuckShare: Double
    /// Mean reward of the inputs that were stuck before any training.
    public var rewardInitiallyStuck: Double
    /// Mean reward of the inputs that were flagged but solved before any training.
    public var rewardInitiallySolved: Double
    /// Mean reward of the inputs that were not flagged before any training.
    public var rewardInitiallyUnflagged: Double
    /// Mean reward of every input that was not stuck before any training.
    public var rewardRest: Double
    /// Mean reward of all inputs.
    public var reward: Double

    /// The phase figures of `report`, grouping inputs by the `initial` report's flags.
    public init(name: String, report: RewardStdReport, initial: RewardStdReport) {
        self.name = name
        let rows = report.rows, first = initial.rows
        func mean(_ keep: (RewardStdRow) -> Bool) -> Double {
            let picked = zip(first, rows).filter { keep($0.0) }.map { $0.1.mean }
            return picked.isEmpty ? .nan : picked.reduce(0, +) / Double(picked.count)
        }
        flaggedShare = Double(rows.filter(\.flagged).count) / Double(max(1, rows.count))
        stuckShare = Double(rows.filter(PipelinePhase.isStuck).count) / Double(max(1, rows.count))
        rewardInitiallyStuck = mean(PipelinePhase.isStuck)
        rewardInitiallySolved = mean { $0.flagged && !PipelinePhase.isStuck($0) }
        rewardInitiallyUnflagged = mean { !$0.flagged }
        rewardRest = mean { !PipelinePhase.isStuck($0) }
        reward = rows.map(\.mean).reduce(0, +) / Double(max(1, rows.count))
    }

    /// Flagged (reward std below the threshold) with a mean reward below 0.5: RFT cannot move it.
    public static func isStuck(_ row: RewardStdRow) -> Bool { row.flagged && row.mean < 0.5 }

    /// The before/after table as text, one row per phase.
    public static func table(_ phases: [PipelinePhase]) -> String {
        func f(_ x: Double) -> String { x.isNaN ? "    —" : String(format: "%5.3f", x) }
        var lines = ["phase       flagged  stuck   reward: initially stuck  initially solved  not flagged  all"]
        for p in phases {
            lines.append("\(p.name.padding(toLength: 10, withPad: " ", startingAt: 0))   \(f(p.flaggedShare))   \(f(p.stuckShare))           \(f(p.rewardInitiallyStuck))             \(f(p.rewardInitiallySolved))        \(f(p.rewardInitiallyUnflagged))  \(f(p.reward))")
        }
        return lines.joined(separator: "\n")
    }
}

/// Diagnose → SFT on a small subset → RFT, with the reward-std table measured before, after
/// SFT and after RFT. The trainers and the monitor do the work; this only sequences them.
public final class Pipeline {
    /// The model trained in place.
    public let model: GPT
    /// Its tokenizer.
    public let tokenizer: Tokenizer
    /// The fixed inputs (RFT prompts; the SFT subset is chosen among them).
    public let inputs: [TaskExample]
    /// The reward.
    public let reward: any RewardFunction
    /// Measures per-input reward std.
    public var monitor: RewardStdMonitor
    /// How the SFT subset and its step budget are chosen.
    public var curriculum: Curriculum
    /// Whether SFT runs, and until when.
    public var warmup: SFTWarmup
    /// SFT settings.
    public var sftConfig: SFTConfig
    /// RFT settings.
    public var rftConfig: GRPOConfig
    /// RFT steps.
    public var rftSteps: Int

    /// A pipeline over `inputs`.
    public init(model: GPT, tokenizer: Tokenizer, inputs: [TaskExample], reward: any RewardFunction,
                monitor: RewardStdMonitor, curriculum: Curriculum, warmup: SFTWarmup,
                sftConfig: SFTConfig, rftConfig: GRPOConfig, rftSteps: Int) {
        self.model = model
        self.tokenizer = tokenizer
        self.inputs = inputs
        self.reward = reward
        self.monitor = monitor
        self.curriculum = curriculum
        self.warmup = warmup
        self.sftConfig = sftConfig
        self.rftConfig = rftConfig
        self.rftSteps = rftSteps
    }

    /// Per-input reward std under the current weights.
    public func diagnose(progress: ((Int, Int) -> Void)? = nil) throws -> RewardStdReport {
        try withoutGradients { try monitor.measure(model: model, tokenizer: tokenizer, examples: inputs, reward: reward, progress: progress) }
    }

    /// The SFT subset for `report` (indices into `inputs`); empty when warm-up is off.
    public func sftSubset(_ report: RewardStdReport) throws -> [Int] {
        var c = curriculum
        switch warmup {
        case .off: return []
        case .fraction(let f): c.fraction = f
        case .auto: break
        }
        return try c.select(inputs, rewardStd: report.rows.map(\.std), flagged: report.rows.map(\.flagged))
    }

    /// Runs SFT on `subset` for the budget (in `auto` mode, in rounds until the stuck share falls
    /// below the level); `onStep` sees each step. Returns the trainer and the last diagnosis.
    public func runSFT(subset: [Int], onStep: (SFTStepMetrics) throws -> Void = { _ in },
                       onCheck: (Int, RewardStdReport) -> Void = { _, _ in }) throws -> SFTTrainer? {
        guard !subset.isEmpty, curriculum.sftSteps > 0 else { return nil }
        let trainer = SFTTrainer(model: model, tokenizer: tokenizer, config: sftConfig, source: .fixed(subset.map { inputs[$0] }))
        let round: Int
        if case .auto(_, let every) = warmup { round = max(1, every) } else { round = curriculum.sftSteps }
        var best = (stuck: Double.infinity, weights: [Tensor]())
        while trainer.state.step < curriculum.sftSteps {
            for _ in 0..<min(round, curriculum.sftSteps - trainer.state.step) { try onStep(try trainer.step()) }
            if case .auto(let level, _) = warmup {
                let report = try diagnose()
                onCheck(trainer.state.step, report)
                let stuck = Double(report.rows.filter(PipelinePhase.isStuck).count) / Double(max(1, report.rows.count))
                if stuck < level { return trainer }
                if stuck >= best.stuck { break }  // no longer improving
                best = (stuck, model.parameters().map { $0.copy() })
            }
        }
        if !best.weights.isEmpty {  // auto mode ended without reaching the level: keep the best check
            for (p, w) in zip(model.parameters(), best.weights) { p.assign(w) }
        }
        return trainer
    }

    /// A policy-gradient trainer on the fixed inputs, drawing prompts uniformly.
    public func makeRFTTrainer() -> PolicyGradientTrainer {
        let source = ExampleSource.fixed(inputs)
        return PolicyGradientTrainer(model: model, tokenizer: tokenizer, config: rftConfig, reward: reward) { g, n in source.draw(n, using: &g) }
    }

    /// The whole pipeline without checkpoints: diagnose, SFT on the subset, diagnose, RFT, diagnose.
    public func run(onRFTStep: (StepMetrics) throws -> Void = { _ in }) throws -> [PipelinePhase] {
        let initial = try diagnose()
        var phases = [PipelinePhase(name: "before", report: initial, initial: initial)]
        if warmup != .off {
            _ = try runSFT(subset: try sftSubset(initial))
            phases.append(PipelinePhase(name: "after SFT", report: try diagnose(), initial: initial))
        }
        let rft = makeRFTTrainer()
        for _ in 0..<rftSteps { try onRFTStep(try rft.step()) }
        phases.append(PipelinePhase(name: "after RFT", report: try diagnose(), initial: initial))
        return phases
    }
}
