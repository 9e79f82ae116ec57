import ArgumentParser
import RFT

/// `rft export`: a model as a Hugging Face folder that transformers loads.
struct Export: ConfiguredCommand {
    typealias Config = ExportConfig
    static let configuration = CommandConfiguration(
        abstract: "Write a model as a Hugging Face folder (config.json, model.safetensors, tokenizer.json, ...) that transformers loads.",
        usage: "rft export --model FILE --output DIR [--dtype float32|bfloat16]",
        discussion: flags("The folder appears whole or not at all; an existing non-empty folder is refused."))

    @Argument(parsing: .allUnrecognized, help: .hidden) var arguments: [String] = []

    func run() throws {
        try runCommand {
            try Processes.requireOne("export")
            let (config, _) = try configuration()
            let report = try config.run()
            let total = report.files.reduce(0) { $0 + $1.bytes }
            print("rft export: \(report.model) → \(report.folder) (\(report.modelType), \(config.dtype.rawValue), \(report.files.count) files, \(CheckpointSummary.formatBytes(UInt64(total))))")
            for f in report.files { print("  \(f.name)  \(CheckpointSummary.formatBytes(UInt64(f.bytes)))") }
        }
    }
}
