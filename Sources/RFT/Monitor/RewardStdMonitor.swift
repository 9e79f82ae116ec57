import RFTModel
import RFTTensor

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// Measures, for each input x, the mean and standard deviation of the reward r(x, y) over
/// completions y ~ p_θ(·|x), and flags the inputs whose std is below the `StuckCriterion`'s
/// threshold: by Razin et al. (ICLR 2024) their expected policy gradient ‖∇V(x)‖ is bounded by a
/// power of that std, so RFT barely moves them whatever their mean reward. Optionally computes
/// ‖∇V(x)‖ itself next to the std (exactly on enumerable models, estimated from the samples
/// otherwise).
///
/// Sampled mode (the default) draws `numGenerations` completions per input, many inputs per
/// `Sampler.generate` call; exact mode enumerates every completion of small models. Same seed,
/// same inputs → same report, whatever `inputsPerBatch`, and whether or not a measurement was
/// resumed from a partial one (input i's samples use generators derived from `seed` and i only) —
/// and whatever the number of processes that share the inputs (`measure(…, group:)`).
public struct RewardStdMonitor: Configuration {
    /// Completions sampled per input (K; TRL's `num_generations`). 16, because for a 0/1 reward
    /// an input with success probability p is wrongly flagged (all K samples equal) with
    /// probability pᴷ + (1−p)ᴷ: at K = 16 that is 2.8% for p = 0.2 (0.8¹⁶) and 18.5% for p = 0.1,
    /// against 10.7% and 35% at the paper's K = 10; and 10,000 inputs × 16 samples stays a few
    /// minutes of sampling for our small models.
    public var numGenerations: Int = 16
    /// Sampling temperature (1 = the model's own distribution, the setting of the theorem).
    public var temperature: Float = 1
    /// Keep only the k most likely tokens when sampling; 0 = all.
    public var topK: Int = 0
    /// Nucleus sampling mass; 1 = all.
    public var topP: Float = 1
    /// Most tokens per completion (the final `<eos>` included); nil: the longest reference + 1,
    /// or 32 without references.
    public var maxCompletionLength: Int?
    /// Seed from which every input's sampling generators are derived.
    public var seed: UInt64 = 0
    /// Inputs whose K samples go into one `Sampler.generate` call (64 × 16 = 1,024 rows); in a
    /// group of processes, the inputs of one batch are split across them.
    public var inputsPerBatch: Int = 64
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

    /// The defaults.
    public init() {}

    /// A monitor with the given settings; the others keep their defaults.
    public init(numGenerations: Int = 16, temperature: Float = 1, topK: Int = 0, topP: Float = 1,
                maxCompletionLength: Int? = nil, seed: UInt64 = 0, inputsPerBatch: Int = 64,
                mode: RewardStdMode = .sampled, gradientEvidence: Bool = false) {
        self.numGenerations = numGenerations
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxCompletionLength = maxCompletionLength
        self.seed = seed
        self.inputsPerBatch = inputsPerBatch
        self.mode = mode
        self.gradientEvidence = gradientEvidence
    }

    /// The help of each key.
    public static let help = [
        "num_generations": "completions sampled per input (K)", "temperature": "sampling temperature",
        "top_k": "keep the k most likely tokens (0 = all)", "top_p": "nucleus sampling mass (1 = all)",
        "max_completion_length": "most tokens per completion (default: the longest reference + EOS, or 32)",
        "seed": "seed of the samples", "inputs_per_batch": "inputs per sampler call",
        "mode": "sampled (K samples per input) or exact (every completion; tiny models only)",
        "gradient_evidence": "also estimate each input's expected policy-gradient norm (slower)",
        "max_exact_completions": "exact mode: most completions of one input",
        "max_gradient_completions": "gradient evidence: most distinct completions of one input",
    ]

