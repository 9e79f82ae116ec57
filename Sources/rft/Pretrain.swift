import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// `rft pretrain`: trains a GPT from scratch on a built-in task or a JSONL file of
/// prompt/completion pairs (`<bos> x <sep> y <eos>`, loss on y), with a progress line, periodic
/// per-length evaluation, checkpoints and `--resume`.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small GPT from scratch on a built-in task or a JSONL file, with evaluation and checkpoints.")

    @Option(help: "Task: \(TaskRegistry.names.joined(separator: ", ")).") var task = "addition"
    @Option(help: "Training lengths, N or A-B (default: the task's train split).") var trainLengths: String?
    @Option(help: "Train on a JSONL file of {\"prompt\", \"completion\"} pairs instead of a task (5% held out for evaluation; the tokenizer is built from the file).")
    var data: String?
    @Flag(help: "Skip invalid lines of --data instead of stopping at the first.") var skipInvalid = false
    @Option(help: "Optimisation steps.") var steps = 2000
    @Option(help: "Sequences per batch.") var batchSize = 32
    @Option(help: "Transformer blocks.") var layers = 2
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Residual width.") var width = 64
    @Option(help: "Context length (default: the longest train or test sequence).") var context: Int?
    @Option(help: "Peak AdamW learning rate (cosine decay after 5% warm-up).") var learningRate: Float = 3e-3
    @Option(help: "AdamW weight decay.") var weightDecay: Float = 0.01
    @Option(help: "Random seed (weights and data).") var seed: UInt64 = 0
    @Option(help: "Print a progress line every this many steps.") var logEvery = 50
    @Option(help: "Evaluate (greedy, per length) every this many steps; 0 = only at the end.") var evalEvery = 500
    @Option(help: "Instances per length in evaluations.") var evalExamples = 50
    @Option(help: "Checkpoint folder.") var out = "runs/pretrain"
    @Option(help: "Save a checkpoint every this many steps (and at the end).") var saveEvery = 500
    @Flag(help: "Continue from the newest valid checkpoint in --out.") var resume = false
    @Option(help: "Experiments: give prompts starting with this character a consistently wrong reference (last digit + 5), a class RFT cannot fix (Razin et al.).")
    var mislabelLeading: String?
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        guard steps > 0, batchSize > 0, layers > 0, heads > 0, width > 0, width % heads == 0 else {
            throw ValidationError("steps, batch size, layers, heads and width must be positive, width divisible by heads")
        }
        guard logEvery > 0, saveEvery > 0, evalEvery >= 0, evalExamples > 0 else {
            throw ValidationError("--log-every, --save-every and --eval-examples must be positive, --eval-every ≥ 0")
        }
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines reach a log file as they are printed
        BLAS.setThreads(threads)
        let task = try TaskRegistry.task(named: self.task)
        var train = try trainLengths.map(parseLengths) ?? task.trainLengths
        guard task.validLengths.contains(train.lowerBound), task.validLengths.contains(train.upperBound) else {
            throw TaskError.invalidLengths(task: task.name, lengths: train, valid: task.validLengths)
        }
        var tokenizer = task.tokenizer
        // --data: a fixed list of pairs, its own tokenizer, 5% held out
        var dataTrain: [TaskExample] = [], dataHeld: [TaskExample] = [], dataContext = 0
        if let data {
            let dataset = try PromptDataset.load(jsonl: data, requirements: DatasetRequirements(requireReference: true), skipInvalid: skipInvalid)
            if !dataset.skipped.isEmpty { print("skipped \(dataset.skipped.count) invalid line(s) of \(data)") }
            tokenizer = Tokenizer(corpus: dataset.examples.flatMap { [$0.prompt, $0.reference ?? ""] })
            let held = dataset.examples.count >= 20 ? dataset.examples.count / 20 : 0
            dataHeld = Array(dataset.examples.prefix(held))
            dataTrain = Array(dataset.examples.dropFirst(held))
            dataContext = try dataset.examples.map { try tokenizer.encodePrompt($0.prompt).count + tokenizer.encodeCompletion($0.reference ?? "").count - 1 }.max() ?? 1
            let lengths = dataset.examples.map(\.length)
            train = (lengths.min() ?? 1)...(lengths.max() ?? 1)
        }
        let taskName = data.map { "data:" + URL(fileURLWithPath: $0).lastPathComponent } ?? task.name
        var mislabel: MislabeledClass?
        if let m = mislabelLeading {
            guard m.count == 1, let c = m.first else { throw CLIError("--mislabel-leading takes one character") }
            mislabel = MislabeledClass(leadingCharacter: c)
        }
        let manager = CheckpointManager(directory: out, keepLast: 2)
        let schedule = LRSchedule.cosine(warmupSteps: max(1, steps / 20), totalSteps: steps, minRatio: 0.1)

        // model, optimizer and data stream: fresh, or restored from --out
        var model: GPT
        var startStep = 0
        var rng = RandomGenerator(seed: seed &+ 1)
        var optimizer: AdamW
        if !resume, let existing = manager.checkpoints().last {
            // a fresh run would prune (delete) the checkpoints already there
            throw CLIError("\(out) already holds checkpoints (\(existing.path)); pass --resume to continue that run, or choose another --out")
        }
        if resume, let latest = try manager.latest() {
            for skipped in latest.skipped { print("skipping damaged checkpoint: \(skipped)") }
            let header = latest.checkpoint.header
            guard header.metadata["task"] == taskName else {
                throw CLIError("\(latest.path) was trained on \(header.metadata["task"] ?? "no task"), not \(taskName)")
            }
            model = try latest.checkpoint.makeModel(path: latest.path)
            optimizer = AdamW(parameters: model.namedParameters(), learningRate: learningRate, weightDecay: weightDecay)
            try latest.checkpoint.restore(into: model, optimizer: optimizer, path: latest.path)
            startStep = header.training?.step ?? 0
            rng = header.training?.rng ?? rng
            print("resuming from \(latest.path) at step \(startStep)")
        } else {
            let needed = data == nil ? task.maxSequenceLength(train.lowerBound...max(train.upperBound, task.testLengths.upperBound)) - 1 : dataContext
            let config = GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: context ?? needed,
                                   layers: layers, heads: heads, width: width)
            if let problem = config.validationError() { throw CLIError(problem) }
            model = GPT(config, seed: seed)
            optimizer = AdamW(parameters: model.namedParameters(), learningRate: learningRate, weightDecay: weightDecay)
        }
        let config = model.config
        let trainable = data != nil ? Array(train) : train.filter { task.maxSequenceLength($0...$0) - 1 <= config.contextLength }
        if data != nil && dataContext > config.contextLength { throw CLIError("\(data!): the longest pair needs \(dataContext) positions; the model's context is \(config.contextLength)") }
        guard let first = trainable.first, let last = trainable.last else {
            throw CLIError("context \(config.contextLength) is too short for lengths \(train)")
        }
        let trainRange = first...last
        print("rft pretrain: \(taskName), lengths \(trainRange.lowerBound)-\(trainRange.upperBound), GPT \(config.layers)L \(config.heads)H \(config.width)C ctx \(config.contextLength), \(model.parameterCount) parameters, vocabulary \(tokenizer.vocabularySize)")

        func save(_ step: Int, metrics: [String: Double]) throws {
            let checkpoint = Checkpoint.capture(
                model: model, optimizer: optimizer, training: TrainingState(step: step, rng: rng),
                schedule: ScheduleState(schedule: schedule, baseLearningRate: learningRate, position: step),
                tokenizer: try JSONValue(encoding: tokenizer), metrics: metrics,
                metadata: ["task": taskName, "trainLengths": "\(trainRange.lowerBound)-\(trainRange.upperBound)"]
                    .merging(mislabel.map { ["mislabeledLeading": String($0.leadingCharacter)] } ?? [:]) { $1 })
            let path = try manager.save(checkpoint, step: step)
            print("saved \(path)")
        }
        func evaluate(_ step: Int) throws -> [String: Double] {
            var metrics: [String: Double] = [:]
            if data != nil {
                guard !dataHeld.isEmpty else { return metrics }
                let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, examples: dataHeld, reward: ExactMatchReward(),
                                                       maxNewTokens: config.contextLength)
                metrics["accuracy_held_out"] = printAccuracy(rows, label: "step \(step) eval, \(dataHeld.count) held-out pairs")
                return metrics
            }
            for (label, range) in [("train", trainRange), ("test", task.testLengths)] {
                let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: range,
                                                       examplesPerLength: evalExamples, seed: 99)
                guard !rows.isEmpty else { continue }
                let acc = printAccuracy(rows, label: "step \(step) eval, \(label) lengths")
                metrics["accuracy_\(label)"] = acc
            }
            return metrics
        }

        guard startStep < steps else {
            print("already trained to step \(startStep) of \(steps); raise --steps to continue")
            return
        }
        let start = Date()
        var tokens = 0, lossSum: Float = 0, lossCount = 0
        var metrics: [String: Double] = [:]
        for step in startStep..<steps {
            let examples = data != nil ? ExampleSource.fixed(dataTrain).draw(batchSize, using: &rng)
                : (0..<batchSize).map { _ in task.example(lengths: trainRange, using: &rng) }.map { mislabel?.apply($0) ?? $0 }
            let batch = try TaskBatch(examples, tokenizer: tokenizer)
            optimizer.learningRate = schedule.learningRate(base: learningRate, step: step)
            optimizer.zeroGrad()
            let loss = crossEntropy(model(batch.inputs, batch: batch.batch, length: batch.length), targets: batch.targets)
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: 1)
            optimizer.step()
            tokens += batch.batch * batch.length
            lossSum += loss.item(); lossCount += 1
            let done = step + 1
            if done % logEvery == 0 || done == steps {
                let elapsed = Date().timeIntervalSince(start)
                let rate = Double(tokens) / elapsed
                let eta = elapsed / Double(done - startStep) * Double(steps - done)
                print(String(format: "step %5d/%d  loss %.4f  lr %.2e  %.0f tok/s  %.0fs elapsed  ETA %.0fs",
                             done, steps, lossSum / Float(lossCount), optimizer.learningRate, rate, elapsed, eta))
                metrics["loss"] = Double(lossSum / Float(lossCount))
                lossSum = 0; lossCount = 0
            }
            if evalEvery > 0 && done % evalEvery == 0 && done != steps { metrics.merge(try evaluate(done)) { $1 } }
            if done % saveEvery == 0 && done != steps { try save(done, metrics: metrics) }
        }
        metrics.merge(try evaluate(steps)) { $1 }
        try save(steps, metrics: metrics)
    }
}
