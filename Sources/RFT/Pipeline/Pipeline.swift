import Foundation
import RFTModel
import RFTTensor

/// Why a run cannot start or continue.
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    /// A resume with settings that would change the result.
    case settingsChanged(path: String, changes: [String])
    /// A resume on other inputs or another starting model.
    case inputsChanged(path: String)
    /// The checkpoint to resume holds no run state.
    case notARun(path: String)
    /// A resume on another number of processes (the batch of a step is per process).
    case worldSizeChanged(path: String, saved: Int, now: Int)
    /// A rank loaded other inputs or another starting model than rank 0.
    case ranksDiffer(rank: Int)

    /// One line naming what and where.
    public var description: String {
        switch self {
        case .settingsChanged(let p, let c):
            return "\(p) was written with other settings (\(c.joined(separator: "; "))); resuming would mix two runs: use the same settings, or start a new --output"
        case .inputsChanged(let p):
            return "\(p) was written for other inputs or another starting model; resuming would mix two runs: use the same ones, or start a new --output"
        case .notARun(let p): return "\(p) holds no run state to resume (written by another command, or by rft before format 2)"
        case .worldSizeChanged(let p, let saved, let now):
            return "\(p) was written by a run on \(saved) process\(saved == 1 ? "" : "es"), this one has \(now); each process takes per_device_train_batch_size, so the steps would differ: resume with \(saved == 1 ? "one process (no mpirun)" : "mpirun -np \(saved)"), or start a new --output"
        case .ranksDiffer(let r):
            return "rank \(r) loaded other inputs or another starting model than rank 0: every process must read the same files (the same paths on every host)"
        }
    }
}

/// Diagnose → SFT on a small subset → RFT, with the per-input reward-std table measured before,
/// after SFT and after RFT — and, with fewer stages, `rft sft`, `rft pretrain` and
/// `rft diagnose`. The library owns the run: it checkpoints in every stage (every `save_steps`
/// trainer steps or diagnosis batches, and at each stage's end) and resumes inside the stage it
/// was killed in, ending bit-identical to an uninterrupted run (same seed, same thread count).
/// Under `mpirun -np N` (`group`) every process runs the pipeline: the trainers and diagnoses
/// split their work across the ranks, and rank 0 alone writes the run's files.
public final class Pipeline {
    /// The stages and their settings.
    public let plan: PipelinePlan
    /// The model, tokenizer and inputs (the model is trained in place).
    public let inputs: RunInputs
    /// Scores completions.
    public let reward: any RewardFunction
    /// Told about every step, diagnosis and checkpoint.
    public var observer: PipelineObserver?
    /// The processes the run is split across (rank 0 writes the files).
    public var group: any ProcessGroup = SingleProcessGroup()

    private var state: PipelineState
    private var directory: RunDirectory?
    private var metrics: MetricsLog?
    private var timings: MetricsLog?
    private var resumed: Checkpoint?
    private var lastCheckpoint: String?
    private var bestWeights: [Tensor]?
    /// The reward-model stage's model, once it runs: its head is saved with the weights.
    private var rewardModel: RewardModel?

    /// A pipeline over `inputs`; nothing runs until `run`.
    public init(plan: PipelinePlan, inputs: RunInputs, reward: any RewardFunction, observer: PipelineObserver? = nil) {
        self.plan = plan
        self.inputs = inputs
        self.reward = reward
        self.observer = observer
        state = PipelineState(stage: plan.stages.first)
    }

    /// Runs the remaining stages — all of them, or, in a folder that holds a killed run's
    /// checkpoints, from its newest valid one on. Without a folder nothing is written. In a group
    /// of N processes rank 0 passes the folder, the others nil: they take up rank 0's checkpoint.
    public func run(in directory: RunDirectory? = nil) throws -> PipelineResult {
        try BLAS.withThreads(plan.threads) {
            do { return try runStages(directory) } catch {
                directory?.discardIfUnused()
                throw error
            }
        }
    }

    // MARK: - Stages

