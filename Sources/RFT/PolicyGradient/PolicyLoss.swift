import RFTTensor

/// How the per-token KL to the reference policy is estimated (Schulman's k1 and k3).
public enum KLEstimator: String, Codable, CaseIterable, Sendable, ConfigChoice {
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

/// How token losses are normalised into the batch loss: TRL's `loss_type`, same names and
/// formulas (one process: `bnpo` and `dapo` coincide, both normalising by the batch's tokens).
public enum LossType: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// Each completion's token mean, averaged over completions (long completions weigh less).
    case grpo
    /// Σ over all completion tokens / the batch's completion tokens.
    case bnpo
    /// Σ over all completion tokens / (completions × max_completion_length) (Dr. GRPO: no length bias).
    case drGRPO = "dr_grpo"
    /// Σ over all completion tokens / the global batch's completion tokens (DAPO).
    case dapo
}

/// Where the PPO importance ratio π/π_old is taken (TRL's `importance_sampling_level`).
public enum ImportanceSamplingLevel: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// One ratio per token (PPO, GRPO).
    case token
    /// One ratio per completion, the exponential of the mean per-token log-ratio, clipped as a
    /// whole and shared by the completion's tokens (GSPO, Zheng et al. 2025).
    case sequence
}

/// The settings of the policy loss (TRL's GRPOConfig names; flattened into `GRPOConfig`).
public struct PolicyLossConfig: Configuration {
    /// PPO clip range ε of the ratio π/π_old: the ratio is clipped to [1 − ε, 1 + ε_high].
    public var epsilon: Float = 0.2
    /// Upper clip range ε_high (DAPO's clip-higher); nil: `epsilon`.
    public var epsilonHigh: Float?
    /// Upper bound on the unclipped ratio (TRL's two-sided clipping, INTELLECT-2): the ratio
    /// in −min(ρA, clip(ρ)A) is capped at δ, which bounds the loss of negative-advantage tokens
    /// whose ratio grew; nil: no cap. Must exceed 1 + ε_high.
    public var delta: Float?
    /// Token- or sequence-level importance ratio (GSPO).
    public var importanceSamplingLevel: ImportanceSamplingLevel = .token
    /// KL coefficient β (0 disables the KL term and the reference model).
    public var beta: Float = 0
    /// KL estimator.
    public var klEstimator: KLEstimator = .k3
    /// How token losses are normalised.
    public var lossType: LossType = .dapo
    /// Entropy bonus coefficient (verl's `entropy_coeff`): loss −= coefficient · entropy, the
    /// per-token entropy normalised like the policy loss; 0 disables it.
    public var entropyCoefficient: Float = 0

    /// The defaults: ε 0.2 both ways, no δ, token-level ratios, β 0, k3, dapo, no entropy bonus.
    public init() {}

    /// Settings with the given values.
    public init(epsilon: Float = 0.2, epsilonHigh: Float? = nil, delta: Float? = nil,
                importanceSamplingLevel: ImportanceSamplingLevel = .token, beta: Float = 0, klEstimator: KLEstimator = .k3,
                lossType: LossType = .dapo, entropyCoefficient: Float = 0) {
        self.epsilon = epsilon
        self.epsilonHigh = epsilonHigh
        self.delta = delta
        self.importanceSamplingLevel = importanceSamplingLevel
        self.beta = beta
        self.klEstimator = klEstimator
        self.lossType = lossType
        self.entropyCoefficient = entropyCoefficient
    }

    /// The help of each key.
    public static let help = [
        "epsilon": "PPO clip range ε of the ratio π/π_old (lower end 1 − ε)",
        "epsilon_high": "upper clip range: the ratio is clipped to [1 − epsilon, 1 + epsilon_high] (DAPO's clip-higher; default: epsilon)",
        "delta": "cap on the unclipped ratio (two-sided clipping; default: none; must exceed 1 + epsilon_high)",
        "importance_sampling_level": "token: a ratio per token (PPO/GRPO); sequence: one per completion, exp of the mean log-ratio (GSPO)",
        "beta": "KL coefficient β (0 = no reference model)",
        "kl_estimator": "KL estimator", "loss_type": "token-loss normalisation (TRL's loss_type)",
        "entropy_coefficient": "entropy bonus coefficient (0 = off)",
    ]

