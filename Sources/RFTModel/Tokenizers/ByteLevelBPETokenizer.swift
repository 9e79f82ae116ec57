import RFTTensor

/// A byte-level BPE tokenizer (GPT-2, Llama 3, Qwen2, SmolLM), equal to Hugging Face
/// `tokenizers` token for token: added tokens are matched first (leftmost-longest), the rest is
/// split by the model's `PreTokenizer`, and each piece is BPE-merged over its UTF-8 bytes
/// (cached per piece). Decoding is the exact inverse. Built from a `tokenizer.json`, GGUF
/// metadata or tiktoken ranks; Codable as tokens + merges, so a checkpoint can hold it.
public struct ByteLevelBPETokenizer: Sendable {
    /// Each id's token, spelled in GPT-2's byte alphabet (as tokenizer.json and GGUF do); "" for
    /// an unused id.
    public let tokens: [String]
    /// The merges as (left, right) token ids, highest priority first.
    public let merges: [(Int, Int)]
    /// Tokens matched before pre-tokenization.
    public let addedTokens: [AddedToken]
    /// How text is split before BPE.
    public let preTokenizer: PreTokenizer
    /// Hugging Face's `ignore_merges`: a piece that is a token is that token (tiktoken, Llama 3).
    public let ignoreMerges: Bool
    /// Beginning-of-sequence token, if the model has one.
    public var bosTokenID: Int?
    /// End-of-sequence token, if the model has one.
    public var eosTokenID: Int?
    /// Padding token, if the model has one.
    public var padTokenID: Int?
    /// Whether prompts start with BOS (`add_bos_token`).
    public var addBOS: Bool
    /// The chat template (Jinja text, kept as data).
    public var chatTemplate: String?

    let model: BPEMerges
    let matcher: AddedTokenMatcher
    /// Bytes each id decodes to (an added token: its content).
    let decodeBytes: [[UInt8]]
    let specialIDs: Set<Int>
    let cache = PieceCache()

