import Foundation
import RFTModel

/// Everything `rft export` runs with: the model, the format and dtype, the new folder.
public struct ExportConfig: Configuration {
    /// The model (a .rftckpt file, a run folder, a Hugging Face folder or a GGUF file; --model).
    public var modelNameOrPath: String?
    /// What to write: `hf`, a Hugging Face folder.
    public var format = ExportFormat.hf
    /// The weights' dtype: float32 (bf16 rounds every weight).
    public var dtype = ExportDType.float32
    /// The folder to create (--output); it must not exist, or be empty.
    public var outputDir: String?

    /// The defaults.
    public init() {}

    /// The help of each key.
    public static let help = [
        "model_name_or_path": "the model: a .rftckpt file, a run folder, a Hugging Face folder or a GGUF file (--model)",
        "format": "what to write: hf (a Hugging Face folder)", "dtype": "weights' dtype: float32 or bfloat16 (bf16)",
        "output_dir": "the folder to create (--output); it must not exist or be empty",
    ]

    /// The model and the folder are named.
    public func validate() throws {
        if modelNameOrPath?.isEmpty ?? true { throw ConfigError.invalid(key: "model_name_or_path", reason: "name the model to export (--model)") }
        if outputDir?.isEmpty ?? true { throw ConfigError.invalid(key: "output_dir", reason: "name the folder to write (--output)") }
    }

    /// What an export wrote.
    public struct Report: Sendable {
        /// The model read.
        public var model: String
        /// The folder written.
        public var folder: String
        /// transformers' `model_type` of the folder.
        public var modelType: String
        /// Each file and its size in bytes.
        public var files: [(name: String, bytes: Int)]
    }

    /// Writes the model as a new folder: every file into a temporary sibling folder, each one
    /// fsync'd, then the folder renamed into place, so the folder appears whole or not at all.
    public func run() throws -> Report {
        let loaded = try LoadedModel(path: modelNameOrPath!)
        let target = outputDir!
        try Self.checkNew(target)
        let folder = try HuggingFaceExport.folder(loaded.model, tokenizer: loaded.tokenizer, dtype: dtype == .bfloat16 ? .bf16 : .f32)
        let temporary = target + ".partial-\(getpid())"
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw FileWriteError(path: temporary, reason: "cannot create the folder (\(error.localizedDescription))")
        }
        do {
            for file in folder.files { try AtomicFile.write(file.bytes, to: temporary + "/" + file.name) }
            if RegularFile.isDirectory(target) { try fm.removeItem(atPath: target) }  // empty, checked above
            guard rename(temporary, target) == 0 else { throw FileWriteError(path: target, reason: "rename failed: \(RegularFile.describe(errno))") }
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw error
        }
        return Report(model: loaded.path, folder: target, modelType: folder.modelType, files: folder.files.map { ($0.name, $0.bytes.count) })
    }

    /// Throws unless `path` is free: absent, or an empty folder.
    static func checkNew(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard RegularFile.isDirectory(path), (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty == true else {
            throw ConfigError.invalid(key: "output_dir", reason: "\(path) already exists and is not an empty folder; rft export writes a new one")
        }
    }
}

/// What `rft export` writes.
public enum ExportFormat: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// A Hugging Face folder (config.json, model.safetensors, tokenizer.json, …).
    case hf
}

/// The dtype of exported weights.
public enum ExportDType: String, Codable, CaseIterable, Sendable, ConfigText {
    /// 32-bit floats: the weights exactly.
    case float32
    /// bfloat16: half the bytes, each weight rounded to nearest even.
    case bfloat16

    /// `float32` (`f32`, `fp32`) or `bfloat16` (`bf16`).
    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "float32", "f32", "fp32": self = .float32
        case "bfloat16", "bf16": self = .bfloat16
        default: throw ConfigError.invalid(key: "dtype", reason: "expected float32 or bfloat16 (bf16), got \(text)")
        }
    }

    /// The raw value.
    public var text: String { rawValue }
    /// The accepted words.
    public static let format = "float32|bfloat16"
}
