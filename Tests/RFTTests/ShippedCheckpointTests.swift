import Foundation
import Testing
@testable import RFT
@testable import RFTModel

/// The base checkpoints in checkpoints/ load and still score what checkpoints/README.md records.
@Suite struct ShippedCheckpointTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [("addition-base", [1.0, 1.0, 0.78, 0.0]), ("addition-mislabeled", [0.90, 0.89, 0.56, 0.0])])
    func baseReproducesItsRecordedAccuracy(name: String, accuracy: [Double]) throws {
        let path = Self.root.appendingPathComponent("checkpoints/\(name).rftckpt").path
        let checkpoint = try Checkpoint.load(from: path)
        let model = try checkpoint.makeModel(path: path)
        let tokenizer = try #require(checkpoint.header.tokenizer).decode(as: Tokenizer.self)
        #expect(checkpoint.header.metadata["task"] == "addition")
        #expect(checkpoint.header.metadata["mislabeledLeading"] == (name == "addition-mislabeled" ? "7" : nil))
        let task = try TaskRegistry.task(named: "addition")
        // the same instances as `rft eval --lengths 1-4 --examples 100` (seed 1234)
        let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: 1...4,
                                               examplesPerLength: 100, seed: 1234)
        #expect(rows.map(\.accuracy) == accuracy)
    }
}
