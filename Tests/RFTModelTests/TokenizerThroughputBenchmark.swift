import Foundation
import Testing
@testable import RFTModel

/// Encode throughput on the battery, for scripts/bench-tokenizer (which builds in release and
/// puts Hugging Face's figure next to it). Not a test: it runs only with RFT_BENCH_TOKENIZER=1.
@Suite struct TokenizerThroughputBenchmark {
    static let enabled = ProcessInfo.processInfo.environment["RFT_BENCH_TOKENIZER"] == "1"
        && ModelCache.has(ModelCache.tiktoken) && ModelCache.has(ModelCache.smolLM2)

    static func seconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    // Gated: a benchmark, run by scripts/bench-tokenizer only.
    @Test(.enabled(if: enabled, "benchmark: run scripts/bench-tokenizer")) func encodeThroughput() throws {
        let strings = TokenizerFixtures.shared.strings
        let bytes = strings.reduce(0) { $0 + $1.utf8.count }
        let text = strings.joined(separator: "\n")
        let rounds = Int(ProcessInfo.processInfo.environment["RFT_BENCH_ROUNDS"] ?? "") ?? 10
        let gguf = try GGUFFile(path: ModelCache.smolLM2)
        let makers: [(String, () throws -> ByteLevelBPETokenizer)] = [
            ("gpt2", { try ByteLevelBPETokenizer(tiktokenFile: ModelCache.tiktoken) }),
            ("smollm2", { try ByteLevelBPETokenizer(gguf: gguf.metadata) }),
        ]
        for (name, make) in makers {
            var warm: [Double] = [], cold: [Double] = [], joined: [Double] = [], tokens = 0
            for _ in 0..<rounds {
                let tokenizer = try make()  // a fresh (empty) piece cache
                var t0 = Self.seconds()
                tokens = 0
                for s in strings { tokens += tokenizer.encode(s).count }
                cold.append(Self.seconds() - t0)
                t0 = Self.seconds()
                for s in strings { tokens += tokenizer.encode(s).count }
                warm.append(Self.seconds() - t0)
                let fresh = try make()
                t0 = Self.seconds()
                _ = fresh.encode(text)
                joined.append(Self.seconds() - t0)
            }
            print("TOKENIZER-BENCH {\"tokenizer\":\"\(name)\",\"strings\":\(strings.count),\"bytes\":\(bytes),\"tokens\":\(tokens / 2)}")
            for (metric, xs) in [("cold_ms", cold), ("warm_ms", warm), ("joined_ms", joined)] {
                for x in xs { print("TOKENIZER-BENCH {\"tokenizer\":\"\(name)\",\"side\":\"rft\",\"metric\":\"\(metric)\",\"ms\":\(x * 1e3)}") }
            }
        }
    }
}
