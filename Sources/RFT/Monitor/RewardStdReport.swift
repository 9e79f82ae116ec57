import Foundation

/// How a `RewardStdMonitor` measured the reward distribution of each input.
public enum RewardStdMode: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// K sampled completions per input: estimates with confidence intervals.
    case sampled
    /// Every completion up to the length cap, weighted by its exact probability.
    case exact
}

/// One input's reward distribution under the model: a row of `rft diagnose`'s report.
public struct RewardStdRow: Codable, Equatable, Sendable {
    /// The input's `TaskExample.displayID` (its `id`, else its prompt).
    public var id: String
    /// The prompt text.
    public var prompt: String
    /// Mean reward E_y r(x, y) (sampled: average of the K rewards; exact: Σ p(y)·r(y)).
    public var mean: Double
    /// Population std of the reward, √E(r − mean)² (sampled: divide by K; exact: √Σ p(y)(r(y) − mean)²).
    public var std: Double
    /// Lower end of the 95% interval on the mean (Wilson on p for 0/1 rewards, else normal
    /// approximation); equal to `mean` in exact mode.
    public var lower: Double
    /// Upper end of the 95% interval on the mean; equal to `mean` in exact mode.
    public var upper: Double
    /// `std` is below the threshold: this input's expected policy gradient (nearly) vanishes.
    public var flagged: Bool
    /// Flagged with a mean reward in the lower half of the reward range (`StuckCriterion`):
    /// RFT cannot move it.
    public var stuck: Bool
    /// ‖∇_θ V(x)‖ over all parameters when gradient evidence was asked for (exact in exact
    /// mode; the norm of the leave-one-out estimate from the K samples in sampled mode).
    public var gradNorm: Double?
    /// √(E_y ‖∇_θ log p(y|x)‖²) when gradient evidence was asked for, so that
    /// ‖∇V‖ ≤ std · boundTerm (Cauchy–Schwarz; in sampled mode with a factor K/(K−1)).
    public var boundTerm: Double?
    /// Completions behind the numbers: K in sampled mode, the number enumerated in exact mode.
    public var numSamples: Int
    /// Tokens of the K sampled completions together (`<eos>` or end of turn included when
    /// sampled); nil in exact mode, and in reports written before rft recorded it.
    public var completionTokens: Int?
    /// Of the K samples, how many some reward function scored, when not all were (the mean and
    /// std are over those); nil when every sample was scored.
    public var numScored: Int?
    /// With several reward functions, each one's statistics over the samples it scored, by
    /// name: a function whose `std` is 0 gives this input no signal. nil otherwise.
    public var functions: [String: RewardFunctionStatistics]?

    /// A row.
    public init(id: String, prompt: String, mean: Double, std: Double, lower: Double, upper: Double, flagged: Bool,
                stuck: Bool, gradNorm: Double? = nil, boundTerm: Double? = nil, numSamples: Int, completionTokens: Int? = nil) {
        self.id = id
        self.prompt = prompt
        self.mean = mean
        self.std = std
        self.lower = lower
        self.upper = upper
        self.flagged = flagged
        self.stuck = stuck
        self.gradNorm = gradNorm
        self.boundTerm = boundTerm
        self.numSamples = numSamples
        self.completionTokens = completionTokens
    }

    private enum CodingKeys: String, CodingKey {
        case id, prompt, mean, std, lower, upper, flagged, stuck
        case gradNorm = "grad_norm", boundTerm = "bound_term", numSamples = "num_samples", completionTokens = "completion_tokens"
        case numScored = "num_scored", functions
    }

    /// The CSV header matching `csvFields` (the JSON keys, in row order).
    public static let csvHeader = ["id", "prompt", "mean", "std", "lower", "upper", "flagged", "stuck", "grad_norm", "bound_term", "num_samples"]

    /// The row's fields as CSV cells (unescaped; an absent value is empty).
    public var csvFields: [String] {
        [id, prompt, "\(mean)", "\(std)", "\(lower)", "\(upper)", flagged ? "true" : "false", stuck ? "true" : "false",
         gradNorm.map { "\($0)" } ?? "", boundTerm.map { "\($0)" } ?? "", "\(numSamples)"]
    }
}

