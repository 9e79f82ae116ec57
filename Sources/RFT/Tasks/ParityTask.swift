import RFTTensor

/// Parity: a bit string → `1` when it has an odd number of ones, else `0`.
public struct ParityTask: VerifiableTask {
    /// Training lengths (bits).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths (bits).
    public var testLengths: ClosedRange<Int>

    /// Parity with default lengths train 1–20 bits, test 21–40.
    public init(trainLengths: ClosedRange<Int> = 1...20, testLengths: ClosedRange<Int> = 21...40) {
        self.trainLengths = trainLengths
        self.testLengths = testLengths
    }

    /// `parity`.
    public var name: String { "parity" }
    /// `0` and `1`.
    public var alphabet: String { "01" }
    /// 1–1000 bits.
    public var validLengths: ClosedRange<Int> { 1...1000 }
    /// One bit.
    public func maxReferenceLength(_ length: Int) -> Int { 1 }
    /// `length` bits.
    public func maxPromptLength(_ length: Int) -> Int { length }

    /// `length` uniform bits.
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        let bits = String((0..<length).map { _ in g.next() & 1 == 1 ? Character("1") : Character("0") })
        return TaskExample(prompt: bits, reference: answer(for: bits)!, length: length)
    }

    /// The parity of a non-empty bit string.
    public func answer(for prompt: String) -> String? {
        guard !prompt.isEmpty, prompt.allSatisfy({ $0 == "0" || $0 == "1" }) else { return nil }
        return prompt.filter { $0 == "1" }.count % 2 == 1 ? "1" : "0"
    }
}
