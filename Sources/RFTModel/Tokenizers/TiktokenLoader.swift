import Foundation

extension ByteLevelBPETokenizer {
    /// A tokenizer from a tiktoken ranks file (`gpt2.tiktoken`: one `base64-token rank` per
    /// line, ranks 0..<n each once). The merges are implied by the ranks, derived as
    /// transformers' `TikTokenConverter` does: for each token, every split into two tokens is
    /// a merge of the token's rank (ties ordered by the parts' ranks), with `ignoreMerges` set.
    /// `specialTokens` are added after the ranks (GPT-2: `<|endoftext|>` = 50256).
    public init(tiktokenRanks text: String, specialTokens: [(String, Int)] = [("<|endoftext|>", 50256)],
                preTokenizer: PreTokenizer = .gpt2, source: String = "<tiktoken>") throws {
        var byRank: [[UInt8]?] = []
        var rankOf: [[UInt8]: Int] = [:]
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 2, let rank = Int(fields[1]), rank >= 0, rank < 1 << 24 else {
                throw TokenizerLoadError.malformed(source: "\(source):\(lineNumber)", reason: "expected 'base64-token rank'")
            }
            guard let data = Data(base64Encoded: String(fields[0])), !data.isEmpty else {
                throw TokenizerLoadError.malformed(source: "\(source):\(lineNumber)", reason: "token is not non-empty base64")
            }
            let bytes = [UInt8](data)
            guard rankOf[bytes] == nil else { throw TokenizerLoadError.malformed(source: "\(source):\(lineNumber)", reason: "token repeated") }
            if rank >= byRank.count { byRank += [[UInt8]?](repeating: nil, count: rank + 1 - byRank.count) }
            guard byRank[rank] == nil else { throw TokenizerLoadError.malformed(source: "\(source):\(lineNumber)", reason: "rank \(rank) repeated") }
            byRank[rank] = bytes
            rankOf[bytes] = rank
        }
        guard !byRank.isEmpty else { throw TokenizerLoadError.malformed(source: source, reason: "no ranks") }
        if let missing = byRank.firstIndex(where: { $0 == nil }) {
            throw TokenizerLoadError.malformed(source: source, reason: "rank \(missing) is missing (ranks must be 0..<\(byRank.count))")
        }
        var merges: [(Int, Int)] = []
        for token in byRank.map({ $0! }) {
            guard token.count > 1 else { continue }
            var local: [(Int, Int)] = []
            for cut in 1..<token.count {
                if let l = rankOf[Array(token[..<cut])], let r = rankOf[Array(token[cut...])] { local.append((l, r)) }
            }
            local.sort { $0 < $1 }
            merges += local
        }
        var tokens = byRank.map { ByteLevelAlphabet.spell($0!) }
        var added: [AddedToken] = []
        for (content, id) in specialTokens {
            if id >= tokens.count { tokens += [String](repeating: "", count: id + 1 - tokens.count) }
            added.append(AddedToken(id: id, content: content))
        }
        let eos = specialTokens.first { $0.0 == "<|endoftext|>" }?.1
        try self.init(tokens: tokens, merges: merges, addedTokens: added, preTokenizer: preTokenizer, ignoreMerges: true,
                      bosTokenID: eos, eosTokenID: eos, source: source)
    }

    /// Reads a tiktoken ranks file (see `init(tiktokenRanks:)`).
    public init(tiktokenFile path: String, specialTokens: [(String, Int)] = [("<|endoftext|>", 50256)],
                preTokenizer: PreTokenizer = .gpt2) throws {
        let bytes = try TokenizerFiles.read(path, limit: 256 << 20)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw TokenizerLoadError.malformed(source: path, reason: "not UTF-8 text") }
        try self.init(tiktokenRanks: text, specialTokens: specialTokens, preTokenizer: preTokenizer, source: path)
    }
}

/// Small file helpers shared by the tokenizer loaders.
enum TokenizerFiles {
    /// The whole file at `path` (a regular file of at most `limit` bytes).
    static func read(_ path: String, limit: UInt64) throws -> [UInt8] {
        let source = try FileByteSource(path: path)
        guard source.size <= limit else {
            throw ImportError.sizeOutOfBounds(path: path, field: "file size", value: source.size, limit: limit)
        }
        return try source.bytes(at: 0, count: source.size, section: "file")
    }
}