/// The dataset-level view of a report: how many inputs are flagged, stuck and solved, and how
/// the std is spread. JSON keys as in summary.json (`num_stuck`, `frac_flagged`, …).
public struct RewardStdSummary: Codable, Equatable, Sendable {
    /// Number of inputs.
    public var numInputs: Int
    /// Inputs flagged (reward std below the threshold).
    public var numFlagged: Int
    /// Flagged inputs with a low mean reward: stuck.
    public var numStuck: Int
    /// Flagged inputs with a high mean reward: solved.
    public var numSolved: Int
    /// numFlagged / numInputs (0 for an empty report).
    public var fracFlagged: Double
    /// numStuck / numInputs.
    public var fracStuck: Double
    /// numSolved / numInputs.
    public var fracSolved: Double
    /// Share of inputs whose reward std is exactly 0 (TRL's `frac_reward_zero_std`).
    public var fracRewardZeroStd: Double
    /// The std (in reward units) below which rows were flagged.
    public var stdThreshold: Double
    /// The reward range the criterion assumed.
    public var rewardMin, rewardMax: Double
    /// Mean of the per-input mean rewards (TRL's `reward`; nil for an empty report).
    public var reward: Double?
    /// Mean of the per-input stds (TRL's `reward_std`; nil for an empty report).
    public var rewardStd: Double?
    /// 10th, 50th and 90th percentile of the per-input std (linear interpolation, numpy's default; 0 when empty).
    public var stdP10, stdP50, stdP90: Double
    /// Mean reward over the flagged inputs (nil when none is flagged).
    public var rewardFlagged: Double?
    /// Mean reward over the inputs that are not flagged (nil when all are).
    public var rewardUnflagged: Double?
    /// True when every input had std 0 and the same mean: the reward gave one value to every
    /// sample, which usually means a broken reward.
    public var rewardConstant: Bool
    /// Mean ‖∇V‖ over flagged inputs, when gradient evidence was computed.
    public var gradNormFlagged: Double?
    /// Mean ‖∇V‖ over unflagged inputs, when gradient evidence was computed.
    public var gradNormUnflagged: Double?
    /// Completion tokens sampled for all the rows, when every row records its own (sampled mode).
    public var completionTokens: Int?
    /// With several reward functions, each one's view of the inputs by name: its mean reward
    /// and the share of inputs on which its std is 0 (it gives them no signal). nil otherwise.
    public var functions: [String: RewardFunctionSummary]?

    /// The summary of `rows` (as flagged and marked stuck) under `criterion`.
    public init(rows: [RewardStdRow], criterion: StuckCriterion) {
        let n = rows.count
        let flagged = rows.filter(\.flagged), unflagged = rows.filter { !$0.flagged }
        let stds = rows.map(\.std).sorted()
        func average(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
        func share(_ k: Int) -> Double { n == 0 ? 0 : Double(k) / Double(n) }
        numInputs = n
        numFlagged = flagged.count
        numStuck = rows.filter(\.stuck).count
        numSolved = flagged.count - numStuck
        fracFlagged = share(numFlagged)
        fracStuck = share(numStuck)
        fracSolved = share(numSolved)
        fracRewardZeroStd = share(rows.filter { $0.std == 0 }.count)
        stdThreshold = criterion.threshold
        rewardMin = criterion.rewardMin
        rewardMax = criterion.rewardMax
        reward = average(rows.map(\.mean))
        rewardStd = average(stds)
        stdP10 = RewardStatistics.percentile(sorted: stds, 0.10)
        stdP50 = RewardStatistics.percentile(sorted: stds, 0.50)
        stdP90 = RewardStatistics.percentile(sorted: stds, 0.90)
        rewardFlagged = average(flagged.map(\.mean))
        rewardUnflagged = average(unflagged.map(\.mean))
        rewardConstant = n > 0 && rows.allSatisfy { $0.std == 0 && $0.mean == rows[0].mean }
        gradNormFlagged = average(flagged.compactMap(\.gradNorm))
        gradNormUnflagged = average(unflagged.compactMap(\.gradNorm))
        let tokens = rows.compactMap(\.completionTokens)
        completionTokens = n > 0 && tokens.count == n ? tokens.reduce(0, +) : nil
        let names = Set(rows.flatMap { $0.functions.map { Array($0.keys) } ?? [] })
        functions = names.isEmpty ? nil : Dictionary(uniqueKeysWithValues: names.map { name in
            let stats = rows.compactMap { $0.functions?[name] }
            return (name, RewardFunctionSummary(reward: average(stats.map(\.mean)) ?? 0,
                                                fracRewardZeroStd: share(stats.filter { $0.std == 0 }.count)))
        })
    }

    private enum CodingKeys: String, CodingKey {
        case numInputs = "num_inputs", numFlagged = "num_flagged", numStuck = "num_stuck", numSolved = "num_solved"
        case fracFlagged = "frac_flagged", fracStuck = "frac_stuck", fracSolved = "frac_solved"
        case fracRewardZeroStd = "frac_reward_zero_std", stdThreshold = "std_threshold"
        case rewardMin = "reward_min", rewardMax = "reward_max", reward, rewardStd = "reward_std"
        case stdP10 = "std_p10", stdP50 = "std_p50", stdP90 = "std_p90"
        case rewardFlagged = "reward_flagged", rewardUnflagged = "reward_unflagged", rewardConstant = "reward_constant"
        case gradNormFlagged = "grad_norm_flagged", gradNormUnflagged = "grad_norm_unflagged"
        case completionTokens = "completion_tokens", functions
    }
}

/// One reward function's view of a dataset in a report's summary.
public struct RewardFunctionSummary: Codable, Equatable, Sendable {
    /// Mean over inputs of the function's mean score.
    public var reward: Double
    /// Share of inputs on which the function's scores have std 0 (flat: no signal from it).
    public var fracRewardZeroStd: Double

