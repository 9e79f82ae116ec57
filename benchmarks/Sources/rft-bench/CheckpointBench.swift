// rft-bench checkpoint: save/load throughput and compression of the gpt2-shaped model with its
// AdamW state, and the size of a bf16 weights export.
import Foundation
import RFT
import RFTModel
import RFTTensor

/// Trains the gpt2-shaped model a couple of steps on random tokens, then times saving and
/// loading weights + AdamW state (f32) and a bf16 weights export; prints one JSON line.
/// Options: --steps N (training steps, default 2), --repeats R (default 3), --dir PATH
/// (where files go; default a temp folder, removed unless --keep 1).
func checkpointBench() {
    let arguments = Array(CommandLine.arguments.dropFirst(2))
    func value(_ flag: String) -> String? {
        guard let i = arguments.firstIndex(of: flag), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }
    let steps = value("--steps").flatMap(Int.init), repeats = value("--repeats").flatMap(Int.init)
    let directory = value("--dir"), keep = value("--keep") == "1"
    let config = GPTConfig(vocabularySize: 50257, contextLength: 1024, layers: 12, heads: 12, width: 768)
    let model = GPT(config, seed: 1)
    let optimizer = AdamW(parameters: model.namedParameters(), learningRate: 6e-4, weightDecay: 0.1)
    var g = RandomGenerator(seed: 2)
    let (batch, seq) = (4, 64)
    let trainStart = now()
    for _ in 0..<(steps ?? 2) {
        let tokens = (0..<(batch * seq)).map { _ in Int(g.next() % UInt64(config.vocabularySize)) }
        let targets = (0..<(batch * seq)).map { _ in Int(g.next() % UInt64(config.vocabularySize)) }
        optimizer.zeroGrad()
        crossEntropy(model(tokens, batch: batch, length: seq), targets: targets).backward()
        clipGradNorm(model.parameters(), maxNorm: 1)
        optimizer.step()
    }
    optimizer.zeroGrad()
    let trainSeconds = now() - trainStart

    let dir = directory ?? NSTemporaryDirectory() + "rft-bench-ckpt-\(getpid())"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let fullPath = dir + "/gpt2-adamw.rftckpt", bf16Path = dir + "/gpt2-weights.bf16.rftckpt"
    let full = Checkpoint.capture(model: model, optimizer: optimizer, trainer: .sft(SFTTrainerState(step: steps ?? 2, generator: g)),
                                  metadata: ["note": "rft-bench checkpoint"])
    let export = Checkpoint.capture(model: model, weights: .bf16)
    let rawBytes = full.tensors.reduce(0) { $0 + $1.tensor.count * 4 }
    let weightBytes = model.parameterCount * 4
    var noSync = CheckpointWriteOptions()
    noSync.durable = false
    var saveTimes: [Double] = [], noSyncTimes: [Double] = [], loadTimes: [Double] = [], exportTimes: [Double] = [], exportLoadTimes: [Double] = []
    do {
        for _ in 0..<(repeats ?? 3) {
            var t = now()
            try full.save(to: fullPath)
            saveTimes.append(now() - t)
            t = now()
            try full.save(to: fullPath, options: noSync)
            noSyncTimes.append(now() - t)
            t = now()
            let loaded = try Checkpoint.load(from: fullPath)
            loadTimes.append(now() - t)
            precondition(loaded.tensors.count == full.tensors.count)
            t = now()
            try export.save(to: bf16Path)
            exportTimes.append(now() - t)
            t = now()
            _ = try Checkpoint.load(from: bf16Path)
            exportLoadTimes.append(now() - t)
        }
        // Bit-exact check once, outside the timings.
        let loaded = try Checkpoint.load(from: fullPath)
        for (a, b) in zip(full.tensors, loaded.tensors) where memcmp(a.tensor.data, b.tensor.data, a.tensor.count * 4) != 0 {
            print("mismatch in \(a.name)"); exit(1)
        }
    } catch {
        FileHandle.standardError.write("checkpoint bench failed: \(error)\n".data(using: .utf8)!)
        exit(1)
    }
    let fullSize = (try? FileManager.default.attributesOfItem(atPath: fullPath)[.size] as? Int) ?? 0
    let bf16Size = (try? FileManager.default.attributesOfItem(atPath: bf16Path)[.size] as? Int) ?? 0
    if !keep && directory == nil { try? FileManager.default.removeItem(atPath: dir) }
    let mb = Double(rawBytes) / 1e6
    printJSON([
        "suite": "checkpoint", "parameters": model.parameterCount, "train_steps": steps ?? 2, "train_seconds": trainSeconds,
        "raw_mb": mb, "file_mb": Double(fullSize) / 1e6, "size_ratio": Double(fullSize) / Double(rawBytes),
        "save_mb_s": mb / median(saveTimes), "load_mb_s": mb / median(loadTimes),
        "save_nofsync_mb_s": mb / median(noSyncTimes), "save_nofsync_s": noSyncTimes, "save_s": saveTimes, "load_s": loadTimes,
        "bf16_file_mb": Double(bf16Size) / 1e6, "bf16_size_ratio": Double(bf16Size) / Double(weightBytes),
        "bf16_save_mb_s": Double(weightBytes) / 1e6 / median(exportTimes),
        "bf16_load_mb_s": Double(weightBytes) / 1e6 / median(exportLoadTimes),
        "threads": 2, "files": keep || directory != nil ? [fullPath, bf16Path] : [],
    ])
}
