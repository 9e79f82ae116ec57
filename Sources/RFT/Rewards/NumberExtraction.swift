/// Reads the number an answer in free text gives — "The answer is 85.", "37 + 48 = **85**",
/// "\boxed{85}", "85" — so a reward scores what a chat model says rather than how it says it.
///
/// Priority: the last `\boxed{…}` (the last number inside it); else the last "answer is N",
/// "answer: N", "answer = N" (case-insensitive; spaces, `*`, `_`, `$` may sit between, as in
/// "**Answer:** $85$") or GSM8K's "#### N"; else the last number anywhere in the text.
///
/// A number is an optional minus sign (`-` or `−`, not right after a letter, a digit or a
/// closing bracket, so `37-48` reads as 37 and 48), digits with optional thousands separators
/// (`1,234,567`: groups of exactly three after the first group of one to three) and an optional
/// decimal part. It is returned canonical — no separators, no leading zeros, no trailing zeros
/// after the point, no sign on zero — so `85`, `085`, `85.0` and `85.00` all read `85`, while
/// `85.5` stays `85.5`, equal to no integer. A period not followed by a digit ends a sentence
/// (`85.` reads `85`). One linear pass over the UTF-8 bytes; digits stay text, so a number of
/// any length neither overflows nor slows anything down.
public enum NumberExtraction {
    /// The canonical number `text` answers with, by the priority above, or nil when it holds none.
    public static func answer(in text: String) -> String? {
        let bytes = Array(text.utf8)
        let scan = Scan(bytes: bytes)
        if let box = scan.lastBoxedContent(), let n = scan.lastNumber(in: box) { return scan.canonical(n) }
        if let n = scan.lastAnswerPhrase() { return scan.canonical(n) }
        return scan.lastNumber(in: 0..<bytes.count).map(scan.canonical)
    }

    /// The canonical form of `text` when, trimmed of whitespace, it is exactly one number
    /// (`42`, `-7`, `+7`, `1,234`, `85.0`); nil otherwise. For references.
    public static func number(_ text: String) -> String? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, Scan.isSpace(last) { bytes.removeLast() }
        let start = bytes.firstIndex { !Scan.isSpace($0) } ?? bytes.count
        var first = start
        if first < bytes.count, bytes[first] == UInt8(ascii: "+") || bytes[first] == UInt8(ascii: "-") { first += 1 }
        guard first < bytes.count, Scan.isDigit(bytes[first]) else { return nil }
        let scan = Scan(bytes: bytes)
        let n = scan.number(at: first, within: start..<bytes.count)
        guard n.end == bytes.count else { return nil }
        return scan.canonical(n)
    }
}

/// One number found in the bytes: its sign, the range of its integer part (with any
/// separators), of its decimal digits, and the index after it.
struct NumberSpan {
    var negative: Bool
    var integer: Range<Int>
    var fraction: Range<Int>
    var end: Int
}

/// The byte-level scanner behind `NumberExtraction`.
struct Scan {
    let bytes: [UInt8]

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    /// Bytes that may sit between "answer", "is"/":" and the number: spaces and markdown or TeX marks.
    static func isFiller(_ c: UInt8) -> Bool { isSpace(c) || c == UInt8(ascii: "*") || c == UInt8(ascii: "_") || c == UInt8(ascii: "$") }

    /// Whether the bytes at `i` spell `word`; with `ignoringCase`, its ASCII letters match either case.
    func matches(_ word: [UInt8], at i: Int, ignoringCase: Bool = false) -> Bool {
        guard i >= 0, i + word.count <= bytes.count else { return false }
        for k in 0..<word.count {
            let b = bytes[i + k], w = word[k]
            guard b == w || ignoringCase && Scan.isLetter(w) && b | 0x20 == w | 0x20 else { return false }
        }
        return true
    }

    /// The number whose first digit is at `start`, inside `bounds` (its sign looked for just
    /// before `start`, its digits not past the end).
    func number(at start: Int, within bounds: Range<Int>) -> NumberSpan {
        let n = bounds.upperBound
        var signStart = start
        if start - 1 >= bounds.lowerBound, bytes[start - 1] == UInt8(ascii: "-") {
            signStart = start - 1
        } else if start - 3 >= bounds.lowerBound, bytes[start - 3] == 0xE2, bytes[start - 2] == 0x88, bytes[start - 1] == 0x92 {
            signStart = start - 3  // U+2212 MINUS SIGN
        }
        var negative = false
        if signStart < start {
            let c = signStart - 1 >= bounds.lowerBound ? bytes[signStart - 1] : UInt8(ascii: " ")
            negative = !(Scan.isDigit(c) || Scan.isLetter(c) || c == UInt8(ascii: ")") || c == UInt8(ascii: "]") || c == UInt8(ascii: "}"))
        }
        var i = start
        while i < n, Scan.isDigit(bytes[i]) { i += 1 }
        if i - start <= 3 {
            // thousands groups: each a comma and exactly three digits
            while i + 3 < n, bytes[i] == UInt8(ascii: ","), Scan.isDigit(bytes[i + 1]), Scan.isDigit(bytes[i + 2]),
                  Scan.isDigit(bytes[i + 3]), i + 4 == n || !Scan.isDigit(bytes[i + 4]) {
                i += 4
            }
        }
        let integer = start..<i
        var fraction = i..<i
        if i + 1 < n, bytes[i] == UInt8(ascii: "."), Scan.isDigit(bytes[i + 1]) {
            var j = i + 1
            while j < n, Scan.isDigit(bytes[j]) { j += 1 }
            fraction = (i + 1)..<j
            i = j
        }
        return NumberSpan(negative: negative, integer: integer, fraction: fraction, end: i)
    }

