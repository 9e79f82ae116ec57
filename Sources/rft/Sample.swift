import ArgumentParser
import Foundation
import RFT
import RFTModel
import RFTTensor

/// `rft sample`: completions of a prompt from a checkpoint.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample completions of a prompt (an argument, or lines of stdin) from a checkpoint.")

    @Option(help: "Checkpoint file, or a folder (its newest valid checkpoint).") var checkpoint: String
    @Argument(help: "The prompt x (sent as <bos> x <sep>); read from stdin, one per line, when absent.") var prompt: String?
    @Option(name: .short, help: "Samples per prompt.") var n = 1
    @Option(help: "Temperature (0 = greedy).") var temperature: Float = 1
    @Option(help: "Keep the k most likely tokens (0 = all).") var topK = 0
    @Option(help: "Keep the most likely tokens up to this probability mass (1 = all).") var topP: Float = 1
    @Option(help: "Most new tokens (default: up to the context).") var maxNewTokens: Int?
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @Flag(help: "Send the prompt as is, without <bos> and <sep>.") var raw = false
    @Flag(help: "Show the log-probability of each sample.") var verbose = false
    @Option(help: "Threads.") var threads = 2

    func validate() throws {
        guard n >= 1 else { throw ValidationError("-n must be ≥ 1") }
        if let problem = SamplingOptions(temperature: temperature, topK: topK, topP: topP).validationError() {
            throw ValidationError(problem)
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let loaded = try LoadedModel(path: checkpoint)
        let task = loaded.taskName.flatMap { try? TaskRegistry.task(named: $0) }
        var prompts: [String] = []
        if let prompt { prompts = [prompt] } else {
            while let line = readLine() { if !line.isEmpty { prompts.append(line) } }
        }
        guard !prompts.isEmpty else { throw CLIError("no prompt: pass one or pipe lines into stdin") }
        let sampler = Sampler(model: loaded.model)
        for (index, text) in prompts.enumerated() {
            let ids: [Int]
            do {
                ids = raw ? try loaded.tokenizer.encode(text) : try loaded.tokenizer.encodePrompt(text)
            } catch let e as TokenizerError {
                throw CLIError("prompt \(index + 1): \(e)")
            }
            let room = loaded.model.config.contextLength - ids.count
            guard room > 0 else {
                throw CLIError("prompt \(index + 1) has \(ids.count) tokens; the context is \(loaded.model.config.contextLength)")
            }
            let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP,
                                          maxNewTokens: min(maxNewTokens ?? room, room))
            let out = try sampler.generate(Array(repeating: ids, count: n), options: options, seed: seed &+ UInt64(index))
            if prompts.count > 1 || n > 1 { print("\(text)") }
            for g in out {
                let completion = loaded.tokenizer.decode(g.tokens.prefix { $0 != Tokenizer.eos })
                var line = (prompts.count > 1 || n > 1 ? "  " : "") + completion
                if let task { line += task.verify(prompt: text, completion: completion) ? "  ✓" : "  ✗ (\(task.answer(for: text) ?? "not an instance"))" }
                if verbose {
                    line += String(format: "  [logp %.3f, %d tokens, %@]", g.logProbs.reduce(0, +), g.tokens.count, g.finishReason.rawValue)
                }
                print(line)
            }
        }
    }
}
