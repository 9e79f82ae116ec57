import RFTTensor

/// Arithmetic asked as an instruct model is asked — `What is 37+48? Answer with the number
/// only.` → `85` — and scored by the number read out of the answer (`NumberExtraction`), so
/// "The answer is 85." and "\boxed{85}" count as much as "85". The prompt is the text of one user
/// message (a chat template wraps it); its English needs a byte-level BPE model such as SmolLM2.
/// `chat-addition`: the length is the digit count of each operand. `chat-multiplication`: the
/// length is the digit count of both factors together (2 = 7×8, 3 = 7×13, 4 = 37×48), split as
/// evenly as possible; single-digit factors are 2–9, so no product is a trivial ×0 or ×1.
public struct ChatArithmeticTask: ChatTask {
    /// Which operation the prompt asks for.
    public enum Operation: String, Codable, Sendable, CaseIterable {
        /// `a+b`.
        case addition
        /// `a×b`.
        case multiplication

        /// The operator as the prompt writes it.
        var symbol: Character { self == .addition ? "+" : "×" }
    }

    /// The operation.
    public var operation: Operation
    /// Training lengths (digits).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths (digits).
    public var testLengths: ClosedRange<Int>

    /// A chat arithmetic task; default lengths: addition trains 1–3 digits and tests 4–6,
    /// multiplication trains 2–4 digits in all and tests 5–6.
    public init(_ operation: Operation, trainLengths: ClosedRange<Int>? = nil, testLengths: ClosedRange<Int>? = nil) {
        self.operation = operation
        self.trainLengths = trainLengths ?? (operation == .addition ? 1...3 : 2...4)
        self.testLengths = testLengths ?? (operation == .addition ? 4...6 : 5...6)
    }

    /// The start of the question.
    static let question = "What is "
    /// The end of the question and the instruction (every chat task's).
    static let instruction = "? " + chatInstruction

    /// `chat-addition` or `chat-multiplication`.
    public var name: String { "chat-" + operation.rawValue }
    /// The question's characters, the digits and the operator.
    public var alphabet: String { distinctCharacters([Self.question, Self.instruction, "0123456789", String(operation.symbol)]) }
    /// Addition: 1–18 digits an operand; multiplication: 2–18 digits in all (results fit in Int).
    public var validLengths: ClosedRange<Int> { operation == .addition ? 1...18 : 2...18 }

    /// 24 tokens: SmolLM2-135M-Instruct answers "The answer is 11." or "371 + 448 = 129" and a
    /// sentence, in 8 to 27 tokens.
    public var roomForWords: Int { 24 }

    /// The sum has at most length + 1 digits, the product at most length.
    public func maxReferenceLength(_ length: Int) -> Int { operation == .addition ? length + 1 : length }
    /// The question, both operands and the operator.
    public func maxPromptLength(_ length: Int) -> Int {
        Self.question.count + Self.instruction.count + (operation == .addition ? 2 * length : length) + 1
    }

    /// Operands of the length's digits (in random order for multiplication's uneven split).
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        precondition(validLengths.contains(length), "\(name): length \(length) outside \(validLengths)")
        var a: Int, b: Int
        switch operation {
        case .addition:
            a = randomNumber(digits: length, smallest: 0, &g)
            b = randomNumber(digits: length, smallest: 0, &g)
        case .multiplication:
            a = randomNumber(digits: (length + 1) / 2, smallest: 2, &g)
            b = randomNumber(digits: length / 2, smallest: 2, &g)
            if g.next() & 1 == 1 { swap(&a, &b) }
        }
        let prompt = Self.question + "\(a)\(operation.symbol)\(b)" + Self.instruction
        return TaskExample(prompt: prompt, reference: answer(for: prompt)!, length: length)
    }

    /// The sum or product of a well-formed question, in decimal digits.
    public func answer(for prompt: String) -> String? {
        guard prompt.hasPrefix(Self.question), prompt.hasSuffix(Self.instruction) else { return nil }
        let body = prompt.dropFirst(Self.question.count).dropLast(Self.instruction.count)
        let parts = body.split(separator: operation.symbol, omittingEmptySubsequences: false)
        guard parts.count == 2, let a = decimalValue(parts[0], maxDigits: 18), let b = decimalValue(parts[1], maxDigits: 18) else { return nil }
        let (value, overflow) = operation == .addition ? a.addingReportingOverflow(b) : a.multipliedReportingOverflow(by: b)
        return overflow ? nil : String(value)
    }
}
