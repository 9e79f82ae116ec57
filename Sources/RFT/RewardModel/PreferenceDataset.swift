import Foundation
import RFTModel

/// One preference pair (TRL's explicit-prompt preference format): a prompt and two completions
/// of it, the `chosen` one preferred to the `rejected` one, by an optional `margin` (TRL's
/// `margin` column: the Bradley–Terry loss asks r(chosen) − r(rejected) to exceed it).
public struct PreferencePair: Codable, Equatable, Sendable {
    /// The prompt (its text or messages, id and other fields), as a prompt dataset reads it.
    public var prompt: TaskExample
    /// The preferred completion.
    public var chosen: String
    /// The other completion.
    public var rejected: String
    /// How much r(chosen) should exceed r(rejected) (nil: 0).
    public var margin: Double?

    /// A pair from its parts.
    public init(prompt: TaskExample, chosen: String, rejected: String, margin: Double? = nil) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.margin = margin
    }
}

/// A JSONL file of preference pairs, one object a line: `prompt` (a text or TRL's list of
/// messages), `chosen` and `rejected` (each a text or a list with one assistant message),
/// optional `margin`, `id` and other fields (kept with the prompt). The prompt must be explicit:
/// TRL's implicit-prompt rows (whole conversations in `chosen` and `rejected`) are refused with
/// a message saying so. Pairs longer than `maxLength` tokens are dropped and counted, as TRL
/// filters them; a pair that does not fit the model's context is an invalid line.
public struct PreferenceDataset: Sendable {
    /// The file it was read from.
    public var path: String
    /// The pairs kept, in file order.
    public var pairs: [PreferencePair]
    /// Lines skipped in `skipInvalid` mode, with the reason for each.
    public var skipped: [DatasetIssue]
    /// Pairs dropped because prompt + completion exceeds `maxLength` tokens.
    public var numTooLong: Int
    /// Tokens of the longest prompt + completion kept (what a batch's memory is sized by).
    public var longestSequence: Int

    /// Reads `path`; every malformed line or field, a character outside `tokenizer` and a pair
    /// beyond `contextLength` is an error naming the file and line (with `skipInvalid`: skipped
    /// and counted). Pairs longer than `maxLength` are dropped; none left is an error.
    public static func load(jsonl path: String, tokenizer: Tokenizer, contextLength: Int, maxLength: Int? = nil,
                            skipInvalid: Bool = false) throws -> PreferenceDataset {
        let requirements = DatasetRequirements(tokenizer: tokenizer, contextLength: contextLength)
        var tooLong = 0, longestKept = 0
        let (pairs, skipped) = try PromptDataset.readObjects(jsonl: path, skipInvalid: skipInvalid) { fields, id -> PreferencePair? in
            let chosen = try PromptDataset.completion(fields.removeValue(forKey: "chosen"), key: "chosen")
            let rejected = try PromptDataset.completion(fields.removeValue(forKey: "rejected"), key: "rejected")
            guard fields["prompt"] != nil || (chosen == nil && rejected == nil) else {
                throw PromptDataset.LineProblem(text: "missing \"prompt\": rft reads explicit-prompt pairs; put the shared start of chosen and rejected in \"prompt\"")
            }
            var margin: Double?
            switch fields.removeValue(forKey: "margin") {
            case nil, .null?: margin = nil
            case .number(let m)? where m.isFinite && abs(m) <= 1e6: margin = m
            default: throw PromptDataset.LineProblem(text: "\"margin\" must be a finite number (at most 1e6 in size)")
            }
            let prompt = try PromptDataset.example(from: &fields, requirements: requirements, id: id)
            guard let chosen else { throw PromptDataset.LineProblem(text: "missing \"chosen\"") }
            guard let rejected else { throw PromptDataset.LineProblem(text: "missing \"rejected\"") }
            let pair = PreferencePair(prompt: prompt, chosen: chosen, rejected: rejected, margin: margin)
            let longest: Int
            do {
                let e = try pair.encoded(tokenizer)
                longest = e.prompt.count + max(e.chosen.count, e.rejected.count)
            } catch let error as TokenizerError {
                throw PromptDataset.LineProblem(text: "\(error) — the model's tokenizer does not have it")
            }
            if longest > contextLength {
                throw PromptDataset.LineProblem(text: "prompt and completion need \(longest) tokens with specials; the model's context is \(contextLength)")
            }
            if let maxLength, longest > maxLength { tooLong += 1; return nil }
            longestKept = max(longestKept, longest)
            return pair
        }
        let kept = pairs.compactMap { $0 }
        guard !kept.isEmpty else {
            throw ConfigError.invalid(key: "max_length", reason: "drops every pair of \(path): all \(tooLong) are longer than \(maxLength ?? 0) tokens")
        }
        return PreferenceDataset(path: path, pairs: kept, skipped: skipped, numTooLong: tooLong, longestSequence: longestKept)
    }
}

extension PreferencePair {
    /// The token ids of the prompt and of each completion (with its end token, as a policy's
    /// sampled completion ends).
    public func encoded(_ tokenizer: Tokenizer) throws -> (prompt: [Int], chosen: [Int], rejected: [Int]) {
        (try tokenizer.encodePrompt(prompt), try tokenizer.encodeCompletion(chosen), try tokenizer.encodeCompletion(rejected))
    }
}