    private func runStages(_ directory: RunDirectory?) throws -> PipelineResult {
        self.directory = directory
        state.settings = plan.settings
        state.worldSize = group.size > 1 ? group.size : nil
        state.inputsDigest = digest()
        if let differing = try group.allGather(Array(state.inputsDigest.utf8)).firstIndex(where: { $0 != Array(state.inputsDigest.utf8) }) {
            throw PipelineError.ranksDiffer(rank: differing)
        }
        if let latest = try latestCheckpoint() { try resume(from: latest.checkpoint, path: latest.path) }
        if let directory {
            metrics = try directory.openMetrics(keeping: state.metricsBytes)
            timings = try directory.openTimings(keepingThrough: state.position)
            if let yaml = plan.configYAML { try directory.write(yaml, to: "config.yaml") }
        }
        while let stage = state.stage {
            switch stage {
            case .before, .afterSFT, .afterRFT: try diagnose(stage)
            case .sft: try runSFT()
            case .rft: try runRFT()
            case .rewardModel: try runRewardModel()
            }
            resumed = nil
            let next = plan.stages.firstIndex(of: stage).map { $0 + 1 }.flatMap { $0 < plan.stages.count ? plan.stages[$0] : nil }
            state.stage = next
            try save(nil)
        }
        let result = result()
        if directory != nil && plan.stages.contains(where: \.isDiagnosis) { try writeReports(result) }
        return result
    }

    /// The newest valid checkpoint of the folder, if any: rank 0 finds it, and in a group of N
    /// it hands the file's bytes to the other ranks, which need no access to the folder.
    private func latestCheckpoint() throws -> (path: String, checkpoint: Checkpoint)? {
        let latest = try directory?.manager.latest()
        for skipped in latest?.skipped ?? [] { observer?.note("skipping damaged checkpoint: \(skipped)") }
        guard group.size > 1 else { return latest.map { ($0.path, $0.checkpoint) } }
        let path = String(decoding: try group.broadcast(Array((latest?.path ?? "").utf8), from: 0), as: UTF8.self)
        let bytes = try group.broadcast(try latest.map { try RegularFile.read($0.path, limit: CheckpointLimits.default.maxTotalBytes) } ?? [], from: 0)
        if let latest { return (latest.path, latest.checkpoint) }
        return bytes.isEmpty ? nil : (path, try Checkpoint.load(bytes: bytes, path: path))
    }

    /// Takes up the run `checkpoint` holds: its state, its weights; refuses other settings or inputs.
    private func resume(from checkpoint: Checkpoint, path: String) throws {
        guard let saved = checkpoint.header.pipeline else { throw PipelineError.notARun(path: path) }
        guard (saved.worldSize ?? 1) == group.size else {
            throw PipelineError.worldSizeChanged(path: path, saved: saved.worldSize ?? 1, now: group.size)
        }
        let changed = Set(saved.settings.keys).union(plan.settings.keys).sorted()
            .filter { saved.settings[$0] != plan.settings[$0] && !plan.mayChange.contains($0) }
        guard changed.isEmpty else {
            throw PipelineError.settingsChanged(path: path, changes: changed.map { "\($0): \(saved.settings[$0] ?? "unset") → \(plan.settings[$0] ?? "unset")" })
        }
        guard saved.inputsDigest == state.inputsDigest else { throw PipelineError.inputsChanged(path: path) }
        try checkpoint.restore(into: inputs.model, path: path)
        state = saved
        state.settings = plan.settings
        state.worldSize = saved.worldSize
        resumed = checkpoint
        lastCheckpoint = path
        observer?.resumed(from: path, stage: saved.stage, position: saved.position)
    }