    private enum CodingKeys: String, CodingKey {
        case reward, fracRewardZeroStd = "frac_reward_zero_std"
    }
}

/// Per-input reward mean/std of a dataset under a model, with its summary: what
/// `RewardStdMonitor.measure` returns and `rft diagnose` writes (JSONL, CSV, SVG).
public struct RewardStdReport: Codable, Equatable, Sendable {
    /// How the rows were measured.
    public var mode: RewardStdMode
    /// One row per input, in input order.
    public var rows: [RewardStdRow]
    /// The criterion the rows were flagged by.
    public var criterion: StuckCriterion
    /// Counts, percentiles and flagged-vs-unflagged means of `rows`.
    public var summary: RewardStdSummary { RewardStdSummary(rows: rows, criterion: criterion) }

    /// A report of `rows` (flagged and marked stuck by `criterion`).
    public init(mode: RewardStdMode, rows: [RewardStdRow], criterion: StuckCriterion) {
        self.mode = mode
        self.rows = rows
        self.criterion = criterion
    }

    /// One JSON object per row, one per line (keys sorted), each line ending in a newline.
    public func jsonLines() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = ""
        for (i, row) in rows.enumerated() {
            do {
                out += String(decoding: try encoder.encode(row), as: UTF8.self) + "\n"
            } catch {
                throw RewardStdMonitorError.encoding(what: "row \(i) (\(row.id))", message: "\(error)")
            }
        }
        return out
    }

    /// The summary (with the mode) as one pretty-printed JSON object (the keys of summary.json).
    public func summaryJSON() throws -> String {
        struct Envelope: Encodable { let mode: RewardStdMode; let summary: RewardStdSummary }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(Envelope(mode: mode, summary: summary)), as: UTF8.self) + "\n"
        } catch {
            throw RewardStdMonitorError.encoding(what: "summary", message: "\(error)")
        }
    }

    /// The rows as RFC 4180 CSV with a header line (fields holding a comma, quote, CR or LF are
    /// quoted and their quotes doubled; each line ends in "\n").
    public func csv() -> String {
        var out = RewardStdRow.csvHeader.map(CSV.escape).joined(separator: ",") + "\n"
        for row in rows { out += row.csvFields.map(CSV.escape).joined(separator: ",") + "\n" }
        return out
    }

    /// Writes `jsonLines()` to `path` (atomically: a reader never sees half a file).
    public func writeJSONLines(to path: String) throws { try Self.write(try jsonLines(), to: path) }

    /// Writes `csv()` to `path` (atomically).
    public func writeCSV(to path: String) throws { try Self.write(csv(), to: path) }

    /// Writes `summaryJSON()` to `path` (atomically).
    public func writeSummary(to path: String) throws { try Self.write(try summaryJSON(), to: path) }

    /// A histogram of the per-input std with the threshold drawn as a vertical line.
    public func stdHistogramSVG(bins: Int = 30, title: String = "Per-input reward std") -> String {
        Self.stdHistogramSVG([("", self)], bins: bins, title: title)
    }

    /// Histograms of the per-input std of several reports over the same bins (e.g. before and
    /// after training), with the first report's threshold as a vertical line.
    public static func stdHistogramSVG(_ reports: [(name: String, report: RewardStdReport)], bins: Int = 30,
                                       title: String = "Per-input reward std") -> String {
        let colors = [SVGPlot.blue, SVGPlot.palette[1], SVGPlot.palette[2], SVGPlot.palette[4]]
        let threshold = reports.first?.report.criterion.threshold ?? 0
        return SVGPlot.histogram(
            series: reports.enumerated().map { i, r in
                (name: r.name.isEmpty ? "" : "\(r.name) (\(r.report.summary.numFlagged) of \(r.report.rows.count) flagged)",
                 values: r.report.rows.map(\.std), color: colors[i % colors.count])
            },
            bins: bins, marker: (threshold, "threshold \(SVGPlot.format(threshold))"),
            title: title, xLabel: "reward std under the model", yLabel: "inputs")
    }

    /// A scatter of per-input mean reward (x) against std (y): stuck inputs in red, solved ones in
    /// green, the rest in blue, each with its count; the threshold as a horizontal line.
    /// Coinciding points (0/1 rewards put hundreds on the same spot) are counted markers.
    public func meanStdScatterSVG(title: String = "Reward mean vs std per input") -> String {
        let stuck = rows.filter(\.stuck), solved = rows.filter { $0.flagged && !$0.stuck }, other = rows.filter { !$0.flagged }
        func points(_ r: [RewardStdRow]) -> [(x: Double, y: Double)] { r.map { (x: $0.mean, y: $0.std) } }
        return SVGPlot.scatter(
            series: [SVGPlot.Series(name: "not flagged (\(other.count))", points: points(other), color: SVGPlot.blue),
                     SVGPlot.Series(name: "solved: flagged, high reward (\(solved.count))", points: points(solved), color: SVGPlot.palette[2]),
                     SVGPlot.Series(name: "stuck: flagged, low reward (\(stuck.count))", points: points(stuck), color: SVGPlot.red)],
            horizontalLine: (criterion.threshold, "threshold \(SVGPlot.format(criterion.threshold))"),
            title: title, xLabel: "mean reward", yLabel: "reward std")
    }

    static func write(_ text: String, to path: String) throws {
        do {
            try AtomicFile.write(Array(text.utf8), to: path)
        } catch let e as FileWriteError {
            throw RewardStdMonitorError.io(path: path, message: e.reason)
        }
    }
}

