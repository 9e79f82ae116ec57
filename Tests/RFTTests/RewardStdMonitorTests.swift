import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import RFT
@testable import RFTModel
@testable import RFTTensor

/// A tiny GPT over the tokenizer of "ab" (7 ids: 5 specials + a, b) whose completions of up to 3
/// tokens can be enumerated (1 + 6 + 6²·7 = 259 per prompt), and rewards on it.
enum TinyPolicy {
    static let tokenizer = Tokenizer(characters: "ab")
    static let prompts = ["a", "b", "ab", "ba", "aab", "bba"]
    static var examples: [TaskExample] { prompts.map { TaskExample(prompt: $0, reference: nil, length: $0.count) } }

    /// A random-init GPT with weights scaled ×`scale` so the policy is far from uniform.
    static func model(seed: UInt64 = 3, scale: Float = 3) -> GPT {
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 8, layers: 1, heads: 1, width: 8), seed: seed)
        for p in model.parameters() { p.assign(p * scale) }
        return model
    }

    /// A reward with several levels: 1 for "ab", 0.3 for any other completion starting with "a", else 0.
    static let graded = ClosureReward { _, y, _ in y == "ab" ? 1 : (y.hasPrefix("a") ? 0.3 : 0) }
    /// 1 when the completion contains "b", else 0.
    static let containsB = ClosureReward { _, y, _ in y.contains("b") ? 1 : 0 }

    static func monitor(_ mode: RewardStdMode, temperature: Float = 1, evidence: Bool = false) -> RewardStdMonitor {
        RewardStdMonitor(temperature: temperature, maxCompletionLength: 3, mode: mode, gradientEvidence: evidence)
    }

    /// Every completion of `example` with p(y), r(y) (graded reward) and V = Σ p·r.
    static func exactTerms(_ model: GPT, _ example: TaskExample, temperature: Float) throws
        -> (prompt: [Int], all: [EnumeratedCompletion], p: [Double], r: [Double], v: Double)
    {
        let prompt = try tokenizer.encodePrompt(example.prompt)
        let options = monitor(.exact, temperature: temperature).samplingOptions(length: 3)
        let all = try GradientEvidence.enumerateCompletions(model: model, prompt: prompt, options: options, cap: 1000)
        let p = all.map { exp($0.logProb) }
        let texts = all.map { tokenizer.decode($0.tokens.prefix { $0 != Tokenizer.eos }) }
        let r = try graded.rewards(prompts: texts.map { _ in example.prompt }, completions: texts, examples: texts.map { _ in example })
        return (prompt, all, p, r, zip(p, r).reduce(0.0) { $0 + $1.0 * $1.1 })
    }

    /// Central finite differences (h = 1e-3) of the exactly enumerated V on the `coordinates`
    /// largest entries of the flat gradient `exact`. The error is the O(h²) truncation (measured
    /// worst relative error 5.5e-2, 6.4e-3, 7.2e-4 at h = 1e-2, 3e-3, 1e-3 at T = 1: it falls
    /// ~h², so the gradient is right) plus Float32 noise on V (~1e-7, i.e. ~5e-5 on the
    /// quotient); tolerance 5e-3 relative + 1e-4 absolute.
    static func checkFiniteDifferences(_ model: GPT, _ example: TaskExample, exact: [Float], temperature: Float,
                                       coordinates: Int) throws {
        let parameters = model.parameters()
        let offsets = parameters.reduce(into: [0]) { $0.append($0.last! + $1.count) }
        let h: Float = 1e-3
        for flat in exact.indices.sorted(by: { abs(exact[$0]) > abs(exact[$1]) }).prefix(coordinates) {
            let t = offsets.lastIndex { $0 <= flat }!, i = flat - offsets[t]
            let saved = parameters[t].data[i]
            parameters[t].data[i] = saved + h
            let up = try value(model, example, reward: graded, temperature: temperature)
            parameters[t].data[i] = saved - h
            let down = try value(model, example, reward: graded, temperature: temperature)
            parameters[t].data[i] = saved
            let fd = (up - down) / Double(2 * h)
            #expect(abs(fd - Double(exact[flat])) <= 5e-3 * abs(fd) + 1e-4, "coordinate \(flat): fd \(fd), exact \(exact[flat])")
        }
    }

    /// Exact V(x) = E_y r(x, y) of one example.
    static func value(_ model: GPT, _ example: TaskExample, reward: any RewardFunction, temperature: Float) throws -> Double {
        try monitor(.exact, temperature: temperature).measure(model: model, tokenizer: tokenizer, examples: [example], reward: reward).rows[0].mean
    }
}

