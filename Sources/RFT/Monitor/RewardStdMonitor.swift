import RFTModel
import RFTTensor

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Measures, for each input x, the mean and standard deviation of the reward r(x, y) over
/// completions y ~ p_θ(·|x), and flags the inputs whose std is below a threshold: by Razin et
/// al. (ICLR 2024; PAPERS.md §1) their expected policy gradient ‖∇V(x)‖ is bounded by a power of
/// that std, so RFT barely moves them whatever their mean reward. Optionally computes ‖∇V(x)‖
/// itself next to the std (exactly on enumerable models, estimated from the samples otherwise).
///
/// Sampled mode (the default) draws `numSamples` completions per input, many inputs per
/// `Sampler.generate` call; exact mode enumerates every completion of small models. Same seed,
/// same inputs → same report, whatever `batchSize` (input i's samples use generators derived
/// from `seed` and i only).
public struct RewardStdMonitor: Codable, Equatable, Sendable {
    /// Completions sampled per input (K; TRL's `num_generations`). 16, because for a 0/1 reward
    /// an input with success probability p is wrongly flagged (all K samples equal) with
    /// probability pᴷ + (1−p)ᴷ: at K = 16 that is 2.8% for p = 0.2 (0.8¹⁶) and 18.5% for p = 0.1,
    /// against 10.7% and 35% at the paper's K = 10; and 10,000 inputs × 16 samples stays a few
    /// minutes of sampling for our small models.
    public var numSamples: Int = 16
    /// Sampling temperature (1 = the model's own distribution, the setting of the theorem).
    public var temperature: Float = 1
    /// Keep only the k most likely tokens when sampling; 0 = all.
    public var topK: Int = 0
    /// Nucleus sampling mass; 1 = all.
    public var topP: Float = 1
    /// Most tokens per completion (the final `<eos>` included), as the trainer's `max_completion_length`.
    public var maxCompletionLength: Int = 32
    /// Absolute std threshold: an input is flagged when its reward std < threshold. 0.05, because
    /// for a 0/1 reward std = √(p(1−p)) < 0.05 exactly when p < 0.0025 or p > 0.9975 (roots of
    /// p(1−p) = 0.0025: p = (1 ± √0.99)/2), a success rate at which 16 samples show no
    /// difference 96% of the time (0.9975¹⁶); and sampled 0/1 rewards have std either 0 or
    /// ≥ √(K−1)/K (0.24 at K = 16), so in sampled mode the flag means "all K rewards equal".
    /// For rewards on another scale, set `relativeThreshold` and `rewardRange`.
    public var threshold: Double = 0.05
    /// Threshold as a fraction of the reward range (used instead of `threshold` when
    /// `rewardRange` is set too): threshold = relativeThreshold · (upper − lower).
    public var relativeThreshold: Double?
    /// The range the reward takes values in, when known (e.g. 0...1, or -1...1).
    public var rewardRange: ClosedRange<Double>?
    /// Seed from which every input's sampling generators are derived.
    public var seed: UInt64 = 0
    /// Inputs whose K samples go into one `Sampler.generate` call (64 × 16 = 1,024 rows).
    public var batchSize: Int = 64
    /// Sampled (K samples) or exact (enumerate every completion; small models only).
    public var mode: RewardStdMode = .sampled
    /// Also compute ‖∇V(x)‖ and the bound term √(E‖∇log p(y|x)‖²) per input (costs one forward
    /// and backward pass per distinct completion; needs temperature > 0, top-k 0 and top-p 1).
    public var gradientEvidence: Bool = false
    /// Exact mode refuses (with `tooManyCompletions`) an input with more completions than this.
    public var maxExactCompletions: Int = 200_000
    /// Gradient evidence refuses an input with more distinct completions than this (one
    /// backward pass each).
    public var maxGradientCompletions: Int = 20_000

    /// A monitor; every setting has a default.
    public init(numSamples: Int = 16, temperature: Float = 1, topK: Int = 0, topP: Float = 1,
                maxCompletionLength: Int = 32, threshold: Double = 0.05, relativeThreshold: Double? = nil,
                rewardRange: ClosedRange<Double>? = nil, seed: UInt64 = 0, batchSize: Int = 64,
                mode: RewardStdMode = .sampled, gradientEvidence: Bool = false) {
        self.numSamples = numSamples
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxCompletionLength = maxCompletionLength
        self.threshold = threshold
        self.relativeThreshold = relativeThreshold
        self.rewardRange = rewardRange
        self.seed = seed
        self.batchSize = batchSize
        self.mode = mode
        self.gradientEvidence = gradientEvidence
    }

