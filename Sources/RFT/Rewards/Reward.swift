/// Scores completions: (prompt, completion, example) → Double, a batch at a time.
public protocol RewardFunction {
    /// One reward per completion; `examples[i]` carries the reference and metadata of prompt i.
    func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double]
    /// One score per completion, nil where the function does not apply (TRL's `None`), with
    /// each part's scores when the reward is made of several (`WeightedReward`). The default is
    /// `rewards`, every completion scored, no parts.
    func scores(prompts: [String], completions: [String], examples: [TaskExample]) throws -> RewardScores
}

/// What a reward gave a batch: one total per completion (nil: nothing scored it) and, for a
/// reward made of several functions, each function's own scores by name.
public struct RewardScores: Equatable, Sendable {
    /// The reward of each completion; nil where no function scored it.
    public var total: [Double?]
    /// Each function's scores (nil where it returned none), in the order the reward lists them.
    public var parts: [(name: String, scores: [Double?])]

    /// Scores from their parts.
    public init(total: [Double?], parts: [(name: String, scores: [Double?])] = []) {
        self.total = total
        self.parts = parts
    }

    /// Every total, or an `unscored` error naming the first completion nothing scored.
    public func scoredTotals(prompts: [String], completions: [String]) throws -> [Double] {
        try total.enumerated().map { i, r in
            guard let r else { throw RewardError.unscored(prompt: prompts[i], completion: completions[i]) }
            return r
        }
    }

    /// Totals and parts, in order.
    public static func == (a: RewardScores, b: RewardScores) -> Bool {
        a.total == b.total && a.parts.map(\.name) == b.parts.map(\.name) && a.parts.map(\.scores) == b.parts.map(\.scores)
    }
}

extension RewardFunction {
    /// Every completion scored by `rewards`.
    public func scores(prompts: [String], completions: [String], examples: [TaskExample]) throws -> RewardScores {
        RewardScores(total: try rewards(prompts: prompts, completions: completions, examples: examples))
    }

    /// The scores of `completions`, checked: one per completion, each total finite and inside
    /// `range`, each part's score finite. The one validation path of the trainer and the monitor,
    /// which leave unscored completions out (advantage 0; not in the std).
    public func checkedScores(prompts: [String], completions: [String], examples: [TaskExample],
                              range: ClosedRange<Double>) throws -> RewardScores {
        let scores = try self.scores(prompts: prompts, completions: completions, examples: examples)
        for values in [scores.total] + scores.parts.map(\.scores) where values.count != completions.count {
            throw RewardError.wrongCount(expected: completions.count, got: values.count)
        }
        for (i, r) in scores.total.enumerated() {
            guard let r else { continue }
            if !r.isFinite || !range.contains(r) {
                throw RewardError.invalidReward(value: r, prompt: prompts[i], completion: completions[i], range: range)
            }
        }
        for part in scores.parts {
            for (i, r) in part.scores.enumerated() where !(r?.isFinite ?? true) {
                throw RewardError.invalidReward(value: r!, prompt: prompts[i], completion: completions[i], range: range)
            }
        }
        return scores
    }

    /// The rewards of `completions`, checked as `checkedScores`, every completion scored
    /// (`unscored` otherwise): for callers that need a number for each, such as evaluation.
    public func checkedRewards(prompts: [String], completions: [String], examples: [TaskExample],
                               range: ClosedRange<Double>) throws -> [Double] {
        try checkedScores(prompts: prompts, completions: completions, examples: examples, range: range)
            .scoredTotals(prompts: prompts, completions: completions)
    }
}

/// A reward from a Swift closure scoring one completion, or returning nil for a completion it
/// does not apply to (TRL's `None`).
public struct ClosureReward: RewardFunction {
    /// The scoring function.
    public let score: (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double?

    /// Wraps `score`, which scores every completion.
    public init(_ score: @escaping (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double) {
        self.score = score
    }

    /// Wraps `score`, which may leave a completion unscored (nil). A static factory, not a second
    /// `init`: two closure inits make a multi-statement trailing closure ambiguous.
    public static func optional(_ score: @escaping (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double?) -> ClosureReward {
        ClosureReward(scoring: score)
    }

    private init(scoring score: @escaping (_ prompt: String, _ completion: String, _ example: TaskExample) throws -> Double?) {
        self.score = score
    }

    /// Applies `score` to each completion; a completion it leaves unscored is an `unscored` error.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try scores(prompts: prompts, completions: completions, examples: examples).scoredTotals(prompts: prompts, completions: completions)
    }

    /// Applies `score` to each completion.
    public func scores(prompts: [String], completions: [String], examples: [TaskExample]) throws -> RewardScores {
        RewardScores(total: try zip(prompts.indices, completions).map { try score(prompts[$0.0], $0.1, examples[$0.0]) })
    }
}

/// Several reward functions, each with a weight (TRL's `reward_funcs` and `reward_weights`):
/// a completion's reward is Σ wᵢ·rᵢ over the functions that scored it, and nil when none did.
/// Its `scores` keep each function's own, so a trainer logs `rewards/<name>/mean` and the
/// monitor shows which function is flat.
public struct WeightedReward: RewardFunction {
    /// The functions by name, with their weights.
    public let functions: [(name: String, reward: any RewardFunction, weight: Double)]

    /// A weighted sum of `functions`.
    public init(_ functions: [(name: String, reward: any RewardFunction, weight: Double)]) {
        self.functions = functions
    }

    /// The weighted sums; a completion no function scored is an `unscored` error.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try scores(prompts: prompts, completions: completions, examples: examples).scoredTotals(prompts: prompts, completions: completions)
    }

    /// Each function's scores, and their weighted sums.
    public func scores(prompts: [String], completions: [String], examples: [TaskExample]) throws -> RewardScores {
        let parts = try functions.map { f -> (name: String, scores: [Double?]) in
            let s = try f.reward.scores(prompts: prompts, completions: completions, examples: examples).total
            guard s.count == completions.count else { throw RewardError.wrongCount(expected: completions.count, got: s.count) }
            return (f.name, s)
        }
        let total = completions.indices.map { i -> Double? in
            var sum: Double?
            for (f, part) in zip(functions, parts) { if let r = part.scores[i] { sum = (sum ?? 0) + f.weight * r } }
            return sum
        }
        return RewardScores(total: total, parts: parts)
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
