import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// `rft pretrain`: trains a GPT from scratch by next-character prediction and prints the loss.
struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small GPT from scratch on a built-in character corpus (lines like 12+7=19).")

    @Option(help: "Optimisation steps.") var steps = 300
    @Option(help: "Sequences per batch.") var batchSize = 16
    @Option(help: "Characters per sequence (the context length).") var sequenceLength = 64
    @Option(help: "Transformer blocks.") var layers = 2
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Residual width.") var width = 64
    @Option(help: "Peak AdamW learning rate (cosine decay after 10% warm-up).") var learningRate: Float = 3e-3
    @Option(help: "Random seed (weights and data order).") var seed: UInt64 = 0
    @Option(help: "Print a progress line every this many steps.") var logEvery = 25
    @Option(help: "OpenBLAS threads.") var threads = 2

    func validate() throws {
        guard steps > 0, batchSize > 0, sequenceLength > 1, layers > 0, heads > 0, width % heads == 0 else {
            throw ValidationError("steps, batch size, layers and heads must be positive, sequence length > 1, width divisible by heads")
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let corpus = AdditionCorpus(seed: seed)
        let config = GPTConfig(vocabularySize: corpus.vocabulary.count, contextLength: sequenceLength,
                               layers: layers, heads: heads, width: width)
        let model = GPT(config, seed: seed)
        let optimizer = AdamW(parameters: model.namedParameters(), learningRate: learningRate, weightDecay: 0.1)
        let schedule = LRSchedule.cosine(warmupSteps: max(1, steps / 10), totalSteps: steps, minRatio: 0.1)
        var rng = RandomGenerator(seed: seed &+ 1)
        print("rft pretrain: GPT \(layers)L \(heads)H \(width)C, \(model.parameterCount) parameters, vocabulary \(corpus.vocabulary.count) (\(String(corpus.vocabulary).debugDescription))")
        let start = Date()
        var first: Float?
        var last: Float = 0
        for step in 0..<steps {
            let (inputs, targets) = corpus.batch(size: batchSize, length: sequenceLength, using: &rng)
            optimizer.learningRate = schedule.learningRate(base: learningRate, step: step)
            optimizer.zeroGrad()
            let loss = crossEntropy(model(inputs, batch: batchSize, length: sequenceLength), targets: targets)
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: 1)
            optimizer.step()
            last = loss.item()
            if first == nil { first = last }
            if (step + 1) % logEvery == 0 || step == 0 || step + 1 == steps {
                let elapsed = Date().timeIntervalSince(start)
                let tokensPerSecond = Double((step + 1) * batchSize * sequenceLength) / elapsed
                print(String(format: "step %4d/%d  loss %.4f  lr %.2e  %.0f tok/s  %.1fs",
                             step + 1, steps, last, optimizer.learningRate, tokensPerSecond, elapsed))
            }
        }
        print(String(format: "loss fell from %.3f to %.3f (uniform guess: %.3f)", first ?? 0, last,
                     log(Float(corpus.vocabulary.count))))
    }
}
