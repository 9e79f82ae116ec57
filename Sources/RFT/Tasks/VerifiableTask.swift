import RFTModel
import RFTTensor

/// One input: the prompt `x` (a text, or a conversation in TRL's form), its reference output
/// `y` when known, and free metadata; as a training sequence it is written `<bos> x <sep> y <eos>`
/// (a model with a chat template: the rendered conversation, then `y <end-of-turn>`).
public struct TaskExample: Codable, Equatable, Sendable {
    /// The input text x (no special tokens); for a conversation, its last user message's text
    /// (what rewards and verifiers read).
    public var prompt: String
    /// The conversation, when the prompt is one (a JSONL `"prompt"` that is a list of messages);
    /// nil for a text prompt. Rendered with the model's chat template.
    public var messages: [ChatMessage]?
    /// The correct output text y (no special tokens); nil when the dataset gives none.
    public var reference: String?
    /// The instance's length (its meaning is the task's: digits, characters, numbers; for JSONL
    /// data, the prompt's length in characters).
    public var length: Int
    /// A stable identifier (the `id` field of a JSONL line, else `<file>:<line>`; nil for generated instances).
    public var id: String?
    /// Every other field of a JSONL line, kept for rewards.
    public var metadata: [String: JSONValue]

    /// An example.
    public init(prompt: String, reference: String?, length: Int, id: String? = nil, metadata: [String: JSONValue] = [:],
                messages: [ChatMessage]? = nil) {
        self.prompt = prompt
        self.messages = messages
        self.reference = reference
        self.length = length
        self.id = id
        self.metadata = metadata
    }

    /// The identifier used in reports: `id`, else the prompt.
    public var displayID: String { id ?? prompt }
}

extension Tokenizer {
    /// The token ids of an example's prompt — its conversation or its text, rendered with the
    /// chat template when one is set: the one way every trainer, monitor and command encodes inputs.
    public func encodePrompt(_ example: TaskExample) throws -> [Int] {
        if let messages = example.messages { return try encodePrompt(messages: messages) }
        return try encodePrompt(example.prompt)
    }
}

/// Which lengths to draw from: the range the model trains on, or the longer one it is tested on.
public enum TaskSplit: String, Codable, CaseIterable, Sendable {
    /// Training lengths.
    case train
    /// Held-out (longer) lengths, for length generalisation.
    case test
}

/// A built-in algorithmic task (the length-generalisation suites of Zhou et al. and Huang et al.): a seeded generator of (prompt, reference) pairs
/// with a length range, and a verifier that computes the correct answer from the prompt alone.
public protocol VerifiableTask: Sendable {
    /// The registry name (`addition`, `copy-unique`, …).
    var name: String { get }
    /// Every character a prompt or reference may contain.
    var alphabet: String { get }
    /// Lengths drawn for training.
    var trainLengths: ClosedRange<Int> { get }
    /// Lengths held out for testing (longer than training).
    var testLengths: ClosedRange<Int> { get }
    /// Lengths this task can generate at all.
    var validLengths: ClosedRange<Int> { get }
    /// Characters of the longest reference for an input of `length` (for sizing the context).
    func maxReferenceLength(_ length: Int) -> Int
    /// Characters of the longest prompt of `length`.
    func maxPromptLength(_ length: Int) -> Int
    /// Tokens a completion of an input of `length` may take unless a run says otherwise
    /// (`max_completion_length`): the longest reference and its end (the default), plus, for a
    /// `ChatTask`, room for the words a chat model puts around its number.
    func maxCompletionLength(_ length: Int) -> Int
    /// A random instance of exactly `length` (which must lie in `validLengths`).
    func example(length: Int, using generator: inout RandomGenerator) -> TaskExample
    /// The correct output for `prompt`, or nil when the prompt is not a well-formed instance.
    func answer(for prompt: String) -> String?
    /// The part of a completion that is compared with the answer: the completion itself (the
    /// default), or for a `ChatTask` the number read out of it.
    func extractAnswer(from completion: String) -> String
}

extension VerifiableTask {
    /// The lengths of `split`.
    public func lengths(_ split: TaskSplit) -> ClosedRange<Int> { split == .train ? trainLengths : testLengths }

    /// A random instance with a length drawn uniformly from `lengths`.
    public func example(lengths: ClosedRange<Int>, using generator: inout RandomGenerator) -> TaskExample {
        let n = lengths.lowerBound + Int(generator.next() % UInt64(lengths.count))
        return example(length: n, using: &generator)
    }

