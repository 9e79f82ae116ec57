/// Which reward a run scores completions with: a built-in by name, or an external command.
public struct RewardConfig: Configuration {
    /// The built-in reward (used when `rewardCmd` is empty).
    public var reward: BuiltinReward = .exactMatch
    /// An external reward: a program and its arguments (no shell), speaking JSONL on stdin/stdout
    /// (docs/reward-command.md).
    public var rewardCmd: [String] = []
    /// Seconds the external reward may take per batch.
    public var rewardTimeout: Double = 60

    /// The defaults: exact match.
    public init() {}

    /// The help of each key.
    public static let help = [
        "reward": "built-in reward (exact-match: the reference, or the task's answer; number-match: the number read out of free text, \\boxed{N}, \"answer is N\" or the last one)",
        "reward_cmd": "external reward: a program and its arguments, no shell (docs/reward-command.md)",
        "reward_timeout": "seconds the external reward may take per batch",
    ]

    /// The reward function for a run on `task` (nil for a dataset); a command is started now,
    /// so a missing program is reported before any work.
    public func make(task: (any VerifiableTask)?) throws -> any RewardFunction {
        if !rewardCmd.isEmpty {
            let reward = CommandReward(command: rewardCmd, timeout: rewardTimeout)
            try reward.start()
            return reward
        }
        return try reward.make(task: task)
    }

    /// A positive, finite timeout of at most a day; a non-empty program name.
    public func validate() throws {
        guard rewardTimeout.isFinite, rewardTimeout > 0, rewardTimeout <= 86_400 else {
            throw ConfigError.invalid(key: "reward_timeout", reason: "must be a number of seconds in (0, 86400], got \(rewardTimeout)")
        }
        if let first = rewardCmd.first, first.isEmpty {
            throw ConfigError.invalid(key: "reward_cmd", reason: "the program name is empty")
        }
    }
}
