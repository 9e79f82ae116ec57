import RFTTensor

/// How the SFT subset is chosen before RFT.
public enum CurriculumStrategy: String, Codable, CaseIterable, Sendable, ConfigChoice {
    /// A uniformly random fraction of all inputs: the recipe of Razin et al. (ICLR 2024).
    case random
    /// The inputs with the lowest reward std under the model first and, among equal std, the lowest
    /// mean reward (a stuck input before a solved one, which needs no SFT); rft's own option.
    case lowestStd = "lowest-std"
    /// Only inputs flagged as low-std, drawn at random among them.
    case flaggedOnly = "flagged-only"
}

/// Errors choosing an SFT subset.
public enum CurriculumError: Error, Equatable, CustomStringConvertible {
    /// The strategy needs per-input reward std (run the monitor first) and none was given.
    case needsRewardStd(CurriculumStrategy)
    /// Per-input measurements do not line up with the inputs.
    case misaligned(inputs: Int, measurements: Int)
    /// Chosen inputs have no reference completion to train on.
    case missingReferences(ids: [String], total: Int)
    /// `flagged-only` was asked for but nothing is flagged.
    case nothingFlagged
    /// The fraction is outside (0, 1].
    case badFraction(Double)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .needsRewardStd(let s): return "curriculum \(s.rawValue) needs each input's reward std; run the reward-std monitor first"
        case .misaligned(let n, let m): return "curriculum: \(m) reward-std measurements for \(n) inputs"
        case .missingReferences(let ids, let total):
            let shown = ids.prefix(5).joined(separator: ", ") + (ids.count > 5 ? ", …" : "")
            return "SFT subset: \(ids.count) of \(total) chosen inputs have no reference completion (\(shown)); SFT needs a \"completion\" for each — add references, or set sft.warmup to off"
        case .nothingFlagged: return "curriculum flagged-only: no input is flagged as low reward std, so there is nothing to fine-tune on"
        case .badFraction(let f): return "SFT fraction \(f) must be in (0, 1]"
        }
    }
}

/// Picks the small SFT subset that runs before RFT.
public struct Curriculum: Codable, Equatable, Sendable {
    /// How inputs are chosen.
    public var strategy: CurriculumStrategy
    /// Share of the inputs to fine-tune on (the paper: 1%); at least one input is chosen.
    public var fraction: Double
    /// Seed for the random choices (and tie-breaking).
    public var seed: UInt64

    /// A curriculum (defaults: random 1%).
    public init(strategy: CurriculumStrategy = .random, fraction: Double = 0.01, seed: UInt64 = 0) {
        self.strategy = strategy
        self.fraction = fraction
        self.seed = seed
    }

    /// Indices into `inputs` of the SFT subset. `rewardStd`, `rewardMean` and `flagged` (aligned
    /// with `inputs`) come from the reward-std monitor; `random` needs none, `lowest-std` breaks
    /// ties of std by `rewardMean` when given. Throws when a chosen input has no reference.
    public func select(_ inputs: [TaskExample], rewardStd: [Double]? = nil, rewardMean: [Double]? = nil,
                       flagged: [Bool]? = nil) throws -> [Int] {
        guard fraction > 0, fraction <= 1 else { throw CurriculumError.badFraction(fraction) }
        for m in [rewardStd?.count, rewardMean?.count, flagged?.count].compactMap({ $0 }) where m != inputs.count {
            throw CurriculumError.misaligned(inputs: inputs.count, measurements: m)
        }
        let size = min(inputs.count, max(1, Int((fraction * Double(inputs.count)).rounded())))
        var g = RandomGenerator(seed: seed)
        let shuffled = Curriculum.shuffled(Array(inputs.indices), using: &g)
        let chosen: [Int]
        switch strategy {
        case .random:
            chosen = Array(shuffled.prefix(size))
        case .lowestStd:
            guard let std = rewardStd else { throw CurriculumError.needsRewardStd(strategy) }
            // many inputs share std 0, stuck (mean 0) and solved (mean 1) alike: the lower mean
            // first, then a random order
            var rank = [Int](repeating: 0, count: inputs.count)
            for (r, i) in shuffled.enumerated() { rank[i] = r }
            let key = { (i: Int) in (std[i], rewardMean?[i] ?? 0, rank[i]) }
            chosen = Array(inputs.indices.sorted { key($0) < key($1) }.prefix(size))
        case .flaggedOnly:
            guard let flags = flagged else { throw CurriculumError.needsRewardStd(strategy) }
            let candidates = shuffled.filter { flags[$0] }
            guard !candidates.isEmpty else { throw CurriculumError.nothingFlagged }
            chosen = Array(candidates.prefix(size))
        }
        let missing = chosen.filter { inputs[$0].reference == nil }
        guard missing.isEmpty else {
            throw CurriculumError.missingReferences(ids: missing.map { inputs[$0].displayID }, total: chosen.count)
        }
        return chosen.sorted()
    }

    /// A Fisher–Yates shuffle driven by `g`.
    static func shuffled(_ a: [Int], using g: inout RandomGenerator) -> [Int] {
        var a = a
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            a.swapAt(i, Int(g.next() % UInt64(i + 1)))
        }
        return a
    }
}
