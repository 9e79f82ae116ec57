import RFTTensor

/// The string-to-string tasks over letters: copy, reverse and sort. `length` is the number of
/// characters; `unique` draws distinct characters (copy-unique generalises, copy-repeat does not).
public struct StringTask: VerifiableTask {
    /// What the output is.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// The input unchanged.
        case copy
        /// The input backwards.
        case reverse
        /// The input's characters in ascending order.
        case sort
    }

    /// The transformation.
    public var kind: Kind
    /// Draw distinct characters (length ≤ alphabet size).
    public var unique: Bool
    /// Training lengths (characters).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths (characters).
    public var testLengths: ClosedRange<Int>
    /// The input characters.
    public var letters: String

    /// A string task; default lengths train 1–20, test 21–40 (1–13 and 14–26 when unique).
    public init(_ kind: Kind, unique: Bool = false, trainLengths: ClosedRange<Int>? = nil,
                testLengths: ClosedRange<Int>? = nil, letters: String = "abcdefghijklmnopqrstuvwxyz") {
        self.kind = kind
        self.unique = unique
        self.letters = letters
        self.trainLengths = trainLengths ?? (unique ? 1...13 : 1...20)
        self.testLengths = testLengths ?? (unique ? 14...26 : 21...40)
    }

    /// `copy`, `reverse`, `sort`, with `-unique` when unique.
    public var name: String { kind.rawValue + (unique ? "-unique" : "") }
    /// The letters.
    public var alphabet: String { letters }
    /// Up to the alphabet size when unique, else up to 1000.
    public var validLengths: ClosedRange<Int> { 1...(unique ? letters.count : 1000) }
    /// Same length as the input.
    public func maxReferenceLength(_ length: Int) -> Int { length }
    /// `length` characters.
    public func maxPromptLength(_ length: Int) -> Int { length }

    /// `length` random letters (distinct when unique).
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        precondition(validLengths.contains(length), "\(name): length \(length) outside \(validLengths)")
        var pool = Array(letters)
        var chars: [Character] = []
        for _ in 0..<length {
            if unique {
                let i = randomInt(0...(pool.count - 1), &g)
                chars.append(pool.remove(at: i))
            } else {
                chars.append(randomElement(pool, &g))
            }
        }
        let prompt = String(chars)
        return TaskExample(prompt: prompt, reference: answer(for: prompt)!, length: length)
    }

    /// The transformed input (nil for an empty prompt or foreign characters).
    public func answer(for prompt: String) -> String? {
        guard !prompt.isEmpty, prompt.allSatisfy({ letters.contains($0) }) else { return nil }
        switch kind {
        case .copy: return prompt
        case .reverse: return String(prompt.reversed())
        case .sort: return String(prompt.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) })
        }
    }
}

/// Count: `a,b` → `a,a+1,…,b` (Zhou et al.'s RASP-L task); `length` is how many numbers.
public struct CountTask: VerifiableTask {
    /// Training lengths (numbers in the output).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths.
    public var testLengths: ClosedRange<Int>
    /// Largest starting number.
    public var maxStart: Int

    /// Count with default lengths train 1–10, test 11–20, starts 0–49.
    public init(trainLengths: ClosedRange<Int> = 1...10, testLengths: ClosedRange<Int> = 11...20, maxStart: Int = 49) {
        self.trainLengths = trainLengths
        self.testLengths = testLengths
        self.maxStart = maxStart
    }

    /// `count`.
    public var name: String { "count" }
    /// Digits and the comma.
    public var alphabet: String { "0123456789," }
    /// 1–200 numbers.
    public var validLengths: ClosedRange<Int> { 1...200 }
    /// Each number has at most as many digits as maxStart + length, plus a comma.
    public func maxReferenceLength(_ length: Int) -> Int { length * (String(maxStart + length).count + 1) - 1 }
    /// Two numbers and a comma.
    public func maxPromptLength(_ length: Int) -> Int { 2 * String(maxStart + length).count + 1 }

    /// A random start and `length` numbers.
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        let a = randomInt(0...maxStart, &g)
        let prompt = "\(a),\(a + length - 1)"
        return TaskExample(prompt: prompt, reference: answer(for: prompt)!, length: length)
    }

    /// `a,…,b` for a prompt `a,b` with a ≤ b (at most 10,000 numbers).
    public func answer(for prompt: String) -> String? {
        let parts = prompt.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy { $0.isASCII && $0.isNumber } }),
              let a = Int(parts[0]), let b = Int(parts[1]), a <= b, b - a < 10_000 else { return nil }
        return (a...b).map(String.init).joined(separator: ",")
    }
}

/// Majority: a bit string with no tie → the more frequent bit.
public struct MajorityTask: VerifiableTask {
    /// Training lengths (bits).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths.
    public var testLengths: ClosedRange<Int>

    /// Majority with default lengths train 1–20, test 21–40.
    public init(trainLengths: ClosedRange<Int> = 1...20, testLengths: ClosedRange<Int> = 21...40) {
        self.trainLengths = trainLengths
        self.testLengths = testLengths
    }

    /// `majority`.
    public var name: String { "majority" }
    /// `0` and `1`.
    public var alphabet: String { "01" }
    /// 1–1000 bits.
    public var validLengths: ClosedRange<Int> { 1...1000 }
    /// One bit.
    public func maxReferenceLength(_ length: Int) -> Int { 1 }
    /// `length` bits.
    public func maxPromptLength(_ length: Int) -> Int { length }

    /// `length` uniform bits, redrawn until the counts differ (an even length can tie).
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        while true {
            let bits = String((0..<length).map { _ in g.next() & 1 == 1 ? Character("1") : Character("0") })
            if let y = answer(for: bits) { return TaskExample(prompt: bits, reference: y, length: length) }
        }
    }

    /// The more frequent bit, or nil on a tie or a malformed prompt.
    public func answer(for prompt: String) -> String? {
        guard !prompt.isEmpty, prompt.allSatisfy({ $0 == "0" || $0 == "1" }) else { return nil }
        let ones = prompt.filter { $0 == "1" }.count, zeros = prompt.count - ones
        return ones == zeros ? nil : (ones > zeros ? "1" : "0")
    }
}
