import Dispatch
import RFTTensor
import Synchronization

#if canImport(Glibc)
import Glibc
#else
import Foundation
#endif

/// How to pick each next token (Hugging Face `generate`'s knobs, applied in its order:
/// temperature, then top-k, then top-p).
public struct SamplingOptions: Codable, Equatable, Sendable {
    /// Divides the logits; 0 means greedy (argmax).
    public var temperature: Float
    /// Keep only the k most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches p; 1 keeps all.
    public var topP: Float
    /// Most tokens generated per prompt (stop tokens included).
    public var maxNewTokens: Int
    /// Generation of a row ends after it produces one of these (it is kept in the output).
    public var stopTokens: [Int]

    /// Options; the defaults sample from the model's own distribution and stop at `<eos>`.
    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, maxNewTokens: Int = 32,
                stopTokens: [Int] = [Tokenizer.eos]) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
    }

    /// Greedy decoding (temperature 0).
    public static func greedy(maxNewTokens: Int = 32, stopTokens: [Int] = [Tokenizer.eos]) -> SamplingOptions {
        SamplingOptions(temperature: 0, maxNewTokens: maxNewTokens, stopTokens: stopTokens)
    }

    /// What is wrong with these options, or nil.
    public func validationError() -> String? {
        if !(temperature >= 0) || !temperature.isFinite { return "temperature must be a finite number ≥ 0, got \(temperature)" }
        if topK < 0 { return "top-k must be ≥ 0 (0 = off), got \(topK)" }
        if !(topP > 0 && topP <= 1) { return "top-p must be in (0, 1], got \(topP)" }
        if maxNewTokens < 0 { return "max new tokens must be ≥ 0, got \(maxNewTokens)" }
        return nil
    }
}

/// Why a row stopped generating.
public enum FinishReason: String, Codable, Sendable {
    /// It produced a stop token.
    case stop
    /// It reached `maxNewTokens`.
    case length
    /// It filled the model's context.
    case context
}

/// One prompt's completion.
public struct Generation: Equatable, Sendable {
    /// The generated token ids (a final stop token included).
    public var tokens: [Int]
    /// log p(token) under the distribution it was drawn from (after temperature, top-k and
    /// top-p); 0 for greedy decoding, whose distribution puts all mass on the argmax.
    public var logProbs: [Float]
    /// Why generation ended.
    public var finishReason: FinishReason
}

/// Errors in a generation request.
public enum SamplerError: Error, Equatable, CustomStringConvertible {
    /// Prompt `index` has no tokens (start prompts with `<bos>`).
    case emptyPrompt(index: Int)
    /// Prompt `index` is longer than the model's context.
    case promptTooLong(index: Int, length: Int, context: Int)
    /// A prompt token is not a valid id.
    case tokenOutOfRange(index: Int, position: Int, token: Int, vocabularySize: Int)
    /// The options are invalid.
    case invalidOptions(String)
    /// One generator per prompt is needed.
    case generatorCount(expected: Int, found: Int)

    /// A one-line explanation naming the prompt.
    public var description: String {
        switch self {
        case .emptyPrompt(let i): return "prompt \(i) is empty (prompts start with <bos>)"
        case .promptTooLong(let i, let n, let ctx): return "prompt \(i) has \(n) tokens; the model's context is \(ctx)"
        case .tokenOutOfRange(let i, let p, let t, let v): return "prompt \(i), position \(p): token \(t) is outside 0..<\(v)"
        case .invalidOptions(let s): return "sampling options: \(s)"
        case .generatorCount(let e, let f): return "\(f) random generators for \(e) prompts (one per prompt)"
        }
    }
}

/// Batched generation with a KV cache: all prompts are prefilled together, then every step
/// runs the still-active rows through the model as one (A, C) batch and samples each row
/// with its own generator, so a row's samples do not depend on the other rows in the batch.
public final class Sampler {
    /// The model sampled from (its weights are read, never changed).
    public let model: GPT

    /// Row groups, each generated start to finish by one thread with single-threaded products
    /// (each of rft's threads takes the next group left); nil = `automaticRowGroups`. With 1 group the
    /// products are threaded. On the native kernels a row's samples and log-probs do not depend on
    /// the grouping, bit for bit; on the portable path (OpenBLAS) its logits may differ in the last
    /// bits between groupings, which are fixed for a given machine, thread count and batch.
    public var rowGroups: Int?

    /// A sampler for `model`.
    public init(model: GPT, rowGroups: Int? = nil) {
        self.model = model
        self.rowGroups = rowGroups
    }

