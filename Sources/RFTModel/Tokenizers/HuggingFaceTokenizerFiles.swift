/// Hugging Face's files for a tokenizer: `tokenizer.json` (as `tokenizers` reads it) and
/// `tokenizer_config.json` (as transformers' `AutoTokenizer` reads it).
///
/// A byte-level BPE is written in the shape `ByteLevelBPETokenizer(tokenizerJSON:)` reads back.
/// A character vocabulary becomes a BPE with no merges over its characters (each character one
/// token, unknown ones `<unk>`), rft's five special tokens, a `<bos> $A <sep>` post-processor (so
/// `tokenizer(x)` gives rft's prompt ids) and a Fuse decoder; `Tokenizer(huggingFaceFolder:)`
/// reads that shape back as the character vocabulary it came from.
extension Tokenizer {
    /// `tokenizer.json`; throws `TokenizerError.notExportable` for a character that is several
    /// Unicode scalars (Hugging Face's BPE would split it).
    public func huggingFaceTokenizerJSON() throws -> [UInt8] {
        Array(try tokenizerJSONValue().text.utf8)
    }

    /// `tokenizer_config.json`; `contextLength` is its `model_max_length`.
    public func huggingFaceTokenizerConfig(contextLength: Int) -> [UInt8] {
        var members: [(key: String, value: StrictJSON.Value)] = [("tokenizer_class", .string("PreTrainedTokenizerFast"))]
        func token(_ key: String, _ id: Int?) {
            if let id { members.append((key, .string(decode([id], skipSpecialTokens: false)))) }
        }
        token("bos_token", bosID)
        token("eos_token", eosID)
        token("pad_token", huggingFacePadID)
        switch vocabulary {
        case .characters:
            token("unk_token", Tokenizer.unk)
            token("sep_token", Tokenizer.sep)
            members.append(("add_bos_token", .bool(true)))
        case .byteLevel(let b):
            members.append(("add_bos_token", .bool(b.addBOS)))
            if let t = b.chatTemplate { members.append(("chat_template", .string(t))) }
        }
        members += [("add_eos_token", .bool(false)), ("clean_up_tokenization_spaces", .bool(false)),
                    ("model_max_length", .integer(contextLength))]
        return Array(StrictJSON.Value.object(members).text.utf8)
    }

    /// The beginning-of-sequence id (character vocabularies: `<bos>`), if any.
    public var bosID: Int? {
        switch vocabulary {
        case .characters: return Tokenizer.bos
        case .byteLevel(let b): return b.bosTokenID
        }
    }

    /// The padding id the model names (a BPE without one has none; rft then pads with EOS).
    public var huggingFacePadID: Int? {
        switch vocabulary {
        case .characters: return Tokenizer.pad
        case .byteLevel(let b): return b.padTokenID
        }
    }

