/// A character-level tokenizer built from data, with fixed ids for the special tokens
/// (`<bos>` 0, `<eos>` 1, `<pad>` 2, `<sep>` 3, `<unk>` 4) and one id per character after them.
/// Codable, so a checkpoint stores it and is self-contained.
public struct Tokenizer: Codable, Equatable, Sendable {
    /// Beginning of sequence: the first token of every prompt.
    public static let bos = 0
    /// End of sequence: the last token of every completion.
    public static let eos = 1
    /// Padding (never predicted; fills unused positions).
    public static let pad = 2
    /// Separator between prompt and completion (`<bos> x <sep> y <eos>`).
    public static let sep = 3
    /// Unknown character (used only when encoding with `.mapToUnknown`).
    public static let unk = 4
    /// The special tokens' printed names, in id order.
    public static let specialTokens = ["<bos>", "<eos>", "<pad>", "<sep>", "<unk>"]

    /// The ordinary characters, in id order (id = `specialTokens.count` + index).
    public let characters: [Character]
    private let index: [Character: Int]

    /// A tokenizer over `characters` (duplicates dropped, sorted by Unicode scalar order so the
    /// same set always gives the same ids).
    public init<S: Sequence>(characters: S) where S.Element == Character {
        let unique = Array(Set(characters)).sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        self.characters = unique
        index = Dictionary(uniqueKeysWithValues: unique.enumerated().map { ($1, $0 + Tokenizer.specialTokens.count) })
    }

    /// A tokenizer over every character that occurs in `texts`.
    public init<S: Sequence>(corpus texts: S) where S.Element == String {
        var set = Set<Character>()
        for t in texts { set.formUnion(t) }
        self.init(characters: set)
    }

    /// Number of token ids (specials + characters): the model's vocabulary size.
    public var vocabularySize: Int { Tokenizer.specialTokens.count + characters.count }

    /// What `encode` does with a character outside the vocabulary.
    public enum UnknownPolicy: Sendable {
        /// Throw `TokenizerError.unknownCharacter` (the default).
        case error
        /// Encode it as `<unk>`.
        case mapToUnknown
    }

    /// Token ids of `text` (no special tokens added).
    /// Throws `TokenizerError.unknownCharacter` naming the character and its offset unless `unknown` is `.mapToUnknown`.
    public func encode(_ text: String, unknown: UnknownPolicy = .error) throws -> [Int] {
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

    /// `<bos> x <sep>`: the token ids of a prompt in the task format.
    public func encodePrompt(_ x: String, unknown: UnknownPolicy = .error) throws -> [Int] {
        [Tokenizer.bos] + (try encode(x, unknown: unknown)) + [Tokenizer.sep]
    }

    /// `y <eos>`: the token ids of a completion in the task format.
    public func encodeCompletion(_ y: String, unknown: UnknownPolicy = .error) throws -> [Int] {
        (try encode(y, unknown: unknown)) + [Tokenizer.eos]
    }

    /// The text of `ids`. Special tokens are dropped when `skipSpecialTokens`, else written as
    /// their names (`<eos>`); ids outside the vocabulary are written as `<?id>`.
    public func decode<S: Sequence>(_ ids: S, skipSpecialTokens: Bool = true) -> String where S.Element == Int {
        var out = ""
        for id in ids {
            if id >= Tokenizer.specialTokens.count && id < vocabularySize {
                out.append(characters[id - Tokenizer.specialTokens.count])
            } else if id >= 0 && id < Tokenizer.specialTokens.count {
                if !skipSpecialTokens { out += Tokenizer.specialTokens[id] }
            } else {
                out += "<?\(id)>"
            }
        }
        return out
    }

    /// The printed form of one id (`"a"`, `"<eos>"`).
    public func token(_ id: Int) -> String { decode([id], skipSpecialTokens: false) }

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
        characters = chars  // keep the stored order: ids must not move
        index = Dictionary(uniqueKeysWithValues: chars.enumerated().map { ($1, $0 + Tokenizer.specialTokens.count) })
    }

    /// Encodes the kind, the special tokens and the characters in id order.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("char", forKey: .kind)
        try c.encode(Tokenizer.specialTokens, forKey: .specialTokens)
        try c.encode(characters.map { String($0) }, forKey: .characters)
    }

    /// Two tokenizers are equal when they give every character the same id.
    public static func == (a: Tokenizer, b: Tokenizer) -> Bool { a.characters == b.characters }
}

/// Errors from encoding text.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    /// `character` at character offset `offset` of `text` is not in the vocabulary.
    case unknownCharacter(Character, offset: Int, text: String)

    /// A one-line explanation naming the character and where it is.
    public var description: String {
        switch self {
        case .unknownCharacter(let ch, let offset, let text):
            let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
            return "unknown character \(String(ch).debugDescription) (U+\(ch.unicodeScalars.map { String($0.value, radix: 16, uppercase: true) }.joined(separator: " U+"))) at offset \(offset) in \(shown.debugDescription)"
        }
    }
}
