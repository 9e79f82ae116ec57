import ArgumentParser
import RFT

/// `rft sample`: completions of a prompt (an argument, or lines of stdin) from a model.
struct Sample: ConfiguredCommand {
    typealias Config = SampleConfig
    static let configuration = CommandConfiguration(
        abstract: "Sample completions of a prompt (an argument, or lines of stdin) from a model.",
        usage: "rft sample [PROMPT] [--config FILE] [--KEY VALUE ...] [--verbose]",
        discussion: flags("The prompt x is sent as <bos> x <sep> (raw: as is). --verbose shows each sample's log-probability."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            try Processes.requireOne("sample")
            let (config, command) = try configuration(switches: ["verbose"], maxPositional: 1)
            var prompts = command.positional
            if prompts.isEmpty { while let line = readLine() { if !line.isEmpty { prompts.append(line) } } }
            let results = try config.sample(prompts)
            let many = results.count > 1 || config.numGenerations > 1
            for result in results {
                if many { print(result.prompt) }
                for s in result.samples {
                    var line = (many ? "  " : "") + s.completion
                    if let correct = s.correct { line += correct ? "  ✓" : "  ✗ (\(s.answer ?? "not an instance"))" }
                    if command.switches.contains("verbose") { line += "  [logp \(String(format: "%.3f", s.logProb)), \(s.tokens) tokens, \(s.finishReason)]" }
                    print(line)
                }
            }
        }
    }
}