/// CSV cell escaping (RFC 4180).
public enum CSV {
    /// `field` as a CSV cell: quoted, with quotes doubled, when it holds a comma, a quote, a CR
    /// or an LF, or starts or ends with a space; else unchanged.
    public static func escape(_ field: String) -> String {
        let needsQuotes = field.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
            || field.hasPrefix(" ") || field.hasSuffix(" ")
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// The small statistics the monitor reports: moments, intervals and percentiles.
public enum RewardStatistics {
    /// The two-sided 95% normal quantile.
    public static let z95 = 1.959963984540054

    /// Mean and std of a distribution given as (probability, value) pairs; the probabilities
    /// are normalised by their sum. std = √Σ p·(v − mean)².
    public static func meanAndStd(probabilities p: [Double], values v: [Double]) -> (mean: Double, std: Double) {
        let total = p.reduce(0, +)
        guard total > 0 else { return (0, 0) }
        var mean = 0.0
        for i in p.indices { mean += p[i] * v[i] }
        mean /= total
        var variance = 0.0
        for i in p.indices { variance += p[i] * (v[i] - mean) * (v[i] - mean) }
        return (mean, (variance / total).squareRoot())
    }

    /// Wilson score interval for a binomial proportion: `successes` out of `trials`, quantile `z`
    /// (95% by default). Stays inside [0, 1] and is informative at 0 or n successes, unlike the
    /// normal interval.
    public static func wilson(successes: Int, trials: Int, z: Double = z95) -> (lower: Double, upper: Double) {
        guard trials > 0 else { return (0, 1) }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let denominator = 1 + z2 / n
        let center = (p + z2 / (2 * n)) / denominator
        let half = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return (max(0, center - half), min(1, center + half))
    }

    /// Normal-approximation interval on the mean of `values`: mean ± z·s/√n with s the sample std
    /// (divide by n − 1). Collapses to the mean when all values are equal (or n < 2).
    public static func normalInterval(_ values: [Double], z: Double = z95) -> (lower: Double, upper: Double) {
        let n = Double(values.count)
        let group = RewardGroup(values)
        let (mean, std) = (group.mean, group.std)
        guard values.count >= 2 else { return (mean, mean) }
        let half = z * std * (n / (n - 1)).squareRoot() / n.squareRoot()
        return (mean - half, mean + half)
    }

    /// The q-quantile (q in [0, 1]) of ascending `sorted` values by linear interpolation
    /// between closest ranks (numpy's default); 0 when empty.
    public static func percentile(sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(lo + 1, sorted.count - 1)
        let fraction = position - Double(lo)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * fraction
    }

    /// True when every value is exactly 0 or 1 (a pass/fail reward).
    public static func isBinary(_ values: [Double]) -> Bool { values.allSatisfy { $0 == 0 || $0 == 1 } }
}