    /// A tokenizer from its parts; `merges` name token ids (left, right), highest priority first,
    /// and each merged pair's bytes must be a token.
    public init(tokens: [String], merges: [(Int, Int)], addedTokens: [AddedToken] = [], preTokenizer: PreTokenizer,
                ignoreMerges: Bool = false, bosTokenID: Int? = nil, eosTokenID: Int? = nil, padTokenID: Int? = nil,
                addBOS: Bool = false, chatTemplate: String? = nil, source: String = "<tokenizer>") throws {
        var tokens = tokens
        for t in addedTokens {
            guard t.id >= 0, t.id < 1 << 24 else { throw TokenizerLoadError.malformed(source: source, reason: "added token id \(t.id)") }
            if t.id >= tokens.count { tokens += [String](repeating: "", count: t.id + 1 - tokens.count) }
            if tokens[t.id].isEmpty { tokens[t.id] = ByteLevelAlphabet.spell(t.content.utf8) }
        }
        guard tokens.count < 1 << 24 else { throw TokenizerLoadError.malformed(source: source, reason: "\(tokens.count) tokens") }
        let bytes = tokens.map(ByteLevelAlphabet.tokenBytes)
        var byId: [ArraySlice<UInt8>: Int32] = [:]
        byId.reserveCapacity(tokens.count)
        for (i, b) in bytes.enumerated() where !b.isEmpty { byId[b[...]] = Int32(i) }  // last wins, as a Python dict
        var byteToken = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteToken[b] = byId[[UInt8(b)][...]] ?? -1 }
        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(merges.count)
        for (k, (a, b)) in merges.enumerated() {
            guard a >= 0, a < tokens.count, b >= 0, b < tokens.count else {
                throw TokenizerLoadError.malformed(source: source, reason: "merge \(k) names token ids \(a) \(b) outside 0..<\(tokens.count)")
            }
            guard let m = byId[(bytes[a] + bytes[b])[...]] else {
                throw TokenizerLoadError.malformed(source: source,
                    reason: "merge \(k) (\(tokens[a].debugDescription) \(tokens[b].debugDescription)) makes a token not in the vocabulary")
            }
            table[BPEMerges.key(Int32(a), Int32(b))] = UInt64(k) << 32 | UInt64(UInt32(bitPattern: m))  // last wins, as in tokenizers
        }
        self.tokens = tokens
        self.merges = merges
        self.addedTokens = addedTokens
        self.preTokenizer = preTokenizer
        self.ignoreMerges = ignoreMerges
        for (name, id) in [("bos", bosTokenID), ("eos", eosTokenID), ("pad", padTokenID)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerLoadError.malformed(source: source, reason: "\(name) token id \(id) outside 0..<\(tokens.count)")
            }
        }
        self.bosTokenID = bosTokenID
        self.eosTokenID = eosTokenID
        self.padTokenID = padTokenID
        self.addBOS = addBOS
        self.chatTemplate = chatTemplate
        model = BPEMerges(byteToken: byteToken, table: table, ignoreMerges: ignoreMerges, wholeTokens: ignoreMerges ? byId : [:])
        matcher = AddedTokenMatcher(addedTokens)
        var decode = bytes
        for t in addedTokens { decode[t.id] = Array(t.content.utf8) }
        decodeBytes = decode
        specialIDs = Set(addedTokens.filter(\.special).map(\.id))
    }

    /// Number of token ids: the model's vocabulary size at least.
    public var vocabularySize: Int { tokens.count }

    /// The token ids of `text`. Added tokens in the text are matched unless `parseSpecialTokens`
    /// is false; BOS is prepended when `addSpecialTokens` and the model says so.
    public func encode(_ text: String, addSpecialTokens: Bool = false, parseSpecialTokens: Bool = true) -> [Int] {
        var out: [Int32] = []
        if addSpecialTokens, addBOS, let bos = bosTokenID { out.append(Int32(bos)) }
        let utf8 = Array(text.utf8)
        if utf8.isEmpty { return out.map(Int.init) }
        var scratch = EncodeScratch()
        if parseSpecialTokens && !matcher.isEmpty {
            utf8.withUnsafeBufferPointer { matcher.split($0.baseAddress!, count: $0.count, into: &scratch.segments) }
            for (start, end, id) in scratch.segments {
                if id >= 0 { out.append(Int32(id)) } else { encodePlain(utf8, start, end, &scratch, into: &out) }
            }
        } else {
            encodePlain(utf8, 0, utf8.count, &scratch, into: &out)
        }
        return out.map(Int.init)
    }

    /// Reusable buffers of one `encode` call.
    struct EncodeScratch {
        var segments: [(Int, Int, Int)] = []
        var scalars: [UInt32] = []
        var classes: [UInt8] = []
        var offsets: [Int] = []
        var ends: [Int] = []
    }

    /// Pre-tokenizes and BPE-encodes bytes `[start, end)` (valid UTF-8, no added tokens).
    private func encodePlain(_ text: [UInt8], _ start: Int, _ end: Int, _ s: inout EncodeScratch, into out: inout [Int32]) {
        s.scalars.removeAll(keepingCapacity: true)
        s.classes.removeAll(keepingCapacity: true)
        s.offsets.removeAll(keepingCapacity: true)
        s.ends.removeAll(keepingCapacity: true)
        var i = start
        while i < end {  // decode UTF-8 (valid: it came from a String)
            let b0 = UInt32(text[i])
            var v: UInt32, n: Int
            if b0 < 0x80 { v = b0; n = 1 }
            else if b0 < 0xE0 { v = b0 & 0x1F; n = 2 }
            else if b0 < 0xF0 { v = b0 & 0x0F; n = 3 }
            else { v = b0 & 0x07; n = 4 }
            for k in 1..<n { v = v << 6 | (UInt32(text[i + k]) & 0x3F) }
            s.scalars.append(v)
            s.classes.append(ScalarClass.of(v))
            s.offsets.append(i)
            i += n
        }
        s.offsets.append(end)
        let count = s.scalars.count
        s.scalars.withUnsafeBufferPointer { sp in
            s.classes.withUnsafeBufferPointer { cp in
                preTokenizer.split(sp.baseAddress!, cp.baseAddress!, from: 0, to: count, into: &s.ends)
            }
        }
        var pieceStart = 0
        for e in s.ends {
            encodePiece(text[s.offsets[pieceStart]..<s.offsets[e]], into: &out)
            pieceStart = e
        }
    }

    /// BPE of one piece, through the cache.
    func encodePiece(_ piece: ArraySlice<UInt8>, into out: inout [Int32]) {
        if let hit = cache.get(piece) { out.append(contentsOf: hit); return }
        var ids: [Int32] = []
        model.encode(piece, into: &ids)
        cache.put(piece, ids)
        out.append(contentsOf: ids)
    }

    /// The text of `ids`: the exact inverse of `encode` (invalid UTF-8 from a partial sequence
    /// becomes U+FFFD). Special tokens are dropped when `skipSpecialTokens`; ids outside the
    /// vocabulary are skipped.
    public func decode<S: Sequence>(_ ids: S, skipSpecialTokens: Bool = false) -> String where S.Element == Int {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && id < decodeBytes.count {
            if skipSpecialTokens && specialIDs.contains(id) { continue }
            bytes.append(contentsOf: decodeBytes[id])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The bytes token `id` stands for (an added token: its content), or nil outside the vocabulary.
    public func tokenBytes(_ id: Int) -> [UInt8]? { id >= 0 && id < decodeBytes.count ? decodeBytes[id] : nil }

    /// The id of the added token whose content is `content`, or nil.
    public func addedTokenID(_ content: String) -> Int? { addedTokens.first { $0.content == content }?.id }
}

/// A bounded, thread-safe cache of BPE results per piece (shared by copies of a tokenizer).
final class PieceCache: @unchecked Sendable {
    private let entries = Locked<[ArraySlice<UInt8>: [Int32]]>([:])
    static let capacity = 1 << 16

    func get(_ piece: ArraySlice<UInt8>) -> [Int32]? { entries.withLock { $0[piece] } }

    func put(_ piece: ArraySlice<UInt8>, _ ids: [Int32]) {
        let key = ArraySlice(Array(piece))  // own the bytes: do not keep the caller's text alive
        entries.withLock {
            if $0.count >= PieceCache.capacity { $0.removeAll(keepingCapacity: true) }
            $0[key] = ids
        }
    }
}
