import Foundation
import RFTModel
import RFTTensor

/// One bad line of a dataset file: where it is and what is wrong.
public struct DatasetIssue: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file.
    public var path: String
    /// 1-based line number.
    public var line: Int
    /// What is wrong with it.
    public var message: String

    /// `file:line: message`, as compilers write it.
    public var description: String { "\(path):\(line): \(message)" }
}

/// Errors loading a dataset as a whole.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    /// The file cannot be read.
    case unreadable(path: String, reason: String)
    /// The file holds no usable example.
    case empty(path: String, skipped: Int)
    /// A line is invalid (strict mode stops at the first one).
    case invalidLine(DatasetIssue)

    /// A one-line explanation naming the file (and line).
    public var description: String {
        switch self {
        case .unreadable(let p, let r): return "\(p): cannot read: \(r)"
        case .empty(let p, let skipped):
            return skipped == 0 ? "\(p): no examples (the file is empty)" : "\(p): no valid examples (\(skipped) invalid lines skipped)"
        case .invalidLine(let issue): return issue.description + " (pass --skip-invalid to skip such lines)"
        }
    }
}

/// What a dataset's examples must satisfy to be usable with a given model.
public struct DatasetRequirements: Sendable {
    /// Every character of prompts (and references, when required) must be in this tokenizer.
    public var tokenizer: Tokenizer?
    /// `<bos> prompt <sep>` plus at least one generated token (plus the reference and `<eos>` when
    /// required) must fit this many positions.
    public var contextLength: Int?
    /// Examples need a `completion` (supervised finetuning, curricula).
    public var requireReference: Bool
    /// A reference, when present, must fit the context with its prompt (it may be trained on:
    /// an SFT warm-up draws its subset from these inputs).
    public var referenceMustFit: Bool

    /// Requirements (none by default).
    public init(tokenizer: Tokenizer? = nil, contextLength: Int? = nil, requireReference: Bool = false,
                referenceMustFit: Bool = false) {
        self.tokenizer = tokenizer
        self.contextLength = contextLength
        self.requireReference = requireReference
        self.referenceMustFit = referenceMustFit || requireReference
    }
}

/// A JSONL dataset of prompts: one JSON object a line with a `prompt` — a string, or in TRL's
/// conversational form a list of `{"role", "content"}` messages (`ConversationalFields`), which
/// needs a model with a chat template —, an optional `completion` (the reference: a string, or a
/// list with one assistant message), an optional `id` and `length`, and any other fields, which
/// are kept as metadata for rewards. Blank lines are ignored.
public struct PromptDataset: Sendable {
    /// The file it was read from.
    public var path: String
    /// The valid examples, in file order.
    public var examples: [TaskExample]
    /// Lines skipped in `skipInvalid` mode, with the reason for each.
    public var skipped: [DatasetIssue]

    /// Reads `path`. Every malformed line, missing or mistyped field, prompt too long for the
    /// context and character outside the tokenizer is an error naming the file and line; with
    /// `skipInvalid` such lines are counted in `skipped` instead. An empty result is an error.
    public static func load(jsonl path: String, requirements: DatasetRequirements = .init(),
                            skipInvalid: Bool = false) throws -> PromptDataset {
        let (examples, skipped) = try readObjects(jsonl: path, skipInvalid: skipInvalid) { fields, id in
            try example(from: &fields, requirements: requirements, id: id)
        }
        return PromptDataset(path: path, examples: examples, skipped: skipped)
    }

    /// The largest dataset file read (4 GiB).
    public static let maxFileBytes: UInt64 = 4 << 30
    /// The longest line read (16 MiB).
    public static let maxLineBytes = 16 << 20

