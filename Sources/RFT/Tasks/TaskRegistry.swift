/// The built-in tasks by name (`rft pretrain --task addition-reversed`).
public enum TaskRegistry {
    /// Every built-in task name.
    public static let names = [
        "addition", "addition-reversed", "addition-hinted", "addition-reversed-hinted", "parity",
        "copy", "copy-unique", "reverse", "reverse-unique", "sort", "sort-unique", "count", "majority",
        "chat-addition", "chat-multiplication", "chat-word-problems",
    ]

    /// The task called `name` with its default lengths; throws `TaskError.unknownTask` otherwise.
    public static func task(named name: String) throws -> any VerifiableTask {
        switch name {
        case "addition": return AdditionTask()
        case "addition-reversed": return AdditionTask(reversed: true)
        case "addition-hinted": return AdditionTask(indexHints: true)
        case "addition-reversed-hinted", "addition-hinted-reversed": return AdditionTask(reversed: true, indexHints: true)
        case "parity": return ParityTask()
        case "count": return CountTask()
        case "majority": return MajorityTask()
        case "chat-addition": return ChatArithmeticTask(.addition)
        case "chat-multiplication": return ChatArithmeticTask(.multiplication)
        case "chat-word-problems": return WordProblemTask()
        default:
            let unique = name.hasSuffix("-unique")
            let base = unique ? String(name.dropLast("-unique".count)) : name
            if let kind = StringTask.Kind(rawValue: base) { return StringTask(kind, unique: unique) }
            throw TaskError.unknownTask(name, known: names)
        }
    }
}
