import RFTTensor

/// The surrogate a policy-gradient step minimises per completion token.
public enum PolicyLossKind: String, Codable, CaseIterable, Sendable {
    /// −A·log π(y_t): the plain policy gradient (REINFORCE form).
    case vanilla
    /// −min(ρ·A, clip(ρ, 1−ε, 1+ε)·A), ρ = π/π_old: PPO's clipped objective.
    case ppoClip = "ppo_clip"
}

/// How the per-token KL to the reference policy is estimated (Schulman's k1 and k3).
public enum KLEstimator: String, Codable, CaseIterable, Sendable {
    /// log π − log π_ref (unbiased, can be negative).
    case k1
    /// π_ref/π − log(π_ref/π) − 1 (unbiased, always ≥ 0; TRL's choice).
    case k3

    /// The estimate for one token from the policy's and the reference's log-probabilities.
    @inline(__always)
    public func value(logProb: Float, referenceLogProb: Float) -> Float {
        switch self {
        case .k1: return logProb - referenceLogProb
        case .k3: let d = referenceLogProb - logProb; return expf(d) - d - 1
        }
    }

    /// d(estimate)/d(log π) for one token.
    @inline(__always)
    public func derivative(logProb: Float, referenceLogProb: Float) -> Float {
        switch self {
        case .k1: return 1
        case .k3: return 1 - expf(referenceLogProb - logProb)
        }
    }
}

/// How token losses are averaged into the batch loss.
public enum LossAggregation: String, Codable, CaseIterable, Sendable {
    /// Σ over all completion tokens / number of tokens (long completions weigh more).
    case tokenMean = "token_mean"
    /// Mean over completions of each completion's token mean.
    case sequenceMean = "sequence_mean"
}

/// The settings of the policy loss (names as TRL's GRPOConfig where they exist).
public struct PolicyLossConfig: Codable, Equatable, Sendable {
    /// Surrogate kind.
    public var kind: PolicyLossKind = .vanilla
    /// PPO clip range ε.
    public var epsilon: Float = 0.2
    /// KL coefficient β (0 disables the KL term and the reference model).
    public var beta: Float = 0
    /// KL estimator.
    public var klEstimator: KLEstimator = .k3
    /// Token-loss aggregation.
    public var aggregation: LossAggregation = .tokenMean
    /// Entropy bonus coefficient (verl's `entropy_coeff`): loss −= coefficient · entropy,
    /// the per-token entropy aggregated like the policy loss; 0 disables it.
    public var entropyCoefficient: Float = 0

    /// Settings with the given values (defaults: vanilla, ε 0.2, β 0, k3, token mean, no entropy bonus).
    public init(kind: PolicyLossKind = .vanilla, epsilon: Float = 0.2, beta: Float = 0,
                klEstimator: KLEstimator = .k3, aggregation: LossAggregation = .tokenMean,
                entropyCoefficient: Float = 0) {
        self.kind = kind
        self.epsilon = epsilon
        self.beta = beta
        self.klEstimator = klEstimator
        self.aggregation = aggregation
        self.entropyCoefficient = entropyCoefficient
    }

    /// Decodes the keys present and keeps the defaults for the others (a config names only what it changes).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init()
        kind = try c.decodeIfPresent(PolicyLossKind.self, forKey: .kind) ?? kind
        epsilon = try c.decodeIfPresent(Float.self, forKey: .epsilon) ?? epsilon
        beta = try c.decodeIfPresent(Float.self, forKey: .beta) ?? beta
        klEstimator = try c.decodeIfPresent(KLEstimator.self, forKey: .klEstimator) ?? klEstimator
        aggregation = try c.decodeIfPresent(LossAggregation.self, forKey: .aggregation) ?? aggregation
        entropyCoefficient = try c.decodeIfPresent(Float.self, forKey: .entropyCoefficient) ?? entropyCoefficient
    }
}

/// What the loss saw, for logging: share of clipped tokens, mean KL, mean ratio.
public struct PolicyLossStatistics: Equatable, Sendable {
    /// Share of tokens whose PPO ratio was clipped (gradient zero).
    public var clipFraction: Float
    /// Mean per-token KL estimate (0 without a reference).
    public var kl: Float
    /// Mean importance ratio π/π_old (1 without old log-probs).
    public var meanRatio: Float
    /// Mean per-token entropy over all completion tokens (0 without entropies).
    public var entropy: Float = 0
}

