import Foundation
@testable import RFT
import RFTModel
import RFTTensor

/// A fresh, empty temporary folder for one test.
func makeTemporaryDirectory(_ label: String = "ckpt") -> String {
    let path = NSTemporaryDirectory() + "rft-test-\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// The bytes of a file.
func readBytes(_ path: String) -> [UInt8] { Array(FileManager.default.contents(atPath: path) ?? Data()) }

/// Whether two tensors have the same shape and bit-identical elements.
func bitwiseEqual(_ a: Tensor, _ b: Tensor) -> Bool {
    a.shape == b.shape && memcmp(a.data, b.data, a.count * 4) == 0
}

/// A tensor of normal samples.
func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 0.02) -> Tensor {
    var g = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, std: std, using: &g)
}

/// A small checkpoint with a fixed date (so its bytes are reproducible) and several tensors.
func sampleCheckpoint(chunkElements: Int = 64) -> (checkpoint: Checkpoint, options: CheckpointWriteOptions) {
    var header = CheckpointHeader(
        model: GPTConfig(vocabularySize: 13, contextLength: 16, layers: 2, heads: 2, width: 32),
        tokenizer: .object(["kind": .string("char"), "vocabulary": .array([.string("a"), .string("b")])]),
        optimizer: OptimizerHeader(kind: "adamw", learningRate: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                                   weightDecay: 0.1, stepCount: 7),
        trainer: .sft(SFTTrainerState(step: 7, generator: RandomGenerator(seed: 2))),
        metrics: ["loss": 2.5], metadata: ["run": "test"], createdAt: "2026-01-01T00:00:00Z")
    header.rftVersion = "0.0.0-test"
    let tensors: [(name: String, tensor: Tensor, dtype: CheckpointDType)] = [
        ("a.weight", randomTensor([10, 20], seed: 1), .f32),   // 200 elements: 4 chunks of 64
        ("b.weight", randomTensor([5, 3], seed: 2), .f32),     // 1 chunk
        ("c.bias", randomTensor([130], seed: 3), .bf16),       // 3 chunks, bf16
        ("d.scalar", Tensor(scalar: 3.5), .f32),
    ]
    var options = CheckpointWriteOptions()
    options.chunkElements = chunkElements
    options.durable = false
    return (Checkpoint(header: header, tensors: tensors), options)
}

/// The bytes of `sampleCheckpoint()` as written to disk.
func sampleCheckpointBytes() -> [UInt8] {
    let dir = makeTemporaryDirectory("sample")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let (c, o) = sampleCheckpoint()
    try! c.save(to: dir + "/x.rftckpt", options: o)
    return readBytes(dir + "/x.rftckpt")
}

/// The lines of a metrics.jsonl without their wall-clock fields (`*_seconds`, `seconds`,
/// `tokens_per_second`), which differ from run to run.
func metricsWithoutTimings(_ path: String) -> [JSONValue] {
    readBytes(path).split(separator: UInt8(ascii: "\n")).compactMap { line in
        guard case .object(var o)? = try? JSONDecoder().decode(JSONValue.self, from: Data(line)) else { return .string("unparsable line") }
        for key in o.keys where key.hasSuffix("seconds") || key == "tokens_per_second" { o.removeValue(forKey: key) }
        return .object(o)
    }
}
