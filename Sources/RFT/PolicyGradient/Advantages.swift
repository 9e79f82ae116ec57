/// Advantage estimators: how per-completion rewards become per-completion advantages.
/// Rewards arrive grouped: `groupSize` (TRL's `num_generations`) consecutive completions of
/// the same prompt.
public enum AdvantageEstimator: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// A = r (no baseline).
    case reinforce
    /// A = r − b, b a moving average of the batch-mean reward across steps.
    case reinforceBaseline = "reinforce_baseline"
    /// A_i = r_i − mean of the other K−1 rewards of its group (leave-one-out).
    case rloo
    /// A = r − group mean, divided by a std as `scale_rewards` says (TRL's GRPOTrainer;
    /// `scale_rewards: none` is Dr. GRPO's advantage).
    case grpo
}

/// Which std GRPO divides the centred rewards by (TRL's `scale_rewards`).
public enum ScaleRewards: String, Codable, CaseIterable, Sendable, ConfigText {
    /// The group's sample std (+ ε).
    case group
    /// The whole batch's sample std (+ ε).
    case batch
    /// No division (Dr. GRPO).
    case none

    /// `group`, `batch`, `none`, or TRL's older `true` (group) / `false` (none).
    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "true": self = .group
        case "false": self = .none
        default:
            guard let v = ScaleRewards(rawValue: text) else { throw ConfigError.invalid(key: "scale_rewards", reason: "expected group, batch or none, got \(text)") }
            self = v
        }
    }

    /// The raw value.
    public var text: String { rawValue }
    /// The accepted words.
    public static let format = "group|batch|none"
}

/// Errors in a batch of rewards handed to an advantage estimator.
public enum AdvantageError: Error, Equatable, CustomStringConvertible {
    /// The number of rewards is not a positive multiple of the group size.
    case groupMismatch(rewards: Int, groupSize: Int)
    /// A reward is NaN or infinite.
    case nonFiniteReward(index: Int)
    /// RLOO needs at least two completions per prompt.
    case groupTooSmall(estimator: AdvantageEstimator, groupSize: Int)

    /// One line naming the problem.
    public var description: String {
        switch self {
        case .groupMismatch(let n, let k): return "\(n) rewards do not split into groups of \(k)"
        case .nonFiniteReward(let i): return "reward \(i) is not finite"
        case .groupTooSmall(let e, let k): return "\(e.rawValue) needs num_generations ≥ 2, got \(k)"
        }
    }
}

/// Computes advantages for one estimator, keeping the running baseline that
/// `reinforce_baseline` needs (so it checkpoints as part of the trainer state).
public struct AdvantageComputer: Codable, Equatable, Sendable {
    /// The estimator.
    public var estimator: AdvantageEstimator
    /// GRPO's normaliser.
    public var scaleRewards: ScaleRewards
    /// ε added to the std by `grpo` (TRL: 1e-4).
    public var epsilon: Double
    /// Weight of the old baseline in `reinforce_baseline`'s moving average.
    public var baselineMomentum: Double
    /// The moving-average baseline (nil before the first batch).
    public var baseline: Double?

    /// An advantage computer; defaults follow TRL.
    public init(_ estimator: AdvantageEstimator, scaleRewards: ScaleRewards = .group, epsilon: Double = 1e-4,
                baselineMomentum: Double = 0.9) {
        self.estimator = estimator
        self.scaleRewards = scaleRewards
        self.epsilon = epsilon
        self.baselineMomentum = baselineMomentum
    }

    /// Advantages for `rewards` in groups of `groupSize`; updates the baseline afterwards.
    public mutating func advantages(rewards: [Double], groupSize k: Int) throws -> [Double] {
        guard k > 0, !rewards.isEmpty, rewards.count % k == 0 else {
            throw AdvantageError.groupMismatch(rewards: rewards.count, groupSize: k)
        }
        if let i = rewards.firstIndex(where: { !$0.isFinite }) { throw AdvantageError.nonFiniteReward(index: i) }
        if estimator == .rloo && k < 2 { throw AdvantageError.groupTooSmall(estimator: .rloo, groupSize: k) }
        switch estimator {
        case .reinforce:
            return rewards
        case .reinforceBaseline:
            let batchMean = rewards.reduce(0, +) / Double(rewards.count)
            let b = baseline ?? batchMean
            baseline = baselineMomentum * b + (1 - baselineMomentum) * batchMean
            return rewards.map { $0 - b }
        case .rloo, .grpo:
            let batchStd = RewardGroup(rewards).sampleStd
            var out = [Double](repeating: 0, count: rewards.count)
            for start in stride(from: 0, to: rewards.count, by: k) {
                let group = rewards[start..<(start + k)]
                let stats = RewardGroup(group), sum = group.reduce(0, +)
                for (j, r) in group.enumerated() {
                    if estimator == .rloo {
                        out[start + j] = r - (sum - r) / Double(k - 1)
                        continue
                    }
                    switch scaleRewards {
                    case .group: out[start + j] = (r - stats.mean) / (stats.sampleStd + epsilon)
                    case .batch: out[start + j] = (r - stats.mean) / (batchStd + epsilon)
                    case .none: out[start + j] = r - stats.mean
                    }
                }
            }
            return out
        }
    }
}
