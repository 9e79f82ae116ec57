extension ByteLevelBPETokenizer {
    /// A tokenizer from a Hugging Face `tokenizer.json` (a BPE model over the byte alphabet, no
    /// normalizer, a ByteLevel decoder, and one of the pre-tokenizers of `PreTokenizer`), with
    /// BOS/EOS/PAD, `add_bos_token` and the chat template from `tokenizer_config.json` when given.
    public init(tokenizerJSON: [UInt8], config: [UInt8]? = nil, source: String = "tokenizer.json") throws {
        let json = try TokenizerJSON.parse(tokenizerJSON, source: source)
        func bad(_ reason: String) -> TokenizerLoadError { .malformed(source: source, reason: reason) }
        func unsupported(_ what: String) -> TokenizerLoadError { .unsupported(source: source, what: what) }

        if let n = json["normalizer"], !n.isNull { throw unsupported("normalizer \(TokenizerJSON.describe(n))") }
        let pre = try TokenizerJSON.preTokenizer(json["pre_tokenizer"] ?? .null, source: source)
        if let d = json["decoder"], !d.isNull, d["type"]?.string != "ByteLevel" { throw unsupported("decoder \(TokenizerJSON.describe(d))") }

        guard let model = json["model"], model.object != nil else { throw bad("no object \"model\"") }
        guard model["type"]?.string ?? "BPE" == "BPE" else { throw unsupported("model type \(model["type"]?.string ?? "?")") }
        if model["byte_fallback"]?.bool == true { throw unsupported("byte_fallback (a sentencepiece-style BPE)") }
        if let d = model["dropout"], !d.isNull { throw unsupported("BPE dropout") }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key]?.string, !v.isEmpty { throw unsupported("\(key) \(v.debugDescription)") }
        }
        guard let vocab = model["vocab"]?.object else { throw bad("no object model.vocab") }
        var tokens: [String] = []
        var idOf: [String: Int] = [:]
        idOf.reserveCapacity(vocab.count)
        for (token, value) in vocab {
            guard let id = value.int, id >= 0, id < 1 << 24 else { throw bad("model.vocab[\(token.debugDescription)] is not an id") }
            if id >= tokens.count { tokens += [String](repeating: "", count: id + 1 - tokens.count) }
            guard tokens[id].isEmpty else { throw bad("id \(id) is given to \(tokens[id].debugDescription) and \(token.debugDescription)") }
            tokens[id] = token
            idOf[token] = id
        }
        guard let mergeList = model["merges"]?.array else { throw bad("no array model.merges") }
        var merges: [(Int, Int)] = []
        merges.reserveCapacity(mergeList.count)
        for (k, m) in mergeList.enumerated() {
            var pair: [String] = []
            if let s = m.string { pair = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init) }
            else if let a = m.array { pair = a.compactMap(\.string) }
            guard pair.count == 2, let a = idOf[pair[0]], let b = idOf[pair[1]] else {
                throw bad("model.merges[\(k)] is not a pair of vocabulary tokens")
            }
            merges.append((a, b))
        }
        var added: [AddedToken] = []
        for (k, t) in (json["added_tokens"]?.array ?? []).enumerated() {
            guard let id = t["id"]?.int, let content = t["content"]?.string else { throw bad("added_tokens[\(k)] lacks id or content") }
            if t["single_word"]?.bool == true { throw unsupported("added token \(content.debugDescription) with single_word") }
            added.append(AddedToken(id: id, content: content, special: t["special"]?.bool ?? false,
                                    normalized: t["normalized"]?.bool ?? !(t["special"]?.bool ?? false),
                                    lstrip: t["lstrip"]?.bool ?? false, rstrip: t["rstrip"]?.bool ?? false))
        }
        var bos: Int?, eos: Int?, pad: Int?, addBOS = false, template: String?
        if let config {
            let c = try TokenizerJSON.parse(config, source: "tokenizer_config.json")
            func tokenID(_ key: String) throws -> Int? {
                guard let v = c[key], !v.isNull else { return nil }
                guard let content = v.string ?? v["content"]?.string else { throw TokenizerLoadError.malformed(source: "tokenizer_config.json", reason: "\(key) is not a token") }
                guard let id = added.first(where: { $0.content == content })?.id ?? idOf[content] else {
                    throw TokenizerLoadError.malformed(source: "tokenizer_config.json", reason: "\(key) \(content.debugDescription) is not a token")
                }
                return id
            }
            bos = try tokenID("bos_token"); eos = try tokenID("eos_token"); pad = try tokenID("pad_token")
            addBOS = c["add_bos_token"]?.bool ?? false
            if let t = c["chat_template"]?.string { template = t }
            else if let list = c["chat_template"]?.array {
                template = list.first { $0["name"]?.string == "default" }?["template"]?.string ?? list.first?["template"]?.string
            }
        }
        try self.init(tokens: tokens, merges: merges, addedTokens: added, preTokenizer: pre,
                      ignoreMerges: model["ignore_merges"]?.bool ?? false, bosTokenID: bos, eosTokenID: eos, padTokenID: pad,
                      addBOS: addBOS, chatTemplate: template, source: source)
    }

    /// Reads `tokenizer.json` (and `tokenizer_config.json` when present) from a Hugging Face folder.
    public init(folder: String) throws {
        let path = folder + "/tokenizer.json", configPath = folder + "/tokenizer_config.json"
        let config: [UInt8]? = (try? FileByteSource(path: configPath)) != nil ? try TokenizerFiles.read(configPath, limit: 64 << 20) : nil
        try self.init(tokenizerJSON: try TokenizerFiles.read(path, limit: 512 << 20), config: config, source: path)
    }
}

