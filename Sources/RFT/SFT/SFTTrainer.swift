import Foundation
import RFTModel
import RFTTensor

/// The settings of a supervised finetuning run (names as TRL's SFTConfig where the meaning matches).
public struct SFTConfig: Codable, Equatable, Sendable {
    /// Sequences per step (TRL: per_device_train_batch_size).
    public var batchSize = 16
    /// Peak AdamW learning rate.
    public var learningRate: Float = 1e-3
    /// AdamW weight decay.
    public var weightDecay: Float = 0
    /// Global gradient-norm clip.
    public var maxGradNorm: Float = 1
    /// Learning-rate schedule over the run (`.constant` keeps `learningRate`).
    public var schedule: LRSchedule = .constant
    /// Seed for drawing batches.
    public var seed: UInt64 = 0

    /// The defaults.
    public init() {}
}

/// What one SFT step did.
public struct SFTStepMetrics: Codable, Equatable, Sendable {
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
}

/// The mutable state of an SFT run besides weights and optimizer: enough to resume exactly.
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
/// completion and `<eos>` only; prompt and padding positions are masked out.
public final class SFTTrainer {
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
    public var state: SFTTrainerState

    /// A trainer for `model` on `source`.
    public init(model: GPT, tokenizer: Tokenizer, config: SFTConfig = SFTConfig(), source: ExampleSource) {
        self.model = model
        self.tokenizer = tokenizer
        self.config = config
        self.source = source
        optimizer = AdamW(parameters: model.namedParameters(), learningRate: config.learningRate, weightDecay: config.weightDecay)
        state = SFTTrainerState(step: 0, generator: RandomGenerator(seed: config.seed))
    }

    /// One optimisation step on a fresh batch. Throws (before changing the weights) when an
    /// example has no reference or the loss or gradient is not finite.
    public func step() throws -> SFTStepMetrics {
        let start = Date()
        let batch = try TaskBatch(source.draw(config.batchSize, using: &state.generator), tokenizer: tokenizer)
        optimizer.learningRate = config.schedule.learningRate(base: config.learningRate, step: state.step)
        optimizer.zeroGrad()
        let logits = model(batch.inputs, batch: batch.batch, length: batch.length)  // (B, T, V)
        let loss = crossEntropy(logits, targets: batch.targets)                    // mean over unmasked targets
        let value = loss.item()
        guard value.isFinite else { throw TrainingError.nonFinite(step: state.step + 1, what: "SFT loss") }
        loss.backward()
        let gradNorm = clipGradNorm(model.parameters(), maxNorm: config.maxGradNorm)
        guard gradNorm.isFinite else { throw TrainingError.nonFinite(step: state.step + 1, what: "SFT gradient norm") }
        optimizer.step()
        state.step += 1
        let seconds = Date().timeIntervalSince(start)
        return SFTStepMetrics(step: state.step, loss: Double(value), gradNorm: Double(gradNorm),
                              learningRate: Double(optimizer.learningRate),
                              numTokens: batch.targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) },
                              tokensPerSecond: Double(batch.batch * batch.length) / max(seconds, 1e-9), seconds: seconds)
    }

    /// Mean completion-token cross-entropy of `examples` (no gradient), in batches of `batchSize`.
    public func evaluationLoss(_ examples: [TaskExample]) throws -> Double {
        var total = 0.0, tokens = 0
        for start in stride(from: 0, to: examples.count, by: max(1, config.batchSize)) {
            let batch = try TaskBatch(Array(examples[start..<min(examples.count, start + config.batchSize)]), tokenizer: tokenizer)
            let n = batch.targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) }
            let loss = withoutGradients { crossEntropy(model(batch.inputs, batch: batch.batch, length: batch.length), targets: batch.targets).item() }
            total += Double(loss) * Double(n)
            tokens += n
        }
        return total / Double(max(1, tokens))
    }
}

/// Errors that stop a training run.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// A loss or gradient norm is NaN or infinite; the weights were not updated.
    case nonFinite(step: Int, what: String)

    /// A one-line explanation.
    public var description: String {
        switch self {
        case .nonFinite(let s, let w): return "step \(s): \(w) is not finite; stopped before the update (the last checkpoint is kept)"
        }
    }
}
