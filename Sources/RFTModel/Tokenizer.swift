/// A model's tokenizer: rft's character vocabulary (its own tiny models) or a byte-level BPE
/// (GPT-2, Llama 3, Qwen2, SmolLM), with the ids that frame prompts and completions. Codable,
/// so a checkpoint stores it and is self-contained.
///
/// - characters: fixed special ids (`<bos>` 0, `<eos>` 1, `<pad>` 2, `<sep>` 3, `<unk>` 4), then
///   one id per character; a prompt is `<bos> x <sep>`, a completion `y <eos>`;
/// - byte-level BPE: the model's own ids; a prompt is `[BOS] x` (BOS when the model adds one), a
///   completion `y <eos>`; generation stops at EOS;
/// - with a chat template (`withChatTemplate`): a prompt is the conversation rendered by the
///   template with the assistant's header appended (a plain prompt is one user message), a
///   completion `y <end-of-turn>`; generation stops at the end-of-turn token (and EOS).
public struct Tokenizer: Codable, Equatable, Sendable {
    /// Beginning of sequence in a character vocabulary: the first token of every prompt.
    public static let bos = 0
    /// End of sequence in a character vocabulary: the last token of every completion.
    public static let eos = 1
    /// Padding in a character vocabulary (never predicted; fills unused positions).
    public static let pad = 2
    /// Separator between prompt and completion in a character vocabulary (`<bos> x <sep> y <eos>`).
    public static let sep = 3
    /// Unknown character (used only when encoding with `.mapToUnknown`).
    public static let unk = 4
    /// The character vocabulary's special tokens' printed names, in id order.
    public static let specialTokens = ["<bos>", "<eos>", "<pad>", "<sep>", "<unk>"]

    /// The two kinds of vocabulary.
    public enum Vocabulary: Equatable, Sendable {
        /// rft's own: specials, then one id per character.
        case characters(CharacterVocabulary)
        /// A pretrained model's byte-level BPE.
        case byteLevel(ByteLevelBPETokenizer)
    }

    /// The vocabulary.
    public let vocabulary: Vocabulary
    /// The chat template prompts are rendered with (nil: plain prompts). A setting of the run,
    /// not part of the stored tokenizer: a checkpoint keeps the template text, not the choice.
    public private(set) var chatTemplate: ChatTemplate?
    /// The chat template's end-of-turn token id, when a template is set.
    public private(set) var endOfTurnID: Int?

    /// A character tokenizer over `characters` (duplicates dropped, sorted by Unicode scalar
    /// order so the same set always gives the same ids).
    public init<S: Sequence>(characters: S) where S.Element == Character {
        self.init(vocabulary: .characters(CharacterVocabulary(characters: characters)))
    }

    /// A character tokenizer over every character that occurs in `texts`.
    public init<S: Sequence>(corpus texts: S) where S.Element == String {
        var set = Set<Character>()
        for t in texts { set.formUnion(t) }
        self.init(characters: set)
    }

    /// A pretrained model's byte-level BPE; throws when it names no end-of-sequence token.
    public init(byteLevel bpe: ByteLevelBPETokenizer) throws {
        guard let eos = bpe.eosTokenID, eos >= 0, eos < bpe.vocabularySize else { throw TokenizerError.noEndOfSequence }
        self.init(vocabulary: .byteLevel(bpe))
    }

    init(vocabulary: Vocabulary) { self.vocabulary = vocabulary }

    /// Number of token ids: at most the model's vocabulary size.
    public var vocabularySize: Int {
        switch vocabulary {
        case .characters(let c): return Tokenizer.specialTokens.count + c.characters.count
        case .byteLevel(let b): return b.vocabularySize
        }
    }

    /// The ordinary characters of a character vocabulary, in id order (empty for a BPE).
    public var characters: [Character] {
        if case .characters(let c) = vocabulary { return c.characters }
        return []
    }

    /// The token that ends a completion.
    public var eosID: Int {
        switch vocabulary {
        case .characters: return Tokenizer.eos
        case .byteLevel(let b): return b.eosTokenID!
        }
    }

