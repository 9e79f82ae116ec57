import Foundation

/// Generalized advantage estimation (Schulman et al. 2016) over one completion's tokens: with
/// per-token rewards rₜ and the critic's values Vₜ (V after the last token is 0: a completion
/// ends its episode, whether at EOS or cut off),
/// δₜ = rₜ + γ·Vₜ₊₁ − Vₜ, Aₜ = δₜ + γλ·Aₜ₊₁, and the value targets (returns) Rₜ = Aₜ + Vₜ.
/// → (advantages, returns), each of the completion's length.
public func generalizedAdvantages(rewards: [Double], values: [Double], gamma: Double, lambda: Double)
    -> (advantages: [Double], returns: [Double])
{
    precondition(rewards.count == values.count, "generalizedAdvantages: \(rewards.count) rewards, \(values.count) values")
    var advantages = [Double](repeating: 0, count: rewards.count)
    var next = 0.0, nextValue = 0.0
    for t in rewards.indices.reversed() {
        let delta = rewards[t] + gamma * nextValue - values[t]
        next = delta + gamma * lambda * next
        advantages[t] = next
        nextValue = values[t]
    }
    return (advantages, zip(advantages, values).map { $0 + $1 })
}

/// PPO's per-token rewards for one completion (Ziegler et al. 2019, as TRL's PPOTrainer and
/// OpenRLHF): −β·(log π_old − log π_ref) at every token, plus the completion's score at its last
/// token. Without reference log-probs the KL term is 0.
public func ppoTokenRewards(score: Double, logProbs: [Float], referenceLogProbs: [Float]?, beta: Double) -> [Double] {
    var r = logProbs.indices.map { t in referenceLogProbs.map { -beta * Double(logProbs[t] - $0[t]) } ?? 0 }
    if !r.isEmpty { r[r.count - 1] += score }
    return r
}

/// Adaptive KL control toward a target (Ziegler et al. 2019; TRL's and OpenRLHF's `kl.target` /
/// `kl.horizon`): after each step with mean per-completion KL `kl` over `n` completions,
/// β ← β·(1 + clip(kl/target − 1, −0.2, 0.2)·n/horizon). Without a target β stays fixed.
public struct KLController: Codable, Equatable, Sendable {
    /// The current coefficient β.
    public var beta: Double
    /// The KL (nats per completion) to steer toward; nil: β is fixed.
    public var target: Double?
    /// Completions over which the error is corrected.
    public var horizon: Double

    /// A controller starting at `beta`.
    public init(beta: Double, target: Double? = nil, horizon: Double = 10_000) {
        self.beta = beta
        self.target = target
        self.horizon = horizon
    }

    /// Updates β from a step's KL over `n` completions.
    public mutating func update(kl: Double, completions n: Int) {
        guard let target, target > 0, kl.isFinite else { return }
        let error = min(max(kl / target - 1, -0.2), 0.2)
        beta *= 1 + error * Double(n) / horizon
    }
}

/// `values` shifted and scaled to mean 0 and (population) std 1 over the given mean and std
/// (those of the whole step, when processes share it); unchanged when the std is 0.
func whitened(_ values: [Double], mean: Double, std: Double) -> [Double] {
    values.map { std > 1e-8 ? ($0 - mean) / std : $0 - mean }
}

/// The sums over tokens that the explained variance needs — count, ΣR, ΣR², Σ(R − V), Σ(R − V)² —
/// in `values` order, so processes add theirs with one all-reduce.
struct ReturnMoments {
    var values = [Double](repeating: 0, count: 5)

    /// Adds one token's return and value.
    mutating func add(return r: Double, value v: Double) {
        values[0] += 1; values[1] += r; values[2] += r * r; values[3] += r - v; values[4] += (r - v) * (r - v)
    }

    /// 1 − Var(returns − values) / Var(returns); nil when the returns do not vary.
    var explainedVariance: Double? {
        let n = max(1, values[0])
        func variance(_ sum: Double, _ squares: Double) -> Double { squares / n - (sum / n) * (sum / n) }
        let returns = variance(values[1], values[2])
        return returns > 1e-12 ? 1 - variance(values[3], values[4]) / returns : nil
    }
}

/// 1 − Var(returns − values) / Var(returns): how much of the returns' variance the critic
/// explains (1: perfectly, 0: no better than their mean, < 0: worse); nil when the returns do
/// not vary.
public func explainedVariance(values: [Double], returns: [Double]) -> Double? {
    precondition(values.count == returns.count, "explainedVariance: \(values.count) values, \(returns.count) returns")
    var m = ReturnMoments()
    for (r, v) in zip(returns, values) { m.add(return: r, value: v) }
    return m.explainedVariance
}

/// PPO's clipped value loss for one token (TRL's `cliprange_value`): ½·max((V − R)², (V_clip − R)²)
/// with V_clip = V_old + clip(V − V_old, −ε_v, ε_v). → the loss, d loss / dV, and whether the
/// clipped term was the larger (no gradient flows then).
@inline(__always)
func clippedValueLoss(value v: Float, old: Float, target r: Float, clipRange e: Float) -> (loss: Float, grad: Float, clipped: Bool) {
    let vc = old + min(max(v - old, -e), e)
    let plain = (v - r) * (v - r), clipped = (vc - r) * (vc - r)
    if clipped > plain { return (0.5 * clipped, 0, true) }  // V is outside the band, where V_clip does not move with it
    return (0.5 * plain, v - r, false)
}