/// The policy-gradient loss over the completion tokens of a batch, a scalar, with its backward
/// written out per token.  logProbs is (N) — log π of every completion token, completions
/// concatenated, lengths in `sequenceLengths` — and carries the graph to the model.
/// `advantages` has one value per completion; `oldLogProbs` (N) are the sampling policy's
/// (needed by ppo_clip; nil means π_old = π, ratio 1); `referenceLogProbs` (N) the frozen
/// reference's (needed when beta > 0); `entropy` (N) the policy's per-token entropy (needed when
/// `config.entropyCoefficient` ≠ 0, then differentiated too; otherwise only averaged for logging).
public func policyGradientLoss(
    logProbs: Tensor, sequenceLengths: [Int], advantages: [Float], oldLogProbs: [Float]? = nil,
    referenceLogProbs: [Float]? = nil, entropy: Tensor? = nil, config: PolicyLossConfig
) -> (loss: Tensor, statistics: PolicyLossStatistics) {
    let n = logProbs.count
    precondition(sequenceLengths.reduce(0, +) == n && sequenceLengths.count == advantages.count,
                 "policyGradientLoss: \(n) tokens, lengths \(sequenceLengths), \(advantages.count) advantages")
    precondition(oldLogProbs.map { $0.count == n } ?? true && referenceLogProbs.map { $0.count == n } ?? true,
                 "policyGradientLoss: old/reference log-probs need \(n) entries")
    precondition(config.beta == 0 || referenceLogProbs != nil, "policyGradientLoss: beta > 0 needs reference log-probs")
    precondition(entropy.map { $0.count == n } ?? (config.entropyCoefficient == 0),
                 "policyGradientLoss: an entropy coefficient needs \(n) per-token entropies")
    let bonus = config.entropyCoefficient != 0 ? entropy : nil  // the entropy term of the loss, if any
    var entropySum: Double = 0
    // per-token weight from the aggregation, loss and d loss / d log π
    var weight = [Float](repeating: 0, count: n), dLoss = [Float](repeating: 0, count: n)
    var loss: Double = 0, klSum: Double = 0, ratioSum: Double = 0
    var clipped = 0, t = 0
    let completions = max(1, sequenceLengths.filter { $0 > 0 }.count)
    for (s, length) in sequenceLengths.enumerated() {
        let a = advantages[s]
        for _ in 0..<length {
            let lp = logProbs.data[t]
            weight[t] = config.aggregation == .tokenMean ? 1 / Float(n) : 1 / Float(length * completions)
            var value: Float, grad: Float
            switch config.kind {
            case .vanilla:
                value = -a * lp; grad = -a
                ratioSum += 1
            case .ppoClip:
                let ratio = expf(lp - (oldLogProbs?[t] ?? lp))
                let clippedRatio = min(max(ratio, 1 - config.epsilon), 1 + config.epsilon)
                ratioSum += Double(ratio)
                if ratio * a <= clippedRatio * a {  // the unclipped term is the minimum
                    value = -ratio * a; grad = -ratio * a  // d(−ρA)/d log π = −ρA
                } else {
                    value = -clippedRatio * a; grad = 0
                    clipped += 1
                }
            }
            if config.beta != 0, let ref = referenceLogProbs?[t] {
                let kl = config.klEstimator.value(logProb: lp, referenceLogProb: ref)
                klSum += Double(kl)
                value += config.beta * kl
                grad += config.beta * config.klEstimator.derivative(logProb: lp, referenceLogProb: ref)
            } else if let ref = referenceLogProbs?[t] {
                klSum += Double(config.klEstimator.value(logProb: lp, referenceLogProb: ref))
            }
            if let h = entropy?.data[t] {
                entropySum += Double(h)
                if bonus != nil { value -= config.entropyCoefficient * h }
            }
            loss += Double(weight[t] * value)
            dLoss[t] = weight[t] * grad
            t += 1
        }
    }
    let out = Tensor(scalar: Float(loss))
    let statistics = PolicyLossStatistics(
        clipFraction: n > 0 ? Float(clipped) / Float(n) : 0, kl: n > 0 ? Float(klSum / Double(n)) : 0,
        meanRatio: n > 0 ? Float(ratioSum / Double(n)) : 1, entropy: n > 0 ? Float(entropySum / Double(n)) : 0)
    let coefficient = config.entropyCoefficient
    return (out.recorded(from: [logProbs] + (bonus.map { [$0] } ?? [])) { g in
        let gv = g.data[0]
        if logProbs.requiresGrad {
            let gl = logProbs.gradBuffer()
            for i in 0..<n { gl[i] += gv * dLoss[i] }
        }
        if let bonus, bonus.requiresGrad {  // d(−c·Σ wₜHₜ)/dHₜ = −c·wₜ
            let gh = bonus.gradBuffer()
            for i in 0..<n { gh[i] -= gv * coefficient * weight[i] }
        }
    }, statistics)
}

#if canImport(Glibc)
import Glibc
#endif