/// Parsing helpers for tokenizer.json.
enum TokenizerJSON {
    /// The JSON in `bytes`, as a typed error naming `source` and the offset when malformed.
    static func parse(_ bytes: [UInt8], source: String) throws -> StrictJSON.Value {
        do {
            return try StrictJSON.parse(bytes, maxDepth: 64)
        } catch {
            throw TokenizerLoadError.malformed(source: source, reason: "invalid JSON at byte \(error.offset): \(error.reason)")
        }
    }

    /// A short description of a JSON component (its "type", or the JSON type).
    static func describe(_ v: StrictJSON.Value) -> String { v["type"]?.string.map { "type \($0)" } ?? v.typeName }

    /// Recognises the four supported pre-tokenizer configurations.
    static func preTokenizer(_ v: StrictJSON.Value, source: String) throws -> PreTokenizer {
        func byteLevel(_ b: StrictJSON.Value?, regex: Bool) -> Bool {
            guard let b, b["type"]?.string == "ByteLevel" else { return false }
            return b["add_prefix_space"]?.bool != true && (b["use_regex"]?.bool ?? true) == regex
        }
        if byteLevel(v, regex: true) { return .gpt2 }
        if v["type"]?.string == "Sequence", let parts = v["pretokenizers"]?.array, parts.count == 2 {
            let first = parts[0]
            if first["type"]?.string == "Digits", first["individual_digits"]?.bool == true, byteLevel(parts[1], regex: true) { return .smollm }
            if first["type"]?.string == "Split", first["behavior"]?.string == "Isolated", first["invert"]?.bool != true,
               let pattern = first["pattern"]?["Regex"]?.string, byteLevel(parts[1], regex: false) {
                if pattern == PreTokenizer.llama3Pattern { return .llama3 }
                if pattern == PreTokenizer.qwen2Pattern { return .qwen2 }
                throw TokenizerLoadError.unsupported(source: source, what: "Split regex \(pattern.debugDescription)")
            }
        }
        throw TokenizerLoadError.unsupported(source: source, what: "pre_tokenizer \(describe(v)) (supported: gpt2, llama3, qwen2, smollm)")
    }
}
