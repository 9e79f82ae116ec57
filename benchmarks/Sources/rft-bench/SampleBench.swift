import Foundation
import RFTModel
import RFTTensor

/// Sampling configurations: model, sequences, prompt tokens, new tokens, default repeats and
/// warm-up runs (see benchmarks/README.md).
let sampleConfigs: [String: (config: GPTConfig, batch: Int, prompt: Int, newTokens: Int, repeats: Int, warmup: Int)] = [
    "tiny": (GPTConfig(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128), 64, 16, 32, 10, 2),
    "small": (GPTConfig(vocabularySize: 65, contextLength: 256, layers: 6, heads: 6, width: 384), 64, 64, 64, 10, 2),
    "smollm2": (smolLM2, 32, 32, 64, 3, 1),
]

/// Batched KV-cached sampling at temperature 1 with no stop tokens (every row makes all its
/// new tokens, as the peer does): prints new tokens per second, median over repeats.
func sampleBench(_ name: String, repeats: Int?, warmup: Int?) {
    guard let spec = sampleConfigs[name] else {
        FileHandle.standardError.write("unknown sample config \(name); one of \(sampleConfigs.keys.sorted())\n".data(using: .utf8)!)
        exit(2)
    }
    let model = GPT(spec.config, seed: 1)
    let sampler = Sampler(model: model, rowGroups: ProcessInfo.processInfo.environment["RFT_SAMPLE_GROUPS"].flatMap { Int($0) })
    var g = RandomGenerator(seed: 2)
    let prompts = (0..<spec.batch).map { _ in (0..<spec.prompt).map { _ in Int(g.next() % UInt64(spec.config.vocabularySize)) } }
    let options = SamplingOptions(temperature: 1, maxNewTokens: spec.newTokens, stopTokens: [])
    var times: [Double] = [], generated = 0
    for i in 0..<((warmup ?? spec.warmup) + (repeats ?? spec.repeats)) {
        let t0 = now()
        let out = try! sampler.generate(prompts, options: options, seed: UInt64(i))
        let dt = now() - t0
        generated = out.reduce(0) { $0 + $1.tokens.count }
        if i >= (warmup ?? spec.warmup) { times.append(dt) }
    }
    let rates = times.map { Double(generated) / $0 }
    printJSON([
        "suite": "sample", "config": name, "batch": spec.batch, "prompt_tokens": spec.prompt, "new_tokens": spec.newTokens,
        "median_tok_s": median(rates), "median_ms": median(times) * 1000, "generated": generated,
        "peak_rss_mb": peakRSSMegabytes(), "threads": BLAS.threads,
        "decode_flops_per_token": decodeFLOPsPerToken(spec.config, positions: spec.prompt + spec.newTokens / 2),
    ])
}

/// Model FLOPs of decoding one token at `positions` cached positions: 2 per matrix weight (the
/// blocks' products and the output projection) plus attention's 4·L·positions·(H·hs).
func decodeFLOPsPerToken(_ c: GPTConfig, positions: Int) -> Double {
    2 * (Double(c.layers) * matrixWeightsPerLayer(c) + Double(c.vocabularySize * c.width))
        + 4 * Double(c.layers * positions * c.attentionWidth)
}

