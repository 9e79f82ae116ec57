import RFTModel
import RFTTensor

/// What every trainer is to a run (SFT, pretraining and policy gradient alike): a model, its
/// AdamW, one `step()` at a time, and a typed state that — with the weights, the optimizer's
/// tensors and `extraTensors` — lets a checkpoint resume it exactly (`Checkpoint.capture` /
/// `restore(into:)`).
public protocol Trainer: AnyObject {
    /// What one step reports.
    associatedtype Metrics: TrainerMetrics
    /// The model trained in place.
    var model: GPT { get }
    /// The optimizer (its tensors checkpoint by name).
    var optimizer: AdamW { get }
    /// Steps taken.
    var stepCount: Int { get }
    /// Everything else that changes from step to step.
    var state: TrainerState { get }
    /// Takes up `state` (of this trainer's kind) to continue from it.
    func restore(_ state: TrainerState) throws
    /// Tensors besides the model's and the optimizer's that a checkpoint must hold (GRPO's frozen
    /// reference), by checkpoint name.
    var extraTensors: [(name: String, tensor: Tensor)] { get }
    /// One optimisation step.
    func step() throws -> Metrics
}

/// A step's metrics: Codable (one line of metrics.jsonl) with the step number.
public protocol TrainerMetrics: Codable, Sendable {
    /// Step number (1-based).
    var step: Int { get }
    /// The step's loss (for the console's running mean).
    var loss: Double { get }
}

/// The state of any trainer, as a checkpoint's `trainer` slot holds it:
/// `{"kind": "sft", "state": {…}}`.
public enum TrainerState: Codable, Equatable, Sendable {
    /// A supervised (or pretraining) run.
    case sft(SFTTrainerState)
    /// A policy-gradient run.
    case grpo(GRPOTrainerState)
    /// A reward-model run.
    case reward(RewardTrainerState)

    /// `sft`, `grpo` or `reward`.
    public var kind: String {
        switch self {
        case .sft: return "sft"
        case .grpo: return "grpo"
        case .reward: return "reward"
        }
    }

    private enum CodingKeys: String, CodingKey { case kind, state }

    /// Reads `{"kind", "state"}`.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "sft": self = .sft(try c.decode(SFTTrainerState.self, forKey: .state))
        case "grpo": self = .grpo(try c.decode(GRPOTrainerState.self, forKey: .state))
        case "reward": self = .reward(try c.decode(RewardTrainerState.self, forKey: .state))
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown trainer kind \(other.debugDescription)")
        }
    }

    /// Writes `{"kind", "state"}`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        switch self {
        case .sft(let s): try c.encode(s, forKey: .state)
        case .grpo(let s): try c.encode(s, forKey: .state)
        case .reward(let s): try c.encode(s, forKey: .state)
        }
    }
}

/// Errors that stop a training step, before it changes any weight.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A loss or gradient norm is NaN or infinite; the weights were not updated.
    case nonFinite(step: Int, what: String)
    /// A state of another trainer kind was handed to `restore`.
    case wrongState(expected: String, got: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .nonFinite(let s, let w): return "step \(s): \(w) is not finite; stopped before the update"
        case .wrongState(let e, let g): return "cannot resume a \(e) trainer from a \(g) trainer's state"
        }
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
