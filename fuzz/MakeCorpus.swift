// Writes the fuzz seed corpus: a few small valid checkpoints (built by fuzz/run).
import Foundation
import RFTModel
import RFTTensor

@main
struct MakeCorpus {
    static func main() throws {
        let dir = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "fuzz/corpus"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var options = CheckpointWriteOptions()
        options.durable = false
        // 1. A tiny GPT with AdamW state and a full header, small frames.
        let config = GPTConfig(vocabularySize: 5, contextLength: 4, layers: 1, heads: 1, width: 4, mlpRatio: 1)
        let model = GPT(config, seed: 1)
        let opt = AdamW(parameters: model.namedParameters())
        let full = Checkpoint.capture(
            model: model, optimizer: opt,
            training: TrainingState(step: 3, rng: RandomGenerator(seed: 1), dataOrder: DataOrderState(epoch: 0, position: 3, rng: RandomGenerator(seed: 2))),
            schedule: ScheduleState(schedule: .cosine(warmupSteps: 1, totalSteps: 10, minRatio: 0.1), baseLearningRate: 1e-3, position: 3),
            tokenizer: .object(["kind": .string("char"), "tokens": .array([.string("a"), .string("b")])]),
            metrics: ["loss": 1.5], metadata: ["seed": "corpus"])
        options.chunkElements = 8
        try full.save(to: dir + "/gpt-adamw.rftckpt", options: options)
        // 2. bf16 export of the same model.
        try Checkpoint.capture(model: model, weights: .bf16).save(to: dir + "/gpt-bf16.rftckpt", options: options)
        // 3. Bare tensors: scalar, empty, multi-chunk, no model.
        var g = RandomGenerator(seed: 3)
        let c = Checkpoint(header: CheckpointHeader(metadata: ["kind": "bare"]), tensors: [
            ("s", Tensor(scalar: 1), .f32), ("e", Tensor(zeros: [0, 2]), .f32),
            ("m", Tensor.randomNormal([3, 5], using: &g), .f32), ("b", Tensor.randomNormal([7], using: &g), .bf16),
        ])
        options.chunkElements = 4
        try c.save(to: dir + "/bare.rftckpt", options: options)
        // 4. An empty checkpoint (header only).
        try Checkpoint(header: CheckpointHeader()).save(to: dir + "/empty.rftckpt", options: options)
        print("wrote 4 seed checkpoints to \(dir)")
    }
}
