/// One row of the before / after-SFT / after-RFT table: shares flagged and stuck now, the mean
/// reward of the inputs grouped by what they were before any training, and greedy accuracy on
/// held-out inputs. A figure over an empty group is nil (shown as —), never NaN.
public struct PipelinePhase: Codable, Equatable, Sendable {
    /// `before`, `after SFT`, `after RFT`.
    public var name: String
    /// Share of inputs flagged now (reward std below the threshold).
    public var fracFlagged: Double
    /// Share of inputs stuck now (flagged, low mean reward).
    public var fracStuck: Double
    /// Mean reward now of the inputs that were stuck before any training.
    public var rewardInitiallyStuck: Double?
    /// Mean reward now of the inputs that were solved (flagged, high reward) before any training.
    public var rewardInitiallySolved: Double?
    /// Mean reward now of the inputs that were not flagged before any training.
    public var rewardInitiallyUnflagged: Double?
    /// Mean reward (sampled) of all inputs now.
    public var reward: Double?
    /// Greedy (temperature 0) accuracy on the held-out inputs now.
    public var greedyAccuracy: Double?

    /// The row of `report`, grouping inputs by the `initial` report's flags.
    public init(name: String, report: RewardStdReport, initial: RewardStdReport, greedyAccuracy: Double?) {
        self.name = name
        let rows = report.rows, first = initial.rows
        func mean(_ keep: (RewardStdRow) -> Bool) -> Double? {
            let picked = zip(first, rows).filter { keep($0.0) }.map { $0.1.mean }
            return picked.isEmpty ? nil : picked.reduce(0, +) / Double(picked.count)
        }
        let summary = report.summary
        fracFlagged = summary.fracFlagged
        fracStuck = summary.fracStuck
        rewardInitiallyStuck = mean(\.stuck)
        rewardInitiallySolved = mean { $0.flagged && !$0.stuck }
        rewardInitiallyUnflagged = mean { !$0.flagged }
        reward = summary.reward
        self.greedyAccuracy = greedyAccuracy
    }

    /// The table as text, one row per phase.
    public static func table(_ phases: [PipelinePhase]) -> String {
        func f(_ x: Double?) -> String { x.map { String(format: "%5.3f", $0) } ?? "    —" }
        var lines = ["phase       flagged  stuck   reward: initially stuck  initially solved  not flagged  all     greedy acc."]
        for p in phases {
            lines.append("\(p.name.padding(toLength: 10, withPad: " ", startingAt: 0))   \(f(p.fracFlagged))   \(f(p.fracStuck))           \(f(p.rewardInitiallyStuck))             \(f(p.rewardInitiallySolved))        \(f(p.rewardInitiallyUnflagged))  \(f(p.reward))   \(f(p.greedyAccuracy))")
        }
        return lines.joined(separator: "\n")
    }
}

/// What a run ends with.
public struct PipelineResult: Sendable {
    /// The table's rows, one per diagnosis.
    public var phases: [PipelinePhase]
    /// The diagnoses, by stage.
    public var reports: [PipelineStage: RewardStdReport]
    /// Every input RFT sampled, with its first and last reward mean/std (RFT runs only).
    public var inputReport: [InputStdRecord]
    /// The last checkpoint written, if any.
    public var checkpoint: String?
    /// The latest evaluation figures (SFT and pretraining runs).
    public var evaluation: [String: Double]
}

import Foundation
