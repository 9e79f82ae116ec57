import RFTModel
import RFTTensor

/// Teacher-forcing batches in the task format `<bos> x <sep> y <eos>`, with the loss on y and
/// `<eos>` only (targets −1 elsewhere, PyTorch's ignore_index).
public struct TaskBatch: Sendable {
    /// batch·length input ids, right-padded with `<pad>`.
    public var inputs: [Int]
    /// batch·length next-token targets; −1 where no loss is taken.
    public var targets: [Int]
    /// Rows.
    public var batch: Int
    /// Positions per row (the longest sequence in the batch).
    public var length: Int

    /// The batch for `examples`; throws when a character is outside `tokenizer` or an example
    /// has no reference.
    public init(_ examples: [TaskExample], tokenizer: Tokenizer) throws {
        let seqs = try examples.map { e -> ([Int], [Int]) in
            guard let reference = e.reference else { throw TaskBatchError.missingReference(e.displayID) }
            return (try tokenizer.encodePrompt(e), try tokenizer.encodeCompletion(reference))
        }
        length = (seqs.map { $0.0.count + $0.1.count }.max() ?? 1) - 1
        batch = examples.count
        inputs = []; targets = []
        inputs.reserveCapacity(batch * length); targets.reserveCapacity(batch * length)
        for (prompt, completion) in seqs {
            let seq = prompt + completion
            for i in 0..<length {
                inputs.append(i < seq.count ? seq[i] : tokenizer.padID)
                // position i predicts seq[i + 1]; count it when that token belongs to the completion
                targets.append(i + 1 >= prompt.count && i + 1 < seq.count ? seq[i + 1] : -1)
            }
        }
    }
}

/// Errors building a teacher-forcing batch.
public enum TaskBatchError: Error, Equatable, CustomStringConvertible {
    /// Supervised training needs a reference completion and this example has none.
    case missingReference(String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .missingReference(let id): return "\(id): no reference completion to train on (supervised finetuning needs a \"completion\" field)"
        }
    }
}