    private func tokenizerJSONValue() throws -> StrictJSON.Value {
        typealias V = StrictJSON.Value
        func addedToken(_ t: AddedToken) -> V {
            .object([("id", .integer(t.id)), ("content", .string(t.content)), ("single_word", .bool(false)), ("lstrip", .bool(t.lstrip)),
                     ("rstrip", .bool(t.rstrip)), ("normalized", .bool(t.normalized)), ("special", .bool(t.special))])
        }
        func bpeModel(vocab: [(key: String, value: V)], merges: [V], unknown: String?, ignoreMerges: Bool) -> V {
            .object([("type", .string("BPE")), ("dropout", .null), ("unk_token", unknown.map { .string($0) } ?? .null),
                     ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                     ("byte_fallback", .bool(false)), ("ignore_merges", .bool(ignoreMerges)), ("vocab", .object(vocab)), ("merges", .array(merges))])
        }
        func template(_ single: [String], _ pair: [String], specials: [(String, Int)]) -> V {
            func piece(_ p: String) -> V {
                p.hasPrefix("$") ? .object([("Sequence", .object([("id", .string(String(p.dropFirst()))), ("type_id", .integer(0))]))])
                                 : .object([("SpecialToken", .object([("id", .string(p)), ("type_id", .integer(0))]))])
            }
            return .object([("type", .string("TemplateProcessing")), ("single", .array(single.map(piece))), ("pair", .array(pair.map(piece))),
                            ("special_tokens", .object(specials.map { name, id in
                                (name, .object([("id", .string(name)), ("ids", .array([.integer(id)])), ("tokens", .array([.string(name)]))]))
                            }))])
        }
        let header: [(key: String, value: V)] = [("version", .string("1.0")), ("truncation", .null), ("padding", .null)]
        switch vocabulary {
        case .characters(let c):
            for ch in c.characters where ch.unicodeScalars.count != 1 {
                throw TokenizerError.notExportable("the character \(String(ch).debugDescription) is \(ch.unicodeScalars.count) Unicode scalars; Hugging Face's BPE splits text into scalars")
            }
            let specials = Tokenizer.specialTokens.enumerated().map { AddedToken(id: $0.offset, content: $0.element) }
            let vocab = Tokenizer.specialTokens.enumerated().map { (key: $0.element, value: V.integer($0.offset)) }
                + c.characters.enumerated().map { (key: String($0.element), value: V.integer($0.offset + specials.count)) }
            let bos = Tokenizer.specialTokens[Tokenizer.bos], sep = Tokenizer.specialTokens[Tokenizer.sep]
            return .object(header + [
                ("added_tokens", .array(specials.map(addedToken))), ("normalizer", .null), ("pre_tokenizer", .null),
                ("post_processor", template([bos, "$A", sep], [bos, "$A", sep, "$B", sep], specials: [(bos, Tokenizer.bos), (sep, Tokenizer.sep)])),
                ("decoder", .object([("type", .string("Fuse"))])),
                ("model", bpeModel(vocab: vocab, merges: [], unknown: Tokenizer.specialTokens[Tokenizer.unk], ignoreMerges: false)),
            ])
        case .byteLevel(let b):
            func byteLevel(regex: Bool) -> V {
                .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)), ("use_regex", .bool(regex))])
            }
            let pre: V
            switch b.preTokenizer {
            case .gpt2: pre = byteLevel(regex: true)
            case .smollm:
                pre = .object([("type", .string("Sequence")), ("pretokenizers", .array([
                    .object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel(regex: true)]))])
            case .llama3, .qwen2:
                let pattern = b.preTokenizer == .llama3 ? PreTokenizer.llama3Pattern : PreTokenizer.qwen2Pattern
                pre = .object([("type", .string("Sequence")), ("pretokenizers", .array([
                    .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])), ("behavior", .string("Isolated")),
                             ("invert", .bool(false))]),
                    byteLevel(regex: false)]))])
            }
            // one id per token string: a repeated string keeps its last id, as encoding does
            var idOf: [String: Int] = [:]
            for (id, t) in b.tokens.enumerated() where !t.isEmpty { idOf[t] = id }
            let vocab = b.tokens.enumerated().compactMap { id, t in idOf[t] == id ? (key: t, value: V.integer(id)) : nil }
            let merges: [V] = b.merges.map { l, r in
                let (a, c) = (b.tokens[l], b.tokens[r])
                return a.contains(" ") || c.contains(" ") ? .array([.string(a), .string(c)]) : .string(a + " " + c)
            }
            var post: V = .null
            if b.addBOS, let bos = b.bosTokenID {
                let name = b.decode([bos], skipSpecialTokens: false)
                post = template([name, "$A"], [name, "$A", name, "$B"], specials: [(name, bos)])
            }
            return .object(header + [
                ("added_tokens", .array(b.addedTokens.map(addedToken))), ("normalizer", .null), ("pre_tokenizer", pre),
                ("post_processor", post), ("decoder", byteLevel(regex: true)),
                ("model", bpeModel(vocab: vocab, merges: merges, unknown: nil, ignoreMerges: b.ignoreMerges)),
            ])
        }
    }

    /// The tokenizer of a Hugging Face folder: a byte-level BPE (`tokenizer.json` and
    /// `tokenizer_config.json`; `eosFallback` when they name no EOS, as config.json may), or the
    /// character vocabulary `rft export` writes for rft's own models (recognised by its shape: no
    /// merges, rft's special tokens first, a Fuse decoder), ids unchanged.
    public init(huggingFaceFolder folder: String, eosFallback: Int? = nil) throws {
        let path = folder + "/tokenizer.json"
        if let characters = try Self.exportedCharacters(try TokenizerFiles.read(path, limit: 512 << 20), source: path) {
            self.init(vocabulary: .characters(CharacterVocabulary(ordered: characters)))
            return
        }
        var bpe = try ByteLevelBPETokenizer(folder: folder)
        if bpe.eosTokenID == nil { bpe.eosTokenID = eosFallback }
        try self.init(byteLevel: bpe)
    }

    /// The characters of a tokenizer.json in the shape `rft export` writes for a character
    /// vocabulary, in id order, or nil when it has another shape.
    static func exportedCharacters(_ bytes: [UInt8], source: String) throws -> [Character]? {
        let json = try TokenizerJSON.parse(bytes, source: source)
        guard json["decoder"]?["type"]?.string == "Fuse", let model = json["model"], model["type"]?.string == "BPE",
              model["merges"]?.array?.isEmpty == true, let vocab = model["vocab"]?.object,
              vocab.count >= Tokenizer.specialTokens.count,
              vocab.prefix(Tokenizer.specialTokens.count).map(\.key) == Tokenizer.specialTokens else { return nil }
        var characters: [Character] = [], seen = Set<Character>()
        for (k, (token, id)) in vocab.enumerated() {
            guard id.int == k else {
                throw TokenizerLoadError.malformed(source: source, reason: "model.vocab[\(token.debugDescription)] is \(id), expected id \(k)")
            }
            guard k >= Tokenizer.specialTokens.count else { continue }
            guard token.count == 1, let ch = token.first, seen.insert(ch).inserted else {
                throw TokenizerLoadError.malformed(source: source, reason: "model.vocab[\(token.debugDescription)] is not one new character")
            }
            characters.append(ch)
        }
        return characters
    }
}