    /// The completion length used for `examples`: the setting, else the longest reference + 1
    /// (its `<eos>`), else 32.
    public func completionLength(for examples: [TaskExample], tokenizer: Tokenizer) -> Int {
        maxCompletionLength ?? ExampleSource.fixed(examples).defaultCompletionLength(tokenizer: tokenizer)!
    }

    /// The sampling options for completions of at most `length` tokens, stopping at `stopTokens`.
    public func samplingOptions(length: Int, stopTokens: [Int] = [Tokenizer.eos]) -> SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, maxNewTokens: length, stopTokens: stopTokens)
    }

    /// Throws `ConfigError.invalid` for the first setting out of range.
    public func validate() throws {
        try ConfigRule.range("num_generations", numGenerations, 2, 1 << 16)
        try ConfigRule.sampling(temperature: temperature, topK: topK, topP: topP)
        if let m = maxCompletionLength { try ConfigRule.range("max_completion_length", m, 1, 1 << 20) }
        try ConfigRule.range("inputs_per_batch", inputsPerBatch, 1, 1 << 20)
        try ConfigRule.range("max_exact_completions", maxExactCompletions, 1, 1 << 30)
        try ConfigRule.range("max_gradient_completions", maxGradientCompletions, 1, 1 << 30)
        if gradientEvidence {
            if temperature <= 0 { throw ConfigError.invalid(key: "gradient_evidence", reason: "needs temperature > 0 (greedy decoding has no gradient)") }
            if topK != 0 || topP != 1 {
                throw ConfigError.invalid(key: "gradient_evidence", reason: "needs the full distribution (top_k 0, top_p 1), got top_k \(topK), top_p \(topP)")
            }
        }
    }

    /// Per-input reward mean/std of `examples` under `model`, flagged by `criterion`, with
    /// gradient evidence when `gradientEvidence` is set. Completion text for the reward is the
    /// decode of the tokens before `<eos>` (as the trainer scores), checked by
    /// `checkedRewards`. `resuming` are rows already measured (a prefix of the inputs, e.g. from a
    /// checkpoint): measuring continues after them and gives the rows an uninterrupted
    /// measurement would. `onRows(rows)` is called with every row so far after each batch of
    /// inputs (sampled mode) or each input (exact mode), and may throw to stop. In a `group` of
    /// N processes each measures its share of every batch (exact mode: one input in N) and every
    /// rank gets every row, so each calls `onRows` with the rows one process would have.
    public func measure(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], reward: any RewardFunction,
                        criterion: StuckCriterion = StuckCriterion(), resuming: [RewardStdRow] = [],
                        group: any ProcessGroup = SingleProcessGroup(),
                        onRows: (([RewardStdRow]) throws -> Void)? = nil) throws -> RewardStdReport {
        do { try validate() } catch let e as ConfigError { throw RewardStdMonitorError.invalidConfiguration(e.description) }
        guard tokenizer.vocabularySize <= model.config.vocabularySize else {
            throw RewardStdMonitorError.vocabularyMismatch(tokenizer: tokenizer.vocabularySize, model: model.config.vocabularySize)
        }
        guard resuming.count <= examples.count, zip(resuming, examples).allSatisfy({ $0.id == $1.displayID }) else {
            throw RewardStdMonitorError.invalidConfiguration("the partial measurement to resume does not belong to these inputs")
        }
        if gradientEvidence && !GradMode.isEnabled { throw RewardStdMonitorError.gradientsDisabled }
        let prompts = try encodePrompts(examples, tokenizer: tokenizer, contextLength: model.config.contextLength)
        let options = samplingOptions(length: completionLength(for: examples, tokenizer: tokenizer), stopTokens: tokenizer.stopTokens)
        var rows = resuming
        let context = Measurement(model: model, tokenizer: tokenizer, examples: examples, prompts: prompts, reward: reward,
                                  criterion: criterion, options: options)
        switch mode {
        case .sampled: try measureSampled(context, rows: &rows, processes: group, onRows: onRows)
        case .exact: try measureExact(context, rows: &rows, processes: group, onRows: onRows)
        }
        return RewardStdReport(mode: mode, rows: rows, criterion: criterion)
    }

    /// What every input's measurement needs.
    private struct Measurement {
        let model: GPT, tokenizer: Tokenizer, examples: [TaskExample], prompts: [[Int]], reward: any RewardFunction
        let criterion: StuckCriterion, options: SamplingOptions

        /// The checked scores of `texts`, all completions of input i.
        func scores(_ texts: [String], input i: Int) throws -> RewardScores {
            let repeated = Array(repeating: examples[i], count: texts.count)
            return try reward.checkedScores(prompts: repeated.map(\.prompt), completions: texts, examples: repeated,
                                            range: criterion.rewardRange)
        }

        /// The checked rewards of `texts`, every one scored (exact mode weighs each by its probability).
        func rewards(_ texts: [String], input i: Int) throws -> [Double] {
            try scores(texts, input: i).scoredTotals(prompts: Array(repeating: examples[i].prompt, count: texts.count), completions: texts)
        }

        /// The row of input i from its mean and std.
        func row(_ i: Int, mean: Double, std: Double, interval: (lower: Double, upper: Double), samples: Int) -> RewardStdRow {
            RewardStdRow(id: examples[i].displayID, prompt: examples[i].prompt, mean: mean, std: std, lower: interval.lower,
                         upper: interval.upper, flagged: criterion.isFlagged(std: std), stuck: criterion.isStuck(mean: mean, std: std),
                         numSamples: samples)
        }
    }

    /// The seed of input `index`'s K row generators: a function of `seed` and `index` only.
    public static func inputSeed(seed: UInt64, index: Int) -> UInt64 {
        var g = RandomGenerator(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
        return g.next()
    }

    // MARK: - Modes

    /// K samples per input, `inputsPerBatch` inputs (× K rows) per batch, this process's share
    /// of each batch in one sampler call.
    private func measureSampled(_ m: Measurement, rows: inout [RewardStdRow], processes: any ProcessGroup,
                                onRows: (([RewardStdRow]) throws -> Void)?) throws {
        let k = numGenerations, n = m.examples.count
        let sampler = Sampler(model: m.model)
        for start in stride(from: rows.count, to: n, by: inputsPerBatch) {
            let batch = start..<min(n, start + inputsPerBatch), share = processes.shard(batch.count)
            let range = (batch.lowerBound + share.lowerBound)..<(batch.lowerBound + share.upperBound)
            var measured: [RewardStdRow] = []
            var generators = range.flatMap { Sampler.rowGenerators(seed: Self.inputSeed(seed: seed, index: $0), count: k) }
            let batchPrompts = range.flatMap { Array(repeating: m.prompts[$0], count: k) }
            let generations: [Generation]
            do {
                generations = try sampler.generate(batchPrompts, options: m.options, generators: &generators)
            } catch let error as SamplerError {
                throw RewardStdMonitorError.sampling(inputs: "\(range.lowerBound)..<\(range.upperBound)", message: error.description)
            }
            let completions = generations.map(\.tokens)
            let texts = completions.map { m.tokenizer.completionText($0) }
            for (j, i) in range.enumerated() {
                // the completions some reward function scored: an unscored one is not in the std
                let scores = try m.scores(Array(texts[(j * k)..<((j + 1) * k)]), input: i)
                let kept = scores.total.indices.filter { scores.total[$0] != nil }
                let r = kept.map { scores.total[$0]! }
                let group = RewardGroup(r)
                let interval = RewardStatistics.isBinary(r)
                    ? RewardStatistics.wilson(successes: r.filter { $0 == 1 }.count, trials: r.count)
                    : RewardStatistics.normalInterval(r)
                var row = m.row(i, mean: group.mean, std: group.std, interval: interval, samples: k)
                row.completionTokens = completions[(j * k)..<((j + 1) * k)].reduce(0) { $0 + $1.count }
                if !scores.parts.isEmpty {
                    row.functions = Dictionary(uniqueKeysWithValues: scores.parts.map { ($0.name, RewardFunctionStatistics($0.scores.compactMap { $0 })) })
                }
                if kept.count < k { row.numScored = kept.count }
                if gradientEvidence, kept.count >= 2 {
                    let ys = kept.map { completions[j * k + $0] }
                    (row.gradNorm, row.boundTerm) = try sampledEvidence(model: m.model, prompt: m.prompts[i], completions: ys,
                                                                        rewards: r, input: inputLabel(i, m.examples[i]))
                }
                measured.append(row)
            }
            rows += try processes.allGather(measured).joined()  // shares are contiguous, in rank order
            try onRows?(rows)
        }
    }

    /// Every completion of every input, weighted by its exact probability; in a group of N
    /// processes, N inputs at a time (rank r the r-th).
    private func measureExact(_ m: Measurement, rows: inout [RewardStdRow], processes: any ProcessGroup,
                              onRows: (([RewardStdRow]) throws -> Void)?) throws {
        for start in stride(from: rows.count, to: m.examples.count, by: processes.size) {
            let i = start + processes.rank
            let measured = i < m.examples.count ? [try exactRow(m, input: i)] : []
            for row in try processes.allGather(measured).joined() {
                rows.append(row)
                try onRows?(rows)
            }
        }
    }

    /// The row of input `i` from every one of its completions.
    private func exactRow(_ m: Measurement, input i: Int) throws -> RewardStdRow {
        let label = inputLabel(i, m.examples[i])
        let all = try GradientEvidence.enumerateCompletions(model: m.model, prompt: m.prompts[i], options: m.options,
                                                             cap: maxExactCompletions, input: label)
        let r = try m.rewards(all.map { m.tokenizer.completionText($0.tokens) }, input: i)
        let logTotal = Self.logSumExp(all.map(\.logProb))  // ≈ 0: the probabilities sum to 1 up to rounding
        let p = all.map { exp($0.logProb - logTotal) }
        let (mean, std) = RewardStatistics.meanAndStd(probabilities: p, values: r)
        var row = m.row(i, mean: mean, std: std, interval: (mean, mean), samples: all.count)
        if gradientEvidence {
            guard all.count <= maxGradientCompletions else {
                throw RewardStdMonitorError.tooManyGradientCompletions(input: label, count: all.count, cap: maxGradientCompletions)
            }
            let ys = all.map(\.tokens)
            // ∇V = Σ_y p(y)·(r(y) − V)·∇log p(y|x): one weighted backward pass
            row.gradNorm = GradientEvidence.weightedGradientNorm(model: m.model, prompt: m.prompts[i], completions: ys,
                                                                 weights: p.indices.map { p[$0] * (r[$0] - mean) },
                                                                 temperature: temperature)
            // √(Σ_y p(y)·‖∇log p(y|x)‖²): one backward pass per completion
            let squares = GradientEvidence.gradientNormsSquared(model: m.model, prompt: m.prompts[i], completions: ys,
                                                                temperature: temperature)
            row.boundTerm = zip(p, squares).reduce(0.0) { $0 + $1.0 * $1.1 }.squareRoot()
        }
        return row
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

    /// The prompt ids of every example (`encodePrompt`), checked against the context.
    private func encodePrompts(_ examples: [TaskExample], tokenizer: Tokenizer, contextLength: Int) throws -> [[Int]] {
        try examples.enumerated().map { i, example in
            let ids: [Int]
            do {
                ids = try tokenizer.encodePrompt(example)
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

    /// log Σ exp(x), stable.
    static func logSumExp(_ x: [Double]) -> Double {
        guard let m = x.max(), m.isFinite else { return x.max() ?? -.infinity }
        return m + log(x.reduce(0) { $0 + exp($1 - m) })
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
