/// One input's reward spread under the policy across a run: when it was first and last seen,
/// and the mean and population std of its group of K rewards each time. A row of the
/// end-of-run report `inputs-report.jsonl` (`GRPOTrainer.inputReport()`).
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
    /// Stuck (`StuckCriterion`: flagged with a low mean reward) at the first sighting.
    public var firstStuck: Bool
    /// Stuck at the latest sighting.
    public var stuck: Bool

    private enum CodingKeys: String, CodingKey {
        case id, prompt, timesSeen = "times_seen", firstStep = "first_step", lastStep = "last_step"
        case firstMean = "first_mean", firstStd = "first_std", lastMean = "last_mean", lastStd = "last_std"
        case firstStuck = "first_stuck", stuck
    }
}

/// Live per-input reward-std tracking across training: for each input (keyed by
/// `TaskExample.displayID`) the number of sightings and the first and latest group mean/std,
/// judged by the run's `StuckCriterion`. Small (one record per distinct input, no reward
/// history) and Codable, so it checkpoints.
public struct RewardStdTracker: Codable, Equatable, Sendable {
    /// When a group is flagged and when it is stuck.
    public var criterion: StuckCriterion
    /// One record per input, in order of first sighting.
    public private(set) var records: [InputStdRecord] = []
    /// Position of each id in `records` (rebuilt when decoded).
    private var index: [String: Int] = [:]

    /// An empty tracker.
    public init(criterion: StuckCriterion = StuckCriterion()) {
        self.criterion = criterion
    }

    /// Records one group of rewards of `example` sampled at `step`; returns whether the group
    /// is flagged and whether it is stuck.
    @discardableResult
    public mutating func record(_ example: TaskExample, group: RewardGroup, step: Int) -> (flagged: Bool, stuck: Bool) {
        let flagged = criterion.isFlagged(std: group.std), stuck = criterion.isStuck(mean: group.mean, std: group.std)
        let id = example.displayID
        if let i = index[id] {
            records[i].timesSeen += 1
            records[i].lastStep = step
            records[i].lastMean = group.mean
            records[i].lastStd = group.std
            records[i].stuck = stuck
        } else {
            index[id] = records.count
            records.append(InputStdRecord(id: id, prompt: example.prompt, timesSeen: 1, firstStep: step, lastStep: step,
                                          firstMean: group.mean, firstStd: group.std, lastMean: group.mean, lastStd: group.std,
                                          firstStuck: stuck, stuck: stuck))
        }
        return (flagged, stuck)
    }

    /// The record of the input with this id, or nil when it was never seen.
    public subscript(id: String) -> InputStdRecord? { index[id].map { records[$0] } }

    /// Every input seen, in order of first sighting (the end-of-run report).
    public func report() -> [InputStdRecord] { records }

    private enum CodingKeys: String, CodingKey { case criterion, records }

    /// Decodes the criterion and records and rebuilds the index (a repeated id keeps its first record).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        criterion = try c.decode(StuckCriterion.self, forKey: .criterion)
        for r in try c.decode([InputStdRecord].self, forKey: .records) where index[r.id] == nil {
            index[r.id] = records.count
            records.append(r)
        }
    }

    /// Encodes the criterion and the records (the index is derived).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(criterion, forKey: .criterion)
        try c.encode(records, forKey: .records)
    }
}
