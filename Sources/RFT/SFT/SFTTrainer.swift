import Foundation
import RFTModel
import RFTTensor

/// The settings of a supervised finetuning run (TRL's SFTConfig names where the meaning is the
/// same; the training arguments are flattened, as in TRL's files). These defaults are `rft sft`'s.
public struct SFTConfig: Configuration {
    /// Run length, batch (sequences per step), AdamW, schedule, seed.
    public var training: TrainingArguments

    /// `rft sft`'s defaults: 200 steps of 16 sequences at learning rate 3e-4, constant.
    public init() {
        training = TrainingArguments()
        training.maxSteps = 200
        training.perDeviceTrainBatchSize = 16
        training.learningRate = 3e-4
    }

    /// The training arguments sit at the top level of a config file.
    public static let flattened: Set<String> = ["training"]

    /// The training arguments' rules.
    public func validate() throws { try training.validate() }
}

/// What one SFT step did.
public struct SFTStepMetrics: TrainerMetrics, Equatable {
    /// Step number (1-based).
    public var step: Int
    /// Mean cross-entropy over the batch's completion tokens (`<eos>` included).
    public var loss: Double
    /// Gradient norm before clipping.
    public var gradNorm: Double
    /// Learning rate used.
    public var learningRate: Double
    /// Completion tokens the loss was taken on.
    public var numTokens: Int
    /// Positions processed (batch × padded length) per second.
    public var tokensPerSecond: Double
    /// Seconds the step took.
    public var seconds: Double
    /// Of which summing the gradients over the processes (0 on one process).
    public var allReduceSeconds: Double
}

/// The mutable state of an SFT (or reward-model) run besides weights and optimizer: enough to resume exactly.
public struct SFTTrainerState: Codable, Equatable, Sendable {
    /// Steps taken.
    public var step: Int
    /// The generator that draws batches.
    public var generator: RandomGenerator

    /// A state.
    public init(step: Int, generator: RandomGenerator) {
        self.step = step
        self.generator = generator
    }
}

/// Supervised finetuning by teacher forcing: the loss is the cross-entropy of the reference
/// completion and `<eos>` only; prompt and padding positions are masked out. Pretraining is the
/// same trainer on a fresh model and a task's generator. A step draws
/// `per_device_train_batch_size` × `gradient_accumulation_steps` × N sequences (N processes in
/// `group`) and cuts them into micro-batches in order; rank r computes the r-th run of
/// `gradient_accumulation_steps` of them, and the gradients are summed in micro-batch order
/// before the same AdamW step on every rank.
public final class SFTTrainer: Trainer {
    /// The model being trained.
    public let model: GPT
    /// Encodes prompts and references.
    public let tokenizer: Tokenizer
    /// The run's settings.
    public let config: SFTConfig
    /// The optimizer (its state checkpoints by name).
    public let optimizer: AdamW
    /// Where training examples come from (each needs a reference).
    public let source: ExampleSource
    /// Steps taken and the batch generator.
    public var trainerState: SFTTrainerState
    /// The processes the batch is split across.
    public let group: any ProcessGroup

    /// A trainer for `model` on `source` (split across `group`); throws when the settings are invalid.
    public init(model: GPT, tokenizer: Tokenizer, config: SFTConfig = SFTConfig(), source: ExampleSource,
                group: any ProcessGroup = SingleProcessGroup()) throws {
        try config.validate()
        self.group = group
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.source = source
        optimizer = config.training.makeOptimizer(model.namedParameters())
        trainerState = SFTTrainerState(step: 0, generator: RandomGenerator(seed: config.training.seed))
    }

    /// Steps taken.
    public var stepCount: Int { trainerState.step }
    /// The trainer's state for a checkpoint.
    public var state: TrainerState { .sft(trainerState) }
    /// No tensors besides the model's and the optimizer's.
    public var extraTensors: [(name: String, tensor: Tensor)] { [] }

    /// Continues from `state`.
    public func restore(_ state: TrainerState) throws {
        guard case .sft(let s) = state else { throw TrainingError.wrongState(expected: "sft", got: state.kind) }
        trainerState = s
    }

    /// One optimisation step on a fresh batch. Throws (before changing the weights) when an
    /// example has no reference or the loss or gradient is not finite.
    public func step() throws -> SFTStepMetrics {
        let start = Date()
        let accumulation = config.training.gradientAccumulationSteps, parts = accumulation * group.size
        let drawn = source.draw(config.training.perDeviceTrainBatchSize * parts, using: &trainerState.generator)
        let batches = try group.microBatches(accumulation).map {
            try TaskBatch(Array(drawn[shardRange(drawn.count, part: $0, of: parts)]), tokenizer: tokenizer)
        }
        let tokens = batches.map { $0.targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
        let counts = try group.allReduce([Double(tokens.reduce(0, +)), Double(batches.reduce(0) { $0 + $1.batch * $1.length })])
        optimizer.learningRate = config.training.schedule.learningRate(base: config.training.learningRate, step: trainerState.step)
        optimizer.zeroGrad()
        var gradients = GradientAccumulation(model.parameters()), sum: Double?
        for (batch, n) in zip(batches, tokens) {
            let logits = model(batch.inputs, batch: batch.batch, length: batch.length)  // (B, T, V)
            // the mean over the micro-batch's unmasked targets, weighted by its share of the step's (1 for one micro-batch)
            let loss = crossEntropy(logits, targets: batch.targets) * (counts[0] > 0 ? Float(n) / Float(counts[0]) : 0)
            let value = Double(loss.item())
            sum = sum.map { $0 + value } ?? value
            loss.backward()
            gradients.add()
        }
        let value = Float(try group.allReduce([sum ?? 0])[0])
        guard value.isFinite else { throw TrainingError.nonFinite(step: trainerState.step + 1, what: "the SFT loss") }
        let (gradNorm, allReduceSeconds) = try gradients.applied(by: optimizer, group: group, maxNorm: config.training.maxGradNorm,
                                                                 step: trainerState.step + 1, what: "SFT")
        trainerState.step += 1
        let seconds = Date().timeIntervalSince(start)
        return SFTStepMetrics(step: trainerState.step, loss: Double(value), gradNorm: Double(gradNorm),
                              learningRate: Double(optimizer.learningRate), numTokens: Int(counts[0]),
                              tokensPerSecond: counts[1] / max(seconds, 1e-9), seconds: seconds, allReduceSeconds: allReduceSeconds)
    }

    /// Mean completion-token cross-entropy of `examples` (no gradient), in batches of the run's batch size.
    public func evaluationLoss(_ examples: [TaskExample]) throws -> Double {
        try Self.evaluationLoss(model: model, tokenizer: tokenizer, examples: examples, batchSize: config.training.perDeviceTrainBatchSize)
    }

    /// Mean completion-token cross-entropy of `model` on `examples` (no gradient), in batches of `batchSize`.
    public static func evaluationLoss(model: GPT, tokenizer: Tokenizer, examples: [TaskExample], batchSize: Int) throws -> Double {
        var total = 0.0, tokens = 0
        for start in stride(from: 0, to: examples.count, by: max(1, batchSize)) {
            let batch = try TaskBatch(Array(examples[start..<min(examples.count, start + batchSize)]), tokenizer: tokenizer)
            let n = batch.targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
            let loss = withoutGradients { crossEntropy(model(batch.inputs, batch: batch.batch, length: batch.length), targets: batch.targets).item() }
            total += Double(loss) * Double(n)
            tokens += n
        }
        return total / Double(max(1, tokens))
    }
}