    /// One diagnosis stage: per-input reward std, resumable batch by batch; then held-out greedy
    /// accuracy, the report files and a metrics line.
    private func diagnose(_ stage: PipelineStage) throws {
        observer?.stageStarted(stage, detail: "\(inputs.examples.count) inputs of \(inputs.label) × \(plan.monitor.mode == .exact ? "all completions" : "\(plan.monitor.numGenerations) samples") at temperature \(plan.monitor.temperature)")
        let report = try measure(stage)
        state.reports[stage.rawValue] = report
        let accuracy = try greedyAccuracy()
        state.accuracy[stage.rawValue] = accuracy
        let s = report.summary
        var line: [String: JSONValue] = [
            "phase": .string(stage.rawValue), "num_inputs": .number(Double(s.numInputs)), "frac_flagged": .number(s.fracFlagged),
            "frac_stuck": .number(s.fracStuck), "frac_solved": .number(s.fracSolved), "reward": s.reward.map { .number($0) } ?? .null,
            "reward_std": s.rewardStd.map { .number($0) } ?? .null,
        ]
        if let accuracy { line["greedy_accuracy"] = .number(accuracy) }
        try metrics?.append(JSONValue.object(line))
        if let directory, let base = plan.reportFiles[stage] {
            try report.writeJSONLines(to: directory.file(base + ".jsonl"))
            try report.writeCSV(to: directory.file(base + ".csv"))
        }
        observer?.diagnosed(stage, report: report, greedyAccuracy: accuracy)
    }

    /// The model's reward std on every input, continuing `state.partialRows` and checkpointing
    /// every `save_steps` batches; `stage` labels the progress.
    private func measure(_ stage: PipelineStage, trainer: (any Trainer)? = nil) throws -> RewardStdReport {
        let report = try withoutGradients {
            try plan.monitor.measure(model: inputs.model, tokenizer: inputs.tokenizer, examples: inputs.examples, reward: reward,
                                     criterion: plan.criterion, resuming: state.partialRows, group: group) { [self] rows in
                KillPoints.reach("diagnosis batch measured")
                state.partialRows = rows
                state.position += 1
                observer?.diagnosing(stage, done: rows.count, total: inputs.examples.count)
                let batches = (rows.count + plan.monitor.inputsPerBatch - 1) / plan.monitor.inputsPerBatch
                if rows.count < inputs.examples.count && plan.saveSteps > 0 && batches % plan.saveSteps == 0 { try save(trainer) }
            }
        }
        state.partialRows = []
        return report
    }

    /// The SFT stage: the curriculum's subset (or the plan's source), every step logged, a
    /// checkpoint every `save_steps`, the plan's evaluation every `eval_steps`; in automatic
    /// warm-up, a diagnosis every `checkEvery` steps decides when to stop.
    private func runSFT() throws {
        let source: ExampleSource
        switch plan.sftSource {
        case .examples(let s): source = s
        case .curriculum:
            let subset = try state.sftSubset ?? chooseSubset()
            state.sftSubset = subset
            source = .fixed(subset.map { inputs.examples[$0] })
        }
        let trainer = try SFTTrainer(model: inputs.model, tokenizer: inputs.tokenizer, config: plan.sft, source: source, group: group)
        let auto: (level: Double, every: Int)?
        if case .curriculum = plan.sftSource, case .auto(let level, let every) = plan.warmup { auto = (level, max(1, every)) } else { auto = nil }
        if auto != nil && state.auto == nil { state.auto = AutoWarmupState() }
        try restoreTrainer(trainer)
        let maxSteps = plan.sft.training.maxSteps
        observer?.stageStarted(.sft, detail: "\(state.sftSubset.map { "\($0.count) inputs (\($0.filter { initialRow($0)?.stuck == true }.count) of them stuck)" } ?? "training") for \(maxSteps) steps of \(plan.sft.training.perDeviceTrainBatchSize * plan.sft.training.gradientAccumulationSteps * group.size)\(processes), lr \(plan.sft.training.learningRate)")
        while trainer.stepCount < maxSteps || state.auto?.checking == true {
            if state.auto?.checking != true {
                let m = try trainer.step()
                try logged(m, stage: .sft, maxSteps: maxSteps)
                if let auto, m.step % auto.every == 0 || m.step == maxSteps { state.auto?.checking = true }  // before a save
                if let evaluate = plan.evaluate, plan.evalSteps > 0 && m.step % plan.evalSteps == 0 && m.step != maxSteps {
                    try self.evaluate(step: m.step, stage: .sft) { try evaluate(inputs.model) }
                }
                if plan.saveSteps > 0 && m.step % plan.saveSteps == 0 && m.step != maxSteps { try save(trainer) }
            }
            if let auto, state.auto?.checking == true, try autoCheck(trainer, level: auto.level) { break }
        }
        if let evaluate = plan.evaluate { try self.evaluate(step: trainer.stepCount, stage: .sft) { try evaluate(inputs.model) } }
        if let best = bestWeights, state.auto?.bestStep != trainer.stepCount {  // ended without reaching the level
            for (p, w) in zip(inputs.model.parameters(), best) { p.assign(w) }
            observer?.note("keeping the weights of SFT step \(state.auto?.bestStep ?? 0), the lowest stuck share (\(SVGPlot.format(state.auto?.bestStuckShare ?? 0)))")
        }
        bestWeights = nil
    }

