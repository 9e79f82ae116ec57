import Foundation

/// Errors of the built-in rewards: data they cannot score, names they do not know.
public enum RewardError: Error, Equatable, CustomStringConvertible {
    /// A reward that compares with `example.reference` met an example without one.
    case missingReference(reward: String, example: String)
    /// `numeric-match` or `number-match` met a reference that is not a number.
    case nonNumericReference(reward: String, example: String, reference: String)
    /// The reward needs a built-in task (its verifier computes the answer).
    case needsTask(reward: String)
    /// No built-in reward has this name.
    case unknownReward(String, known: [String])
    /// Prompts, completions and examples differ in count.
    case mismatchedInputs(prompts: Int, completions: Int, examples: Int)
    /// The reward function returned another number of rewards than completions.
    case wrongCount(expected: Int, got: Int)
    /// A reward is NaN, infinite, or outside the declared reward range.
    case invalidReward(value: Double, prompt: String, completion: String, range: ClosedRange<Double>)
    /// No reward function scored a completion where a number is needed (evaluation).
    case unscored(prompt: String, completion: String)
    /// A prompt and completion are longer than the reward model's context.
    case tooLongForRewardModel(prompt: String, tokens: Int, context: Int)

    /// A one-line explanation naming the example or the reward.
    public var description: String {
        switch self {
        case .missingReference(let r, let e):
            return "\(r): example \(e) has no reference (\"completion\" field) to compare with"
        case .nonNumericReference(let r, let e, let ref):
            return "\(r): example \(e): reference \(ref.debugDescription) is not a number"
        case .needsTask(let r): return "\(r) needs a built-in task (--task); for a JSONL dataset use exact-match, numeric-match, number-match or partial-credit"
        case .unknownReward(let n, let known): return "unknown reward '\(n)'; built-in rewards: \(known.joined(separator: ", "))"
        case .mismatchedInputs(let p, let c, let e):
            return "reward called with \(p) prompts, \(c) completions and \(e) examples; the counts must agree"
        case .wrongCount(let e, let g): return "the reward function returned \(g) rewards for \(e) completions"
        case .invalidReward(let v, let p, let c, let r):
            let what = v.isFinite ? "outside the reward range \(r.lowerBound)…\(r.upperBound) (set reward_min and reward_max to the reward's range)"
                                  : "not a finite number"
            return "the reward function returned \(v) for prompt \(shorten(p).debugDescription), completion \(shorten(c).debugDescription): \(what)"
        case .unscored(let p, let c):
            return "no reward function scored prompt \(shorten(p).debugDescription), completion \(shorten(c).debugDescription), and a number is needed here"
        case .tooLongForRewardModel(let p, let n, let c):
            return "reward_model: prompt \(shorten(p).debugDescription) with its completion needs \(n) tokens, the reward model's context is \(c) (lower max_completion_length)"
        }
    }
}

/// `text` cut to 80 characters for messages.
func shorten(_ text: String) -> String { text.count <= 80 ? text : String(text.prefix(77)) + "..." }

/// Checks that the three arrays of a reward call have one entry per completion.
func checkRewardInputs(prompts: [String], completions: [String], examples: [TaskExample]) throws {
    guard prompts.count == completions.count, examples.count == completions.count else {
        throw RewardError.mismatchedInputs(prompts: prompts.count, completions: completions.count, examples: examples.count)
    }
}

/// `example.reference`, or a `missingReference` error naming the example.
func requireReference(_ example: TaskExample, reward: String) throws -> String {
    guard let r = example.reference else { throw RewardError.missingReference(reward: reward, example: example.displayID) }
    return r
}

/// 1 when the completion equals `example.reference` after trimming whitespace at both ends, else 0.
public struct ExactMatchReward: RewardFunction {
    /// An exact-match reward.
    public init() {}

    /// 0/1 per completion; throws `missingReference` for an example without a reference.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        return try zip(completions, examples).map { c, e in
            let ref = try requireReference(e, reward: "exact-match")
            return c.trimmingCharacters(in: .whitespacesAndNewlines) == ref.trimmingCharacters(in: .whitespacesAndNewlines) ? 1 : 0
        }
    }
}

/// 1 when the completion and `example.reference` parse as numbers within `tolerance` of each
/// other, else 0 (an unparseable completion scores 0; an unparseable reference is an error).
public struct NumericMatchReward: RewardFunction {
    /// The largest absolute difference still counted as equal.
    public var tolerance: Double

    /// A numeric-match reward; the default tolerance forgives decimal round-off only.
    public init(tolerance: Double = 1e-6) {
        self.tolerance = tolerance
    }

