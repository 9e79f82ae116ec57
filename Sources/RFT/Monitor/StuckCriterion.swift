/// rft's one definition of when an input is *flagged* and when it is *stuck*, used by the
/// monitor, the live tracker, the pipeline, every report file, the console and the plots.
///
/// - flagged: the input's reward std under the model is below `stdThreshold` × (reward range):
///   its expected policy gradient (nearly) vanishes (Razin et al., ICLR 2024), whatever its mean;
/// - stuck: flagged with a mean reward in the lower half of the reward range — RFT cannot move it;
/// - solved: flagged with a mean reward in the upper half — nothing left to learn.
public struct StuckCriterion: Configuration {
    /// Flag below this share of the reward range (for rewards in [0, 1], the std itself). 0.05,
    /// because for a 0/1 reward std = √(p(1−p)) < 0.05 exactly when p < 0.0025 or p > 0.9975, a
    /// success rate at which 16 samples show no difference 96% of the time (0.9975¹⁶); and
    /// sampled 0/1 rewards have std 0 or ≥ √(K−1)/K (0.24 at K = 16), so with sampled rewards the
    /// flag means "all K rewards equal".
    public var stdThreshold: Double = 0.05
    /// The lowest reward the reward function gives.
    public var rewardMin: Double = 0
    /// The highest reward the reward function gives.
    public var rewardMax: Double = 1

    /// The defaults: 0.05 of a [0, 1] reward range.
    public init() {}

    /// A criterion with the given threshold and range.
    public init(stdThreshold: Double, rewardRange: ClosedRange<Double> = 0...1) {
        self.stdThreshold = stdThreshold
        rewardMin = rewardRange.lowerBound
        rewardMax = rewardRange.upperBound
    }

    /// The help of each key.
    public static let help = [
        "std_threshold": "flag inputs whose reward std is below this share of the reward range",
        "reward_min": "lowest reward the reward gives (scales std_threshold; a lower reward is an error)",
        "reward_max": "highest reward the reward gives",
    ]

    /// The rewards' range.
    public var rewardRange: ClosedRange<Double> { rewardMin...rewardMax }
    /// The std below which an input is flagged, in reward units.
    public var threshold: Double { stdThreshold * (rewardMax - rewardMin) }
    /// The mean below which a flagged input is stuck (the middle of the range).
    public var midpoint: Double { (rewardMin + rewardMax) / 2 }

    /// Whether a reward std this small flags the input.
    public func isFlagged(std: Double) -> Bool { std < threshold }
    /// Whether an input with this mean and std is stuck.
    public func isStuck(mean: Double, std: Double) -> Bool { isFlagged(std: std) && mean < midpoint }
    /// Whether an input with this mean and std is solved.
    public func isSolved(mean: Double, std: Double) -> Bool { isFlagged(std: std) && mean >= midpoint }

    /// A threshold in [0, 1) and a finite, non-empty range.
    public func validate() throws {
        try ConfigRule.finite("std_threshold", stdThreshold, 0, 0.999)
        try ConfigRule.finite("reward_min", rewardMin, -1e300)
        try ConfigRule.finite("reward_max", rewardMax, -1e300)
        guard rewardMin < rewardMax else {
            throw ConfigError.invalid(key: "reward_max", reason: "must be above reward_min (\(rewardMin)), got \(rewardMax)")
        }
    }
}