@Suite struct RewardStdMonitorGradientTests {
    /// Theorem check on every input, computed exactly: ‖∇V(x)‖ ≤ STD(x)·√(E‖∇log p(y|x)‖²),
    /// at temperature 1 and 0.7.
    @Test func expectedGradientIsBoundedByTheRewardStd() throws {
        let model = TinyPolicy.model()
        for temperature: Float in [1, 0.7] {
            let report = try TinyPolicy.monitor(.exact, temperature: temperature, evidence: true)
                .measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples, reward: TinyPolicy.graded)
            #expect(report.rows.count == TinyPolicy.prompts.count)
            for row in report.rows {
                let grad = try #require(row.gradNorm), bound = try #require(row.boundTerm)
                #expect(row.numSamples == 259)
                #expect(row.std > 0.05 && grad > 1e-3, "\(row)")  // a non-trivial case: the bound is not 0 ≤ 0
                #expect(grad <= row.std * bound * (1 + 1e-4), "T=\(temperature) \(row.id): ‖∇V‖ \(grad) > std·bound \(row.std * bound)")
            }
        }
    }

    /// The exact ∇V of the monitor equals Σ_y p(y)(r(y) − V)·∇log p(y) summed one completion at a
    /// time through `GPT.completionLogProbs` (relative distance < 1e-4), and central finite
    /// differences of the exactly enumerated V on the 6 largest gradient coordinates.
    @Test func exactGradientMatchesPerCompletionSumAndFiniteDifferences() throws {
        let model = TinyPolicy.model()
        let example = TinyPolicy.examples[2]
        let (prompt, all, p, r, v) = try TinyPolicy.exactTerms(model, example, temperature: 1)
        #expect(all.count == 259)
        #expect(abs(p.reduce(0, +) - 1) < 1e-5)
        let weights = p.indices.map { p[$0] * (r[$0] - v) }
        // the monitor's way: one weighted backward pass
        let exact = GradientEvidence.isolatingGradients(model) { () -> [Float] in
            GradientEvidence.accumulateWeightedGradient(model: model, prompt: prompt, completions: all.map(\.tokens),
                                                        weights: weights, temperature: 1)
            return GradientEvidence.flatGradient(model)
        }
        // independently: each completion's ∇log p(y) from GPT.completionLogProbs, summed in Double
        var sum = [Double](repeating: 0, count: exact.count)
        GradientEvidence.isolatingGradients(model) {
            for (j, y) in all.enumerated() {
                for q in model.parameters() { q.grad = nil }
                model.completionLogProbs(prompts: [prompt], completions: [y.tokens]).sum().backward()
                for (i, g) in GradientEvidence.flatGradient(model).enumerated() { sum[i] += weights[j] * Double(g) }
            }
        }
        let norm = sum.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let distance = zip(exact, sum).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
        #expect(norm > 1e-3)
        #expect(distance / norm < 1e-4, "relative distance \(distance / norm)")
        try TinyPolicy.checkFiniteDifferences(model, example, exact: exact, temperature: 1, coordinates: 6)
        // and the monitor reports the norm of this gradient
        let row = try TinyPolicy.monitor(.exact, evidence: true)
            .measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: [example], reward: TinyPolicy.graded).rows[0]
        #expect(abs(row.mean - v) < 1e-9)
        #expect(abs(try #require(row.gradNorm) - norm) < 1e-4 * norm)
    }

    /// Finite differences at temperature 0.7: the gradient of the tempered policy p_T.
    @Test func temperedGradientMatchesFiniteDifferences() throws {
        let model = TinyPolicy.model(seed: 5)
        let example = TinyPolicy.examples[1]
        let (prompt, all, p, r, v) = try TinyPolicy.exactTerms(model, example, temperature: 0.7)
        #expect(abs(try TinyPolicy.value(model, example, reward: TinyPolicy.graded, temperature: 0.7) - v) < 1e-9)
        let exact = GradientEvidence.isolatingGradients(model) { () -> [Float] in
            GradientEvidence.accumulateWeightedGradient(model: model, prompt: prompt, completions: all.map(\.tokens),
                                                        weights: p.indices.map { p[$0] * (r[$0] - v) }, temperature: 0.7)
            return GradientEvidence.flatGradient(model)
        }
        try TinyPolicy.checkFiniteDifferences(model, example, exact: exact, temperature: 0.7, coordinates: 4)
    }

    /// A reward that is the same on every completion has std 0 and ∇V = 0, though the
    /// per-completion gradients (the bound term) are far from 0.
    @Test func constantRewardHasNoGradient() throws {
        let report = try TinyPolicy.monitor(.exact, evidence: true).measure(
            model: TinyPolicy.model(), tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples,
            reward: ClosureReward { _, _, _ in 0.7 })
        for row in report.rows {
            #expect(abs(row.mean - 0.7) < 1e-12)
            #expect(row.std < 1e-12 && row.flagged)
            #expect(try #require(row.gradNorm) < 1e-9)
            #expect(try #require(row.boundTerm) > 0.1)
        }
        #expect(report.summary.fracFlagged == 1)
    }

    /// Lowering the temperature pushes p(greedy completion) → 1: the std of "is the greedy
    /// completion" falls towards 0 and ‖∇V‖ falls with it (while ‖∇log p‖ grows like 1/T).
    @Test func gradientVanishesAsTheStdVanishes() throws {
        let model = TinyPolicy.model()
        let examples = Array(TinyPolicy.examples.prefix(3))
        let greedy = try Sampler(model: model).generate(
            examples.map { try TinyPolicy.tokenizer.encodePrompt($0.prompt) }, options: .greedy(maxNewTokens: 3), seed: 0)
        let target = Dictionary(uniqueKeysWithValues: zip(examples.map(\.prompt),
                                                          greedy.map { TinyPolicy.tokenizer.decode($0.tokens.prefix { $0 != Tokenizer.eos }) }))
        let reward = ClosureReward { x, y, _ in y == target[x]! ? 1 : 0 }
        let temperatures: [Float] = [1, 0.5, 0.25, 0.1, 0.05]
        var rows: [[RewardStdRow]] = []
        for t in temperatures {
            rows.append(try TinyPolicy.monitor(.exact, temperature: t, evidence: true)
                .measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: examples, reward: reward).rows)
        }
        for i in examples.indices {
            let std = rows.map { $0[i].std }, grad = rows.map { $0[i].gradNorm! }, mean = rows.map { $0[i].mean }
            #expect(zip(std, std.dropFirst()).allSatisfy { $0 > $1 }, "std \(std)")
            #expect(mean.last! > 0.99 && std.last! < 0.05, "mean \(mean) std \(std)")
            #expect(grad.last! < grad.first! / 10, "‖∇V‖ \(grad)")
            for row in rows.map({ $0[i] }) { #expect(row.gradNorm! <= row.std * row.boundTerm! * (1 + 1e-4)) }
        }
    }
}