    /// One check of the automatic warm-up; returns whether SFT should stop (the stuck share is
    /// below the level, or stopped falling).
    private func autoCheck(_ trainer: SFTTrainer, level: Double) throws -> Bool {
        state.auto?.checking = true
        let report = try measure(.sft, trainer: trainer)
        state.auto?.checking = false
        let stuck = report.summary.fracStuck
        observer?.note(String(format: "sft step %d: stuck share %.3f", trainer.stepCount, stuck))
        if stuck < level { state.auto?.bestStep = trainer.stepCount; return true }
        if let best = state.auto?.bestStuckShare, stuck >= best { return true }  // no longer improving
        state.auto?.bestStuckShare = stuck
        state.auto?.bestStep = trainer.stepCount
        bestWeights = inputs.model.parameters().map { $0.copy() }
        return false
    }

    /// The RFT stage on the inputs: every step logged, a checkpoint every `save_steps`, and at
    /// the end the per-input report of every input RFT sampled.
    private func runRFT() throws {
        let trainer = try GRPOTrainer(model: inputs.model, tokenizer: inputs.tokenizer, config: plan.grpo, reward: reward,
                                      source: .fixed(inputs.examples), criterion: plan.criterion, group: group)
        try restoreTrainer(trainer)
        let maxSteps = plan.grpo.training.maxSteps
        observer?.stageStarted(.rft, detail: "\(maxSteps) steps of \(plan.grpo.promptsPerStep * plan.grpo.training.gradientAccumulationSteps * group.size) prompts × \(plan.grpo.numGenerations)\(processes), \(plan.grpo.advantageEstimator.rawValue), loss \(plan.grpo.loss.lossType.rawValue), lr \(plan.grpo.training.learningRate)")
        while trainer.stepCount < maxSteps {
            let m = try trainer.step()
            try logged(m, stage: .rft, maxSteps: maxSteps)
            if plan.saveSteps > 0 && m.step % plan.saveSteps == 0 && m.step != maxSteps { try save(trainer) }
        }
        state.inputReport = trainer.inputReport()
        if let directory {
            let lines = try state.inputReport.map { String(decoding: try JSONEncoder.snakeCase.encode($0), as: UTF8.self) + "\n" }
            try directory.write(lines.joined(), to: "inputs-report.jsonl")
        }
    }

