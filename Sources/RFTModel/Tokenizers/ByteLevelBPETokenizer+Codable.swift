/// The stored form: `{"kind": "byte-level-bpe", "preTokenizer", "ignoreMerges", "tokens": [spelled
/// strings], "merges": [left, right, left, right, …], "addedTokens", "bosTokenID", "eosTokenID",
/// "padTokenID", "addBOS", "chatTemplate"}` — tokens and merge ids only, the tables are rebuilt
/// (and checked) on decoding.
extension ByteLevelBPETokenizer: Codable, Equatable {
    private enum CodingKeys: String, CodingKey {
        case kind, preTokenizer, ignoreMerges, tokens, merges, addedTokens, bosTokenID, eosTokenID, padTokenID, addBOS, chatTemplate
    }

    /// The `kind` this type writes.
    public static let kind = "byte-level-bpe"

    /// Decodes and validates the stored form (see the extension's comment).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try c.decode(String.self, forKey: .kind)
        guard kind == ByteLevelBPETokenizer.kind else {
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "tokenizer kind '\(kind)' is not '\(ByteLevelBPETokenizer.kind)'")
        }
        let flat = try c.decode([Int].self, forKey: .merges)
        guard flat.count % 2 == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .merges, in: c, debugDescription: "odd number of merge ids")
        }
        let merges = stride(from: 0, to: flat.count, by: 2).map { (flat[$0], flat[$0 + 1]) }
        do {
            try self.init(tokens: try c.decode([String].self, forKey: .tokens), merges: merges,
                          addedTokens: try c.decode([AddedToken].self, forKey: .addedTokens),
                          preTokenizer: try c.decode(PreTokenizer.self, forKey: .preTokenizer),
                          ignoreMerges: try c.decode(Bool.self, forKey: .ignoreMerges),
                          bosTokenID: try c.decodeIfPresent(Int.self, forKey: .bosTokenID),
                          eosTokenID: try c.decodeIfPresent(Int.self, forKey: .eosTokenID),
                          padTokenID: try c.decodeIfPresent(Int.self, forKey: .padTokenID),
                          addBOS: try c.decode(Bool.self, forKey: .addBOS),
                          chatTemplate: try c.decodeIfPresent(String.self, forKey: .chatTemplate), source: "stored tokenizer")
        } catch let error as TokenizerLoadError {
            throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: error.description))
        }
    }

    /// Encodes the stored form.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ByteLevelBPETokenizer.kind, forKey: .kind)
        try c.encode(preTokenizer, forKey: .preTokenizer)
        try c.encode(ignoreMerges, forKey: .ignoreMerges)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(merges.flatMap { [$0.0, $0.1] }, forKey: .merges)
        try c.encode(addedTokens, forKey: .addedTokens)
        try c.encodeIfPresent(bosTokenID, forKey: .bosTokenID)
        try c.encodeIfPresent(eosTokenID, forKey: .eosTokenID)
        try c.encodeIfPresent(padTokenID, forKey: .padTokenID)
        try c.encode(addBOS, forKey: .addBOS)
        try c.encodeIfPresent(chatTemplate, forKey: .chatTemplate)
    }

    /// Equal when they store the same thing (and so encode alike).
    public static func == (a: Self, b: Self) -> Bool {
        a.tokens == b.tokens && a.merges.elementsEqual(b.merges, by: ==) && a.addedTokens == b.addedTokens
            && a.preTokenizer == b.preTokenizer && a.ignoreMerges == b.ignoreMerges && a.bosTokenID == b.bosTokenID
            && a.eosTokenID == b.eosTokenID && a.padTokenID == b.padTokenID && a.addBOS == b.addBOS && a.chatTemplate == b.chatTemplate
    }
}