    /// One generator per row derived from `seed` (row r's stream depends only on seed and r).
    public static func rowGenerators(seed: UInt64, count: Int) -> [RandomGenerator] {
        (0..<count).map { RandomGenerator(seed: seed &+ UInt64($0) &* 0xD1B5_4A32_D192_ED03) }
    }

    /// Completions of `prompts` (token ids, each starting at position 0) drawn with row
    /// generators from `seed`.
    public func generate(_ prompts: [[Int]], options: SamplingOptions = .init(), seed: UInt64) throws -> [Generation] {
        var generators = Sampler.rowGenerators(seed: seed, count: prompts.count)
        return try generate(prompts, options: options, generators: &generators)
    }

    /// Completions of `prompts`, row i drawing from `generators[i]` (advanced in place).
    public func generate(_ prompts: [[Int]], options: SamplingOptions = .init(),
                         generators: inout [RandomGenerator]) throws -> [Generation] {
        let config = model.config, v = config.vocabularySize
        if let problem = options.validationError() { throw SamplerError.invalidOptions(problem) }
        guard generators.count == prompts.count else {
            throw SamplerError.generatorCount(expected: prompts.count, found: generators.count)
        }
        for (i, p) in prompts.enumerated() {
            if p.isEmpty { throw SamplerError.emptyPrompt(index: i) }
            if p.count > config.contextLength {
                throw SamplerError.promptTooLong(index: i, length: p.count, context: config.contextLength)
            }
            if let j = p.firstIndex(where: { $0 < 0 || $0 >= v }) {
                throw SamplerError.tokenOutOfRange(index: i, position: j, token: p[j], vocabularySize: v)
            }
        }
        guard !prompts.isEmpty, options.maxNewTokens > 0 else {
            return prompts.map { _ in Generation(tokens: [], logProbs: [], finishReason: .length) }
        }
        // rows are independent (own cache row, own generator): split them into contiguous groups;
        // each thread takes the next group not yet taken and generates it start to finish
        let threads = BLAS.callerThreads
        let capacity = min(config.contextLength, prompts.map(\.count).max()! + options.maxNewTokens)
        let groups = max(1, min(rowGroups ?? Sampler.automaticRowGroups(model: model, rows: prompts.count, capacity: capacity,
                                                                          threads: threads), prompts.count))
        let size = (prompts.count + groups - 1) / groups
        let ranges = (0..<groups).map { g in (g * size)..<min(prompts.count, (g + 1) * size) }.filter { !$0.isEmpty }
        let outputs = ranges.map { GroupOutput(generators: Array(generators[$0])) }
        let weights = DecodeWeights(model)  // packed once, read by every group
        let work = { (g: Int) in
            let range = ranges[g]
            outputs[g].results = self.generateGroup(Array(prompts[range]), options: options, generators: &outputs[g].generators,
                                                    threaded: ranges.count == 1, weights: weights)
        }
        let workers = min(threads, ranges.count)
        if workers == 1 {
            for g in ranges.indices { work(g) }
        } else {
            let next = Atomic(0)  // the first group not yet taken (a slowed core takes fewer)
            let portable = NativeKernels.portableOnlyHere
            WorkerPool.shared.run(workers) { _ in
                NativeKernels.withPortableKernels(portable) {
                    while case let g = next.add(1, ordering: .relaxed).oldValue, g < ranges.count { work(g) }
                }
            }
        }
        var results: [Generation] = []
        results.reserveCapacity(prompts.count)
        for (g, range) in ranges.enumerated() {
            results += outputs[g].results
            for (k, r) in range.enumerated() { generators[r] = outputs[g].generators[k] }
        }
        return results
    }

    /// Row groups for `rows` rows of up to `capacity` positions on `threads` threads: one per
    /// thread, then (a multiple of `threads`) more while each group's key/value cache is over an
    /// eighth of the last-level cache and groups keep ≥ 16 rows — unless the weights alone are
    /// over half of it. Every decoding step reads the whole cache of a group; where the caches
    /// of the running groups and the weights fit in L3, it reads them from there, not from DRAM.
    /// Weights over twice the last-level cache stream from DRAM every step whatever the grouping:
    /// then one group, whose products split W across the threads, reads them once a step instead
    /// of once per group (`smollm2`, 32 rows on 2 threads: 79 against 66 tok/s for 2 groups).
    /// (`tiny`, 64 rows of 48 positions on 2 threads: 4 groups of 16, 1.17× the tokens/s of 2 groups of 32.)
    public static func automaticRowGroups(model: GPT, rows: Int, capacity: Int, threads: Int,
                                          cacheBytes: Int = CPUCaches.lastLevelBytes) -> Int {
        let config = model.config
        let stride = (capacity + 15) / 16 * 16
        let kvBytesPerRow = config.layers * 2 * stride * config.keyValueWidth * MemoryLayout<Float>.size
        let weightBytes = model.blocks.reduce(0) { $0 + $1.parameterCount } * MemoryLayout<Float>.size
        if weightBytes > 2 * cacheBytes { return 1 }
        var groups = max(1, min(threads, rows))
        guard threads >= 1, weightBytes <= cacheBytes / 2 else { return groups }
        func rowsPerGroup(_ g: Int) -> Int { (rows + g - 1) / g }
        while rowsPerGroup(groups) * kvBytesPerRow > cacheBytes / 8 && rowsPerGroup(groups + threads) >= 16 {
            groups += threads
        }
        return groups
    }