@Suite struct RewardStdMonitorSamplingTests {
    /// Sampled mean/std agree with exact mode. K = 4000 and rewards in [0, 1]: the standard error
    /// of the mean is ≤ 0.5/√K = 0.008, and of the std ≤ 1/(2√K) = 0.008 (Var s² ≤ μ₄/K ≤ σ²/K);
    /// tolerance 0.035 ≈ 4 standard errors. Checked at T = 1 and at T = 0.7 with top-k 3.
    @Test func sampledMatchesExact() throws {
        let model = TinyPolicy.model()
        let examples = Array(TinyPolicy.examples.prefix(3))
        for (temperature, topK) in [(Float(1), 0), (Float(0.7), 3)] {
            var sampled = TinyPolicy.monitor(.sampled, temperature: temperature)
            sampled.numGenerations = 4000
            sampled.topK = topK
            var exact = sampled
            exact.mode = .exact
            let s = try sampled.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: examples, reward: TinyPolicy.graded)
            let e = try exact.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: examples, reward: TinyPolicy.graded)
            for (a, b) in zip(s.rows, e.rows) {
                #expect(a.numSamples == 4000)
                #expect(abs(a.mean - b.mean) < 0.035, "T=\(temperature) k=\(topK) \(a.id): sampled mean \(a.mean), exact \(b.mean)")
                #expect(abs(a.std - b.std) < 0.035, "T=\(temperature) k=\(topK) \(a.id): sampled std \(a.std), exact \(b.std)")
                #expect(a.lower <= b.mean + 0.01 && b.mean - 0.01 <= a.upper)
                #expect(b.lower == b.mean && b.upper == b.mean)
            }
            if topK == 3 { #expect(e.rows.allSatisfy { $0.numSamples < 259 }, "top-k removes completions") }
        }
    }

    /// The sampled (RLOO) gradient estimate: on every sample ‖ĝ‖ ≤ K/(K−1)·std·bound
    /// (Cauchy–Schwarz on the empirical distribution), and with K = 4000 its norm is near the
    /// exact ‖∇V‖ (upward-biased by tr Cov(ĝ); measured within 10%, tolerance 30%).
    @Test func sampledGradientEvidence() throws {
        let model = TinyPolicy.model()
        let examples = Array(TinyPolicy.examples.prefix(2))
        let exact = try TinyPolicy.monitor(.exact, evidence: true)
            .measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: examples, reward: TinyPolicy.graded)
        var small = TinyPolicy.monitor(.sampled, evidence: true)
        small.numGenerations = 16
        for row in try small.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples, reward: TinyPolicy.graded).rows {
            #expect(row.gradNorm! <= 16.0 / 15 * row.std * row.boundTerm! * (1 + 1e-4) + 1e-7, "\(row)")
        }
        var large = small
        large.numGenerations = 4000
        let sampled = try large.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: examples, reward: TinyPolicy.graded)
        for (s, e) in zip(sampled.rows, exact.rows) {
            #expect(abs(s.gradNorm! / e.gradNorm! - 1) < 0.3, "sampled ‖ĝ‖ \(s.gradNorm!), exact ‖∇V‖ \(e.gradNorm!)")
            #expect(abs(s.boundTerm! / e.boundTerm! - 1) < 0.1, "sampled bound \(s.boundTerm!), exact \(e.boundTerm!)")
        }
    }

    /// Same seed → same report, whatever the batch size; another seed → other samples. The
    /// progress callback reports every batch and ends at (n, n).
    @Test func deterministicAndIndependentOfBatchSize() throws {
        let model = TinyPolicy.model()
        var monitor = TinyPolicy.monitor(.sampled)
        monitor.seed = 42
        monitor.inputsPerBatch = 4
        var calls: [Int] = []
        let a = try monitor.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples,
                                    reward: TinyPolicy.graded) { calls.append($0.count) }
        #expect(calls == [4, 6])
        // resumed from the first batch's rows: the rows an uninterrupted measurement gives
        let resumed = try monitor.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples,
                                          reward: TinyPolicy.graded, resuming: Array(a.rows.prefix(4)))
        #expect(resumed == a)
        monitor.inputsPerBatch = 1
        let b = try monitor.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples, reward: TinyPolicy.graded)
        #expect(a == b)
        monitor.seed = 43
        let c = try monitor.measure(model: model, tokenizer: TinyPolicy.tokenizer, examples: TinyPolicy.examples, reward: TinyPolicy.graded)
        #expect(a.rows.map(\.mean) != c.rows.map(\.mean))
    }

    /// 0/1 rewards get the Wilson interval, others the normal one, and a K = 16 0/1 row is
    /// flagged exactly when all 16 rewards are equal.
    @Test func intervalsFollowTheRewardKind() throws {
        let model = TinyPolicy.model()
        let report = try TinyPolicy.monitor(.sampled).measure(model: model, tokenizer: TinyPolicy.tokenizer,
                                                              examples: TinyPolicy.examples, reward: TinyPolicy.containsB)
        for row in report.rows {
            let successes = Int((row.mean * 16).rounded())
            let w = RewardStatistics.wilson(successes: successes, trials: 16)
            #expect(row.lower == w.lower && row.upper == w.upper)
            #expect(row.flagged == (successes == 0 || successes == 16))
        }
        let twoLevels = ClosureReward { _, y, _ in y.contains("b") ? 0.6 : 0.3 }  // never 0/1: the normal interval
        let graded = try TinyPolicy.monitor(.sampled).measure(model: model, tokenizer: TinyPolicy.tokenizer,
                                                              examples: TinyPolicy.examples, reward: twoLevels)
        #expect(graded.rows.contains { $0.std > 0 })
        for row in graded.rows {
            let half = RewardStatistics.z95 * row.std * (16.0 / 15).squareRoot() / 4
            #expect(abs(row.lower - (row.mean - half)) < 1e-12 && abs(row.upper - (row.mean + half)) < 1e-12)
        }
    }
}

