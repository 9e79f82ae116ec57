/// The rewards a built-in task gives a completion (the full reward protocol comes with the trainers).
public enum TaskReward: String, Codable, CaseIterable, Sendable {
    /// 1 when the completion is the task's answer, else 0.
    case exactMatch = "exact-match"
    /// The share of the answer's characters the completion gets right (see `characterAccuracy`).
    case partialCredit = "partial-credit"

    /// The reward of `completion` (text, specials removed) for `prompt` under `task`, in [0, 1],
    /// comparing the part `task.extractAnswer(from:)` keeps (the number, for a chat task);
    /// 0 when the prompt is not a valid instance.
    public func score(task: any VerifiableTask, prompt: String, completion: String) -> Double {
        guard let answer = task.answer(for: prompt) else { return 0 }
        let given = task.extractAnswer(from: completion)
        switch self {
        case .exactMatch: return given == answer ? 1 : 0
        case .partialCredit: return characterAccuracy(given, reference: answer)
        }
    }
}

/// Positions where `completion` and `reference` hold the same character, divided by the
/// longer length (so missing and extra characters both cost); 1 for two empty strings.
public func characterAccuracy(_ completion: String, reference: String) -> Double {
    let a = Array(completion), b = Array(reference)
    let n = max(a.count, b.count)
    guard n > 0 else { return 1 }
    let same = zip(a, b).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    return Double(same) / Double(n)
}