    /// The threshold rows are flagged with: relativeThreshold·(upper − lower) when both are
    /// set, else `threshold`.
    public var effectiveThreshold: Double {
        if let relative = relativeThreshold, let range = rewardRange {
            return relative * (range.upperBound - range.lowerBound)
        }
        return threshold
    }

    /// The sampling options the monitor samples (and enumerates) with; stops at `<eos>`.
    public var samplingOptions: SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, maxNewTokens: maxCompletionLength)
    }

    /// What is wrong with these settings, or nil.
    public func validationError() -> String? {
        if numSamples < 2 { return "num_samples must be ≥ 2 (a std needs two samples), got \(numSamples)" }
        if maxCompletionLength < 1 { return "max_completion_length must be ≥ 1, got \(maxCompletionLength)" }
        if let problem = samplingOptions.validationError() { return problem }
        if !(threshold >= 0) || !threshold.isFinite { return "threshold must be a finite number ≥ 0, got \(threshold)" }
        if let r = relativeThreshold, !(r >= 0 && r <= 1) { return "relative_threshold must be in [0, 1], got \(r)" }
        if let r = rewardRange, !r.lowerBound.isFinite || !r.upperBound.isFinite {
            return "reward_range must be finite, got \(r.lowerBound)...\(r.upperBound)"
        }
        if batchSize < 1 { return "batch_size must be ≥ 1, got \(batchSize)" }
        if maxExactCompletions < 1 || maxGradientCompletions < 1 { return "completion caps must be ≥ 1" }
        if gradientEvidence {
            if temperature <= 0 { return "gradient evidence needs temperature > 0 (greedy decoding has no gradient), got \(temperature)" }
            if topK != 0 || topP != 1 {
                return "gradient evidence needs the full distribution (top_k 0, top_p 1), got top_k \(topK), top_p \(topP)"
            }
        }
        return nil
    }

    /// Per-input reward mean/std of `examples` under `model`, flagged against
    /// `effectiveThreshold`, with gradient evidence when `gradientEvidence` is set.
    /// Completion text for the reward is the decode of the tokens before `<eos>` (as the trainer
    /// scores). `progress(done, total)` is called after each batch of inputs (sampled mode) or
    /// each input (exact mode). Throws `RewardStdMonitorError` for bad settings or inputs and
    /// passes on the reward function's own errors.
    public func measure(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], reward: any RewardFunction,
                        progress: ((_ done: Int, _ total: Int) -> Void)? = nil) throws -> RewardStdReport {
        if let problem = validationError() { throw RewardStdMonitorError.invalidConfiguration(problem) }
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw RewardStdMonitorError.vocabularyMismatch(tokenizer: tokenizer.vocabularySize, model: model.config.vocabularySize)
        }
        if gradientEvidence && !GradMode.isEnabled { throw RewardStdMonitorError.gradientsDisabled }
        let prompts = try encodePrompts(examples, tokenizer: tokenizer, contextLength: model.config.contextLength)
        let rows: [RewardStdRow]
        switch mode {
        case .sampled:
            rows = try measureSampled(model: model, tokenizer: tokenizer, examples: examples, prompts: prompts,
                                      reward: reward, progress: progress)
        case .exact:
            rows = try measureExact(model: model, tokenizer: tokenizer, examples: examples, prompts: prompts,
                                    reward: reward, progress: progress)
        }
        return RewardStdReport(mode: mode, rows: rows, threshold: effectiveThreshold)
    }

    /// The seed of input `index`'s K row generators: a function of `seed` and `index` only.
    public static func inputSeed(seed: UInt64, index: Int) -> UInt64 {
        var g = RandomGenerator(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }

    // MARK: - Modes

    /// K samples per input, `batchSize` inputs (× K rows) per sampler call.
    private func measureSampled(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], prompts: [[Int]],
                                reward: any RewardFunction, progress: ((Int, Int) -> Void)?) throws -> [RewardStdRow] {
        let k = numSamples, n = examples.count, options = samplingOptions, limit = effectiveThreshold
        let sampler = Sampler(model: model)
        var rows: [RewardStdRow] = []
        rows.reserveCapacity(n)
        for start in stride(from: 0, to: n, by: batchSize) {
            let range = start..<min(n, start + batchSize)
            var generators = range.flatMap { Sampler.rowGenerators(seed: Self.inputSeed(seed: seed, index: $0), count: k) }
            let batchPrompts = range.flatMap { Array(repeating: prompts[$0], count: k) }
            let generations: [Generation]
            do {
                generations = try sampler.generate(batchPrompts, options: options, generators: &generators)
            } catch let error as SamplerError {
                throw RewardStdMonitorError.sampling(inputs: "\(range.lowerBound)..<\(range.upperBound)", message: error.description)
            }
            let completions = generations.map(\.tokens)
            let texts = completions.map { tokenizer.decode($0.prefix { $0 != Tokenizer.eos }) }
            let batchExamples = range.flatMap { Array(repeating: examples[$0], count: k) }
            let rewards = try Self.score(reward, examples: batchExamples, completions: texts)
            for (j, i) in range.enumerated() {
                let r = Array(rewards[(j * k)..<((j + 1) * k)])
                let (mean, std) = RewardStatistics.meanAndStd(r)
                let interval = RewardStatistics.isBinary(r)
                    ? RewardStatistics.wilson(successes: r.filter { $0 == 1 }.count, trials: k)
                    : RewardStatistics.normalInterval(r)
                var row = RewardStdRow(id: examples[i].displayID, prompt: examples[i].prompt, mean: mean, std: std,
                                       lower: interval.lower, upper: interval.upper, flagged: std < limit, numSamples: k)
                if gradientEvidence {
                    let ys = Array(completions[(j * k)..<((j + 1) * k)])
                    (row.gradNorm, row.boundTerm) = try sampledEvidence(model: model, prompt: prompts[i], completions: ys,
                                                                        rewards: r, input: inputLabel(i, examples[i]))
                }
                rows.append(row)
            }
            progress?(range.upperBound, n)
        }
        return rows
    }

    /// Every completion of every input, weighted by its exact probability.
    private func measureExact(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], prompts: [[Int]],
                              reward: any RewardFunction, progress: ((Int, Int) -> Void)?) throws -> [RewardStdRow] {
        let options = samplingOptions, limit = effectiveThreshold
        var rows: [RewardStdRow] = []
        rows.reserveCapacity(examples.count)
        for (i, example) in examples.enumerated() {
            let label = inputLabel(i, example)
            let all = try GradientEvidence.enumerateCompletions(model: model, prompt: prompts[i], options: options,
                                                                 cap: maxExactCompletions, input: label)
            let texts = all.map { tokenizer.decode($0.tokens.prefix { $0 != Tokenizer.eos }) }
            let r = try Self.score(reward, examples: Array(repeating: example, count: all.count), completions: texts)
            let logTotal = Self.logSumExp(all.map(\.logProb))  // ≈ 0: the probabilities sum to 1 up to rounding
            let p = all.map { exp($0.logProb - logTotal) }
            let (mean, std) = RewardStatistics.meanAndStd(probabilities: p, values: r)
            var row = RewardStdRow(id: example.displayID, prompt: example.prompt, mean: mean, std: std,
                                   lower: mean, upper: mean, flagged: std < limit, numSamples: all.count)
            if gradientEvidence {
                guard all.count <= maxGradientCompletions else {
                    throw RewardStdMonitorError.tooManyGradientCompletions(input: label, count: all.count, cap: maxGradientCompletions)
                }
                let ys = all.map(\.tokens)
                // ∇V = Σ_y p(y)·(r(y) − V)·∇log p(y|x): one weighted backward pass
                row.gradNorm = GradientEvidence.weightedGradientNorm(model: model, prompt: prompts[i], completions: ys,
                                                                     weights: p.indices.map { p[$0] * (r[$0] - mean) },
                                                                     temperature: temperature)
                // √(Σ_y p(y)·‖∇log p(y|x)‖²): one backward pass per completion
                let squares = GradientEvidence.gradientNormsSquared(model: model, prompt: prompts[i], completions: ys,
                                                                    temperature: temperature)
                row.boundTerm = zip(p, squares).reduce(0.0) { $0 + $1.0 * $1.1 }.squareRoot()
            }
            rows.append(row)
            progress?(i + 1, examples.count)
        }
        return rows
    }

    /// Sampled gradient evidence from K completions y_i with rewards r_i: the norm of the
    /// leave-one-out (RLOO) estimate ĝ = (1/K)·Σ_i (r_i − mean_{−i})·∇log p(y_i|x) and
    /// √((1/K)·Σ_i ‖∇log p(y_i|x)‖²). ĝ is an unbiased estimate of ∇V, but its norm is biased
    /// upwards (E‖ĝ‖² = ‖∇V‖² + tr Cov(ĝ)) and noisy at small K: read it as evidence next to the
    /// std, not as ‖∇V‖. Since r_i − mean_{−i} = K/(K−1)·(r_i − mean), Cauchy–Schwarz gives
    /// ‖ĝ‖ ≤ K/(K−1) · std · boundTerm on every sample.
    private func sampledEvidence(model: GPT, prompt: [Int], completions ys: [[Int]], rewards r: [Double],
                                 input: String) throws -> (Double, Double) {
        let k = Double(ys.count), total = r.reduce(0, +)
        guard Set(ys).count <= maxGradientCompletions else {
            throw RewardStdMonitorError.tooManyGradientCompletions(input: input, count: Set(ys).count, cap: maxGradientCompletions)
        }
        let weights = r.map { ($0 - (total - $0) / (k - 1)) / k }
        let norm = GradientEvidence.weightedGradientNorm(model: model, prompt: prompt, completions: ys, weights: weights,
                                                         temperature: temperature)
        let squares = GradientEvidence.gradientNormsSquared(model: model, prompt: prompt, completions: ys, temperature: temperature)
        return (norm, (squares.reduce(0, +) / k).squareRoot())
    }

    // MARK: - Helpers

    /// `<bos> x <sep>` of every example, checked against the context.
    private func encodePrompts(_ examples: [TaskExample], tokenizer: Tokenizer, contextLength: Int) throws -> [[Int]] {
        try examples.enumerated().map { i, example in
            let ids: [Int]
            do {
                ids = try tokenizer.encodePrompt(example.prompt)
            } catch {
                throw RewardStdMonitorError.promptEncoding(input: inputLabel(i, example), message: "\(error)")
            }
            guard ids.count <= contextLength else {
                throw RewardStdMonitorError.promptTooLong(input: inputLabel(i, example), tokens: ids.count, context: contextLength)
            }
            return ids
        }
    }

    /// "input 17 (id)" for error messages.
    private func inputLabel(_ index: Int, _ example: TaskExample) -> String {
        let id = example.displayID
        return "input \(index) (\((id.count > 60 ? String(id.prefix(60)) + "…" : id).debugDescription))"
    }

    /// The rewards of `completions`, checked for count and finiteness.
    static func score(_ reward: any RewardFunction, examples: [TaskExample], completions: [String]) throws -> [Double] {
        let rewards = try reward.rewards(prompts: examples.map(\.prompt), completions: completions, examples: examples)
        guard rewards.count == completions.count else {
            throw RewardStdMonitorError.rewardCount(expected: completions.count, got: rewards.count)
        }
        if let j = rewards.firstIndex(where: { !$0.isFinite }) {
            throw RewardStdMonitorError.nonFiniteReward(input: examples[j].displayID, completion: completions[j], value: rewards[j])
        }
        return rewards
    }

    /// log Σ exp(x), stable.
    static func logSumExp(_ x: [Double]) -> Double {
        guard let m = x.max(), m.isFinite else { return x.max() ?? -.infinity }
        return m + log(x.reduce(0) { $0 + exp($1 - m) })
    }

    // MARK: - Codable (a config names only what it changes)

    private enum CodingKeys: String, CodingKey {
        case numSamples = "num_samples", temperature, topK = "top_k", topP = "top_p"
        case maxCompletionLength = "max_completion_length", threshold, relativeThreshold = "relative_threshold"
        case rewardRange = "reward_range", seed, batchSize = "batch_size", mode, gradientEvidence = "gradient_evidence"
        case maxExactCompletions = "max_exact_completions", maxGradientCompletions = "max_gradient_completions"
    }

    /// Decodes the keys present and keeps the defaults for the others.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ current: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? current }
        self.init()
        numSamples = try value(.numSamples, numSamples)
        temperature = try value(.temperature, temperature)
        topK = try value(.topK, topK)
        topP = try value(.topP, topP)
        maxCompletionLength = try value(.maxCompletionLength, maxCompletionLength)
        threshold = try value(.threshold, threshold)
        relativeThreshold = try c.decodeIfPresent(Double.self, forKey: .relativeThreshold)
        rewardRange = try c.decodeIfPresent(ClosedRange<Double>.self, forKey: .rewardRange)
        seed = try value(.seed, seed)
        batchSize = try value(.batchSize, batchSize)
        mode = try value(.mode, mode)
        gradientEvidence = try value(.gradientEvidence, gradientEvidence)
        maxExactCompletions = try value(.maxExactCompletions, maxExactCompletions)
        maxGradientCompletions = try value(.maxGradientCompletions, maxGradientCompletions)
    }

    /// Encodes every setting.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(numSamples, forKey: .numSamples)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(topK, forKey: .topK)
        try c.encode(topP, forKey: .topP)
        try c.encode(maxCompletionLength, forKey: .maxCompletionLength)
        try c.encode(threshold, forKey: .threshold)
        try c.encodeIfPresent(relativeThreshold, forKey: .relativeThreshold)
        try c.encodeIfPresent(rewardRange, forKey: .rewardRange)
        try c.encode(seed, forKey: .seed)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(mode, forKey: .mode)
        try c.encode(gradientEvidence, forKey: .gradientEvidence)
        try c.encode(maxExactCompletions, forKey: .maxExactCompletions)
        try c.encode(maxGradientCompletions, forKey: .maxGradientCompletions)
    }
}

