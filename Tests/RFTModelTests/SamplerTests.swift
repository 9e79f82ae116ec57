import Foundation
import Testing
@testable import RFTModel
@testable import RFTTensor

/// A small GPT whose weights are scaled up so its logits are far from uniform.
private func sharpModel(vocabularySize: Int = 11, context: Int = 24, seed: UInt64 = 7, width: Int = 32, heads: Int = 2) -> GPT {
    sharpModel(GPTConfig(vocabularySize: vocabularySize, contextLength: context, layers: 2, heads: heads, width: width), seed: seed)
}

/// A model of `config` whose weights are scaled up so its logits are far from uniform.
private func sharpModel(_ config: GPTConfig, seed: UInt64 = 7) -> GPT {
    let model = GPT(config, seed: seed)
    var g = RandomGenerator(seed: seed &+ 100)
    for (name, p) in model.namedParameters() {
        for i in 0..<p.count {
            if name.hasSuffix("weight") && p.rank == 2 { p.data[i] *= 10 }
            else { p.data[i] += 0.1 * g.nextNormal() }  // LayerNorm scales/shifts and biases away from 1/0
        }
    }
    return model
}

/// max |a − b| / max |b| over two rows of logits.
private func relativeError(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var diff: Float = 0, scale: Float = 0
    for i in 0..<n { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
    return diff / max(scale, 1e-30)
}

@Suite struct SamplerTests {
    /// Per step and row, the cached logits against `model(tokens, batch: 1, length: n)` at the
    /// last position, for head sizes 16, 12 (a vector tail), 20, 48 (the 32- and 16-feature value
    /// passes) and 40 (32 features and a scalar tail); the rows cross a 16-position key tile.
    /// Once on the native kernels with packed weights (where the CPU has them), once on the
    /// portable path (sgemm and the Swift attention).
    @Test(arguments: [(32, 2), (24, 2), (60, 3), (96, 2), (80, 2)], [false, true])
    func cachedDecodingMatchesFullForward(shape: (width: Int, heads: Int), portable: Bool) {
        if portable {
            NativeKernels.withPortableKernels { cachedDecodingMatchesFullForward(width: shape.width, heads: shape.heads) }
        } else {
            cachedDecodingMatchesFullForward(width: shape.width, heads: shape.heads)
        }
    }

    /// The same for every family of `familyConfigs` (RoPE with both scalings, RMSNorm, SwiGLU,
    /// grouped-query and multi-query attention, q/k/v bias, untied output, a head size apart from width/heads).
    @Test(arguments: familyConfigs.keys.sorted(), [false, true])
    func cachedDecodingMatchesFullForwardForEveryFamily(family: String, portable: Bool) {
        NativeKernels.withPortableKernels(portable) { cachedDecodingMatchesFullForward(model: sharpModel(familyConfigs[family]!)) }
    }

    func cachedDecodingMatchesFullForward(width: Int, heads: Int) {
        cachedDecodingMatchesFullForward(model: sharpModel(width: width, heads: heads))
    }

    func cachedDecodingMatchesFullForward(model: GPT) {
        let v = model.config.vocabularySize
        let weights = DecodeWeights(model)  // nil on the portable path
        var sequences: [[Int]] = [[0, 5, 6], [0, 7, 8, 9, 5, 6, 7], [0, 5], [0, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 5]]
        let cache = KVCache(config: model.config, batch: sequences.count)
        var logits = model.prefill(sequences, cache: cache, weights: weights)
        var rows = Array(sequences.indices)
        var worst: Float = 0
        for step in 0..<10 {
            for (i, r) in rows.enumerated() {
                let n = sequences[r].count
                let full = withoutGradients { model(sequences[r], batch: 1, length: n) }  // (1, n, V)
                let err = relativeError(logits.data + i * v, full.data + (n - 1) * v, v)
                worst = max(worst, err)
                #expect(err <= 1e-5, "step \(step) row \(r): relative error \(err)")
            }
            // next tokens: a fixed pseudo-random walk; row 1 drops out after step 4 (a finished row)
            if step == 4 { rows.removeAll { $0 == 1 } }
            let next = rows.map { (sequences[$0].count * 7 + $0 * 3 + step) % v }
            for (i, r) in rows.enumerated() { sequences[r].append(next[i]) }
            logits = model.decodeStep(tokens: next, rows: rows, cache: cache, weights: weights)
        }
        #expect(cache.lengths == sequences.map(\.count))
        print("cached vs full forward: worst relative error \(worst)")
    }

    @Test func sameSeedSameSamples() throws {
        let sampler = Sampler(model: sharpModel())
        let prompts = [[0, 5, 6], [0, 7], [0, 8, 9, 10]]
        let options = SamplingOptions(temperature: 1.3, topK: 6, topP: 0.95, maxNewTokens: 12, stopTokens: [])
        let a = try sampler.generate(prompts, options: options, seed: 42)
        let b = try sampler.generate(prompts, options: options, seed: 42)
        let c = try sampler.generate(prompts, options: options, seed: 43)
        #expect(a == b)
        #expect(a.map(\.tokens) != c.map(\.tokens))
        #expect(a.allSatisfy { $0.tokens.count == 12 && $0.finishReason == .length })
    }

    /// Rows split into 1 to 4 groups (more groups than threads: a thread takes several in turn)
    /// give the same samples as each prompt alone.
    @Test(arguments: [1, 2, 3, 4])
    func mixedPromptLengthsMatchSamplingEachAlone(groups: Int) throws {
        let sampler = Sampler(model: sharpModel(), rowGroups: groups)
        let prompts = [[0, 5, 6, 7, 8, 9], [0, 7], [0, 8, 9, 10], [0]]
        let options = SamplingOptions(temperature: 1, maxNewTokens: 10, stopTokens: [1])
        var together = Sampler.rowGenerators(seed: 9, count: prompts.count)
        let batch = try sampler.generate(prompts, options: options, generators: &together)
        for (i, p) in prompts.enumerated() {
            var alone = [Sampler.rowGenerators(seed: 9, count: prompts.count)[i]]
            let single = try sampler.generate([p], options: options, generators: &alone)[0]
            #expect(single.tokens == batch[i].tokens, "prompt \(i)")
            #expect(single.finishReason == batch[i].finishReason)
            if NativeKernels.isAvailable {  // the packed product sums a row in one order whatever the batch
                #expect(single.logProbs == batch[i].logProbs)
            } else {
                for (x, y) in zip(single.logProbs, batch[i].logProbs) { #expect(abs(x - y) <= 1e-5) }
            }
            #expect(alone[0] == together[i])  // the same number of draws
        }
    }

    /// The automatic grouping: `tiny` (3.1 MB of weights, 196 KB of cache per 48-position row)
    /// with 64 rows on 2 threads and a 32 MiB L3 splits each thread's 32 rows in two; it stays
    /// at one group per thread when the caches already fit, when a split would leave groups of
    /// fewer than 16 rows, or when the weights alone fill half the cache; weights over twice the
    /// cache make one group (its products split across the threads).
    @Test func automaticRowGroupsKeepEachGroupsCacheSmall() {
        let tiny = GPT(GPTConfig(vocabularySize: 65, contextLength: 64, layers: 4, heads: 4, width: 128), seed: 1)
        let mib = 1 << 20
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 64, capacity: 48, threads: 2, cacheBytes: 32 * mib) == 4)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 64, capacity: 48, threads: 2, cacheBytes: 256 * mib) == 2)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 64, capacity: 48, threads: 1, cacheBytes: 32 * mib) == 4)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 128, capacity: 48, threads: 2, cacheBytes: 32 * mib) == 8)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 24, capacity: 48, threads: 2, cacheBytes: 32 * mib) == 2)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 64, capacity: 48, threads: 2, cacheBytes: 4 * mib) == 2)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 64, capacity: 48, threads: 2, cacheBytes: 1 * mib) == 1)
        #expect(Sampler.automaticRowGroups(model: tiny, rows: 1, capacity: 48, threads: 2, cacheBytes: 32 * mib) == 1)
    }

    @Test func cacheSizesParseAsSysfsWritesThem() {
        #expect(CPUCaches.parseSize("32768K") == 32 << 20)
        #expect(CPUCaches.parseSize("2M") == 2 << 20)
        #expect(CPUCaches.parseSize("4096") == 4096)
        #expect(CPUCaches.parseSize("big") == nil)
        #expect(CPUCaches.lastLevelBytes > 0)
    }

    @Test func logProbsAreThoseOfTheSamplingDistribution() throws {
        let model = sharpModel()
        let sampler = Sampler(model: model)
        let prompt = [0, 5, 6, 7]
        for options in [SamplingOptions(temperature: 0.7, maxNewTokens: 1, stopTokens: []),
                        SamplingOptions(temperature: 1.5, topK: 3, maxNewTokens: 1, stopTokens: []),
                        SamplingOptions(temperature: 1, topP: 0.6, maxNewTokens: 1, stopTokens: [])] {
            let logits = withoutGradients { model(prompt, batch: 1, length: prompt.count) }.toArray().suffix(model.config.vocabularySize)
            let p = SamplingKernel.distribution(Array(logits), options: options)
            for seed in 0..<20 {
                let g = try sampler.generate([prompt], options: options, seed: UInt64(seed))[0]
                #expect(p[g.tokens[0]] > 0)
                #expect(abs(Double(g.logProbs[0]) - log(p[g.tokens[0]])) < 1e-4)
            }
        }
    }

    @Test func stopTokensEndRowsAndAreKept() throws {
        let sampler = Sampler(model: sharpModel())
        let prompts = (0..<16).map { [0, 5 + $0 % 6] }
        let out = try sampler.generate(prompts, options: SamplingOptions(temperature: 2, maxNewTokens: 20, stopTokens: [5, 6]), seed: 1)
        for g in out {
            if g.finishReason == .stop {
                #expect([5, 6].contains(g.tokens.last!))
                #expect(g.tokens.dropLast().allSatisfy { $0 != 5 && $0 != 6 })
            } else {
                #expect(g.tokens.count == 20 && g.tokens.allSatisfy { $0 != 5 && $0 != 6 })
            }
        }
        #expect(out.contains { $0.finishReason == .stop })
    }

    @Test func generationStopsAtTheContext() throws {
        let sampler = Sampler(model: sharpModel(context: 8))
        let g = try sampler.generate([[0, 5, 6]], options: SamplingOptions(maxNewTokens: 50, stopTokens: []), seed: 3)[0]
        #expect(g.tokens.count == 6 && g.finishReason == .context)  // 3 prompt + 5 fed back = 8 positions, then one more prediction
    }

    @Test func badRequestsAreTypedErrors() {
        let sampler = Sampler(model: sharpModel())
        #expect(throws: SamplerError.emptyPrompt(index: 1)) { try sampler.generate([[0], []], seed: 0) }
        #expect(throws: SamplerError.tokenOutOfRange(index: 0, position: 1, token: 99, vocabularySize: 11)) {
            try sampler.generate([[0, 99]], seed: 0)
        }
        #expect(throws: SamplerError.promptTooLong(index: 0, length: 30, context: 24)) {
            try sampler.generate([Array(repeating: 0, count: 30)], seed: 0)
        }
        #expect(throws: SamplerError.self) { try sampler.generate([[0]], options: SamplingOptions(topP: 0), seed: 0) }
        #expect(throws: SamplerError.self) { try sampler.generate([[0]], options: SamplingOptions(temperature: -1), seed: 0) }
    }

    /// Frequencies of 200,000 draws from a fixed softmax against the distribution: Pearson's χ²
    /// must stay below the 0.999 quantile of χ² with (categories − 1) degrees of freedom.
    @Test(arguments: [
        (SamplingOptions(temperature: 1), 24.32),            // 8 categories: χ²₇(0.999) = 24.32
        (SamplingOptions(temperature: 0.5), 24.32),
        (SamplingOptions(temperature: 1, topK: 4), 16.27),   // 4 kept: χ²₃(0.999) = 16.27
        (SamplingOptions(temperature: 1.2, topP: 0.7), 0),   // threshold from the kept count below
    ])
    func sampleFrequenciesMatchTheDistribution(options: SamplingOptions, threshold: Double) {
        let logits: [Float] = [1.2, -0.3, 0.8, 2.0, -1.5, 0.1, 0.5, -0.7]
        let p = SamplingKernel.distribution(logits, options: options)
        #expect(abs(p.reduce(0, +) - 1) < 1e-9)
        var g = RandomGenerator(seed: 5)
        let n = 200_000
        var counts = [Int](repeating: 0, count: logits.count)
        var scratch = SamplingScratch(vocabularySize: logits.count)
        for _ in 0..<n {
            let (t, lp) = logits.withUnsafeBufferPointer {
                SamplingKernel.sample($0.baseAddress!, count: logits.count, options: options, generator: &g, scratch: &scratch)
            }
            counts[t] += 1
            if counts[t] == 1 { #expect(abs(Double(lp) - log(p[t])) < 1e-5) }
        }
        var chi2 = 0.0, kept = 0
        for (c, q) in zip(counts, p) {
            if q == 0 { #expect(c == 0, "a filtered-out token was drawn"); continue }
            kept += 1
            let e = Double(n) * q
            chi2 += (Double(c) - e) * (Double(c) - e) / e
        }
        let quantiles = [1: 10.83, 2: 13.82, 3: 16.27, 4: 18.47, 5: 20.52, 6: 22.46, 7: 24.32]
        let limit = threshold > 0 ? threshold : quantiles[kept - 1]!
        #expect(chi2 < limit, "χ² = \(chi2) with \(kept - 1) degrees of freedom, limit \(limit)")
    }

    @Test func greedyIsArgmaxWithLogProbZero() {
        var g = RandomGenerator(seed: 0)
        let (t, lp) = SamplingKernel.sample([0.1, 3, 3, -1], options: .greedy(), generator: &g)
        #expect(t == 1 && lp == 0)
        #expect(g == RandomGenerator(seed: 0))  // greedy draws nothing
    }

    /// Trains a small GPT to copy strings (`<bos> x <sep> x <eos>`) and checks that greedy
    /// decoding reproduces held-out inputs.
    @Test func greedyDecodingOfACopyModelReproducesItsInput() throws {
        let tokenizer = Tokenizer(characters: "abcd")
        let length = 14  // bos + 6 + sep + 6 + eos
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 16, layers: 2, heads: 4, width: 64), seed: 3)
        let optimizer = AdamW(parameters: model.namedParameters(), learningRate: 3e-3, weightDecay: 0)
        var g = RandomGenerator(seed: 11)
        func randomString() -> String {
            String((0..<(1 + Int(g.next() % 6))).map { _ in Array("abcd")[Int(g.next() % 4)] })
        }
        let batch = 32, steps = 700
        var loss: Float = 0
        for step in 0..<steps {
            var inputs: [Int] = [], targets: [Int] = []
            for _ in 0..<batch {
                let x = randomString()
                let prompt = try tokenizer.encodePrompt(x), completion = try tokenizer.encodeCompletion(x)
                let seq = prompt + completion
                let padded = seq + Array(repeating: Tokenizer.pad, count: length + 1 - seq.count)
                inputs += padded.prefix(length)
                // loss on the completion only: position i predicts seq[i + 1]
                targets += (0..<length).map { i in i + 1 >= prompt.count && i + 1 < seq.count ? seq[i + 1] : -1 }
            }
            optimizer.learningRate = step < 50 ? 3e-3 * Float(step + 1) / 50 : (step < 500 ? 3e-3 : 5e-4)
            optimizer.zeroGrad()
            let l = crossEntropy(model(inputs, batch: batch, length: length), targets: targets)
            l.backward()
            optimizer.step()
            loss = l.item()
        }
        let tests = (0..<40).map { _ in randomString() }
        let out = try Sampler(model: model).generate(tests.map { try tokenizer.encodePrompt($0) },
                                                     options: .greedy(maxNewTokens: 8), seed: 0)
        let correct = zip(tests, out).filter { x, g in tokenizer.decode(g.tokens) == x && g.finishReason == .stop }.count
        print("copy model: final loss \(loss), greedy exact copies \(correct)/\(tests.count)")
        #expect(correct == tests.count)
    }
}