    /// The last number whose digits lie in `range`.
    func lastNumber(in range: Range<Int>) -> NumberSpan? {
        var last: NumberSpan?
        var i = range.lowerBound
        while i < range.upperBound {
            guard Scan.isDigit(bytes[i]) else { i += 1; continue }
            let span = number(at: i, within: range)
            last = span
            i = span.end
        }
        return last
    }

    /// The range inside the last `\boxed{…}`, to its matching brace (or the end of an unclosed one).
    func lastBoxedContent() -> Range<Int>? {
        let marker = Array("\\boxed{".utf8)
        var found: Int?
        var i = 0
        while i + marker.count <= bytes.count {
            if bytes[i] == marker[0], matches(marker, at: i) { found = i; i += marker.count } else { i += 1 }
        }
        guard let at = found else { return nil }
        let start = at + marker.count
        var depth = 1, j = start
        while j < bytes.count {
            if bytes[j] == UInt8(ascii: "{") { depth += 1 }
            if bytes[j] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { break } }
            j += 1
        }
        return start..<j
    }

    /// The number right after the last "answer is", "answer:", "answer =" or "####" followed by one.
    func lastAnswerPhrase() -> NumberSpan? {
        let answer = Array("answer".utf8), isWord = Array("is".utf8), hashes = Array("####".utf8)
        var last: NumberSpan?
        var i = 0
        while i < bytes.count {
            var j: Int
            if bytes[i] == hashes[0], matches(hashes, at: i) {
                i += hashes.count
                while i < bytes.count, bytes[i] == hashes[0] { i += 1 }
                j = skipFiller(from: i)
            } else if bytes[i] | 0x20 == answer[0], matches(answer, at: i, ignoringCase: true) {
                i += answer.count
                j = skipFiller(from: i)
                if matches(isWord, at: j, ignoringCase: true), j + 2 == bytes.count || !Scan.isLetter(bytes[j + 2]) {
                    j = skipFiller(from: j + 2)
                    if j < bytes.count, bytes[j] == UInt8(ascii: ":") { j = skipFiller(from: j + 1) }
                } else if j < bytes.count, bytes[j] == UInt8(ascii: ":") || bytes[j] == UInt8(ascii: "=") {
                    j = skipFiller(from: j + 1)
                } else {
                    continue
                }
            } else {
                i += 1
                continue
            }
            if j < bytes.count, bytes[j] == UInt8(ascii: "-") { j += 1 } else if matches([0xE2, 0x88, 0x92], at: j) { j += 3 }
            guard j < bytes.count, Scan.isDigit(bytes[j]) else { continue }
            let span = number(at: j, within: 0..<bytes.count)
            last = span
            i = span.end
        }
        return last
    }

    /// The index after at most 8 filler bytes from `i` (bounded, so the scan stays linear).
    func skipFiller(from i: Int) -> Int {
        var j = i
        while j < bytes.count, j - i < 8, Scan.isFiller(bytes[j]) { j += 1 }
        return j
    }

    /// The canonical text of `span`: digits without separators or leading zeros, the decimal
    /// part without trailing zeros, a minus sign unless the number is zero.
    func canonical(_ span: NumberSpan) -> String {
        var integer = bytes[span.integer].filter(Scan.isDigit)
        if let firstNonZero = integer.firstIndex(where: { $0 != UInt8(ascii: "0") }) {
            integer.removeSubrange(0..<firstNonZero)
        } else {
            integer = []
        }
        var fraction = Array(bytes[span.fraction])
        while fraction.last == UInt8(ascii: "0") { fraction.removeLast() }
        if integer.isEmpty { integer = [UInt8(ascii: "0")] }
        var text = integer
        if !fraction.isEmpty { text += [UInt8(ascii: ".")] + fraction }
        let zero = text == [UInt8(ascii: "0")]
        return (span.negative && !zero ? "-" : "") + String(decoding: text, as: UTF8.self)
    }
}