    /// One thread's share of a batch: its rows' results and generators.
    private final class GroupOutput: @unchecked Sendable {
        var generators: [RandomGenerator]
        var results: [Generation] = []
        init(generators: [RandomGenerator]) { self.generators = generators }
    }

    /// Generates for `prompts` (validated) on the calling thread (products threaded when asked).
    private func generateGroup(_ prompts: [[Int]], options: SamplingOptions, generators: inout [RandomGenerator],
                               threaded: Bool, weights: DecodeWeights?) -> [Generation] {
        let config = model.config, v = config.vocabularySize
        var results = prompts.map { _ in Generation(tokens: [], logProbs: [], finishReason: .length) }
        for i in results.indices {
            results[i].tokens.reserveCapacity(options.maxNewTokens)
            results[i].logProbs.reserveCapacity(options.maxNewTokens)
        }
        let longest = prompts.map(\.count).max()!
        let cache = KVCache(config: config, batch: prompts.count, capacity: longest + options.maxNewTokens)
        let stop = Set(options.stopTokens)
        // the active rows draw concurrently when threaded: each from its own generator, into one
        // scratch per chunk, so a row's token does not depend on the split
        let threads = threaded ? BLAS.callerThreads : 1
        var scratches = (0..<threads).map { _ in SamplingScratch(vocabularySize: v) }
        var drawn = [(token: Int, logProb: Float)](repeating: (0, 0), count: prompts.count)
        var logits = model.prefill(prompts, cache: cache, threaded: threaded, weights: weights)  // (A, V) for the active rows
        var active = Array(prompts.indices)
        var next: [Int] = [], nextRows: [Int] = []
        while !active.isEmpty {
            next.removeAll(keepingCapacity: true)
            nextRows.removeAll(keepingCapacity: true)
            let rows = active, pl = UnsafePointer(logits.data)
            generators.withUnsafeMutableBufferPointer { gens in
                scratches.withUnsafeMutableBufferPointer { scratch in
                    drawn.withUnsafeMutableBufferPointer { out in
                        parallelChunks(rows.count, threads: threads) { chunk, range in
                            for i in range {
                                out[i] = SamplingKernel.sample(pl + i * v, count: v, options: options,
                                                               generator: &gens[rows[i]], scratch: &scratch[chunk])
                            }
                        }
                    }
                }
            }
            for (i, r) in active.enumerated() {
                let (token, logProb) = drawn[i]
                results[r].tokens.append(token)
                results[r].logProbs.append(logProb)
                if stop.contains(token) {
                    results[r].finishReason = .stop
                } else if results[r].tokens.count >= options.maxNewTokens {
                    results[r].finishReason = .length
                } else if cache.lengths[r] >= cache.capacity {
                    results[r].finishReason = .context
                } else {
                    next.append(token)
                    nextRows.append(r)
                }
            }
            swap(&active, &nextRows)
            if active.isEmpty { break }
            logits = model.decodeStep(tokens: next, rows: active, cache: cache, threaded: threaded, weights: weights)
        }
        return results
    }
}

/// Reusable per-call buffers for `SamplingKernel` (so a step does not allocate per row).
public struct SamplingScratch {
    var values: [Float]
    var order: [Int]

    /// Buffers for a vocabulary of `vocabularySize` tokens.
    public init(vocabularySize: Int) {
        values = [Float](repeating: 0, count: vocabularySize)
        order = Array(0..<vocabularySize)
    }
}