/// Errors from measuring reward std, each naming the input or setting at fault.
public enum RewardStdMonitorError: Error, Equatable, CustomStringConvertible {
    /// A setting is out of range.
    case invalidConfiguration(String)
    /// The tokenizer has more ids than the model's vocabulary.
    case vocabularyMismatch(tokenizer: Int, model: Int)
    /// A prompt has a character the tokenizer does not know.
    case promptEncoding(input: String, message: String)
    /// A prompt (with `<bos>` and `<sep>`) does not fit the model's context.
    case promptTooLong(input: String, tokens: Int, context: Int)
    /// The sampler refused a batch of inputs.
    case sampling(inputs: String, message: String)
    /// The reward function returned the wrong number of rewards.
    case rewardCount(expected: Int, got: Int)
    /// The reward function returned NaN or infinity.
    case nonFiniteReward(input: String, completion: String, value: Double)
    /// Exact mode: the input has more completions than the cap.
    case tooManyCompletions(input: String, atLeast: Int, cap: Int, maxLength: Int)
    /// Gradient evidence: the input has more distinct completions than the cap.
    case tooManyGradientCompletions(input: String, count: Int, cap: Int)
    /// Gradient evidence was asked for inside `withoutGradients`.
    case gradientsDisabled
    /// A report could not be encoded.
    case encoding(what: String, message: String)
    /// A report could not be written.
    case io(path: String, message: String)