    /// `count` instances with lengths drawn uniformly from `lengths`, reproducible from `seed`.
    public func examples(count: Int, lengths: ClosedRange<Int>, seed: UInt64) -> [TaskExample] {
        var g = RandomGenerator(seed: seed)
        return (0..<count).map { _ in example(lengths: lengths, using: &g) }
    }

    /// The completion unchanged: the algorithmic tasks compare it whole.
    public func extractAnswer(from completion: String) -> String { completion }

    /// The longest reference and its end token: an algorithmic task's answer is the reference exactly.
    public func maxCompletionLength(_ length: Int) -> Int { maxReferenceLength(length) + 1 }

    /// True when `completion` gives the correct output for `prompt`.
    public func verify(prompt: String, completion: String) -> Bool {
        answer(for: prompt).map { $0 == extractAnswer(from: completion) } ?? false
    }

    /// A character tokenizer over this task's alphabet.
    public var tokenizer: Tokenizer { Tokenizer(characters: alphabet) }

    /// Throws `TaskError.tokenizerLacks` when `tokenizer` is character-level and lacks a
    /// character of this task's alphabet (a byte-level BPE tokenizer writes every text).
    public func checkVocabulary(of tokenizer: Tokenizer) throws {
        guard case .characters(let vocabulary) = tokenizer.vocabulary else { return }
        let known = Set(vocabulary.characters)
        let missing = alphabet.filter { !known.contains($0) }
        guard missing.isEmpty else {
            let advice = self is any ChatTask ? "it is English text for a model with a byte-level BPE tokenizer, such as SmolLM2-135M-Instruct"
                                              : "give a model trained on this task"
            throw TaskError.tokenizerLacks(task: name, missing: missing, known: String(vocabulary.characters), advice: advice)
        }
    }

    /// Tokens of the longest `<bos> x <sep> y <eos>` sequence over `lengths`.
    public func maxSequenceLength(_ lengths: ClosedRange<Int>) -> Int {
        lengths.map { maxPromptLength($0) + maxReferenceLength($0) + 3 }.max() ?? 3
    }
}

/// Errors naming a task or its options.
public enum TaskError: Error, Equatable, CustomStringConvertible {
    /// No built-in task has this name.
    case unknownTask(String, known: [String])
    /// A length outside what the task can generate.
    case invalidLengths(task: String, lengths: ClosedRange<Int>, valid: ClosedRange<Int>)
    /// The model's character-level tokenizer lacks characters the task writes (`known` are
    /// the ones it has), with what to do instead.
    case tokenizerLacks(task: String, missing: String, known: String, advice: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .unknownTask(let n, let known): return "unknown task '\(n)'; built-in tasks: \(known.joined(separator: ", "))"
        case .invalidLengths(let t, let l, let v):
            return "task \(t): lengths \(l.lowerBound)...\(l.upperBound) outside \(v.lowerBound)...\(v.upperBound)"
        case .tokenizerLacks(let t, let missing, let known, let advice):
            let shown = missing.count > 12 ? String(missing.prefix(12)) + "…" : missing
            return "task \(t) writes \(missing.count) characters the model's character-level tokenizer lacks (\(shown.debugDescription); it has \(known.debugDescription)): \(advice)"
        }
    }
}

/// A uniform random element of `s` (non-empty).
@inline(__always)
func randomElement<C: Collection>(_ s: C, _ g: inout RandomGenerator) -> C.Element where C.Index == Int {
    s[s.startIndex + Int(g.next() % UInt64(s.count))]
}

/// A uniform random integer in `range`.
@inline(__always)
func randomInt(_ range: ClosedRange<Int>, _ g: inout RandomGenerator) -> Int {
    range.lowerBound + Int(g.next() % UInt64(range.count))
}

/// A uniform number of exactly `digits` digits (one digit: `smallest`…9).
func randomNumber(digits: Int, smallest: Int, _ g: inout RandomGenerator) -> Int {
    guard digits > 1 else { return randomInt(smallest...9, &g) }
    var n = randomInt(1...9, &g)
    for _ in 1..<digits { n = n * 10 + randomInt(0...9, &g) }
    return n
}

/// The value of 1 to `maxDigits` ASCII digits, or nil.
func decimalValue<S: StringProtocol>(_ text: S, maxDigits: Int) -> Int? {
    guard (1...maxDigits).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    return Int(text)
}

/// The distinct characters of `texts`, in Unicode scalar order (a stable alphabet).
func distinctCharacters(_ texts: [String]) -> String {
    String(Set(texts.joined()).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
}