@Suite struct RewardStdReportTests {
    /// Wilson 95% for 3/10 and 0/16, and the normal interval for [1, 2, 3, 4], by hand with
    /// z = 1.959964: 3/10: centre (0.3 + z²/20)/(1 + z²/10) = 0.355507, half 0.247715 →
    /// [0.107791, 0.603222] (the textbook 0.108–0.603); 0/16: [0, 2·(z²/32)/(1 + z²/16)] =
    /// [0, 0.193608]; [1, 2, 3, 4]: 2.5 ± z·√(5/3)/2 = [1.234849, 3.765151].
    @Test func intervalsMatchHandComputedValues() {
        let a = RewardStatistics.wilson(successes: 3, trials: 10)
        #expect(abs(a.lower - 0.107791) < 2e-6 && abs(a.upper - 0.603222) < 2e-6, "\(a)")
        let b = RewardStatistics.wilson(successes: 0, trials: 16)
        #expect(b.lower == 0 && abs(b.upper - 0.193608) < 2e-6, "\(b)")
        let c = RewardStatistics.normalInterval([1, 2, 3, 4])
        #expect(abs(c.lower - 1.234849) < 2e-6 && abs(c.upper - 3.765151) < 2e-6, "\(c)")
        let d = RewardStatistics.meanAndStd(probabilities: [0.25, 0.75], values: [0, 1])
        #expect(abs(d.mean - 0.75) < 1e-15 && abs(d.std - 0.75.squareRoot() / 2) < 1e-15)
    }