    /// The token that pads rows of a batch (a BPE without one pads with EOS; padding is masked).
    public var padID: Int {
        switch vocabulary {
        case .characters: return Tokenizer.pad
        case .byteLevel(let b): return b.padTokenID ?? b.eosTokenID!
        }
    }

    /// The tokens generation stops at: EOS, and the chat template's end-of-turn token.
    public var stopTokens: [Int] {
        guard let eot = endOfTurnID, eot != eosID else { return [eosID] }
        return [eot, eosID]
    }

    /// The chat template the tokenizer's own template text names (GGUF `tokenizer.chat_template`,
    /// `tokenizer_config.json` `chat_template`), nil when it carries none (character vocabularies
    /// never do); throws `ChatTemplateError` for a text rft does not render.
    public func recognizedChatTemplate() throws -> ChatTemplate? {
        guard case .byteLevel(let b) = vocabulary, let text = b.chatTemplate else { return nil }
        return try ChatTemplate(recognizing: text)
    }

    /// This tokenizer rendering prompts with `template` (nil: plain prompts); throws
    /// `ChatTemplateError.missingTokens` when the vocabulary lacks the template's added tokens.
    public func withChatTemplate(_ template: ChatTemplate?) throws -> Tokenizer {
        var out = Tokenizer(vocabulary: vocabulary)
        guard let template else { return out }
        var bpe: ByteLevelBPETokenizer?
        if case .byteLevel(let b) = vocabulary { bpe = b }
        let missing = template.requiredTokens.filter { bpe?.addedTokenID($0) == nil }  // a character vocabulary has none
        guard missing.isEmpty, let eot = bpe?.addedTokenID(template.endOfTurn) else {
            throw ChatTemplateError.missingTokens(template: template.name, missing: missing)
        }
        out.chatTemplate = template
        out.endOfTurnID = eot
        return out
    }

    /// What `encode` does with a character outside a character vocabulary.
    public enum UnknownPolicy: Sendable {
        /// Throw `TokenizerError.unknownCharacter` (the default).
        case error
        /// Encode it as `<unk>`.
        case mapToUnknown
    }

    /// Token ids of `text` (no special tokens added; a BPE matches special tokens written in the text).
    /// A character vocabulary throws `TokenizerError.unknownCharacter` naming the character and its
    /// offset unless `unknown` is `.mapToUnknown`; a byte-level BPE encodes any text.
    public func encode(_ text: String, unknown: UnknownPolicy = .error) throws -> [Int] {
        switch vocabulary {
        case .characters(let c): return try c.encode(text, unknown: unknown)
        case .byteLevel(let b): return b.encode(text)
        }
    }

    /// The token ids of a prompt: `<bos> x <sep>` (characters), `[BOS] x` (BPE), or with a chat
    /// template the one-message conversation `[user: x]` rendered (`encodePrompt(messages:)`).
    public func encodePrompt(_ x: String, unknown: UnknownPolicy = .error) throws -> [Int] {
        if chatTemplate != nil { return try encodePrompt(messages: [.user(x)]) }
        switch vocabulary {
        case .characters: return [Tokenizer.bos] + (try encode(x, unknown: unknown)) + [Tokenizer.sep]
        case .byteLevel(let b): return b.encode(x, addSpecialTokens: true)
        }
    }

    /// The token ids of a conversation rendered with the chat template, the assistant's header
    /// appended — Hugging Face's `apply_chat_template(messages, add_generation_prompt=True)`: BOS
    /// only where the template writes it (never added a second time). Throws
    /// `ChatTemplateError.noTemplate` without a template.
    public func encodePrompt(messages: [ChatMessage]) throws -> [Int] {
        guard let chatTemplate, case .byteLevel(let b) = vocabulary else { throw ChatTemplateError.noTemplate }
        return b.encode(chatTemplate.render(messages, bosToken: b.bosTokenID.map(token)))
    }

