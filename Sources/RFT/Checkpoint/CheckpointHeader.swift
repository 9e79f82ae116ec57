import RFTModel
import RFTTensor

/// The JSON header of a checkpoint: everything except tensors that a run needs to continue,
/// or that a reader needs to rebuild the model. Written with sorted keys, so the same state
/// always gives the same bytes (set `SOURCE_DATE_EPOCH` to fix `createdAt` too).
public struct CheckpointHeader: Codable, Equatable, Sendable {
    /// The rft version that wrote the file.
    public var rftVersion: String
    /// When the file was written (ISO 8601, UTC).
    public var createdAt: String
    /// The model's shape, when the checkpoint holds a GPT.
    public var model: GPTConfig?
    /// The tokenizer, stored as free JSON so the checkpoint is self-contained.
    public var tokenizer: JSONValue?
    /// Optimizer kind, hyper-parameters and step count (its tensors are in the table).
    public var optimizer: OptimizerHeader?
    /// The trainer's state (the one typed slot for any trainer; its tensors are in the table).
    public var trainer: TrainerState?
    /// Where a run is: its stage, finished diagnoses, settings (see `Pipeline`).
    public var pipeline: PipelineState?
    /// Numbers recorded at save time (loss, eval_loss, accuracy…); `CheckpointManager` can keep the best by one.
    public var metrics: [String: Double]
    /// Free user metadata (`task` and `trainLengths` say what the model was trained on).
    public var metadata: [String: String]

    /// A header with the current rft version and date.
    public init(model: GPTConfig? = nil, tokenizer: JSONValue? = nil, optimizer: OptimizerHeader? = nil,
                trainer: TrainerState? = nil, pipeline: PipelineState? = nil,
                metrics: [String: Double] = [:], metadata: [String: String] = [:],
                rftVersion: String = RFT.rftVersion, createdAt: String = CheckpointHeader.now()) {
        self.rftVersion = rftVersion
        self.createdAt = createdAt
        self.model = model
        self.tokenizer = tokenizer
        self.optimizer = optimizer
        self.trainer = trainer
        self.pipeline = pipeline
        self.metrics = metrics
        self.metadata = metadata
    }

    /// The current UTC time in ISO 8601 (seconds), or `SOURCE_DATE_EPOCH`'s when that is set
    /// (reproducible files, as reproducible builds do it).
    public static func now() -> String {
        var t = time(nil)
        if let epoch = getenv("SOURCE_DATE_EPOCH").flatMap({ Int(String(cString: $0)) }) { t = time_t(epoch) }
        var parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }

    /// Why the decoded values cannot be used, or nil when they are sound.
    func validationError() -> String? {
        if let m = model {
            if let e = m.validationError() { return "model: \(e)" }
            let dims = [m.vocabularySize, m.contextLength, m.layers, m.heads, m.width, m.mlpRatio]
            if dims.contains(where: { $0 > 1 << 31 }) { return "model: a dimension exceeds 2^31" }
            if !m.layerNormEps.isFinite || m.layerNormEps <= 0 { return "model: layerNormEps must be positive and finite" }
        }
        if let o = optimizer {
            if o.stepCount < 0 { return "optimizer.stepCount is negative" }
            let values = [o.learningRate, o.beta1 ?? 0, o.beta2 ?? 0, o.eps ?? 0, o.weightDecay ?? 0, o.momentum ?? 0]
            if values.contains(where: { !$0.isFinite }) { return "optimizer: non-finite hyper-parameter" }
        }
        if let t = trainer {
            switch t {
            case .sft(let s), .reward(let s): if s.step < 0 || s.generator.state.count != 4 { return "trainer: bad \(t.kind) state" }
            case .grpo(let s): if s.stepCount < 0 || s.generator.state.count != 4 { return "trainer: bad GRPO state" }
            }
        }
        return nil
    }
}

/// The optimizer's kind and hyper-parameters; its state tensors are in the table under
/// `optimizer.<parameter>.<state>` (e.g. `optimizer.h.0.attn.qkv.weight.exp_avg`).
public struct OptimizerHeader: Codable, Equatable, Sendable {
    /// "adamw" or "sgd".
    public var kind: String
    /// Learning rate at save time.
    public var learningRate: Float
    /// AdamW β₁.
    public var beta1: Float?
    /// AdamW β₂.
    public var beta2: Float?
    /// AdamW ε.
    public var eps: Float?
    /// Decoupled (AdamW) or L2 (SGD) weight decay.
    public var weightDecay: Float?
    /// SGD momentum.
    public var momentum: Float?
    /// Steps the optimizer has taken (AdamW's bias correction depends on it).
    public var stepCount: Int

    /// An optimizer header.
    public init(kind: String, learningRate: Float, beta1: Float? = nil, beta2: Float? = nil, eps: Float? = nil,
                weightDecay: Float? = nil, momentum: Float? = nil, stepCount: Int) {
        self.kind = kind
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.stepCount = stepCount
    }
}

/// Any JSON value (for the tokenizer and other free-form header fields).
public indirect enum JSONValue: Codable, Equatable, Sendable {
    /// null
    case null
    /// true / false
    case bool(Bool)
    /// a number
    case number(Double)
    /// a string
    case string(String)
    /// an array
    case array([JSONValue])
    /// an object
    case object([String: JSONValue])

    /// Decodes whichever JSON value is there.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    /// Encodes the value as JSON.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n == n.rounded(), abs(n) < 9_007_199_254_740_992 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Any Encodable value as a JSONValue (e.g. a tokenizer).
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// This value decoded as `T` (e.g. back to a tokenizer).
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(self))
    }
}

import Foundation