    /// The reward-model stage: a head on the inputs' model, trained on the plan's pairs (every
    /// step logged, a checkpoint every `save_steps`), evaluated on the held-out pairs every
    /// `eval_steps` and at the end; the pipeline's later checkpoints carry the head.
    private func runRewardModel() throws {
        let rewardModel = RewardModel(model: inputs.model, tokenizer: inputs.tokenizer, seed: plan.rewardTraining.training.seed)
        self.rewardModel = rewardModel
        let trainer = try RewardTrainer(rewardModel: rewardModel, config: plan.rewardTraining, pairs: plan.preferencePairs, group: group)
        try restoreTrainer(trainer)
        let training = plan.rewardTraining.training, maxSteps = training.maxSteps
        let evaluation: (() throws -> [String: Double])? = plan.heldOutPairs.isEmpty ? nil : { [plan] in
            try RewardTrainer.evaluate(rewardModel, pairs: plan.heldOutPairs, centerCoefficient: plan.rewardTraining.centerRewardsCoefficient,
                                       batchSize: training.perDeviceTrainBatchSize)
        }
        observer?.stageStarted(.rewardModel, detail: "\(plan.preferencePairs.count) pairs (\(plan.heldOutPairs.count) held out) for \(maxSteps) steps of \(training.perDeviceTrainBatchSize * training.gradientAccumulationSteps * group.size) pairs\(processes), lr \(training.learningRate)")
        while trainer.stepCount < maxSteps {
            let m = try trainer.step()
            try logged(m, stage: .rewardModel, maxSteps: maxSteps)
            if let evaluation, plan.evalSteps > 0 && m.step % plan.evalSteps == 0 && m.step != maxSteps { try evaluate(step: m.step, stage: .rewardModel, evaluation) }
            if plan.saveSteps > 0 && m.step % plan.saveSteps == 0 && m.step != maxSteps { try save(trainer) }
        }
        if let evaluation { try evaluate(step: trainer.stepCount, stage: .rewardModel, evaluation) }
    }

    // MARK: - Pieces

    /// " on N processes" in a group, else nothing (for the stages' first lines).
    private var processes: String { group.size > 1 ? " on \(group.size) processes" : "" }

    /// The trainer of a stage resumed mid-stage takes up the checkpoint's state (and the
    /// automatic warm-up its best weights).
    private func restoreTrainer(_ trainer: some Trainer) throws {
        guard let checkpoint = resumed, let saved = checkpoint.header.trainer, saved.kind == trainer.state.kind else { return }
        try checkpoint.restore(into: trainer, path: lastCheckpoint ?? "<checkpoint>")
        let best = inputs.model.namedParameters().map { checkpoint["best." + $0.name] }
        if best.allSatisfy({ $0 != nil }), !best.isEmpty {
            bestWeights = try zip(best, inputs.model.namedParameters()).map { saved, p in
                guard saved!.shape == p.tensor.shape else {
                    throw CheckpointError.shapeMismatch(path: lastCheckpoint ?? "<checkpoint>", name: "best." + p.name, expected: p.tensor.shape, found: saved!.shape)
                }
                return saved!.copy()
            }
        }
    }

    /// Appends `m` to metrics.jsonl (with its stage), tells the observer (with the running mean
    /// loss every `logging_steps`), and counts the step.
    private func logged(_ m: some TrainerMetrics, stage: PipelineStage, maxSteps: Int) throws {
        KillPoints.reach("trainer step taken")
        state.position += 1
        state.lossWindow.add(m.loss)
        if let metrics, let timings {  // wall-clock figures to timings.jsonl: metrics.jsonl stays reproducible
            guard case .object(var line) = try ConfigLayer.encode(m) else { return }
            var clock: [String: JSONValue] = ["phase": .string(stage.rawValue), "step": .number(Double(m.step)),
                                              "position": .number(Double(state.position))]
            for key in line.keys where key.hasSuffix("seconds") || key == "tokens_per_second" { clock[key] = line.removeValue(forKey: key) }
            // several rewards: TRL's flat names, rewards/<name>/mean and rewards/<name>/std
            if case .object(let functions)? = line.removeValue(forKey: "reward_functions") {
                for (name, value) in functions {
                    guard case .object(let f) = value else { continue }
                    line["rewards/\(name)/mean"] = f["mean"]
                    line["rewards/\(name)/std"] = f["sample_std"]
                }
            }
            line["phase"] = .string(stage.rawValue)
            try metrics.append(JSONValue.object(line))
            try timings.append(JSONValue.object(clock))
        }
        let show = m.step % max(1, plan.loggingSteps) == 0 || m.step == maxSteps
        observer?.stepped(stage, metrics: m, maxSteps: maxSteps, meanLoss: show ? state.lossWindow.take() : nil)
    }

