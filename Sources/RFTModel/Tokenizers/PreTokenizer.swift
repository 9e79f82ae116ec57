/// How text is split into pieces before BPE: the regexes of Hugging Face's pre-tokenizers,
/// implemented by hand over Unicode scalars (see `ScalarClass`), each alternative tried in
/// order at each position as the regex engine does:
///
/// - `gpt2` (ByteLevel, use_regex): `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `llama3` (Split + ByteLevel): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
/// - `qwen2`: llama3's with `\p{N}` (single digits) in place of `\p{N}{1,3}`
/// - `smollm` (Digits(individual_digits) then ByteLevel): every `\p{N}` scalar alone, then gpt2's
///   regex on each stretch between them (its lookahead sees a stretch's end as the text's end)
public enum PreTokenizer: String, Codable, CaseIterable, Sendable {
    case gpt2, llama3, qwen2, smollm

    /// The pre-tokenizer a GGUF file's `tokenizer.ggml.pre` names (llama.cpp's names), or nil.
    public init?(ggmlName: String) {
        switch ggmlName {
        case "gpt2", "gpt-2", "default", "mpt", "olmo", "jais": self = .gpt2
        case "llama3", "llama-v3", "llama-bpe", "llama3-bpe", "smaug-bpe", "dbrx", "falcon3": self = .llama3
        case "qwen2", "deepseek-r1-qwen", "megrez": self = .qwen2
        case "smollm", "starcoder", "refact", "codeshell": self = .smollm
        default: return nil
        }
    }

    /// Hugging Face's Split regex of `llama3` (tokenizer.json spells it so).
    public static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// Hugging Face's Split regex of `qwen2`.
    public static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// Appends to `ends` the end index of each piece of scalars `[start, end)` (`s` the scalar
    /// values, `c` their `ScalarClass` flags).
    func split(_ s: UnsafePointer<UInt32>, _ c: UnsafePointer<UInt8>, from start: Int, to end: Int, into ends: inout [Int]) {
        var i = start
        switch self {
        case .gpt2:
            while i < end { i = PreTokenizer.gpt2Piece(s, c, i, end); ends.append(i) }
        case .llama3:
            while i < end { i = PreTokenizer.llama3Piece(s, c, i, end, maxDigits: 3); ends.append(i) }
        case .qwen2:
            while i < end { i = PreTokenizer.llama3Piece(s, c, i, end, maxDigits: 1); ends.append(i) }
        case .smollm:
            while i < end {
                if c[i] & ScalarClass.number != 0 { i += 1; ends.append(i); continue }
                var stretch = i
                while stretch < end, c[stretch] & ScalarClass.number == 0 { stretch += 1 }
                while i < stretch { i = PreTokenizer.gpt2Piece(s, c, i, stretch); ends.append(i) }
            }
        }
    }

    private static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20

    /// End of the run of scalars from `i` whose flags intersect `mask`.
    @inline(__always) private static func run(_ c: UnsafePointer<UInt8>, _ i: Int, _ end: Int, _ mask: UInt8) -> Int {
        var j = i
        while j < end, c[j] & mask != 0 { j += 1 }
        return j
    }

    /// End of the run of "other" scalars (no flag) from `i`.
    @inline(__always) private static func otherRun(_ c: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, c[j] == 0 { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar `i`: the run, less its last scalar when a
    /// non-space follows and the run is longer than one.
    @inline(__always) private static func spaceRun(_ c: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let e = run(c, i, end, ScalarClass.space)
        if e == end || e - i == 1 { return e }
        return e - 1
    }

    /// Length of a contraction `'s 't 're 've 'm 'll 'd` at `i` (case-insensitively when
    /// `fold`: Oniguruma folds `ſ` U+017F to `s` too), or 0.
    @inline(__always) private static func contraction(_ s: UnsafePointer<UInt32>, _ i: Int, _ end: Int, fold: Bool) -> Int {
        guard s[i] == apostrophe, i + 1 < end else { return 0 }
        func lower(_ v: UInt32) -> UInt32 {
            guard fold else { return v }
            if v >= 0x41 && v <= 0x5A { return v + 0x20 }
            return v == 0x17F ? 0x73 : v
        }
        let a = lower(s[i + 1])
        switch a {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        default: break
        }
        guard i + 2 < end else { return 0 }
        let b = lower(s[i + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// One gpt2 piece starting at `i`; returns its end.
    private static func gpt2Piece(_ s: UnsafePointer<UInt32>, _ c: UnsafePointer<UInt8>, _ i: Int, _ end: Int) -> Int {
        let k = contraction(s, i, end, fold: false)
        if k > 0 { return i + k }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional leading space, then a run.
        if s[i] == space, i + 1 < end {
            let f = c[i + 1]
            if f & ScalarClass.letter != 0 { return run(c, i + 1, end, ScalarClass.letter) }
            if f & ScalarClass.number != 0 { return run(c, i + 1, end, ScalarClass.number) }
            if f == 0 { return otherRun(c, i + 1, end) }
        }
        let f = c[i]
        if f & ScalarClass.letter != 0 { return run(c, i, end, ScalarClass.letter) }
        if f & ScalarClass.number != 0 { return run(c, i, end, ScalarClass.number) }
        if f == 0 { return otherRun(c, i, end) }
        return spaceRun(c, i, end)
    }

    /// One llama3 (or qwen2, `maxDigits` 1) piece starting at `i`; returns its end.
    private static func llama3Piece(_ s: UnsafePointer<UInt32>, _ c: UnsafePointer<UInt8>, _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        let k = contraction(s, i, end, fold: true)
        if k > 0 { return i + k }
        let f = c[i]
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if f & (ScalarClass.letter | ScalarClass.number | ScalarClass.newline) == 0, i + 1 < end, c[i + 1] & ScalarClass.letter != 0 {
            return run(c, i + 1, end, ScalarClass.letter)
        }
        if f & ScalarClass.letter != 0 { return run(c, i, end, ScalarClass.letter) }
        // `\p{N}{1,maxDigits}`
        if f & ScalarClass.number != 0 { return min(run(c, i, end, ScalarClass.number), i + maxDigits) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let j = (s[i] == space && i + 1 < end && c[i + 1] == 0) ? i + 1 : i
        if c[j] == 0 { return run(c, otherRun(c, j, end), end, ScalarClass.newline) }
        // `\s*[\r\n]+`: through the last CR/LF of the whitespace run.
        let e = run(c, i, end, ScalarClass.space)
        var last = e - 1
        while last >= i, c[last] & ScalarClass.newline == 0 { last -= 1 }
        if last >= i { return last + 1 }
        return spaceRun(c, i, end)
    }
}

extension PreTokenizer {
    /// The UTF-8 byte length of each piece of `text` (no added-token matching), for tests and tools.
    public func pieceLengths(_ text: String) -> [Int] {
        let scalars = text.unicodeScalars.map(\.value)
        let classes = scalars.map(ScalarClass.of)
        var ends: [Int] = []
        scalars.withUnsafeBufferPointer { s in
            classes.withUnsafeBufferPointer { c in
                guard let sp = s.baseAddress, let cp = c.baseAddress else { return }
                split(sp, cp, from: 0, to: scalars.count, into: &ends)
            }
        }
        var lengths: [Int] = [], start = 0
        for e in ends {
            lengths.append(scalars[start..<e].reduce(0) { $0 + UTF8.width(Unicode.Scalar($1)!) })
            start = e
        }
        return lengths
    }
}
