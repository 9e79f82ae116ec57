import CZstd
import Foundation
@testable import RFT
import RFTModel
import RFTTensor
import Testing

@Suite struct CheckpointRoundTripTests {
    @Test func xxh64MatchesReferenceVectors() {
        #expect(XXH64.hash(Array("".utf8)) == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXH64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
    }

    /// zstd's frame checksum is the low 32 bits of XXH64 of the content: check every length
    /// path (stripes of 32, tails of 8, 4 and 1 bytes) against the system libzstd.
    @Test func xxh64MatchesLibzstdFrameChecksum() throws {
        var g = RandomGenerator(seed: 9)
        for length in [0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 100, 1000, 4099] {
            let data = (0..<length).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            let cctx = try #require(ZSTD_createCCtx())
            defer { ZSTD_freeCCtx(cctx) }
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
            var out = [UInt8](repeating: 0, count: ZSTD_compressBound(length))
            let n = data.withUnsafeBytes { src in
                out.withUnsafeMutableBytes { ZSTD_compress2(cctx, $0.baseAddress, $0.count, src.baseAddress, length) }
            }
            #expect(ZSTD_isError(n) == 0)
            let tail = out[(n - 4)..<n].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }
            #expect(UInt32(truncatingIfNeeded: XXH64.hash(data)) == tail, "length \(length)")
        }
    }

    @Test func roundTripIsBitExactWithHeader() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (c, options) = sampleCheckpoint()
        let path = dir + "/rt.rftckpt"
        try c.save(to: path, options: options)
        let loaded = try Checkpoint.load(from: path)
        #expect(loaded.header == c.header)
        #expect(loaded.tensors.map(\.name) == c.tensors.map(\.name))
        #expect(loaded.tensors.map(\.dtype) == c.tensors.map(\.dtype))
        for (a, b) in zip(c.tensors, loaded.tensors) where a.dtype == .f32 {
            #expect(bitwiseEqual(a.tensor, b.tensor), "\(a.name)")
        }
        let bf = try #require(loaded["c.bias"]), original = try #require(c["c.bias"])
        #expect(bf.toArray() == original.toArray().map(ByteShuffle.roundedToBFloat16))
        #expect(try #require(loaded["d.scalar"]).shape == [])
        // No temp files left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["rt.rftckpt"])
    }

    @Test func emptyAndManyChunkTensors() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var options = CheckpointWriteOptions()
        options.chunkElements = 1000
        options.durable = false
        let big = randomTensor([3, 3333], seed: 5, std: 1)
        let c = Checkpoint(header: CheckpointHeader(), tensors: [
            ("empty", Tensor(zeros: [0, 4]), .f32), ("big", big, .f32), ("zeros", Tensor(zeros: [5000]), .f32),
        ])
        try c.save(to: dir + "/e.rftckpt", options: options)
        let r = try CheckpointReader(path: dir + "/e.rftckpt")
        #expect(r.entries.map(\.chunks.count) == [0, 10, 5])
        let loaded = try Checkpoint.load(from: dir + "/e.rftckpt", threads: 3)
        #expect(try #require(loaded["empty"]).shape == [0, 4])
        #expect(bitwiseEqual(try #require(loaded["big"]), big))
        #expect(try #require(loaded["zeros"]).toArray().allSatisfy { $0 == 0 })
    }

    @Test func bytesDoNotDependOnThreadCount() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var (c, options) = sampleCheckpoint(chunkElements: 16)
        options.threads = 1
        try c.save(to: dir + "/1.rftckpt", options: options)
        options.threads = 4
        try c.save(to: dir + "/4.rftckpt", options: options)
        #expect(readBytes(dir + "/1.rftckpt") == readBytes(dir + "/4.rftckpt"))
        c.header.createdAt = "other"
        try c.save(to: dir + "/x.rftckpt", options: options)
        #expect(readBytes(dir + "/1.rftckpt") != readBytes(dir + "/x.rftckpt"))
    }

    @Test func bfloat16RoundsToNearestEven() {
        let one: Float = 1
        #expect(ByteShuffle.roundedToBFloat16(one + 0x1p-8) == 1)                 // tie → even (down)
        #expect(ByteShuffle.roundedToBFloat16(1 + 0x1p-7 + 0x1p-8) == 1 + 0x1p-6) // tie → even (up)
        #expect(ByteShuffle.roundedToBFloat16(1 + 0x1p-8 + 0x1p-20) == 1 + 0x1p-7)
        #expect(ByteShuffle.roundedToBFloat16(.infinity) == .infinity)
        #expect(ByteShuffle.roundedToBFloat16(-.infinity) == -.infinity)
        #expect(ByteShuffle.roundedToBFloat16(.nan).isNaN)
        #expect(ByteShuffle.roundedToBFloat16(Float.greatestFiniteMagnitude) == .infinity)
    }

    @Test func failedSaveLeavesExistingFileAndNoTempFile() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (c, options) = sampleCheckpoint()
        let path = dir + "/keep.rftckpt"
        try c.save(to: path, options: options)
        let before = readBytes(path)
        var bad = c
        bad.header.metrics["loss"] = .nan   // JSON cannot hold NaN
        #expect(throws: CheckpointError.self) { try bad.save(to: path, options: options) }
        var dup = c
        dup.tensors.append(c.tensors[0])
        do {
            try dup.save(to: path, options: options)
            Issue.record("duplicate names were written")
        } catch let e as CheckpointError {
            guard case .invalidValue(let p, _) = e else { Issue.record("\(e)"); return }
            #expect(p == path)
        }
        #expect(readBytes(path) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["keep.rftckpt"])
        do {
            try c.save(to: dir + "/no/such/folder/x.rftckpt", options: options)
            Issue.record("wrote into a missing folder")
        } catch let e as CheckpointError {
            guard case .io = e else { Issue.record("\(e)"); return }
        }
    }

    @Test func gptAndAdamWCaptureAndRestore() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let config = GPTConfig(vocabularySize: 13, contextLength: 8, layers: 1, heads: 2, width: 16, tiedEmbeddings: false)
        let model = GPT(config, seed: 3)
        let opt = AdamW(parameters: model.namedParameters(), learningRate: 1e-2, betas: (0.8, 0.95), eps: 1e-7, weightDecay: 0.05)
        let tokens = (0..<16).map { $0 % 13 }
        for _ in 0..<2 {
            opt.zeroGrad()
            crossEntropy(model(tokens, batch: 2, length: 8), targets: tokens.reversed()).backward()
            opt.step()
        }
        let c = Checkpoint.capture(model: model, optimizer: opt, trainer: .sft(SFTTrainerState(step: 2, generator: RandomGenerator(seed: 1))))
        #expect(c["optimizer.h.0.attn.qkv.weight.exp_avg"] != nil)
        try c.save(to: dir + "/m.rftckpt")
        let loaded = try Checkpoint.load(from: dir + "/m.rftckpt")
        let model2 = try loaded.makeModel()
        let opt2 = AdamW(parameters: model2.namedParameters())
        try loaded.restore(into: model2, optimizer: opt2)
        for (a, b) in zip(model.namedParameters(), model2.namedParameters()) {
            #expect(a.name == b.name && bitwiseEqual(a.tensor, b.tensor))
        }
        for (a, b) in zip(opt.stateTensors(), opt2.stateTensors()) { #expect(bitwiseEqual(a.tensor, b.tensor)) }
        #expect(opt2.stepCount == 2 && opt2.betas == (0.8, 0.95) && opt2.eps == 1e-7 && opt2.weightDecay == 0.05)

        // bf16 export: half the weight bytes, values rounded.
        let export = Checkpoint.capture(model: model, weights: .bf16)
        try export.save(to: dir + "/w.bf16.rftckpt")
        let r = try CheckpointReader(path: dir + "/w.bf16.rftckpt")
        #expect(r.rawBytes == UInt64(model.parameterCount * 2))
        let inference = try Checkpoint.load(from: dir + "/w.bf16.rftckpt").makeModel()
        #expect(inference.wte.weight.toArray() == model.wte.weight.toArray().map(ByteShuffle.roundedToBFloat16))
    }

    @Test func restoreReportsMissingAndMisshapenTensors() throws {
        let config = GPTConfig(vocabularySize: 13, contextLength: 8, layers: 1, heads: 2, width: 16)
        let model = GPT(config, seed: 1)
        var c = Checkpoint.capture(model: model)
        c.tensors.removeAll { $0.name == "h.0.mlp.fc.weight" }
        do {
            try c.restore(into: GPT(config), path: "m.rftckpt")
            Issue.record("restored without a tensor")
        } catch let e as CheckpointError {
            #expect(e == .missingTensor(path: "m.rftckpt", name: "h.0.mlp.fc.weight"))
            #expect(e.description.contains("m.rftckpt") && e.description.contains("h.0.mlp.fc.weight"))
        }
        var d = Checkpoint.capture(model: model)
        d.tensors[0].tensor = Tensor(zeros: [2, 2])
        #expect(throws: CheckpointError.shapeMismatch(path: "<checkpoint>", name: "wte.weight", expected: [13, 16], found: [2, 2])) {
            try d.restore(into: GPT(config))
        }
        // A header claiming a huge model must not make it allocate.
        var e = Checkpoint.capture(model: model)
        e.header.model?.vocabularySize = 1 << 30
        #expect(throws: CheckpointError.self) { _ = try e.makeModel() }
        // Restoring an optimizer needs saved optimizer state.
        #expect(throws: CheckpointError.self) { try Checkpoint.capture(model: model).restore(into: model, optimizer: AdamW(parameters: model.namedParameters())) }
    }
}
