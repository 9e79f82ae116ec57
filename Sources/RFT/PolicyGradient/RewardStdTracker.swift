/// One input's reward spread under the policy across a run: when it was first and last seen,
/// and the mean and population std of its group of K rewards each time. A row of the
/// end-of-run report (`PolicyGradientTrainer.inputReport()`).
public struct InputStdRecord: Codable, Equatable, Sendable {
    /// The input's `TaskExample.displayID` (its `id`, else its prompt): the tracking key.
    public var id: String
    /// The prompt text.
    public var prompt: String
    /// Groups of K rollouts seen for this input.
    public var timesSeen: Int
    /// Step of the first and of the latest sighting (1-based).
    public var firstStep, lastStep: Int
    /// Mean and population std of the rewards at the first sighting.
    public var firstMean, firstStd: Double
    /// Mean and population std of the rewards at the latest sighting.
    public var lastMean, lastStd: Double
    /// The std was below the threshold at the first and at the latest sighting: the policy
    /// gradient on this input vanished when it was first seen and still does.
    public var stuck: Bool
}

/// Live per-input reward-std tracking across training: for each input (keyed by
/// `TaskExample.displayID`) the number of sightings and the first and latest group mean/std.
/// Small (one record per distinct input, no reward history) and Codable, so it checkpoints.
public struct RewardStdTracker: Codable, Equatable, Sendable {
    /// Population std below which a group counts as low-std (and an input can be stuck).
    public var threshold: Double
    /// One record per input, in order of first sighting.
    public private(set) var records: [InputStdRecord] = []
    /// Position of each id in `records` (rebuilt when decoded).
    private var index: [String: Int] = [:]

    /// An empty tracker.
    public init(threshold: Double = 0.05) {
        self.threshold = threshold
    }

    /// Mean and population std (divide by K) of a group of rewards; (0, 0) for an empty group.
    public static func meanAndStd(_ rewards: [Double]) -> (mean: Double, std: Double) {
        guard !rewards.isEmpty else { return (0, 0) }
        let mean = rewards.reduce(0, +) / Double(rewards.count)
        let variance = rewards.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(rewards.count)
        return (mean, variance.squareRoot())
    }

    /// Records one group of rewards of `example` sampled at `step`; returns whether its std is
    /// below the threshold.
    @discardableResult
    public mutating func record(_ example: TaskExample, rewards: [Double], step: Int) -> Bool {
        let (mean, std) = Self.meanAndStd(rewards)
        let low = std < threshold
        let id = example.displayID
        if let i = index[id] {
            records[i].timesSeen += 1
            records[i].lastStep = step
            records[i].lastMean = mean
            records[i].lastStd = std
            records[i].stuck = records[i].firstStd < threshold && low
        } else {
            index[id] = records.count
            records.append(InputStdRecord(id: id, prompt: example.prompt, timesSeen: 1, firstStep: step, lastStep: step,
                                          firstMean: mean, firstStd: std, lastMean: mean, lastStd: std, stuck: low))
        }
        return low
    }

    /// The record of the input with this id, or nil when it was never seen.
    public subscript(id: String) -> InputStdRecord? { index[id].map { records[$0] } }

    /// Every input seen, in order of first sighting (the end-of-run report).
    public func report() -> [InputStdRecord] { records }

    private enum CodingKeys: String, CodingKey { case threshold, records }

    /// Decodes the threshold and records and rebuilds the index (a repeated id keeps its first record).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        threshold = try c.decode(Double.self, forKey: .threshold)
        for r in try c.decode([InputStdRecord].self, forKey: .records) where index[r.id] == nil {
            index[r.id] = records.count
            records.append(r)
        }
    }

    /// Encodes the threshold and the records (the index is derived).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(threshold, forKey: .threshold)
        try c.encode(records, forKey: .records)
    }
}
