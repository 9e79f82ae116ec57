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
    /// PPO with a critic: a value head on the policy's residual stream, per-token rewards
    /// (−β·KL to the reference at each token, the score at the last), GAE (γ `gamma`, λ `lam`),
    /// advantages whitened over the step, a clipped value loss (`vf_coef`, `cliprange_value`) and
    /// adaptive KL control (`kl_target`, `kl_horizon`). The trainer computes these; as a
    /// per-completion estimator it passes the scores through.
    case gae
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
    /// `scored` (default: all) marks the rewards some function gave: an unscored completion gets
    /// advantage 0, and its reward (any placeholder) is left out of every mean and std; a
    /// group with one scored completion gets 0 under rloo (nothing to leave out).
    public mutating func advantages(rewards: [Double], groupSize k: Int, scored: [Bool]? = nil) throws -> [Double] {
        guard k > 0, !rewards.isEmpty, rewards.count % k == 0, scored.map({ $0.count == rewards.count }) ?? true else {
            throw AdvantageError.groupMismatch(rewards: rewards.count, groupSize: k)
        }
        let isScored = { (i: Int) in scored?[i] ?? true }
        if let i = rewards.indices.first(where: { isScored($0) && !rewards[$0].isFinite }) { throw AdvantageError.nonFiniteReward(index: i) }
        if estimator == .rloo && k < 2 { throw AdvantageError.groupTooSmall(estimator: .rloo, groupSize: k) }
        let counted = rewards.indices.filter(isScored).map { rewards[$0] }
        var out = [Double](repeating: 0, count: rewards.count)
        switch estimator {
        case .reinforce, .gae:
            for i in rewards.indices where isScored(i) { out[i] = rewards[i] }
        case .reinforceBaseline:
            guard !counted.isEmpty else { return out }
            let batchMean = counted.reduce(0, +) / Double(counted.count)
            let b = baseline ?? batchMean
            baseline = baselineMomentum * b + (1 - baselineMomentum) * batchMean
            for i in rewards.indices where isScored(i) { out[i] = rewards[i] - b }
        case .rloo, .grpo:
            let batchStd = RewardGroup(counted).sampleStd
            for start in stride(from: 0, to: rewards.count, by: k) {
                let members = (start..<(start + k)).filter(isScored)
                let group = members.map { rewards[$0] }
                let stats = RewardGroup(group), sum = group.reduce(0, +), m = Double(group.count)
                for (i, r) in zip(members, group) {
                    if estimator == .rloo {
                        out[i] = group.count > 1 ? r - (sum - r) / (m - 1) : 0
                        continue
                    }
                    switch scaleRewards {
                    case .group: out[i] = (r - stats.mean) / (stats.sampleStd + epsilon)
                    case .batch: out[i] = (r - stats.mean) / (batchStd + epsilon)
                    case .none: out[i] = r - stats.mean
                    }
                }
            }
        }
        return out
    }
}