    /// The token ids of a completion: `y <eos>`, or with a chat template the assistant's text
    /// followed by the end-of-turn token (as TRL trains on conversational data).
    public func encodeCompletion(_ y: String, unknown: UnknownPolicy = .error) throws -> [Int] {
        if let chatTemplate, let endOfTurnID { return (try encode(chatTemplate.assistantContent(y))) + [endOfTurnID] }
        return (try encode(y, unknown: unknown)) + [eosID]
    }

    /// The text of `ids`. Special tokens are dropped when `skipSpecialTokens`, else written as
    /// their names (`<eos>`); ids outside a character vocabulary are written as `<?id>`.
    public func decode<S: Sequence>(_ ids: S, skipSpecialTokens: Bool = true) -> String where S.Element == Int {
        switch vocabulary {
        case .characters(let c): return c.decode(ids, skipSpecialTokens: skipSpecialTokens)
        case .byteLevel(let b): return b.decode(ids, skipSpecialTokens: skipSpecialTokens)
        }
    }

    /// The text of a generated completion: the tokens before the first stop token, decoded
    /// without special tokens (no end-of-turn token, no template markup).
    public func completionText<C: Collection>(_ tokens: C) -> String where C.Element == Int {
        let stops = stopTokens
        return decode(tokens.prefix { !stops.contains($0) })
    }

    /// The tokenizer in one line of words: `byte-level BPE (smollm), 49152 tokens, 17 added, BOS
    /// "<|im_start|>" (1), EOS "<|im_end|>" (2), chat template` or `characters: 12 ("+0123456789=")`.
    public var summary: String {
        switch vocabulary {
        case .characters(let c):
            let shown = String(c.characters.prefix(80))
            return "characters: \(c.characters.count) (\((c.characters.count > 80 ? shown + "…" : shown).debugDescription)) after \(Tokenizer.specialTokens.count) special tokens"
        case .byteLevel(let b):
            var parts = ["byte-level BPE (\(b.preTokenizer.rawValue))", "\(b.vocabularySize) tokens", "\(b.merges.count) merges", "\(b.addedTokens.count) added"]
            for (name, id) in [("BOS", b.bosTokenID), ("EOS", b.eosTokenID), ("pad", b.padTokenID)] {
                if let id { parts.append("\(name) \(token(id).debugDescription) (\(id))") }
            }
            if b.addBOS { parts.append("prompts start with BOS") }
            if b.chatTemplate != nil {
                let name = (try? recognizedChatTemplate())?.map(\.name) ?? "not one rft renders"
                parts.append("chat template (\(name))")
            }
            return parts.joined(separator: ", ")
        }
    }

    /// The printed form of one id (`"a"`, `"<eos>"`).
    public func token(_ id: Int) -> String { decode([id], skipSpecialTokens: false) }

    private enum CodingKeys: String, CodingKey { case kind }

    /// Decodes a character vocabulary (`{"kind": "char", …}`) or a byte-level BPE
    /// (`{"kind": "byte-level-bpe", …}`).
    public init(from decoder: Decoder) throws {
        let kind = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .kind)
        if kind == ByteLevelBPETokenizer.kind {
            do { try self.init(byteLevel: try ByteLevelBPETokenizer(from: decoder)) } catch let e as TokenizerError {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: e.description))
            }
        } else {
            self.init(vocabulary: .characters(try CharacterVocabulary(from: decoder)))
        }
    }

    /// Encodes the vocabulary in its own form.
    public func encode(to encoder: Encoder) throws {
        switch vocabulary {
        case .characters(let c): try c.encode(to: encoder)
        case .byteLevel(let b): try b.encode(to: encoder)
        }
    }
}

/// rft's character vocabulary: the special tokens, then one id per character.
public struct CharacterVocabulary: Codable, Equatable, Sendable {
    /// The ordinary characters, in id order (id = `Tokenizer.specialTokens.count` + index).
    public let characters: [Character]
    private let index: [Character: Int]

