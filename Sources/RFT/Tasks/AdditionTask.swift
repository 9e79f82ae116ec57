import RFTTensor

/// Decimal addition `123+45` → `168`, with the length the digit count of the longer operand.
/// `reversed` writes the sum least-significant digit first (`861`); `indexHints` tags every
/// digit with a letter for its place (`c1b2a3+b4a5` → `c1b6a8`), Zhou et al.'s format that lets
/// transformers align digits at unseen lengths.
public struct AdditionTask: VerifiableTask {
    /// Output digits least-significant first.
    public var reversed: Bool
    /// Place letters before every digit (a = units, b = tens, …).
    public var indexHints: Bool
    /// Training lengths (digits).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths (digits).
    public var testLengths: ClosedRange<Int>

    /// Addition with the given format; default lengths train 1–4 digits, test 5–8.
    public init(reversed: Bool = false, indexHints: Bool = false, trainLengths: ClosedRange<Int> = 1...4,
                testLengths: ClosedRange<Int> = 5...8) {
        self.reversed = reversed
        self.indexHints = indexHints
        self.trainLengths = trainLengths
        self.testLengths = testLengths
    }

    static let places = Array("abcdefghijklmnopqrstuvwxyz")

    /// `addition`, `addition-reversed`, `addition-hinted` or `addition-reversed-hinted`.
    public var name: String { "addition" + (reversed ? "-reversed" : "") + (indexHints ? "-hinted" : "") }
    /// Digits, `+`, and the place letters when hinted.
    public var alphabet: String { "0123456789+" + (indexHints ? String(AdditionTask.places) : "") }
    /// 1–18 digits (sums fit in Int), 1–25 with hints (one letter per place).
    public var validLengths: ClosedRange<Int> { 1...(indexHints ? 25 : 18) }

    /// The sum has at most length + 1 digits.
    public func maxReferenceLength(_ length: Int) -> Int { (length + 1) * (indexHints ? 2 : 1) }
    /// Two operands and the plus sign.
    public func maxPromptLength(_ length: Int) -> Int { 2 * length * (indexHints ? 2 : 1) + 1 }

    /// a has `length` digits, b between 1 and `length`, in random order.
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        precondition(validLengths.contains(length), "addition: length \(length) outside \(validLengths)")
        var a = randomNumber(digits: length, smallest: 0, &g), b = randomNumber(digits: randomInt(1...length, &g), smallest: 0, &g)
        if g.next() & 1 == 1 { swap(&a, &b) }
        let prompt = format(a) + "+" + format(b)
        return TaskExample(prompt: prompt, reference: answer(a + b), length: length)
    }

    /// The operand as written in prompts (hinted or not; never reversed).
    func format(_ n: Int) -> String {
        guard indexHints else { return String(n) }
        let digits = Array(String(n))
        return String(digits.enumerated().flatMap { i, d in [AdditionTask.places[digits.count - 1 - i], d] })
    }

    /// The sum as written in references.
    func answer(_ sum: Int) -> String {
        var digits = Array(String(sum))
        var places = (0..<digits.count).map { AdditionTask.places[digits.count - 1 - $0] }
        if reversed { digits.reverse(); places.reverse() }
        return indexHints ? String(zip(places, digits).flatMap { [$0, $1] }) : String(digits)
    }

    /// Parses `a+b` (checking hints when on) and writes their sum.
    public func answer(for prompt: String) -> String? {
        let parts = prompt.split(separator: "+", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        var values: [Int] = []
        for p in parts {
            guard !p.isEmpty else { return nil }
            let text: String
            if indexHints {
                let chars = Array(p)
                guard chars.count % 2 == 0 else { return nil }
                let n = chars.count / 2
                guard n <= validLengths.upperBound else { return nil }
                for i in 0..<n where chars[2 * i] != AdditionTask.places[n - 1 - i] { return nil }
                text = String((0..<n).map { chars[2 * $0 + 1] })
            } else {
                text = String(p)
            }
            guard text.count <= 18, text.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(text) else { return nil }
            values.append(v)
        }
        return answer(values[0] + values[1])
    }
}