    /// The ratio's clip interval [1 − ε, 1 + ε_high].
    public var clipRange: ClosedRange<Float> { (1 - epsilon)...(1 + (epsilonHigh ?? epsilon)) }

    /// ε in [0, 1), ε_high ≥ 0, δ > 1 + ε_high, β ≥ 0, a finite entropy coefficient.
    public func validate() throws {
        try ConfigRule.finite("epsilon", epsilon, 0, 0.999)
        if let e = epsilonHigh { try ConfigRule.finite("epsilon_high", e, 0, 1e6) }
        if let d = delta {
            try ConfigRule.finite("delta", d, 0, 1e6)
            guard d > clipRange.upperBound else {
                throw ConfigError.invalid(key: "delta", reason: "must exceed 1 + epsilon_high (\(clipRange.upperBound)), got \(d)")
            }
        }
        try ConfigRule.finite("beta", beta, 0)
        try ConfigRule.finite("entropy_coefficient", entropyCoefficient, -1e6, 1e6)
    }
}

/// What the loss saw, for logging: share of clipped tokens, mean KL, mean ratio, mean entropy.
public struct PolicyLossStatistics: Equatable, Sendable {
    /// Share of tokens whose PPO ratio was clipped (gradient zero).
    public var clipFraction: Float
    /// Mean per-token KL estimate (0 without a reference).
    public var kl: Float
    /// Mean importance ratio π/π_old (1 without old log-probs).
    public var meanRatio: Float
    /// Mean per-token entropy over all completion tokens (0 without entropies).
    public var entropy: Float = 0
    /// The loss and the sums these means come from.
    public var sums = PolicyLossSums()

    /// The means of `sums` (per token; the defaults when there are no tokens).
    public init(_ sums: PolicyLossSums) {
        let n = sums.tokens
        clipFraction = n > 0 ? Float(sums.clipped) / Float(n) : 0
        kl = n > 0 ? Float(sums.kl / n) : 0
        meanRatio = n > 0 ? Float(sums.ratio / n) : 1
        entropy = n > 0 ? Float(sums.entropy / n) : 0
        self.sums = sums
    }

    /// Statistics from their values.
    public init(clipFraction: Float, kl: Float, meanRatio: Float, entropy: Float = 0) {
        self.clipFraction = clipFraction
        self.kl = kl
        self.meanRatio = meanRatio
        self.entropy = entropy
    }
}

/// The loss and the per-token sums behind `PolicyLossStatistics`: they add up over the shares
/// of a batch that several processes computed (`values` and `init(values:)` for the all-reduce).
public struct PolicyLossSums: Equatable, Sendable {
    /// The loss (normalised by the whole batch's `PolicyLossNormalizer`).
    public var loss: Double = 0
    /// Tokens, clipped tokens, and the sums of the KL estimates, ratios and entropies.
    public var tokens: Double = 0, clipped: Double = 0, kl: Double = 0, ratio: Double = 0, entropy: Double = 0

    /// No tokens.
    public init() {}

    /// The sums in a fixed order.
    public var values: [Double] { [loss, tokens, clipped, kl, ratio, entropy] }

    /// Sums from `values` (as `values` lists them).
    public init(values v: [Double]) { (loss, tokens, clipped, kl, ratio, entropy) = (v[0], v[1], v[2], v[3], v[4], v[5]) }

    /// The sums of two shares of a batch, field by field (`a`'s first).
    public static func + (a: PolicyLossSums, b: PolicyLossSums) -> PolicyLossSums {
        PolicyLossSums(values: zip(a.values, b.values).map { $0 + $1 })
    }
}