    /// Reads the JSONL file `path` (at most `maxFileBytes`, lines of at most `maxLineBytes`, UTF-8,
    /// blank lines ignored) and turns each line's JSON object into an item with `parse`, which gets
    /// the object's fields and the fallback id `path:line`. A malformed line or a `LineProblem`
    /// from `parse` is an error naming the file and line, or with `skipInvalid` a skipped issue;
    /// no item at all is an error. Every JSONL reader of rft (prompts, preference pairs) reads this way.
    static func readObjects<Item>(jsonl path: String, skipInvalid: Bool,
                                  _ parse: (_ fields: inout [String: JSONValue], _ id: String) throws -> Item)
        throws -> (items: [Item], skipped: [DatasetIssue])
    {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path, limit: maxFileBytes) } catch let e as FileReadError {
            throw DatasetError.unreadable(path: path, reason: e.reason)
        }
        var items: [Item] = [], skipped: [DatasetIssue] = []
        var lineNumber = 0
        // split on LF bytes (a Swift String sees CR LF as one character), dropping a CR before it
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            do {
                guard raw.count <= maxLineBytes else { throw LineProblem(text: "line of \(raw.count) bytes, above the limit of \(maxLineBytes)") }
                guard let line = String(validating: raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw, as: UTF8.self) else {
                    throw LineProblem(text: "not UTF-8 text")
                }
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { continue }
                let value: JSONValue
                do { value = try JSONDecoder().decode(JSONValue.self, from: Data(trimmed.utf8)) } catch {
                    let shown = trimmed.count > 80 ? String(trimmed.prefix(80)) + "…" : trimmed
                    throw LineProblem(text: "malformed JSON: \(shown)")
                }
                guard case .object(var fields) = value else { throw LineProblem(text: "expected a JSON object with a \"prompt\"") }
                items.append(try parse(&fields, "\(path):\(lineNumber)"))
            } catch let message as LineProblem {
                let issue = DatasetIssue(path: path, line: lineNumber, message: message.text)
                guard skipInvalid else { throw DatasetError.invalidLine(issue) }
                skipped.append(issue)
            }
        }
        guard !items.isEmpty else { throw DatasetError.empty(path: path, skipped: skipped.count) }
        return (items, skipped)
    }

    /// A line's problem, before the file and line are attached.
    struct LineProblem: Error { let text: String }

    /// A completion field (`completion`, `chosen`, `rejected`): a string, or a list with one
    /// assistant message; nil when absent or null.
    static func completion(_ value: JSONValue?, key: String) throws -> String? {
        do {
            switch value {
            case nil, .null?: return nil
            case .string(let s)?: return s
            case .array(let list)?: return try ConversationalFields.completion(list)
            default: throw LineProblem(text: "\"\(key)\" must be a string or a list with one assistant message")
            }
        } catch let error as ConversationalFieldError {
            throw LineProblem(text: error.description)
        }
    }

    /// One example from a line's fields (those it reads are removed; the rest become metadata).
    static func example(from fields: inout [String: JSONValue], requirements: DatasetRequirements, id fallbackID: String) throws -> TaskExample {
        guard let promptValue = fields.removeValue(forKey: "prompt") else { throw LineProblem(text: "missing \"prompt\"") }
        let prompt: String, messages: [ChatMessage]?
        do {
            switch promptValue {
            case .string(let s): (prompt, messages) = (s, nil)
            case .array(let list):
                let conversation = try ConversationalFields.prompt(list)
                (prompt, messages) = (conversation.last!.content, conversation)
            default: throw LineProblem(text: "\"prompt\" must be a string or a list of messages")
            }
        } catch let error as ConversationalFieldError {
            throw LineProblem(text: error.description)
        }
        let reference = try completion(fields.removeValue(forKey: "completion"), key: "completion")
        guard messages != nil || !prompt.isEmpty else { throw LineProblem(text: "\"prompt\" is empty") }
        if messages != nil && requirements.tokenizer?.chatTemplate == nil {
            throw LineProblem(text: "\"prompt\" is a conversation (a list of messages), which needs a chat template, and the model has none (chat_template none, or a character-level model)")
        }
        var id = fallbackID
        switch fields.removeValue(forKey: "id") {
        case nil, .null?: break
        case .string(let s)?: id = s
        case .number(let n)? where n == n.rounded() && abs(n) < 1e15: id = String(Int64(n))
        default: throw LineProblem(text: "\"id\" must be a string or an integer")
        }
        var length = prompt.count
        switch fields.removeValue(forKey: "length") {
        case nil, .null?: break
        case .number(let n)? where n >= 0 && n == n.rounded() && n < 1e9: length = Int(n)
        default: throw LineProblem(text: "\"length\" must be a non-negative integer")
        }
        if requirements.requireReference && reference == nil {
            throw LineProblem(text: "missing \"completion\" (the reference is needed here)")
        }
        let example = TaskExample(prompt: prompt, reference: reference, length: length, id: id, metadata: fields, messages: messages)
        if let tokenizer = requirements.tokenizer {
            let promptTokens: [Int], referenceTokens: [Int]
            do {
                promptTokens = try tokenizer.encodePrompt(example)
                referenceTokens = try requirements.referenceMustFit ? tokenizer.encodeCompletion(reference ?? "") : []
            } catch let error as TokenizerError {
                throw LineProblem(text: "\(error) — the model's tokenizer does not have it")
            }
            if let context = requirements.contextLength {
                // the prompt plus one generated token, or plus the whole reference and <eos>
                let needed = promptTokens.count + max(1, referenceTokens.count)
                if needed > context {
                    let what = referenceTokens.isEmpty ? "prompt needs" : "prompt and completion need"
                    throw LineProblem(text: "\(what) \(needed) tokens with specials; the model's context is \(context)")
                }
            }
        }
        return example
    }
}

/// Where a trainer's examples come from: a built-in task (generated on the fly), a fixed list,
/// or a closure of the caller's.
public enum ExampleSource: Sendable {
    /// Fresh instances of a built-in task with lengths drawn from a range.
    case task(any VerifiableTask, lengths: ClosedRange<Int>)
    /// A fixed list (e.g. a JSONL dataset), drawn uniformly at random.
    case fixed([TaskExample])
    /// `n` examples per call from the caller's code, drawing its randomness from the generator.
    case generated(@Sendable (inout RandomGenerator, Int) -> [TaskExample])

    /// `n` examples drawn with `generator` (uniformly with replacement for fixed lists).
    public func draw(_ n: Int, using generator: inout RandomGenerator) -> [TaskExample] {
        switch self {
        case .task(let task, let lengths): return (0..<n).map { _ in task.example(lengths: lengths, using: &generator) }
        case .fixed(let list): return Self.uniformDraw(list, n, using: &generator)
        case .generated(let make): return make(&generator, n)
        }
    }

    /// `n` items of `list` drawn uniformly with replacement (none from an empty list).
    static func uniformDraw<T>(_ list: [T], _ n: Int, using generator: inout RandomGenerator) -> [T] {
        guard !list.isEmpty else { return [] }
        return (0..<n).map { _ in list[Int(generator.next() % UInt64(list.count))] }
    }

    /// The completion length a run uses unless told: tokens of the longest reference with its
    /// `<eos>` (a task's `maxCompletionLength` at its longest length; 32 for a list without
    /// references), or nil for a closure, whose references nobody can know.
    public func defaultCompletionLength(tokenizer: Tokenizer) -> Int? {
        switch self {
        case .task(let task, let lengths): return task.maxCompletionLength(lengths.upperBound)
        case .fixed(let list): return list.compactMap { $0.reference.flatMap { try? tokenizer.encodeCompletion($0).count } }.max() ?? 32
        case .generated: return nil
        }
    }
}
