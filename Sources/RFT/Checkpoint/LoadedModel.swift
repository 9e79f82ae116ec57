import RFTModel

/// A model read from a checkpoint file, or from a run folder (its newest valid checkpoint), with
/// its tokenizer and what it was trained on.
public struct LoadedModel {
    /// The model.
    public let model: GPT
    /// Its tokenizer (stored in the checkpoint).
    public let tokenizer: Tokenizer
    /// The file the model was read from.
    public let path: String
    /// The checkpoint as read.
    public let checkpoint: Checkpoint
    /// Newer checkpoints of the folder that were skipped because they are damaged.
    public let skipped: [CheckpointError]

    /// The task it was trained on (the checkpoint's `task` metadata), if any.
    public var taskName: String? { checkpoint.header.metadata["task"] }
    /// The lengths it was trained on (the checkpoint's `trainLengths` metadata), if recorded.
    public var trainLengths: ClosedRange<Int>? { Self.lengths(checkpoint.header.metadata) }

    /// The training lengths a checkpoint's metadata records (`trainLengths`), if any.
    public static func lengths(_ metadata: [String: String]) -> ClosedRange<Int>? {
        metadata["trainLengths"].flatMap { try? LengthRange(parsing: $0).range }
    }

    /// Loads `path`: a checkpoint file, or a folder whose newest valid checkpoint is used.
    public init(path: String) throws {
        if RegularFile.isDirectory(path) {
            guard let latest = try CheckpointManager(directory: path).latest() else {
                throw CheckpointError.incompatible(path: path, reason: "the folder holds no checkpoint (checkpoint-*.rftckpt)")
            }
            (checkpoint, self.path, skipped) = (latest.checkpoint, latest.path, latest.skipped)
        } else {
            (checkpoint, self.path, skipped) = (try Checkpoint.load(from: path), path, [])
        }
        model = try checkpoint.makeModel(path: self.path)
        tokenizer = try checkpoint.tokenizer(path: self.path)
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw CheckpointError.incompatible(path: self.path, reason: "the tokenizer has \(tokenizer.vocabularySize) tokens, the model \(model.config.vocabularySize)")
        }
    }
}
