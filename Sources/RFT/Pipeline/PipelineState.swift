/// One stage of a run. `rft train` runs them all (the SFT pair only with a warm-up), `rft sft`
/// and `rft pretrain` the SFT stage, `rft diagnose` the first diagnosis.
public enum PipelineStage: String, Codable, CaseIterable, Sendable {
    /// Per-input reward std before any training.
    case before
    /// Supervised finetuning (the warm-up on a subset, or a whole SFT / pretraining run).
    case sft
    /// The diagnosis after SFT.
    case afterSFT = "after_sft"
    /// Reinforcement finetuning.
    case rft
    /// The diagnosis after RFT.
    case afterRFT = "after_rft"
    /// Training a reward model on preference pairs (`rft reward-train`).
    case rewardModel = "reward_model"

    /// Whether the stage is a diagnosis.
    public var isDiagnosis: Bool { self == .before || self == .afterSFT || self == .afterRFT }

    /// The row name in the before/after table.
    public var label: String {
        switch self {
        case .before: return "before"
        case .sft: return "SFT"
        case .afterSFT: return "after SFT"
        case .rft: return "RFT"
        case .afterRFT: return "after RFT"
        case .rewardModel: return "reward model"
        }
    }
}

/// Where a run is, as its checkpoints record it (the header's `pipeline` slot): the stage, what
/// the finished stages measured, the diagnosis in progress, and what the run was started with.
/// With the weights, the optimizer and the trainer's state of the same checkpoint, a resumed
/// run ends as an uninterrupted one would.
public struct PipelineState: Codable, Equatable, Sendable {
    /// The stage running (or next to run) when the checkpoint was written; nil when the run is done.
    public var stage: PipelineStage?
    /// Units of work done (trainer steps and diagnosis batches): the checkpoint's number.
    public var position = 0
    /// The finished diagnoses, by stage (`before`, `after_sft`, `after_rft`).
    public var reports: [String: RewardStdReport] = [:]
    /// Greedy accuracy on the held-out inputs at each finished diagnosis, by stage.
    public var accuracy: [String: Double] = [:]
    /// Rows of the diagnosis in progress (the stage's, or an automatic warm-up's check).
    public var partialRows: [RewardStdRow] = []
    /// The SFT subset (indices into the inputs), once chosen.
    public var sftSubset: [Int]?
    /// The automatic warm-up's progress, when it runs.
    public var auto: AutoWarmupState?
    /// Bytes of metrics.jsonl written when the checkpoint was saved (a resume cuts the file there).
    public var metricsBytes: UInt64 = 0
    /// The console's running mean of the loss since the last progress line.
    public var lossWindow = LossWindow()
    /// Every input RFT sampled, with its first and last reward mean/std (once RFT is done).
    public var inputReport: [InputStdRecord] = []
    /// The latest evaluation figures (`eval_loss`, `accuracy_test`, …), carried across a resume.
    public var evaluation: [String: Double] = [:]
    /// The run's settings, key by key as written (a resume with other settings is refused).
    public var settings: [String: String] = [:]
    /// A digest of the inputs and the starting weights (a resume on others is refused).
    public var inputsDigest = ""
    /// Processes of a data-parallel run (nil: one; a resume on another number is refused).
    public var worldSize: Int?

    /// A state at the start of `stage`.
    public init(stage: PipelineStage?) { self.stage = stage }
}

/// The automatic warm-up between its checks: the stuck share at the best check so far (its
/// weights are in the checkpoint as `best.*`) and whether a check is under way.
public struct AutoWarmupState: Codable, Equatable, Sendable {
    /// The lowest stuck share measured so far, and the SFT step it was measured at.
    public var bestStuckShare: Double?
    /// The step of the best check.
    public var bestStep = 0
    /// A check is measuring (its rows are `PipelineState.partialRows`).
    public var checking = false
}

/// A running mean of the loss between two progress lines.
public struct LossWindow: Codable, Equatable, Sendable {
    /// Sum of the losses since the last line.
    public var sum = 0.0
    /// Their number.
    public var count = 0

    /// An empty window.
    public init() {}

    /// Adds one step's loss.
    public mutating func add(_ loss: Double) { sum += loss; count += 1 }

    /// The mean so far, then an empty window.
    public mutating func take() -> Double {
        defer { self = LossWindow() }
        return count > 0 ? sum / Double(count) : 0
    }
}
