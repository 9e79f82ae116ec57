import Foundation

/// A folder of checkpoints named by position (`checkpoint-000123.rftckpt`: a run's steps and
/// diagnosis batches so far): saves atomically, keeps the
/// last N (plus optionally the best by a metric), and on resume finds the newest checkpoint
/// that loads and verifies, skipping temp files and falling back past corrupt ones.
public struct CheckpointManager: Sendable {
    /// The folder.
    public let directory: String
    /// How many of the most recent checkpoints to keep (at least 1).
    public var keepLast: Int
    /// The metric (a key of `header.metrics`) whose best checkpoints are also kept, if any.
    public var bestMetric: String?
    /// Whether a lower metric is better (loss) or a higher one (reward).
    public var lowerIsBetter: Bool
    /// How many best-by-metric checkpoints to keep besides the last N.
    public var keepBest: Int
    /// How files are written.
    public var options: CheckpointWriteOptions

    /// A manager over `directory` (created when missing on first save).
    public init(directory: String, keepLast: Int = 3, bestMetric: String? = nil, lowerIsBetter: Bool = true,
                keepBest: Int = 1, options: CheckpointWriteOptions = .init()) {
        self.directory = directory
        self.keepLast = max(1, keepLast)
        self.bestMetric = bestMetric
        self.lowerIsBetter = lowerIsBetter
        self.keepBest = max(0, keepBest)
        self.options = options
    }

    /// The file name for `step`.
    public static func fileName(step: Int) -> String { String(format: "checkpoint-%06d.rftckpt", step) }

    /// The step encoded in a checkpoint file name, or nil for other files (temp files included).
    public static func step(fromFileName name: String) -> Int? {
        guard name.hasPrefix("checkpoint-"), name.hasSuffix(".rftckpt") else { return nil }
        let digits = name.dropFirst(11).dropLast(8)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The checkpoint files in the folder, oldest step first.
    public func checkpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { n in Self.step(fromFileName: n).map { ($0, directory + "/" + n) } }.sorted { $0.step < $1.step }
    }

    /// Saves `checkpoint` as the one for `step`, then prunes old ones; returns its path.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, step: Int) throws -> String {
        guard step >= 0 else { throw CheckpointError.invalidValue(path: directory, reason: "negative step \(step)") }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError.io(path: directory, operation: "create folder", errno: EACCES)
        }
        let path = directory + "/" + Self.fileName(step: step)
        try checkpoint.save(to: path, options: options)
        prune()
        return path
    }

    /// Removes checkpoints beyond the last `keepLast` and the `keepBest` best by `bestMetric`.
    /// Files it cannot read the metric of are kept if recent, removed otherwise.
    public func prune() {
        let all = checkpoints()
        var keep = Set(all.suffix(keepLast).map(\.path))
        if let metric = bestMetric, keepBest > 0 {
            let scored: [(path: String, value: Double)] = all.compactMap { c in
                guard let r = try? CheckpointReader(path: c.path), let v = r.header.metrics[metric], v.isFinite else { return nil }
                return (c.path, v)
            }
            let best = scored.sorted { lowerIsBetter ? $0.value < $1.value : $0.value > $1.value }.prefix(keepBest)
            keep.formUnion(best.map(\.path))
        }
        for c in all where !keep.contains(c.path) { unlink(c.path) }
    }

    /// The best checkpoint by `bestMetric` whose header reads cleanly, or nil.
    public func best() -> String? {
        guard let metric = bestMetric else { return nil }
        let scored: [(String, Double)] = checkpoints().compactMap { c in
            guard let r = try? CheckpointReader(path: c.path), let v = r.header.metrics[metric], v.isFinite else { return nil }
            return (c.path, v)
        }
        return scored.min { lowerIsBetter ? $0.1 < $1.1 : $0.1 > $1.1 }?.0
    }

    /// The newest checkpoint that loads and verifies completely, with its path and the errors
    /// of newer files that were skipped; nil when the folder has no checkpoint file at all.
    /// Throws `noValidCheckpoint` when files exist but none is valid.
    public func latest(limits: CheckpointLimits = .default) throws
        -> (path: String, checkpoint: Checkpoint, skipped: [CheckpointError])?
    {
        let files = checkpoints()
        if files.isEmpty { return nil }
        var skipped: [CheckpointError] = []
        for c in files.reversed() {
            do {
                return (c.path, try Checkpoint.load(from: c.path, limits: limits, threads: options.threads), skipped)
            } catch let e as CheckpointError {
                skipped.append(e)
            } catch {
                skipped.append(.malformedHeader(path: c.path, reason: "\(error)"))
            }
        }
        throw CheckpointError.noValidCheckpoint(directory: directory, skipped: skipped.map(\.description))
    }
}
