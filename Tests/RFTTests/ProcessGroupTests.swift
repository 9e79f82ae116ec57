import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// The process group's helpers, the size-1 group, and micro-batches: a step cut into two
/// micro-batches is the step of one batch, up to the order of the sums.
struct ProcessGroupTests {
    /// Rank 0 of two processes whose other rank holds the same values as this one.
    final class MirroredGroup: ProcessGroup {
        var rank: Int { 0 }
        var size: Int { 2 }
        func allReduce(_ values: UnsafeMutableBufferPointer<Float>) throws { for i in values.indices { values[i] += values[i] } }
        func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] { [bytes, bytes] }
        func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] { bytes }
        func abort(status: Int32) -> Never { fatalError("abort \(status)") }
    }

    @Test func shardsCoverTheItemsInOrder() {
        for count in [0, 1, 5, 7, 64] {
            for parts in 1...5 {
                let ranges = (0..<parts).map { shardRange(count, part: $0, of: parts) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == count)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                #expect((ranges.map(\.count).max() ?? 0) - (ranges.map(\.count).min() ?? 0) <= 1, "\(count) in \(parts): \(ranges)")
            }
        }
        #expect(MirroredGroup().microBatches(3) == 0..<3 && shardRange(7, part: 1, of: 2) == 4..<7)
    }

    @Test func oneProcessHandsEveryValueBack() throws {
        let group = SingleProcessGroup()
        let values = [-0.0, 1e-300, .pi]
        #expect(try group.allReduce(values).map(\.bitPattern) == values.map(\.bitPattern))
        #expect(try group.allGather(values) == values && group.shard(9) == 0..<9)
        let p = Tensor(shape: [3], data: [1, 2, 3])
        p.gradBuffer()[1] = 5
        let before = p.grad
        try group.allReduceGradients([p])
        #expect(p.grad === before && p.grad?.toArray() == [0, 5, 0])
    }

    @Test func gradientsAreSummedAndAbsentOnesStayAbsent() throws {
        let a = Tensor(shape: [2], data: [0, 0]), b = Tensor(shape: [3], data: [0, 0, 0])
        a.gradBuffer()[0] = 1.5
        a.grad!.data[1] = -2
        try MirroredGroup().allReduceGradients([a, b])
        #expect(a.grad?.toArray() == [3, -4] && b.grad == nil)
        #expect(try MirroredGroup().allReduce([1, 2]) == [2, 4])
        #expect(try MirroredGroup().allGather([7.0]) == [7, 7])
        let rows = try MirroredGroup().allGather([RewardStdRow(id: "x", prompt: "1+1", mean: 0.1, std: 0.3, lower: 0, upper: 1,
                                                               flagged: false, stuck: false, numSamples: 8)])
        #expect(rows.count == 2 && rows[0] == rows[1] && rows[1][0].std == 0.3)
    }

    @Test func accumulationAddsMicroBatchesInOrder() {
        let p = Tensor(shape: [2], data: [0, 0]), q = Tensor(shape: [1], data: [0])
        var sums = GradientAccumulation([p, q])
        p.gradBuffer().update(from: [0.1, 1e8], count: 2)
        let first = p.grad
        sums.add()
        #expect(p.grad == nil)
        p.gradBuffer().update(from: [0.2, 1], count: 2)
        q.gradBuffer()[0] = 4
        sums.add()
        sums.finish()
        #expect(p.grad === first && p.grad?.toArray() == [Float(0.1) + Float(0.2), Float(1e8) + 1] && q.grad?.toArray() == [4])
    }

    /// SFT: 2 micro-batches of 8 take the step of one batch of 16 (the same sequences), up to rounding.
    @Test func sftMicroBatchesTakeTheStepOfOneBatch() throws {
        func run(_ batch: Int, _ accumulation: Int) throws -> (losses: [Double], weights: [Float]) {
            var c = SFTConfig()
            c.training.perDeviceTrainBatchSize = batch
            c.training.gradientAccumulationSteps = accumulation
            c.training.learningRate = 3e-3
            let trainer = try SFTTrainer(model: GPT(SFTTrainerTests.gpt, seed: 11), tokenizer: SFTTrainerTests.tokenizer, config: c,
                                         source: .task(SFTTrainerTests.task, lengths: 2...4))
            let losses = try (0..<3).map { _ in try trainer.step().loss }
            return (losses, trainer.model.parameters().flatMap { $0.toArray() })
        }
        let one = try run(16, 1), two = try run(8, 2)
        #expect(zip(one.losses, two.losses).allSatisfy { abs($0 - $1) <= 1e-6 * abs($0) }, "\(one.losses) vs \(two.losses)")
        let scale = one.weights.map(abs).max()!
        #expect(zip(one.weights, two.weights).map { abs($0 - $1) }.max()! <= 1e-5 * scale)
    }

    /// GRPO: 2 micro-batches of 2 prompts take the step of one batch of 4 (the same prompts and
    /// completions: every reward metric is the same bits, the loss and KL agree to rounding).
    @Test func grpoMicroBatchesTakeTheStepOfOneBatch() throws {
        let reward = ClosureReward { _, completion, _ in Double(completion.filter { $0 == "1" }.count) / 6 }
        func run(_ accumulation: Int) throws -> [GRPOStepMetrics] {
            var c = TinyRL.config()
            c.training.perDeviceTrainBatchSize = 16 / accumulation
            c.training.gradientAccumulationSteps = accumulation
            c.loss.beta = 0.05
            c.loss.lossType = .bnpo
            let trainer = try TinyRL.trainer(model: TinyRL.model(scale: 3), config: c, reward: reward)
            return try (0..<2).map { _ in try trainer.step() }
        }
        let one = try run(1), two = try run(2)
        for (a, b) in zip(one, two) {
            #expect(a.reward == b.reward && a.rewardStd == b.rewardStd && a.completionLength == b.completionLength)
            #expect(abs(a.loss - b.loss) <= 1e-6 * max(abs(a.loss), 1e-3) && abs(a.gradNorm - b.gradNorm) <= 1e-5 * a.gradNorm,
                    "\(a.loss) vs \(b.loss), grad norm \(a.gradNorm) vs \(b.gradNorm)")
            #expect(abs(a.entropy - b.entropy) <= 1e-5 * a.entropy)
        }
    }
}
