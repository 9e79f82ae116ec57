import RFTTensor

/// A built-in character corpus of addition facts ("12+7=19\n"), for language-model
/// pretraining demos: a stream of lines over a 13-character vocabulary.
public struct AdditionCorpus: Sendable {
    /// The characters, in token-id order.
    public let vocabulary: [Character] = Array("0123456789+=\n")
    /// The corpus as token ids.
    public let tokens: [Int]

    /// `lines` random facts with operands below `maxOperand`, drawn from `seed`.
    public init(seed: UInt64, lines: Int = 20_000, maxOperand: Int = 100) {
        var g = RandomGenerator(seed: seed)
        var ids: [Int] = []
        let index = Dictionary(uniqueKeysWithValues: vocabulary.enumerated().map { ($1, $0) })
        for _ in 0..<lines {
            let a = Int(g.next() % UInt64(maxOperand)), b = Int(g.next() % UInt64(maxOperand))
            ids += "\(a)+\(b)=\(a + b)\n".map { index[$0]! }
        }
        tokens = ids
    }

    /// A batch of random windows: inputs (size·length ids) and their next-character targets.
    public func batch(size: Int, length: Int, using g: inout RandomGenerator) -> (inputs: [Int], targets: [Int]) {
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(size * length)
        targets.reserveCapacity(size * length)
        for _ in 0..<size {
            let start = Int(g.next() % UInt64(tokens.count - length - 1))
            inputs += tokens[start..<(start + length)]
            targets += tokens[(start + 1)...(start + length)]
        }
        return (inputs, targets)
    }
}
