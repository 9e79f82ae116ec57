/// The statistics of one prompt's K rewards, computed once and read by the advantages, the
/// step metrics, the live tracker and the monitor's report.
public struct RewardGroup: Equatable, Sendable {
    /// K.
    public let count: Int
    /// Mean reward.
    public let mean: Double
    /// Population std √(Σ(r − mean)²/K): the reward std of the input under the model (the
    /// monitor's and the tracker's).
    public let std: Double
    /// Sample std √(Σ(r − mean)²/(K − 1)) (0 when K < 2): TRL's `reward_std` and GRPO's normaliser.
    public let sampleStd: Double
    /// Whether every reward is the same (no signal for group-relative advantages).
    public let allEqual: Bool

    /// The statistics of `rewards` (all zero for an empty group).
    public init<C: Collection>(_ rewards: C) where C.Element == Double {
        count = rewards.count
        guard let first = rewards.first else {
            (mean, std, sampleStd, allEqual) = (0, 0, 0, true)
            return
        }
        let m = rewards.reduce(0, +) / Double(count)
        let squares = rewards.reduce(0) { $0 + ($1 - m) * ($1 - m) }
        mean = m
        std = (squares / Double(count)).squareRoot()
        sampleStd = count > 1 ? (squares / Double(count - 1)).squareRoot() : 0
        allEqual = rewards.allSatisfy { $0 == first }
    }
}

/// One reward function's scores over a set of completions — those it scored, leaving out the
/// ones it gave no score — as the trainer logs them per step (`rewards/<name>/mean`, `/std`:
/// the sample std, as TRL's) and the monitor reports them per input (`std`: the population
/// std, as the monitor's own).
public struct RewardFunctionStatistics: Codable, Equatable, Sendable {
    /// Mean score (0 when it scored none).
    public var mean: Double
    /// Population std of the scores.
    public var std: Double
    /// Sample std of the scores (0 for fewer than two).
    public var sampleStd: Double
    /// Completions scored.
    public var count: Int

    /// The statistics of `scores`.
    public init(_ scores: [Double]) {
        let g = RewardGroup(scores)
        (mean, std, sampleStd, count) = (g.mean, g.std, g.sampleStd, g.count)
    }

    private enum CodingKeys: String, CodingKey {
        case mean, std, sampleStd = "sample_std", count
    }
}
