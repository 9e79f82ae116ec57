/// Learning-rate schedules as plain values (Codable, so they checkpoint).
public enum LRSchedule: Codable, Equatable, Sendable {
    /// The base rate at every step.
    case constant
    /// Linear warm-up from 0 over `warmupSteps`, then constant.
    case linearWarmup(warmupSteps: Int)
    /// Linear warm-up, then cosine decay to `minRatio`·base at `totalSteps`.
    case cosine(warmupSteps: Int, totalSteps: Int, minRatio: Float)

    /// The learning rate for (0-based) `step` given the base rate.
    public func learningRate(base: Float, step: Int) -> Float {
        switch self {
        case .constant:
            return base
        case .linearWarmup(let w):
            return step < w ? base * Float(step + 1) / Float(w) : base
        case .cosine(let w, let total, let minRatio):
            if step < w { return base * Float(step + 1) / Float(w) }
            let progress = min(1, Float(step - w) / Float(max(1, total - w)))
            let cosine = 0.5 * (1 + cosf(Float.pi * progress))
            return base * (minRatio + (1 - minRatio) * cosine)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