    /// Runs a stage's evaluation (no gradients): a metrics line, the figures kept for checkpoints.
    private func evaluate(step: Int, stage: PipelineStage, _ evaluation: () throws -> [String: Double]) throws {
        let figures = try withoutGradients { try evaluation() }
        state.evaluation.merge(figures) { $1 }
        try metrics?.append(JSONValue.object(figures.mapValues { .number($0) }.merging(["step": .number(Double(step)), "phase": .string(stage.rawValue)]) { $1 }))
        observer?.evaluated(stage, step: step, metrics: figures)
    }

    /// The curriculum's SFT subset from the first diagnosis.
    private func chooseSubset() throws -> [Int] {
        var curriculum = Curriculum(strategy: plan.strategy, seed: plan.sft.training.seed)
        switch plan.warmup {
        case .off: return []
        case .fraction(let f): curriculum.fraction = f
        case .auto: break
        }
        let rows = state.reports[PipelineStage.before.rawValue]?.rows
        return try curriculum.select(inputs.examples, rewardStd: rows?.map(\.std), rewardMean: rows?.map(\.mean),
                                     flagged: rows?.map(\.flagged))
    }

    /// Row `i` of the first diagnosis, when there is one.
    private func initialRow(_ i: Int) -> RewardStdRow? { state.reports[PipelineStage.before.rawValue]?.rows[i] }

    /// The share of held-out inputs whose greedy completion gets the highest reward; nil without held-out inputs.
    private func greedyAccuracy() throws -> Double? {
        guard !plan.heldOut.isEmpty else { return nil }
        let length = plan.monitor.completionLength(for: inputs.examples, tokenizer: inputs.tokenizer)
        let scores = try TaskEvaluation.greedyRewards(model: inputs.model, tokenizer: inputs.tokenizer, examples: plan.heldOut,
                                                      reward: reward, range: plan.criterion.rewardRange, maxNewTokens: length)
        return Double(scores.filter { $0 >= plan.criterion.rewardMax }.count) / Double(scores.count)
    }

    /// Saves a checkpoint of the run (of `trainer` when a trainer stage is under way) at the
    /// current position, after syncing metrics.jsonl so the checkpoint can record its length.
    private func save(_ trainer: (any Trainer)?) throws {
        guard let directory, plan.saveSteps > 0 else { return }
        if let metrics {
            try metrics.sync()
            state.metricsBytes = metrics.bytes
        }
        let tokenizer = try JSONValue(encoding: inputs.tokenizer)
        var checkpoint: Checkpoint
        if let trainer {
            checkpoint = Checkpoint.capture(trainer, pipeline: state, tokenizer: tokenizer, metrics: state.evaluation, metadata: inputs.metadata)
        } else {
            checkpoint = Checkpoint.capture(model: inputs.model, pipeline: state, tokenizer: tokenizer, metrics: state.evaluation,
                                            metadata: inputs.metadata)
        }
        if trainer == nil, let rewardModel {  // a trainer's checkpoint has the head among its extra tensors
            checkpoint.tensors.append((name: RewardModel.headName, tensor: rewardModel.head.weight, dtype: .f32))
        }
        if let best = bestWeights {
            checkpoint.tensors += zip(inputs.model.namedParameters(), best).map { (name: "best." + $0.0.name, tensor: $0.1, dtype: .f32) }
        }
        var manager = directory.manager
        manager.keepLast = max(1, plan.saveTotalLimit)
        lastCheckpoint = try manager.save(checkpoint, step: state.position)
        observer?.saved(lastCheckpoint!)
    }

