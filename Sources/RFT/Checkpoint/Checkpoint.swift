import Foundation
import RFTModel
import RFTTensor

/// A checkpoint in memory: the JSON header and named tensors. `save(to:)` writes one
/// self-contained file atomically; `load(from:)` reads one back, trusting nothing in it.
///
/// Naming: model weights under their `namedParameters()` names (`h.0.attn.qkv.weight`),
/// optimizer state under `optimizer.` + the optimizer's state name
/// (`optimizer.h.0.attn.qkv.weight.exp_avg`).
public struct Checkpoint: @unchecked Sendable {
    /// Prefix of optimizer state tensors.
    public static let optimizerPrefix = "optimizer."

    /// Everything but the tensors.
    public var header: CheckpointHeader
    /// The tensors in file order, each with the dtype it is (or was) stored as. The tensors
    /// may share storage with a live model (see `capture`): save before changing it.
    public var tensors: [(name: String, tensor: Tensor, dtype: CheckpointDType)]

    /// A checkpoint from a header and tensors.
    public init(header: CheckpointHeader, tensors: [(name: String, tensor: Tensor, dtype: CheckpointDType)] = []) {
        self.header = header
        self.tensors = tensors
    }

    /// The tensor called `name`, or nil.
    public subscript(name: String) -> Tensor? { tensors.first { $0.name == name }?.tensor }

    /// Writes the checkpoint to `path` atomically (temp file, fsync, rename, fsync folder).
    public func save(to path: String, options: CheckpointWriteOptions = .init()) throws {
        try CheckpointWriter.write(header: header, tensors: tensors, to: path, options: options)
    }

    /// Writes the checkpoint to a file URL atomically.
    public func save(to url: URL, options: CheckpointWriteOptions = .init()) throws {
        try save(to: url.path, options: options)
    }

    /// Reads and fully verifies the checkpoint at `path`.
    public static func load(from path: String, limits: CheckpointLimits = .default, threads: Int = 2) throws -> Checkpoint {
        let reader = try CheckpointReader(path: path, limits: limits)
        return Checkpoint(header: reader.header, tensors: try reader.readTensors(threads: threads))
    }

    /// Reads and fully verifies the checkpoint at a file URL.
    public static func load(from url: URL, limits: CheckpointLimits = .default, threads: Int = 2) throws -> Checkpoint {
        try load(from: url.path, limits: limits, threads: threads)
    }

    /// Reads and fully verifies a checkpoint held in memory (`path` names it in errors).
    public static func load(bytes: [UInt8], path: String = "<memory>", limits: CheckpointLimits = .default,
                            threads: Int = 2) throws -> Checkpoint {
        let reader = try CheckpointReader(bytes: bytes, path: path, limits: limits)
        return Checkpoint(header: reader.header, tensors: try reader.readTensors(threads: threads))
    }
}

// MARK: - Training state: capture and restore

extension Checkpoint {
    /// A checkpoint of a GPT, optionally with its AdamW state, a trainer's state and extra
    /// tensors (GRPO's reference), and a run's state. The tensors share storage with the live
    /// objects (no copy): save it before the next step. `weights: .bf16` makes an inference-only
    /// export (leave the optimizer out then).
    public static func capture(
        model: GPT, optimizer: AdamW? = nil, trainer: TrainerState? = nil, extraTensors: [(name: String, tensor: Tensor)] = [],
        pipeline: PipelineState? = nil, tokenizer: JSONValue? = nil, metrics: [String: Double] = [:],
        metadata: [String: String] = [:], weights: CheckpointDType = .f32
    ) -> Checkpoint {
        var tensors = model.namedParameters().map { (name: $0.name, tensor: $0.tensor, dtype: weights) }
        var optimizerHeader: OptimizerHeader?
        if let optimizer {
            tensors += optimizer.stateTensors().map { (name: optimizerPrefix + $0.name, tensor: $0.tensor, dtype: CheckpointDType.f32) }
            optimizerHeader = OptimizerHeader(
                kind: "adamw", learningRate: optimizer.learningRate, beta1: optimizer.betas.0, beta2: optimizer.betas.1,
                eps: optimizer.eps, weightDecay: optimizer.weightDecay, stepCount: optimizer.stepCount)
        }
        tensors += extraTensors.map { (name: $0.name, tensor: $0.tensor, dtype: CheckpointDType.f32) }
        let header = CheckpointHeader(model: model.config, tokenizer: tokenizer, optimizer: optimizerHeader, trainer: trainer,
                                      pipeline: pipeline, metrics: metrics, metadata: metadata)
        return Checkpoint(header: header, tensors: tensors)
    }