    static func handmade() -> RewardStdReport {
        // stds 0, 0.1, …, 0.9; flagged below 0.25 → the first three; their means 0, 0, 1
        let means: [Double] = [0, 0, 1, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        let rows = (0..<10).map { (i: Int) -> RewardStdRow in
            let std = Double(i) / 10
            return RewardStdRow(id: "x\(i)", prompt: "p\(i)", mean: means[i], std: std, lower: 0, upper: 1,
                                flagged: std < 0.25, stuck: std < 0.25 && means[i] < 0.5, numSamples: 16)
        }
        return RewardStdReport(mode: .sampled, rows: rows, criterion: StuckCriterion(stdThreshold: 0.25))
    }

    @Test func summaryOfAHandmadeReport() {
        let s = Self.handmade().summary
        #expect(s.numInputs == 10 && s.numFlagged == 3 && abs(s.fracFlagged - 0.3) < 1e-15)
        #expect(s.numStuck == 2 && s.numSolved == 1 && abs(s.fracStuck - 0.2) < 1e-15 && !s.rewardConstant)
        #expect(abs(s.fracRewardZeroStd - 0.1) < 1e-15)
        #expect(abs(s.stdP10 - 0.09) < 1e-12 && abs(s.stdP50 - 0.45) < 1e-12 && abs(s.stdP90 - 0.81) < 1e-12, "\(s)")
        #expect(abs(s.rewardFlagged! - 1.0 / 3) < 1e-12)
        #expect(abs(s.rewardUnflagged! - (0.3 + 0.4 + 0.5 + 0.6 + 0.7 + 0.8 + 0.9) / 7) < 1e-12)
        #expect(s.gradNormFlagged == nil && s.stdThreshold == 0.25)
        let empty = RewardStdReport(mode: .exact, rows: [], criterion: StuckCriterion()).summary
        #expect(empty.numInputs == 0 && empty.fracFlagged == 0 && empty.stdP50 == 0 && empty.rewardFlagged == nil && empty.reward == nil)
        #expect(RewardStatistics.percentile(sorted: [3], 0.9) == 3)
    }

    @Test func settingsAreValidated() {
        #expect(throws: ConfigError.invalid(key: "num_generations", reason: "must be in 2…65536, got 1")) { try RewardStdMonitor(numGenerations: 1).validate() }
        #expect(throws: ConfigError.self) { try RewardStdMonitor(topK: 5, gradientEvidence: true).validate() }
        #expect(throws: ConfigError.self) { try StuckCriterion(stdThreshold: 2).validate() }
        #expect(throws: ConfigError.self) { try StuckCriterion(stdThreshold: 0.05, rewardRange: 1...1).validate() }
        #expect(throws: Never.self) { try RewardStdMonitor().validate() }
    }

    /// RFC 4180: fields with commas, quotes, CR/LF are quoted with doubled quotes; a parser
    /// reads back the original fields.
    @Test func csvEscapesAndRoundTrips() throws {
        #expect(CSV.escape("plain") == "plain")
        #expect(CSV.escape("a,\"b") == "\"a,\"\"b\"")
        #expect(CSV.escape("line\nbreak") == "\"line\nbreak\"")
        let nasty = ["a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", " padded ", "ünï, ✓"]
        let rows = nasty.enumerated().map { i, p in
            RewardStdRow(id: "id\(i)", prompt: p, mean: 0.5, std: 0.25, lower: 0.1, upper: 0.9, flagged: false,
                         stuck: false, gradNorm: i == 0 ? 1.5 : nil, numSamples: 16)
        }
        let report = RewardStdReport(mode: .sampled, rows: rows, criterion: StuckCriterion())
        let parsed = Self.parseCSV(report.csv())
        #expect(parsed.count == nasty.count + 1)
        #expect(parsed[0] == RewardStdRow.csvHeader)
        for (i, fields) in parsed.dropFirst().enumerated() {
            #expect(fields.count == 11)
            #expect(fields[1] == nasty[i], "row \(i): \(fields[1].debugDescription)")
            #expect(fields[8] == (i == 0 ? "1.5" : "") && fields[7] == "false")
        }
        // JSONL round-trips the rows
        let lines = try report.jsonLines().split(separator: "\n")
        #expect(lines.count == rows.count)
        let decoded = try lines.map { try JSONDecoder().decode(RewardStdRow.self, from: Data($0.utf8)) }
        #expect(decoded == rows)
        #expect(lines[0].contains("\"grad_norm\":1.5") && lines[0].contains("\"num_samples\":16"))
        let summary = try report.summaryJSON()
        #expect(summary.contains("\"frac_reward_zero_std\"") && summary.contains("\"mode\" : \"sampled\""))
    }

    /// A minimal RFC 4180 reader (quoted fields, doubled quotes, embedded line breaks).
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = [], row: [String] = [], field = "", quoted = false
        var chars = Array(text)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars.removeFirst() } else { quoted = false }
                } else { field.append(c) }
            } else if c == "\"" { quoted = true
            } else if c == "," { row.append(field); field = ""
            } else if c == "\n" { row.append(field); rows.append(row); row = []; field = ""
            } else { field.append(c) }
        }
        return rows
    }

    /// Parses `svg` with XMLParser and counts elements by name.
    final class SVGCounter: NSObject, XMLParserDelegate {
        var counts: [String: Int] = [:]
        var root: String?
        var text = ""
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            if root == nil { root = name }
            counts[name, default: 0] += 1
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        static func parse(_ svg: String) -> SVGCounter? {
            let counter = SVGCounter()
            let parser = XMLParser(data: Data(svg.utf8))
            parser.delegate = counter
            return parser.parse() ? counter : nil
        }
    }

    @Test func svgPlotsAreWellFormed() throws {
        let report = Self.handmade()
        let histogram = try #require(SVGCounter.parse(report.stdHistogramSVG(bins: 5, title: "std <&> \"q\"")))
        #expect(histogram.root == "svg")
        #expect(histogram.counts["rect"]! == 2 + 5, "background, frame and one bar per non-empty bin")
        #expect(histogram.text.contains("std <&> \"q\"") && histogram.text.contains("threshold 0.25"))
        let scatter = try #require(SVGCounter.parse(report.meanStdScatterSVG()))
        #expect(scatter.counts["circle"]! == 10 + 3, "one per input (no two coincide) plus three legend dots")
        #expect(scatter.text.contains("stuck: flagged, low reward (2)") && scatter.text.contains("solved: flagged, high reward (1)"))
        // coinciding points (0/1 rewards) become one counted marker
        var zeros = report
        zeros.rows = (0..<50).map { RewardStdRow(id: "z\($0)", prompt: "", mean: 0, std: 0, lower: 0, upper: 0, flagged: true, stuck: true, numSamples: 16) }
        let counted = try #require(SVGCounter.parse(zeros.meanStdScatterSVG()))
        #expect(counted.counts["circle"]! == 1 + 3 && counted.text.contains("50") && counted.text.contains("stuck: flagged, low reward (50)"))
        let lines = SVGPlot.linePlot(series: [
            SVGPlot.Series(name: "run A", points: (0..<50).map { (Double($0), sin(Double($0) / 5)) }, color: SVGPlot.palette[0]),
            SVGPlot.Series(name: "run B", points: [(0, .nan), (1, 2), (2, .infinity)], color: SVGPlot.palette[1]),
        ], title: "reward vs step", xLabel: "step", yLabel: "reward")
        let parsed = try #require(SVGCounter.parse(lines))
        #expect(parsed.counts["polyline"] == 2)
        #expect(!lines.contains("nan") && !lines.contains("inf"))
        // degenerate inputs still give valid documents
        for svg in [SVGPlot.histogram(values: [], title: "", xLabel: "", yLabel: ""),
                    SVGPlot.histogram(values: [0, 0, 0], title: "", xLabel: "", yLabel: ""),
                    SVGPlot.scatter(series: [], title: "", xLabel: "", yLabel: "")] {
            #expect(SVGCounter.parse(svg) != nil)
            #expect(!svg.contains("nan") && !svg.contains("inf"))
        }
        #expect(SVGPlot.ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
    }
}