    /// A digest of the inputs and the starting weights: the same inputs give the same digest.
    private func digest() -> String {
        let encoder = JSONEncoder.snakeCase
        var bytes = [UInt8]((try? encoder.encode(inputs.examples)) ?? Data())
        bytes += [UInt8]((try? encoder.encode(plan.preferencePairs + plan.heldOutPairs)) ?? Data())
        for p in inputs.model.parameters() { bytes += UnsafeBufferPointer(start: p.data, count: p.count).withMemoryRebound(to: UInt8.self) { Array($0) } }
        return String(bytes.withUnsafeBytes { XXH64.hash($0.baseAddress, count: $0.count) }, radix: 16)
    }

    /// summary.json (the table and every diagnosis's summary), the std histograms of every
    /// diagnosis, a mean-vs-std scatter per diagnosis, and for RFT reward.svg (reward and stuck
    /// share per step, read back from metrics.jsonl so a resumed run plots every step).
    private func writeReports(_ result: PipelineResult) throws {
        guard let directory else { return }
        struct Summary: Encodable {
            let table: [PipelinePhase]
            let diagnoses: [String: RewardStdSummary]
            let greedyAccuracy: [String: Double]
            let numInputsStayedStuck: Int?
            let numInputsSampled: Int?
        }
        let rft = plan.stages.contains(.rft)
        let summary = Summary(table: result.phases, diagnoses: state.reports.mapValues(\.summary), greedyAccuracy: state.accuracy,
                              numInputsStayedStuck: rft ? result.inputReport.filter { $0.firstStuck && $0.stuck }.count : nil,
                              numInputsSampled: rft ? result.inputReport.count : nil)
        let encoder = JSONEncoder.snakeCase
        encoder.outputFormatting.insert(.prettyPrinted)
        try directory.write(String(decoding: try encoder.encode(summary), as: UTF8.self) + "\n", to: "summary.json")
        let named = plan.stages.filter(\.isDiagnosis).compactMap { s in state.reports[s.rawValue].map { (name: s.label, report: $0) } }
        try directory.write(RewardStdReport.stdHistogramSVG(named, title: "Per-input reward std" + (named.count > 1 ? ": " + named.map(\.name).joined(separator: " vs ") : "")),
                            to: "std-histogram.svg")
        for (name, report) in named {
            try directory.write(report.meanStdScatterSVG(title: "Reward mean vs std per input, \(name)"),
                                to: "mean-vs-std-\(name.replacingOccurrences(of: " ", with: "-").lowercased()).svg")
        }
        guard rft else { return }
        let lines = (try? RegularFile.read(directory.file("metrics.jsonl"), limit: 1 << 30)) ?? []
        var reward: [(x: Double, y: Double)] = [], stuck: [(x: Double, y: Double)] = []
        for line in lines.split(separator: UInt8(ascii: "\n")) {
            guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
                  o["phase"] == .string("rft"), case .number(let step)? = o["step"] else { continue }
            if case .number(let r)? = o["reward"] { reward.append((step, r)) }
            if case .number(let s)? = o["frac_stuck"] { stuck.append((step, s)) }
        }
        try directory.write(SVGPlot.linePlot(series: [SVGPlot.Series(name: "reward", points: reward, color: SVGPlot.blue),
                                                       SVGPlot.Series(name: "share of sampled inputs stuck", points: stuck, color: SVGPlot.red)],
                                              title: "RFT: reward and stuck share per step", xLabel: "RFT step", yLabel: "share"),
                            to: "reward.svg")
    }

    /// What the run measured.
    private func result() -> PipelineResult {
        var reports: [PipelineStage: RewardStdReport] = [:]
        for (k, v) in state.reports { if let s = PipelineStage(rawValue: k) { reports[s] = v } }
        let phases = plan.stages.filter(\.isDiagnosis).compactMap { s -> PipelinePhase? in
            guard let report = reports[s], let initial = reports[.before] else { return nil }
            return PipelinePhase(name: s.label, report: report, initial: initial, greedyAccuracy: state.accuracy[s.rawValue])
        }
        return PipelineResult(phases: phases, reports: reports, inputReport: state.inputReport, checkpoint: lastCheckpoint,
                              evaluation: state.evaluation)
    }
}
