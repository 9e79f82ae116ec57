/// A token matched in the text before pre-tokenization and BPE (Hugging Face's `added_tokens`):
/// special tokens such as `<|im_start|>` and user-defined ones such as `<think>`.
public struct AddedToken: Codable, Equatable, Sendable {
    /// Its id.
    public var id: Int
    /// The exact text it matches.
    public var content: String
    /// Special tokens are control tokens (dropped by `decode(skipSpecialTokens: true)`).
    public var special: Bool
    /// Hugging Face's `normalized`: matched in a second pass, after the tokens that are not.
    public var normalized: Bool
    /// Also swallow the whitespace before it.
    public var lstrip: Bool
    /// Also swallow the whitespace after it.
    public var rstrip: Bool

    /// An added token (defaults: special, not normalized, no stripping).
    public init(id: Int, content: String, special: Bool = true, normalized: Bool = false, lstrip: Bool = false, rstrip: Bool = false) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized
        self.lstrip = lstrip
        self.rstrip = rstrip
    }
}

/// Finds added tokens in UTF-8 text, leftmost-longest as Hugging Face's Aho-Corasick split does:
/// at the leftmost position where some token starts, the longest token starting there wins.
/// Tokens that are not `normalized` are matched first over the whole text, the others then in
/// the stretches between.
struct AddedTokenMatcher: Sendable {
    /// A byte trie: `children[node][byte]` → child node; `token[node]` → index into `tokens` or -1.
    private struct Trie: Sendable {
        var children: [[UInt8: Int32]] = [[:]]
        var token: [Int32] = [-1]
        var first = [Bool](repeating: false, count: 256)

        mutating func insert(_ bytes: [UInt8], _ index: Int32) {
            var node = 0
            for b in bytes {
                if let next = children[node][b] { node = Int(next); continue }
                children.append([:]); token.append(-1)
                children[node][b] = Int32(children.count - 1)
                node = children.count - 1
            }
            token[node] = index
            first[Int(bytes[0])] = true
        }

        var isEmpty: Bool { children.count == 1 }

        /// The longest token starting at `i` (index into tokens, end offset), or nil.
        func longest(_ p: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> (Int, Int)? {
            guard first[Int(p[i])] else { return nil }
            var node = 0, j = i
            var best: (Int, Int)?
            while j < end, let next = children[node][p[j]] {
                node = Int(next)
                j += 1
                if token[node] >= 0 { best = (Int(token[node]), j) }
            }
            return best
        }
    }

    let tokens: [AddedToken]
    private var tiers = [Trie(), Trie()]

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens
        for (k, t) in tokens.enumerated() where !t.content.isEmpty {
            tiers[t.normalized ? 1 : 0].insert(Array(t.content.utf8), Int32(k))
        }
    }

    /// True when there is nothing to match.
    var isEmpty: Bool { tiers[0].isEmpty && tiers[1].isEmpty }

    /// Splits bytes `[0, count)` into segments: `(start, end, id)` with id the added token's,
    /// or -1 for plain text to pre-tokenize.
    func split(_ p: UnsafePointer<UInt8>, count: Int, into segments: inout [(Int, Int, Int)]) {
        segments.removeAll(keepingCapacity: true)
        guard count > 0 else { return }
        var first: [(Int, Int, Int)] = []
        find(tiers[0], p, 0, count, into: &first)
        for seg in first {
            if seg.2 >= 0 || tiers[1].isEmpty { segments.append(seg) } else { find(tiers[1], p, seg.0, seg.1, into: &segments) }
        }
    }

    private func find(_ trie: Trie, _ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int, into out: inout [(Int, Int, Int)]) {
        var plain = start, i = start
        while i < end {
            guard let (k, e) = trie.longest(p, i, end) else { i += 1; continue }
            let t = tokens[k]
            var a = i, b = e
            if t.lstrip { while a > plain, let (v, n) = AddedTokenMatcher.scalar(endingAt: a, p, floor: plain), AddedTokenMatcher.isWhitespace(v) { a -= n } }
            if t.rstrip { while b < end, let (v, n) = AddedTokenMatcher.scalar(startingAt: b, p, end), AddedTokenMatcher.isWhitespace(v) { b += n } }
            if a > plain { out.append((plain, a, -1)) }
            out.append((a, b, t.id))
            plain = b
            i = b
        }
        if plain < end { out.append((plain, end, -1)) }
    }

    /// Rust's `char::is_whitespace` (White_Space), as Hugging Face strips with.
    private static func isWhitespace(_ v: UInt32) -> Bool { ScalarClass.of(v) & ScalarClass.space != 0 }

    /// The scalar whose UTF-8 starts at `i` and its length.
    private static func scalar(startingAt i: Int, _ p: UnsafePointer<UInt8>, _ end: Int) -> (UInt32, Int)? {
        let b0 = UInt32(p[i])
        let n = b0 < 0x80 ? 1 : b0 < 0xE0 ? 2 : b0 < 0xF0 ? 3 : 4
        guard i + n <= end else { return nil }
        var v = n == 1 ? b0 : b0 & (0xFF >> UInt32(n + 1))
        if n > 1 { for k in 1..<n { v = v << 6 | (UInt32(p[i + k]) & 0x3F) } }
        return (v, n)
    }

    /// The scalar whose UTF-8 ends at `i` (not before `floor`) and its length.
    private static func scalar(endingAt i: Int, _ p: UnsafePointer<UInt8>, floor: Int) -> (UInt32, Int)? {
        var j = i - 1
        while j > floor, p[j] & 0xC0 == 0x80 { j -= 1 }
        guard j >= floor, let (v, n) = scalar(startingAt: j, p, i), j + n == i else { return nil }
        return (v, n)
    }
}