/// Draws one token from a row of logits under `SamplingOptions`.
public enum SamplingKernel {
    /// The sampling distribution over the `count` logits (probabilities summing to 1; zero for
    /// tokens removed by top-k/top-p; one-hot on the first argmax for temperature 0).
    public static func distribution(_ logits: [Float], options: SamplingOptions) -> [Double] {
        let v = logits.count
        var p = [Double](repeating: 0, count: v)
        if options.temperature == 0 {
            p[argmax(logits)] = 1
            return p
        }
        let kept = keptTokens(logits, options: options)
        let z = logits.map { Double($0) / Double(options.temperature) }
        let m = kept.map { z[$0] }.max()!
        let total = kept.reduce(0.0) { $0 + exp(z[$1] - m) }
        for i in kept { p[i] = exp(z[i] - m) / total }
        return p
    }

    /// The tokens top-k and top-p keep, most likely first.
    static func keptTokens(_ logits: [Float], options: SamplingOptions) -> [Int] {
        let order = logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        let k = options.topK > 0 ? min(options.topK, logits.count) : logits.count
        var kept = Array(order.prefix(k))
        if options.topP < 1 {
            let t = Double(options.temperature)
            let m = Double(logits[kept[0]]) / t
            let e = kept.map { exp(Double(logits[$0]) / t - m) }
            let total = e.reduce(0, +)
            var cum = 0.0, n = 0
            while n < kept.count { cum += e[n] / total; n += 1; if cum >= Double(options.topP) { break } }
            kept = Array(kept.prefix(n))
        }
        return kept
    }

    /// First index of the largest value.
    static func argmax(_ x: [Float]) -> Int {
        x.withUnsafeBufferPointer { argmax($0.baseAddress!, $0.count) }
    }

    @inline(__always)
    static func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
        var best = 0
        for i in 1..<max(n, 1) where x[i] > x[best] { best = i }
        return best
    }

    /// Samples one token from `logits` with `generator`; returns it and its log-probability
    /// under the sampling distribution.
    public static func sample(_ logits: [Float], options: SamplingOptions, generator: inout RandomGenerator) -> (token: Int, logProb: Float) {
        var scratch = SamplingScratch(vocabularySize: logits.count)
        return logits.withUnsafeBufferPointer {
            sample($0.baseAddress!, count: $0.count, options: options, generator: &generator, scratch: &scratch)
        }
    }

    /// Samples one token from the `count` logits at `logits` (one uniform draw, inverse CDF);
    /// returns it and its log-probability under the sampling distribution.
    public static func sample(_ logits: UnsafePointer<Float>, count v: Int, options: SamplingOptions,
                              generator: inout RandomGenerator, scratch: inout SamplingScratch) -> (token: Int, logProb: Float) {
        if options.temperature == 0 { return (argmax(logits, v), 0) }
        let invT = 1 / options.temperature
        let filtered = (options.topK > 0 && options.topK < v) || options.topP < 1
        return scratch.values.withUnsafeMutableBufferPointer { zb in
            let z = zb.baseAddress!
            for i in 0..<v { z[i] = logits[i] * invT }
            if !filtered {
                // softmax over all tokens into the scratch, then inverse CDF
                let lse = DecodeKernels.softmax(v, z, z)
                var mass = 0.0
                for i in 0..<v { mass += Double(z[i]) }  // ≈ 1; scaling u by it keeps rounding from picking past the end
                let u = generator.nextDouble() * mass
                var cum = 0.0, pick = v - 1
                for i in 0..<v {
                    cum += Double(z[i])
                    if u < cum { pick = i; break }
                }
                // z now holds probabilities; recover the scaled logit for an exact log-prob
                return (pick, logits[pick] * invT - lse)
            }
            return scratch.order.withUnsafeMutableBufferPointer { ob -> (token: Int, logProb: Float) in
                for i in 0..<v { ob[i] = i }
                ob.sort { z[$0] > z[$1] || (z[$0] == z[$1] && $0 < $1) }  // most likely first
                var n = options.topK > 0 ? min(options.topK, v) : v
                let m = Double(z[ob[0]])
                var total = 0.0
                for j in 0..<n { total += exp(Double(z[ob[j]]) - m) }
                if options.topP < 1 {
                    var cum = 0.0, kept = 0, keptMass = 0.0
                    while kept < n {
                        let e = exp(Double(z[ob[kept]]) - m)
                        cum += e / total; keptMass += e; kept += 1
                        if cum >= Double(options.topP) { break }
                    }
                    n = kept
                    total = keptMass
                }
                let u = generator.nextDouble() * total
                var cum = 0.0, pick = n - 1
                for j in 0..<n {
                    cum += exp(Double(z[ob[j]]) - m)
                    if u < cum { pick = j; break }
                }
                let token = ob[pick]
                return (token, Float(Double(z[token]) - m - log(total)))
            }
        }
    }
}