    /// The decimal number `text` spells after trimming whitespace (`-12`, `3.5`, `.5`, `1e3`;
    /// not hexadecimal, `nan` or `inf`), or nil.
    public static func parse(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !t.isEmpty, t.allSatisfy({ "0123456789+-.eE".contains($0) }) else { return nil }
        return Double(t)
    }

    /// 0/1 per completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        return try zip(completions, examples).map { c, e in
            let refText = try requireReference(e, reward: "numeric-match")
            guard let ref = Self.parse(refText), ref.isFinite else {
                throw RewardError.nonNumericReference(reward: "numeric-match", example: e.displayID, reference: refText)
            }
            guard let value = Self.parse(c), value.isFinite else { return 0 }
            return abs(value - ref) <= tolerance ? 1 : 0
        }
    }
}

/// 1 when the number a completion answers with — `NumberExtraction.answer(in:)`: the last
/// `\boxed{}`, else the last "answer is N", else the last number — equals the reference number
/// exactly (`85.0` equals `85`, `85.5` equals no integer), else 0; a completion without a number
/// scores 0. The reference is the task's answer when there is a task (as for exact-match), else
/// `example.reference`, which must be one number (`nonNumericReference` otherwise).
public struct NumberMatchReward: RewardFunction {
    /// The built-in task whose verifier gives the reference, if any.
    public let task: (any VerifiableTask)?

    /// A number-match reward against `task`'s answers, or against the examples' references when nil.
    public init(task: (any VerifiableTask)? = nil) {
        self.task = task
    }

    /// 0/1 per completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        return try zip(prompts, zip(completions, examples)).map { prompt, pair in
            let (c, e) = pair
            let refText: String
            if let task {
                guard let answer = task.answer(for: prompt) else { return 0 }  // not an instance: as the task verifier
                refText = answer
            } else {
                refText = try requireReference(e, reward: "number-match")
            }
            guard let ref = NumberExtraction.number(refText) else {
                throw RewardError.nonNumericReference(reward: "number-match", example: e.displayID, reference: refText)
            }
            return NumberExtraction.answer(in: c) == ref ? 1 : 0
        }
    }
}

/// `characterAccuracy` of the completion against `example.reference`, both trimmed of
/// whitespace at the ends: a reward in [0, 1] that credits each right character in place.
public struct PartialCreditReward: RewardFunction {
    /// A partial-credit reward.
    public init() {}

    /// A score in [0, 1] per completion.
    public func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] {
        try checkRewardInputs(prompts: prompts, completions: completions, examples: examples)
        return try zip(completions, examples).map { c, e in
            let ref = try requireReference(e, reward: "partial-credit")
            return characterAccuracy(c.trimmingCharacters(in: .whitespacesAndNewlines),
                                     reference: ref.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}

/// The built-in rewards by their CLI names (`--reward exact-match`, …).
public enum BuiltinReward: String, CaseIterable, Codable, Sendable, ConfigChoice {
    /// Exact match: through the task's verifier when there is a task, else against the reference.
    case exactMatch = "exact-match"
    /// Numbers equal within a tolerance, against the reference.
    case numericMatch = "numeric-match"
    /// The number read out of free text (`\boxed{}`, "answer is N", the last number) equals the
    /// task's answer or the reference.
    case numberMatch = "number-match"
    /// Character accuracy: against the task's answer when there is a task, else the reference.
    case partialCredit = "partial-credit"
    /// Exact match through the task's verifier (needs a task).
    case taskVerifier = "task-verifier"

    /// Every built-in name, in declaration order.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// The reward function for this name; `task` is the built-in task of the run, if any.
    public func make(task: (any VerifiableTask)?) throws -> any RewardFunction {
        switch self {
        case .exactMatch:
            if let task { return TaskVerifierReward(task: task, kind: .exactMatch) }
            return ExactMatchReward()
        case .numericMatch:
            return NumericMatchReward()
        case .numberMatch:
            return NumberMatchReward(task: task)
        case .partialCredit:
            if let task { return TaskVerifierReward(task: task, kind: .partialCredit) }
            return PartialCreditReward()
        case .taskVerifier:
            guard let task else { throw RewardError.needsTask(reward: rawValue) }
            return TaskVerifierReward(task: task, kind: .exactMatch)
        }
    }

    /// The reward named `name`; an unknown name throws `unknownReward` listing the known ones.
    public static func named(_ name: String, task: (any VerifiableTask)?) throws -> any RewardFunction {
        guard let kind = BuiltinReward(rawValue: name) else { throw RewardError.unknownReward(name, known: names) }
        return try kind.make(task: task)
    }
}