    /// A checkpoint of `trainer`: its model, optimizer, state and extra tensors.
    public static func capture(_ trainer: some Trainer, pipeline: PipelineState? = nil, tokenizer: JSONValue? = nil,
                               metrics: [String: Double] = [:], metadata: [String: String] = [:]) -> Checkpoint {
        capture(model: trainer.model, optimizer: trainer.optimizer, trainer: trainer.state, extraTensors: trainer.extraTensors,
                pipeline: pipeline, tokenizer: tokenizer, metrics: metrics, metadata: metadata)
    }

    /// Restores `trainer` exactly: weights, AdamW, extra tensors and state (all checked first).
    public func restore(into trainer: some Trainer, path: String = "<checkpoint>") throws {
        guard let state = header.trainer else {
            throw CheckpointError.incompatible(path: path, reason: "it holds no trainer state (written by another command, or by rft before version 2 of the format)")
        }
        guard state.kind == trainer.state.kind else {
            throw CheckpointError.incompatible(path: path, reason: "it holds a \(state.kind) trainer, not a \(trainer.state.kind) one")
        }
        try restore(into: trainer.model, optimizer: trainer.optimizer, extraTensors: trainer.extraTensors, path: path)
        try trainer.restore(state)
    }

    /// The tokenizer stored in the header.
    public func tokenizer(path: String = "<checkpoint>") throws -> Tokenizer {
        guard let t = header.tokenizer else { throw CheckpointError.incompatible(path: path, reason: "it holds no tokenizer") }
        do { return try t.decode(as: Tokenizer.self) } catch {
            throw CheckpointError.malformedHeader(path: path, reason: "bad tokenizer: \(CheckpointReader.describe(error))")
        }
    }

    /// Builds the GPT described by the header and loads its weights. Refuses configs whose
    /// parameter count the checkpoint's tensors cannot account for (so an absurd header cannot
    /// make it allocate), and missing or misshapen weights.
    public func makeModel(path: String = "<checkpoint>") throws -> GPT {
        guard let config = header.model else { throw CheckpointError.incompatible(path: path, reason: "the header has no model config") }
        if let problem = config.validationError() { throw CheckpointError.incompatible(path: path, reason: problem) }
        let stored = tensors.reduce(0) { $0 + $1.tensor.count }
        guard let needed = config.parameterCount, needed <= 2 * stored + (1 << 20) else {
            throw CheckpointError.incompatible(path: path, reason: "model config needs more parameters than the checkpoint holds")
        }
        let model = GPT(config, initializerRange: 0)  // every parameter is restored: nothing to draw
        try restore(into: model, path: path)
        return model
    }

    /// Copies weights (and, when given, AdamW moments, hyper-parameters and step count, and
    /// extra tensors by name) into live objects. Everything is checked before anything is written.
    public func restore(into model: Module, optimizer: AdamW? = nil, extraTensors: [(name: String, tensor: Tensor)] = [],
                        path: String = "<checkpoint>") throws {
        var pairs: [(Tensor, Tensor)] = []
        let byName = Dictionary(tensors.map { ($0.name, $0.tensor) }, uniquingKeysWith: { a, _ in a })
        func take(_ name: String, _ target: Tensor) throws {
            guard let t = byName[name] else { throw CheckpointError.missingTensor(path: path, name: name) }
            guard t.shape == target.shape else {
                throw CheckpointError.shapeMismatch(path: path, name: name, expected: target.shape, found: t.shape)
            }
            pairs.append((target, t))
        }
        for p in model.namedParameters() { try take(p.name, p.tensor) }
        for e in extraTensors { try take(e.name, e.tensor) }
        if let optimizer {
            guard let h = header.optimizer else { throw CheckpointError.incompatible(path: path, reason: "no optimizer state saved") }
            guard h.kind == "adamw", let b1 = h.beta1, let b2 = h.beta2, let eps = h.eps, let wd = h.weightDecay else {
                throw CheckpointError.incompatible(path: path, reason: "saved optimizer is \(h.kind), not a complete adamw")
            }
            for s in optimizer.stateTensors() { try take(Checkpoint.optimizerPrefix + s.name, s.tensor) }
            for (target, source) in pairs { target.assign(source) }
            optimizer.learningRate = h.learningRate
            optimizer.betas = (b1, b2)
            optimizer.eps = eps
            optimizer.weightDecay = wd
            optimizer.stepCount = h.stepCount
        } else {
            for (target, source) in pairs { target.assign(source) }
        }
    }

}
