import ArgumentParser
import Foundation
import RFT

/// `rft sample`: completions of a prompt (an argument, or lines of stdin) from a model.
struct Sample: ConfiguredCommand {
    typealias Config = SampleConfig
    static let configuration = CommandConfiguration(
        abstract: "Sample completions of a prompt (an argument, or lines of stdin) from a model.",
        usage: "rft sample [PROMPT] [--config FILE] [--KEY VALUE ...] [--verbose] [--json]",
        discussion: flags("The prompt x is sent as <bos> x <sep> to a character model, as [BOS] x to a BPE model, as one user message in the chat template to a model that has one (--chat-template; raw: as is). --verbose shows each sample's log-probability; --json prints one JSON object per prompt (keys: prompt, prompt_ids, samples: completion, token_ids, log_prob, finish_reason, correct, answer)."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            try Processes.requireOne("sample")
            let (config, command) = try configuration(switches: ["verbose", "json"], maxPositional: 1)
            var prompts = command.positional
            if prompts.isEmpty { while let line = readLine() { if !line.isEmpty { prompts.append(line) } } }
            let results = try config.sample(prompts)
            if command.switches.contains("json") {
                for result in results { print(String(decoding: try JSONEncoder.snakeCase.encode(result), as: UTF8.self)) }
                return
            }
            let many = results.count > 1 || config.numGenerations > 1
            for result in results {
                if many { print(result.prompt) }
                for s in result.samples {
                    var line = (many ? "  " : "") + s.completion
                    if let correct = s.correct { line += correct ? "  ✓" : "  ✗ (\(s.answer ?? "not an instance"))" }
                    if command.switches.contains("verbose") { line += "  [logp \(String(format: "%.3f", s.logProb)), \(s.tokenIDs.count) tokens, \(s.finishReason)]" }
                    print(line)
                }
            }
        }
    }
}
