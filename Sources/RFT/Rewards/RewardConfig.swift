/// Which reward a run scores completions with: a built-in by name, an external command, or a
/// weighted sum of several of them (TRL's `reward_funcs` and `reward_weights`).
public struct RewardConfig: Configuration {
    /// The built-in reward (used when `rewardCmd` and `rewardFuncs` are empty).
    public var reward: BuiltinReward = .exactMatch
    /// An external reward: a program and its arguments (no shell), speaking JSONL on stdin/stdout
    /// (docs/reward-command.md).
    public var rewardCmd: [String] = []
    /// A reward model that `rft reward-train` wrote (a checkpoint or its run folder), scoring
    /// σ(r) (`LearnedReward`); used alone, or as `reward_model` in `rewardFuncs`.
    public var rewardModel: String?
    /// Seconds the external reward may take per batch.
    public var rewardTimeout: Double = 60
    /// Several rewards, summed with `rewardWeights`: built-in names and `reward_cmd` (the
    /// external command); empty: the one reward above.
    public var rewardFuncs: [String] = []
    /// One weight per entry of `rewardFuncs` (empty: all 1, as TRL).
    public var rewardWeights: [Double] = []

    /// The defaults: exact match.
    public init() {}

    /// The help of each key.
    public static let help = [
        "reward": "built-in reward (exact-match: the reference, or the task's answer; number-match: the number read out of free text, \\boxed{N}, \"answer is N\" or the last one)",
        "reward_cmd": "external reward: a program and its arguments, no shell (docs/reward-command.md)",
        "reward_model": "a reward model from rft reward-train (its checkpoint or run folder): the reward is σ(r), in [0, 1]",
        "reward_timeout": "seconds the external reward may take per batch",
        "reward_funcs": "several rewards summed with reward_weights: built-in names, reward_cmd (the external command) and reward_model",
        "reward_weights": "one weight per reward_funcs entry (default: all 1)",
    ]

    /// The name that stands for the external command in `reward_funcs`.
    public static let commandName = "reward_cmd"
    /// The name that stands for the reward model in `reward_funcs`.
    public static let modelName = "reward_model"

    /// Each function of `reward_funcs` with its weight (all 1 when no weights are given).
    public var weightedFunctions: [(name: String, weight: Double)] {
        zip(rewardFuncs, rewardWeights.isEmpty ? Array(repeating: 1, count: rewardFuncs.count) : rewardWeights).map { ($0, $1) }
    }

    /// The stuck criterion for this reward: `criterion` as given, except that with several
    /// built-in rewards (each in [0, 1]) and the range left at its default 0…1 the range becomes
    /// the weighted sum's, Σ min(0, wᵢ) … Σ max(0, wᵢ).
    public func criterion(adjusting criterion: StuckCriterion) -> StuckCriterion {
        guard !rewardFuncs.isEmpty, !rewardFuncs.contains(Self.commandName), criterion.rewardRange == 0...1 else { return criterion }  // σ(r) is in [0, 1] too
        let w = weightedFunctions.map(\.weight)
        var adjusted = criterion
        adjusted.rewardMin = w.reduce(0) { $0 + min(0, $1) }
        adjusted.rewardMax = w.reduce(0) { $0 + max(0, $1) }
        return adjusted
    }


    /// The reward function for a run on `task` (nil for a dataset); a command is started now,
    /// so a missing program is reported before any work.
    public func make(task: (any VerifiableTask)?) throws -> any RewardFunction {
        if !rewardFuncs.isEmpty {
            return WeightedReward(try weightedFunctions.map { f in
                if f.name == Self.commandName {
                    let command = CommandReward(command: rewardCmd, timeout: rewardTimeout)
                    try command.start()
                    return (f.name, command, f.weight)
                }
                if f.name == Self.modelName { return (f.name, try learnedReward(), f.weight) }
                return (f.name, try BuiltinReward.named(f.name, task: task), f.weight)
            })
        }
        if !rewardCmd.isEmpty {
            let reward = CommandReward(command: rewardCmd, timeout: rewardTimeout)
            try reward.start()
            return reward
        }
        if rewardModel != nil { return try learnedReward() }
        return try reward.make(task: task)
    }

    /// The reward model of `reward_model`, loaded.
    private func learnedReward() throws -> LearnedReward {
        do { return LearnedReward(try RewardModel(path: rewardModel ?? "")) } catch {
            throw ConfigError.invalid(key: "reward_model", reason: "\(error)")
        }
    }

    /// A positive, finite timeout of at most a day; a non-empty program name; known, distinct
    /// `reward_funcs` with one finite weight each, `reward_cmd` among them exactly when a command is set.
    public func validate() throws {
        let known = BuiltinReward.names + [Self.commandName, Self.modelName]
        for name in rewardFuncs where !known.contains(name) {
            throw ConfigError.invalid(key: "reward_funcs", reason: "unknown reward '\(name)'; one of \(known.joined(separator: ", "))")
        }
        if Set(rewardFuncs).count != rewardFuncs.count { throw ConfigError.invalid(key: "reward_funcs", reason: "a reward is listed twice") }
        if rewardFuncs.count > 64 { throw ConfigError.invalid(key: "reward_funcs", reason: "at most 64 rewards, got \(rewardFuncs.count)") }
        if !rewardWeights.isEmpty {
            guard rewardWeights.count == rewardFuncs.count else {
                throw ConfigError.invalid(key: "reward_weights", reason: "one weight per reward_funcs entry (\(rewardFuncs.count)), got \(rewardWeights.count)")
            }
            for w in rewardWeights { try ConfigRule.finite("reward_weights", w, -1e6, 1e6) }
            if rewardWeights.allSatisfy({ $0 == 0 }) { throw ConfigError.invalid(key: "reward_weights", reason: "every weight is 0") }
        }
        if !rewardFuncs.isEmpty && rewardFuncs.contains(Self.commandName) != !rewardCmd.isEmpty {
            throw ConfigError.invalid(key: "reward_funcs", reason: rewardCmd.isEmpty
                ? "lists reward_cmd, but no reward_cmd is set" : "reward_cmd is set: list reward_cmd in reward_funcs to use it")
        }
        if !rewardFuncs.isEmpty && rewardFuncs.contains(Self.modelName) != (rewardModel != nil) {
            throw ConfigError.invalid(key: "reward_funcs", reason: rewardModel == nil
                ? "lists reward_model, but no reward_model is set" : "reward_model is set: list reward_model in reward_funcs to use it")
        }
        if rewardFuncs.isEmpty && rewardModel != nil && !rewardCmd.isEmpty {
            throw ConfigError.invalid(key: "reward_model", reason: "give reward_model or reward_cmd, or both in reward_funcs")
        }
        if rewardModel?.isEmpty == true { throw ConfigError.invalid(key: "reward_model", reason: "is empty") }
        guard rewardTimeout.isFinite, rewardTimeout > 0, rewardTimeout <= 86_400 else {
            throw ConfigError.invalid(key: "reward_timeout", reason: "must be a number of seconds in (0, 86400], got \(rewardTimeout)")
        }
        if let first = rewardCmd.first, first.isEmpty {
            throw ConfigError.invalid(key: "reward_cmd", reason: "the program name is empty")
        }
    }
}
