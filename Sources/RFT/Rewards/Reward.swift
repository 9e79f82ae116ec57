/// Scores completions: (prompt, completion, example) → Double, a batch at a time.
public protocol RewardFunction {
    /// One reward per completion; `examples[i]` carries the reference and metadata of prompt i.
    func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double]
}

extension RewardFunction {
    /// The rewards of `completions`, checked: one per completion, each finite and inside `range`.
    /// The one validation path of every caller (trainers, the monitor, evaluation), so a bad
    /// reward stops any of them with the same `RewardError`.
    public func checkedRewards(prompts: [String], completions: [String], examples: [TaskExample],
                               range: ClosedRange<Double>) throws -> [Double] {
        let rewards = try self.rewards(prompts: prompts, completions: completions, examples: examples)
        guard rewards.count == completions.count else {
            throw RewardError.wrongCount(expected: completions.count, got: rewards.count)
        }
        for (i, r) in rewards.enumerated() where !r.isFinite || !range.contains(r) {
            throw RewardError.invalidReward(value: r, prompt: prompts[i], completion: completions[i], range: range)
        }
        return rewards
    }
}

/// A reward from a Swift closure scoring one completion.
public struct ClosureReward: RewardFunction {
    /// The scoring function.
    public let score: (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double

    /// Wraps `score`.
    public init(_ score: @escaping (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double) {
        self.score = score
    }

    /// Applies `score` to each completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try zip(prompts.indices, completions).map { try score(prompts[$0.0], $0.1, examples[$0.0]) }
    }
}

/// A built-in task's verifier as a reward: exact match (0/1) or partial credit in [0, 1].
public struct TaskVerifierReward: RewardFunction {
    /// The task whose verifier computes the answer.
    public let task: any VerifiableTask
    /// Which of the task's rewards.
    public let kind: TaskReward

    /// A reward from `task`'s verifier.
    public init(task: any VerifiableTask, kind: TaskReward = .exactMatch) {
        self.task = task
        self.kind = kind
    }

    /// The task reward of each completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        zip(prompts, completions).map { kind.score(task: task, prompt: $0.0, completion: $0.1) }
    }
}