/// What the token losses of a batch are normalised by (`LossType`): the batch's completion
/// tokens, completions with tokens, and completions — the whole batch's when processes share
/// it, so that each share's loss is its part of the whole batch's.
public struct PolicyLossNormalizer: Equatable, Sendable {
    /// Completion tokens in the loss (`bnpo`, `dapo`).
    public var tokens: Int
    /// Completions with at least one token (`grpo`).
    public var completions: Int
    /// Completions (`dr_grpo`, times the longest completion length).
    public var sequences: Int

    /// The normaliser of completions of `lengths` tokens; the tokens of completions whose
    /// `inLoss` is false (TRL's `mask_truncated_completions`) are not counted, the completions
    /// are, as TRL's `grpo` and `dr_grpo` divide by the batch's completions.
    public init(lengths: [Int], inLoss: [Bool]? = nil) {
        precondition(inLoss.map { $0.count == lengths.count } ?? true, "PolicyLossNormalizer: one inLoss flag per completion")
        tokens = lengths.indices.reduce(0) { $0 + (inLoss?[$1] ?? true ? lengths[$1] : 0) }
        completions = lengths.filter { $0 > 0 }.count
        sequences = lengths.count
    }
}

/// The clipped policy-gradient loss over the completion tokens of a batch (TRL's GRPO loss), a
/// scalar, with its backward written out per token: per token −min(ρ̃·A, clip(ρ, 1−ε, 1+ε_high)·A)
/// with ρ = π/π_old (per token, or per completion under `importanceSamplingLevel: sequence`:
/// exp of the completion's mean log-ratio) and ρ̃ = min(ρ, δ) when δ is set, + β·KL, − c·entropy,
/// normalised by `config.lossType`. With no old log-probs log ρ = log π − stop_gradient(log π),
/// so ρ = 1 and the gradient is the plain policy gradient −A·∇log π (sequence level:
/// −A·∇ mean log π per completion, which every loss type turns into the token-level gradient).
/// logProbs is (N) — log π of every completion token, completions concatenated, lengths in
/// `sequenceLengths` — and carries the graph to the model. `advantages` has one value per
/// completion; `oldLogProbs` (N) are the sampling policy's; `referenceLogProbs` (N) the frozen
/// reference's (needed when beta > 0); `entropy` (N) the policy's per-token entropy (needed when
/// `config.entropyCoefficient` ≠ 0, then differentiated too; otherwise only averaged for
/// logging); `tokenAdvantages` (N), when given, replace `advantages` token by token (PPO's GAE);
/// `inLoss` (one per completion, default all) masks completions out of every term
/// and of the statistics (TRL's `mask_truncated_completions`); `maxCompletionLength` is
/// `dr_grpo`'s normaliser (default: the longest completion); `normalizer` counts the whole
/// batch's tokens and completions when this is one process's share of it (default: these).
/// The statistics' `sums` add up over the shares.
public func policyGradientLoss(
    logProbs: Tensor, sequenceLengths: [Int], advantages: [Float], oldLogProbs: [Float]? = nil,
    referenceLogProbs: [Float]? = nil, entropy: Tensor? = nil, config: PolicyLossConfig, inLoss: [Bool]? = nil,
    tokenAdvantages: [Float]? = nil, maxCompletionLength: Int? = nil, normalizer: PolicyLossNormalizer? = nil
) -> (loss: Tensor, statistics: PolicyLossStatistics) {
    let n = logProbs.count
    precondition(sequenceLengths.reduce(0, +) == n && sequenceLengths.count == advantages.count,
                 "policyGradientLoss: \(n) tokens, lengths \(sequenceLengths), \(advantages.count) advantages")
    precondition(oldLogProbs.map { $0.count == n } ?? true && referenceLogProbs.map { $0.count == n } ?? true,
                 "policyGradientLoss: old/reference log-probs need \(n) entries")
    precondition(inLoss.map { $0.count == sequenceLengths.count } ?? true, "policyGradientLoss: one inLoss flag per completion")
    precondition(tokenAdvantages.map { $0.count == n } ?? true, "policyGradientLoss: token advantages need \(n) entries")
    precondition(tokenAdvantages == nil || config.importanceSamplingLevel == .token, "policyGradientLoss: token advantages need token-level ratios")
    precondition(config.beta == 0 || referenceLogProbs != nil, "policyGradientLoss: beta > 0 needs reference log-probs")
    precondition(entropy.map { $0.count == n } ?? (config.entropyCoefficient == 0),
                 "policyGradientLoss: an entropy coefficient needs \(n) per-token entropies")
    let bonus = config.entropyCoefficient != 0 ? entropy : nil  // the entropy term of the loss, if any
    // per-token weight from the normalisation, loss and d loss / d log π
    var weight = [Float](repeating: 0, count: n), dLoss = [Float](repeating: 0, count: n)
    var sums = PolicyLossSums()
    let whole = normalizer ?? PolicyLossNormalizer(lengths: sequenceLengths, inLoss: inLoss)
    let completions = max(1, whole.completions), tokens = max(1, whole.tokens)
    let longest = max(1, maxCompletionLength ?? sequenceLengths.max() ?? 1)
    let clip = config.clipRange, cap = config.delta ?? .infinity
    var start = 0
    for (s, length) in sequenceLengths.enumerated() {
        defer { start += length }
        guard inLoss?[s] ?? true, length > 0 else { continue }
        let sequenceAdvantage = advantages[s], tokensOfS = start..<(start + length)
        let w: Float
        switch config.lossType {
        case .grpo: w = 1 / Float(length * completions)
        case .bnpo, .dapo: w = 1 / Float(tokens)
        case .drGRPO: w = 1 / Float(whole.sequences * longest)
        }
        // the completion's ratio under sequence-level sampling: exp(mean log π − log π_old)
        let sequenceRatio: Float? = config.importanceSamplingLevel == .sequence
            ? expf(oldLogProbs.map { old in tokensOfS.reduce(Float(0)) { $0 + logProbs.data[$1] - old[$1] } / Float(length) } ?? 0)
            : nil
        var sequenceGradient: Float = 0  // sequence level: Σₜ wₜ · d(−ρ̃A)/dρ̃ · ρ̃, spread over the tokens as 1/length each
        for t in tokensOfS {
            let lp = logProbs.data[t], a = tokenAdvantages?[t] ?? sequenceAdvantage
            weight[t] = w
            let ratio = sequenceRatio ?? oldLogProbs.map { expf(lp - $0[t]) } ?? 1
            let capped = min(ratio, cap), clippedRatio = min(max(ratio, clip.lowerBound), clip.upperBound)
            sums.ratio += Double(ratio)
            var value: Float, grad: Float = 0
            if capped * a <= clippedRatio * a {  // the unclipped term is the minimum
                value = -capped * a
                let g: Float = ratio <= cap ? -ratio * a : 0  // d(−ρ̃A)/d log ρ: −ρA below the cap, 0 above it
                if sequenceRatio != nil { sequenceGradient += w * g } else { grad = g }
            } else {
                value = -clippedRatio * a
                sums.clipped += 1
            }
            if let ref = referenceLogProbs?[t] {
                let kl = config.klEstimator.value(logProb: lp, referenceLogProb: ref)
                sums.kl += Double(kl)
                if config.beta != 0 {
                    value += config.beta * kl
                    grad += config.beta * config.klEstimator.derivative(logProb: lp, referenceLogProb: ref)
                }
            }
            if let h = entropy?.data[t] {
                sums.entropy += Double(h)
                if bonus != nil { value -= config.entropyCoefficient * h }
            }
            sums.loss += Double(w * value)
            dLoss[t] = w * grad
            sums.tokens += 1
        }
        if sequenceRatio != nil {  // d log ρ / d log πₜ = 1/length for each token of the completion
            for t in tokensOfS { dLoss[t] += sequenceGradient / Float(length) }
        }
    }
    let out = Tensor(scalar: Float(sums.loss))
    let statistics = PolicyLossStatistics(sums)
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
