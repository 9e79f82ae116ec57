#if canImport(Glibc)
import Glibc
#endif

/// A learning-rate schedule over a run of `totalSteps` optimizer steps, as Hugging Face's
/// `get_scheduler` computes it (TRL's `lr_scheduler_type`): the rate for 0-based step k is
/// base · factor(k), with a linear warm-up from 0 over the first `warmupSteps` steps
/// (factor k / warmupSteps; so step 0 of a warm-up has rate 0, as in transformers).
public struct LRSchedule: Codable, Equatable, Sendable {
    /// The shape after the warm-up.
    public enum Kind: String, Codable, CaseIterable, Sendable {
        /// factor 1 (no warm-up either).
        case constant
        /// factor 1 after the warm-up.
        case constantWithWarmup = "constant_with_warmup"
        /// Linear decay to 0 at `totalSteps`.
        case linear
        /// Half a cosine from 1 to 0 at `totalSteps`.
        case cosine
        /// Half a cosine from 1 to `minRatio` at `totalSteps`.
        case cosineWithMinLR = "cosine_with_min_lr"
    }

    /// The shape.
    public var kind: Kind
    /// Warm-up steps (ignored by `constant`).
    public var warmupSteps: Int
    /// Steps of the whole run (the decay ends there).
    public var totalSteps: Int
    /// The final factor of `cosine_with_min_lr` (transformers' `min_lr_rate`).
    public var minRatio: Float

    /// A schedule.
    public init(_ kind: Kind = .constant, warmupSteps: Int = 0, totalSteps: Int = 0, minRatio: Float = 0) {
        self.kind = kind
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The base rate at every step.
    public static let constant = LRSchedule()

    /// The learning rate for (0-based) `step` given the base rate.
    public func learningRate(base: Float, step: Int) -> Float {
        if kind == .constant { return base }
        if step < warmupSteps { return base * Float(step) / Float(max(1, warmupSteps)) }
        let progress = min(1, Float(step - warmupSteps) / Float(max(1, totalSteps - warmupSteps)))
        switch kind {
        case .constant, .constantWithWarmup: return base
        case .linear: return base * max(0, 1 - progress)
        case .cosine: return base * 0.5 * (1 + cosf(Float.pi * progress))
        case .cosineWithMinLR: return base * (minRatio + (1 - minRatio) * 0.5 * (1 + cosf(Float.pi * progress)))
        }
    }
}
