import RFTModel
import RFTTensor

/// A model ready to use, from wherever a user names it: an rft checkpoint file, a run folder
/// (its newest valid checkpoint), a Hugging Face folder (config.json, safetensors,
/// tokenizer.json) or a GGUF file — with its tokenizer and what it was trained on.
public struct LoadedModel {
    /// The model.
    public let model: GPT
    /// Its tokenizer (with the run's chat template once `withChatTemplate` set it).
    public internal(set) var tokenizer: Tokenizer
    /// The file (or folder) the model was read from.
    public let path: String
    /// The checkpoint's metadata (`task`, `trainLengths`), or an imported model's (`source`, `format`).
    public let metadata: [String: String]
    /// Newer checkpoints of the folder that were skipped because they are damaged.
    public let skipped: [CheckpointError]
    /// A reward model's scalar head (1, width), `score.weight`, when the checkpoint holds one.
    public let scoreHead: Tensor?

    /// The task it was trained on (the `task` metadata), if any.
    public var taskName: String? { metadata["task"] }
    /// The lengths it was trained on (the `trainLengths` metadata), if recorded.
    public var trainLengths: ClosedRange<Int>? { Self.lengths(metadata) }

    /// The training lengths a checkpoint's metadata records (`trainLengths`), if any.
    public static func lengths(_ metadata: [String: String]) -> ClosedRange<Int>? {
        metadata["trainLengths"].flatMap { try? LengthRange(parsing: $0).range }
    }

    /// Loads `path`: a checkpoint file, a run folder, a Hugging Face folder or a GGUF file.
    public init(path: String) throws {
        if PretrainedModel.canRead(path) {
            let imported = try PretrainedModel(path: path)
            (model, tokenizer, self.path, skipped) = (imported.model, imported.tokenizer, path, [])
            metadata = ["source": path, "format": imported.format]
            scoreHead = nil
            return
        }
        let checkpoint: Checkpoint
        if RegularFile.isDirectory(path) {
            guard let latest = try CheckpointManager(directory: path).latest() else {
                throw CheckpointError.incompatible(path: path, reason: "the folder holds no checkpoint (checkpoint-*.rftckpt) and no config.json of a Hugging Face model")
            }
            (checkpoint, self.path, skipped) = (latest.checkpoint, latest.path, latest.skipped)
        } else {
            (checkpoint, self.path, skipped) = (try Checkpoint.load(from: path), path, [])
        }
        model = try checkpoint.makeModel(path: self.path)
        tokenizer = try checkpoint.tokenizer(path: self.path)
        metadata = checkpoint.header.metadata
        scoreHead = checkpoint[RewardModel.headName]
        if let head = scoreHead, head.shape != [1, model.config.width] {
            throw CheckpointError.shapeMismatch(path: self.path, name: RewardModel.headName, expected: [1, model.config.width], found: head.shape)
        }
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw CheckpointError.incompatible(path: self.path, reason: "the tokenizer has \(tokenizer.vocabularySize) tokens, the model \(model.config.vocabularySize)")
        }
    }
}
