extension ByteLevelBPETokenizer {
    /// A tokenizer from GGUF metadata (`tokenizer.ggml.model` "gpt2": `.tokens`, `.merges`,
    /// `.token_type`, `.pre`, `.bos_token_id`, `.eos_token_id`, `.padding_token_id`,
    /// `.add_bos_token`, and `tokenizer.chat_template`), as transformers reads it: control
    /// tokens (type 3) become special added tokens and user-defined ones (type 4) plain added
    /// tokens, when spelled in the byte alphabet. `preTokenizer` overrides `.pre` (which is
    /// read with llama.cpp's names; absent means gpt2's regex).
    public init(gguf metadata: GGUFMetadata, preTokenizer override: PreTokenizer? = nil) throws {
        let source = metadata.path
        let model = try metadata.string("tokenizer.ggml.model")
        guard model == "gpt2" else {
            throw TokenizerLoadError.unsupported(source: source, what: "tokenizer.ggml.model \(model.debugDescription) (only byte-level BPE, \"gpt2\")")
        }
        var pre = PreTokenizer.gpt2
        if let name = metadata["tokenizer.ggml.pre"] {
            guard let s = name.string else {
                throw ImportError.metadataType(path: source, key: "tokenizer.ggml.pre", expected: "STRING", found: name.typeDescription)
            }
            guard let p = PreTokenizer(ggmlName: s) else {
                throw TokenizerLoadError.unsupported(source: source, what: "tokenizer.ggml.pre \(s.debugDescription)")
            }
            pre = p
        }
        let raw = try metadata.strings("tokenizer.ggml.tokens")
        let types = metadata.contains("tokenizer.ggml.token_type") ? try metadata.ints("tokenizer.ggml.token_type") : []
        guard types.isEmpty || types.count == raw.count else {
            throw TokenizerLoadError.malformed(source: source, reason: "\(types.count) token types for \(raw.count) tokens")
        }
        // Tokens outside the byte alphabet are respelled from their UTF-8 (transformers does so).
        let tokens = raw.map { ByteLevelAlphabet.bytes(spelledBy: $0) == nil ? ByteLevelAlphabet.spell($0.utf8) : $0 }
        var idOf: [String: Int] = [:]
        idOf.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() { idOf[t] = i }
        var merges: [(Int, Int)] = []
        // a vocabulary of single bytes has no merges, and a writer may leave the empty list out
        let lines = metadata.contains("tokenizer.ggml.merges") ? try metadata.strings("tokenizer.ggml.merges") : []
        merges.reserveCapacity(lines.count)
        for (k, line) in lines.enumerated() {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let a = idOf[String(parts[0])], let b = idOf[String(parts[1])] else {
                throw TokenizerLoadError.malformed(source: source, reason: "tokenizer.ggml.merges[\(k)] \(line.debugDescription) is not two tokens of the vocabulary")
            }
            merges.append((a, b))
        }
        var added: [AddedToken] = []
        for (i, t) in types.enumerated() where (t == 3 || t == 4) && ByteLevelAlphabet.bytes(spelledBy: raw[i]) != nil && !raw[i].isEmpty {
            added.append(AddedToken(id: i, content: raw[i], special: t == 3))
        }
        func id(_ key: String) throws -> Int? { metadata.contains(key) ? try metadata.int(key) : nil }
        try self.init(tokens: tokens, merges: merges, addedTokens: added, preTokenizer: override ?? pre, ignoreMerges: false,
                      bosTokenID: try id("tokenizer.ggml.bos_token_id"), eosTokenID: try id("tokenizer.ggml.eos_token_id"),
                      padTokenID: try id("tokenizer.ggml.padding_token_id"),
                      addBOS: metadata.contains("tokenizer.ggml.add_bos_token") ? try metadata.bool("tokenizer.ggml.add_bos_token") : false,
                      chatTemplate: metadata.contains("tokenizer.chat_template") ? try metadata.string("tokenizer.chat_template") : nil,
                      source: source)
    }
}
