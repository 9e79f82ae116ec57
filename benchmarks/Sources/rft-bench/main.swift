// rft-bench: timing suites for `benchmarks/run`. Each suite prints one JSON line per run so the
// runner can put rft's figures next to the PyTorch peer's.
import Foundation
import RFTModel
import RFTTensor

/// SmolLM2-135M's shape (random weights): 30 layers, width 576, 9 heads over 3 key/value heads,
/// SwiGLU MLP 1536, vocabulary 49152, tied, RoPE θ 1e5.
let smolLM2 = GPTConfig.llama(vocabularySize: 49152, contextLength: 8192, layers: 30, heads: 9, kvHeads: 3, width: 576,
                              intermediateSize: 1536, ropeTheta: 100_000)
// (declared before the tables that use it: globals of main.swift initialise in order)

/// The benchmark model shapes (see benchmarks/README.md).
let trainStepConfigs: [String: (config: GPTConfig, batch: Int, seq: Int, steps: Int, warmup: Int)] = [
    "tiny": (GPTConfig(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128), 4, 64, 30, 3),
    "char": (GPTConfig(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128), 12, 64, 30, 3),
    "small": (GPTConfig(vocabularySize: 65, contextLength: 256, layers: 6, heads: 6, width: 384), 8, 256, 5, 3),
    "gpt2": (GPTConfig(vocabularySize: 50257, contextLength: 64, layers: 12, heads: 12, width: 768), 4, 64, 5, 1),
    "smollm2": (smolLM2, 8, 128, 5, 1),
]


/// Peak resident set size of this process in MB.
func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Seconds on a monotonic clock.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// Model FLOPs of one training step (PaLM's convention, as the peers count them): 6·B·T·(matrix
/// weights: L·(qkv + proj + fc + mlp proj) + V·C) + 12·L·B·T²·(H·hs) — for GPT-2's shapes
/// 6·B·T·(12·L·C² + V·C) + 12·L·B·T²·C.
func trainStepFLOPs(_ c: GPTConfig, batch: Int, seq: Int) -> Double {
    let (b, t, l) = (Double(batch), Double(seq), Double(c.layers))
    return 6 * b * t * (l * matrixWeightsPerLayer(c) + Double(c.vocabularySize * c.width))
        + 12 * l * b * t * t * Double(c.attentionWidth)
}

/// Multiply-adds per token of one block's matrix products: qkv, attention output, MLP fc and proj.
func matrixWeightsPerLayer(_ c: GPTConfig) -> Double {
    let fc = c.activation == .swiglu ? 2 * c.mlpHiddenSize : c.mlpHiddenSize
    return Double(c.qkvWidth * c.width + c.width * c.attentionWidth + fc * c.width + c.width * c.mlpHiddenSize)
}

/// One forward, backward and AdamW step of the GPT on a fixed random batch.
func trainStep(_ name: String, steps: Int?, warmup: Int?) {
    guard let spec = trainStepConfigs[name] else {
        FileHandle.standardError.write("unknown config \(name); one of \(trainStepConfigs.keys.sorted())\n".data(using: .utf8)!)
        exit(2)
    }
    let model = GPT(spec.config, seed: 1)
    let optimizer = AdamW(parameters: model.namedParameters(), learningRate: 3e-4, weightDecay: 0.1)
    var g = RandomGenerator(seed: 2)
    let n = spec.batch * spec.seq
    let tokens = (0..<n).map { _ in Int(g.next() % UInt64(spec.config.vocabularySize)) }
    let targets = (0..<n).map { _ in Int(g.next() % UInt64(spec.config.vocabularySize)) }
    var times: [Double] = [], phases: [[Double]] = [[], [], []]
    var loss: Float = 0
    for i in 0..<((warmup ?? spec.warmup) + (steps ?? spec.steps)) {
        let t0 = now()
        optimizer.zeroGrad()
        let logits = model(tokens, batch: spec.batch, length: spec.seq)
        let l = crossEntropy(logits, targets: targets)
        let t1 = now()
        l.backward()
        let t2 = now()
        optimizer.step()
        let t3 = now()
        loss = l.item()
        if i >= (warmup ?? spec.warmup) {
            times.append((t3 - t0) * 1000)
            for (j, d) in [t1 - t0, t2 - t1, t3 - t2].enumerated() { phases[j].append(d * 1000) }
        }
    }
    printJSON([
        "config": name, "median_ms": median(times), "forward_ms": median(phases[0]),
        "backward_ms": median(phases[1]), "optimizer_ms": median(phases[2]), "times_ms": times, "loss": Double(loss),
        "peak_rss_mb": peakRSSMegabytes(), "flops_per_step": trainStepFLOPs(spec.config, batch: spec.batch, seq: spec.seq),
        "threads": BLAS.threads,
    ])
}

/// The sgemm ceiling: GFLOP/s of square single-precision products of size n.
func sgemmPeak(n: Int = 2048, repeats: Int = 10) {
    var g = RandomGenerator(seed: 3)
    let a = Tensor.randomNormal([n, n], using: &g), b = Tensor.randomNormal([n, n], using: &g)
    let c = Tensor(zeros: [n, n])
    var rates: [Double] = []
    for i in 0..<(repeats + 2) {
        let t0 = now()
        BLAS.gemm(m: n, n: n, k: n, a: a.data, lda: n, b: b.data, ldb: n, c: c.data, ldc: n)
        let dt = now() - t0
        if i >= 2 { rates.append(2 * Double(n * n * n) / dt / 1e9) }
    }
    printJSON(["suite": "sgemm", "n": n, "median_gflops": median(rates), "max_gflops": rates.max()!, "threads": BLAS.threads])
}

let args = CommandLine.arguments.dropFirst()
let threads = ProcessInfo.processInfo.environment["RFT_THREADS"].flatMap(Int.init) ?? 2
BLAS.setThreads(threads, splitInSwift: ProcessInfo.processInfo.environment["RFT_OPENBLAS_THREADS"] == nil)
func option(_ flag: String) -> Int? {
    guard let i = args.firstIndex(of: flag), args.index(after: i) < args.endIndex else { return nil }
    return Int(args[args.index(after: i)])
}
switch args.first {
case "ops": opProfile(args.dropFirst().first ?? "tiny", repeats: option("--repeats") ?? 50)
case "ops-packed": packedOpProfile()
case "packed-linear": packedLinearProfile()
case "checkpoint": checkpointBench()
case "sample": sampleBench(args.dropFirst().first ?? "tiny", repeats: option("--repeats"), warmup: option("--warmup"))
case "sgemm": sgemmPeak(n: option("--size") ?? 2048)
case "train-step": trainStep(args.dropFirst().first ?? "tiny", steps: option("--steps"), warmup: option("--warmup"))
case "rft-step": rftStepBench(args.dropFirst().first ?? "tiny", steps: option("--steps"), warmup: option("--warmup"))
case "allreduce": allReduceBench(elements: option("--elements") ?? 1 << 20, repeats: option("--repeats") ?? 10)
default:
    print("usage: rft-bench sgemm [--size N] | train-step <tiny|char|small|gpt2|smollm2> [--steps N] [--warmup W] | rft-step <tiny|smollm2> [--steps N] [--warmup W] | allreduce [--elements E] [--repeats R] (under mpirun)")
    exit(2)
}