    /// One line naming the problem and where it is.
    public var description: String {
        switch self {
        case .invalidConfiguration(let s): return "reward-std monitor: \(s)"
        case .vocabularyMismatch(let t, let m): return "the tokenizer has \(t) token ids but the model's vocabulary has only \(m)"
        case .promptEncoding(let input, let message): return "\(input): cannot encode the prompt: \(message)"
        case .promptTooLong(let input, let n, let ctx): return "\(input): the prompt is \(n) tokens with <bos> and <sep>; the model's context is \(ctx)"
        case .sampling(let inputs, let message): return "sampling inputs \(inputs): \(message)"
        case .rewardCount(let e, let g): return "reward function returned \(g) rewards for \(e) completions"
        case .nonFiniteReward(let input, let c, let v): return "reward function returned \(v) for input \(input.debugDescription), completion \(c.debugDescription)"
        case .tooManyCompletions(let input, let n, let cap, let l):
            return "\(input): exact mode would enumerate at least \(n) completions of up to \(l) tokens (cap \(cap)); use sampled mode or a shorter max_completion_length"
        case .tooManyGradientCompletions(let input, let n, let cap):
            return "\(input): gradient evidence needs one backward pass per completion and there are \(n) (cap \(cap))"
        case .gradientsDisabled: return "gradient evidence needs autograd, but measure() was called inside withoutGradients"
        case .encoding(let what, let message): return "cannot encode \(what) as JSON: \(message)"
        case .io(let path, let message): return "\(path): \(message)"
        }
    }
}