    /// A vocabulary over `characters` (duplicates dropped, sorted by Unicode scalar order).
    public init<S: Sequence>(characters: S) where S.Element == Character {
        self.init(ordered: Array(Set(characters)).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
    }

    /// A vocabulary over `characters` in this order (unique).
    init(ordered characters: [Character]) {
        self.characters = characters
        index = Dictionary(uniqueKeysWithValues: characters.enumerated().map { ($1, $0 + Tokenizer.specialTokens.count) })
    }

    /// Token ids of `text` (no special tokens added).
    func encode(_ text: String, unknown: Tokenizer.UnknownPolicy) throws -> [Int] {
        var ids: [Int] = []
        ids.reserveCapacity(text.count)
        for (offset, ch) in text.enumerated() {
            if let id = index[ch] {
                ids.append(id)
            } else if unknown == .mapToUnknown {
                ids.append(Tokenizer.unk)
            } else {
                throw TokenizerError.unknownCharacter(ch, offset: offset, text: text)
            }
        }
        return ids
    }

    /// The text of `ids` (see `Tokenizer.decode`).
    func decode<S: Sequence>(_ ids: S, skipSpecialTokens: Bool) -> String where S.Element == Int {
        var out = ""
        let specials = Tokenizer.specialTokens.count
        for id in ids {
            if id >= specials && id < specials + characters.count {
                out.append(characters[id - specials])
            } else if id >= 0 && id < specials {
                if !skipSpecialTokens { out += Tokenizer.specialTokens[id] }
            } else {
                out += "<?\(id)>"
            }
        }
        return out
    }

    private enum CodingKeys: String, CodingKey { case kind, specialTokens, characters }

    /// Decodes from `{"kind": "char", "specialTokens": [...], "characters": ["a", ...]}`,
    /// checking that the specials match this version and the characters are unique single characters.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        guard kind == "char" else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "tokenizer kind '\(kind)' is not 'char'")
        }
        let specials = try c.decode([String].self, forKey: .specialTokens)
        guard specials == Tokenizer.specialTokens else {
            throw DecodingError.dataCorruptedError(forKey: .specialTokens, in: c,
                                                   debugDescription: "special tokens \(specials), expected \(Tokenizer.specialTokens)")
        }
        let strings = try c.decode([String].self, forKey: .characters)
        var chars: [Character] = []
        for s in strings {
            guard s.count == 1, let ch = s.first else {
                throw DecodingError.dataCorruptedError(forKey: .characters, in: c, debugDescription: "'\(s)' is not one character")
            }
            chars.append(ch)
        }
        guard Set(chars).count == chars.count else {
            throw DecodingError.dataCorruptedError(forKey: .characters, in: c, debugDescription: "duplicate characters")
        }
        self.init(ordered: chars)  // keep the stored order: ids must not move
    }

    /// Encodes the kind, the special tokens and the characters in id order.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("char", forKey: .kind)
        try c.encode(Tokenizer.specialTokens, forKey: .specialTokens)
        try c.encode(characters.map { String($0) }, forKey: .characters)
    }

    /// Two tokenizers are equal when they give every character the same id.
    public static func == (a: CharacterVocabulary, b: CharacterVocabulary) -> Bool { a.characters == b.characters }
}

/// Errors from encoding text.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// `character` at character offset `offset` of `text` is not in the vocabulary.
    case unknownCharacter(Character, offset: Int, text: String)
    /// A byte-level BPE without an end-of-sequence token cannot end a completion.
    case noEndOfSequence
    /// The tokenizer cannot be written in Hugging Face's form, and why.
    case notExportable(String)

    /// A one-line explanation naming the character and where it is.
    public var description: String {
        switch self {
        case .unknownCharacter(let ch, let offset, let text):
            let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
            return "unknown character \(String(ch).debugDescription) (U+\(ch.unicodeScalars.map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " U+"))) at offset \(offset) in \(shown.debugDescription)"
        case .noEndOfSequence: return "the tokenizer names no end-of-sequence token (eos_token_id / tokenizer.ggml.eos_token_id)"
        case .notExportable(let reason): return "the tokenizer cannot be exported: \(reason)"
        }
    }
}