@Suite struct RewardStdMonitorErrorTests {
    @Test func badInputsAreTypedErrors() throws {
        let model = TinyPolicy.model()
        let tok = TinyPolicy.tokenizer
        var exact = TinyPolicy.monitor(.exact)
        exact.maxExactCompletions = 100
        #expect(throws: RewardStdMonitorError.tooManyCompletions(input: "input 0 (\"a\")", atLeast: 101, cap: 100, maxLength: 3)) {
            try exact.measure(model: model, tokenizer: tok, examples: [TinyPolicy.examples[0]], reward: TinyPolicy.graded)
        }
        let monitor = TinyPolicy.monitor(.sampled)
        let long = TaskExample(prompt: "abababab", reference: nil, length: 8, id: "long-one")
        #expect(throws: RewardStdMonitorError.promptTooLong(input: "input 1 (\"long-one\")", tokens: 10, context: 8)) {
            try monitor.measure(model: model, tokenizer: tok, examples: [TinyPolicy.examples[0], long], reward: TinyPolicy.graded)
        }
        do {
            _ = try monitor.measure(model: model, tokenizer: tok, examples: [TaskExample(prompt: "abc", reference: nil, length: 3)],
                                    reward: TinyPolicy.graded)
            Issue.record("an unknown character must be an error")
        } catch let error as RewardStdMonitorError {
            guard case .promptEncoding(let input, _) = error else { Issue.record("\(error)"); return }
            #expect(input == "input 0 (\"abc\")")
            #expect(error.description.contains("unknown character"), "\(error)")
        }
        #expect(throws: RewardError.wrongCount(expected: 16, got: 1)) {
            try monitor.measure(model: model, tokenizer: tok, examples: [TinyPolicy.examples[0]], reward: OneReward())
        }
        #expect(throws: RewardError.self) {
            try monitor.measure(model: model, tokenizer: tok, examples: TinyPolicy.examples, reward: ClosureReward { _, _, _ in .nan })
        }
        do {  // outside the declared range: the same error as the trainer's
            _ = try monitor.measure(model: model, tokenizer: tok, examples: TinyPolicy.examples, reward: ClosureReward { _, _, _ in 5 })
            Issue.record("a reward outside the range must be an error")
        } catch RewardError.invalidReward(let value, _, _, let range) {
            #expect(value == 5 && range == 0...1)
        }
        #expect(throws: RewardStdMonitorError.invalidConfiguration("num_generations: must be in 2…65536, got 1")) {
            try RewardStdMonitor(numGenerations: 1).measure(model: model, tokenizer: tok, examples: [], reward: TinyPolicy.graded)
        }
        #expect(throws: RewardStdMonitorError.gradientsDisabled) {
            try withoutGradients {
                try TinyPolicy.monitor(.exact, evidence: true).measure(model: model, tokenizer: tok, examples: TinyPolicy.examples,
                                                                        reward: TinyPolicy.graded)
            }
        }
        let big = Tokenizer(characters: "abcdefgh")
        #expect(throws: RewardStdMonitorError.vocabularyMismatch(tokenizer: 13, model: 7)) {
            try monitor.measure(model: model, tokenizer: big, examples: [], reward: TinyPolicy.graded)
        }
    }

    /// Returns a single reward whatever it is asked.
    struct OneReward: RewardFunction {
        func rewards(prompts: [String], completions: [String], examples: [TaskExample]) throws -> [Double] { [1] }
    }

    /// Gradient evidence leaves the model's gradients and flags as they were.
    @Test func gradientEvidenceLeavesGradientsAlone() throws {
        let model = TinyPolicy.model()
        let first = model.parameters()[0]
        first.grad = Tensor(repeating: 7, shape: first.shape)
        model.parameters()[1].requiresGrad = false
        _ = try TinyPolicy.monitor(.sampled, evidence: true).measure(model: model, tokenizer: TinyPolicy.tokenizer,
                                                                      examples: TinyPolicy.examples, reward: TinyPolicy.graded)
        #expect(first.grad!.toArray().allSatisfy { $0 == 7 })
        #expect(model.parameters()[1].requiresGrad == false && model.parameters()[1].grad == nil)
        #expect(model.parameters()[2].grad == nil)
    }
}
