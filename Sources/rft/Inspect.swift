import ArgumentParser
import Foundation
import RFT
import RFTModel

/// `rft inspect`: a checkpoint's header, tensor table, sizes and compression (`--verify`
/// decompresses every tensor and checks every checksum); or what rft reads from a Hugging Face
/// folder or a GGUF file (`--verify` checks every weight is finite).
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's header, tensor table and compression (--verify checks every checksum), or a Hugging Face folder's or GGUF file's model.")

    @Argument(help: "The checkpoint file (.rftckpt), Hugging Face folder or GGUF file.") var checkpoint: String?
    @Option(help: "The checkpoint file, as the other commands name it.") var model: String?
    @Flag(help: "Decompress every tensor and verify its checksums (exit code 1 on damage).") var verify = false
    @Flag(help: "Print the JSON header as stored instead of a summary.") var json = false
    @Option(help: "Show at most this many table rows (0: all).") var rows = 0

    func run() throws {
        try runCommand {
            try Processes.requireOne("inspect")
            guard let path = model ?? checkpoint else { throw ValidationError("name the checkpoint: rft inspect FILE (or --model FILE)") }
            if PretrainedModel.canRead(path) {
                let imported = try PretrainedModel(path: path)
                print(CheckpointSummary.text(imported, rows: rows))
                guard verify else { return }
                let bad = imported.model.namedParameters().filter { !$0.tensor.toArray().allSatisfy(\.isFinite) }.map(\.name)
                guard bad.isEmpty else { throw ValidationError("\(path): non-finite weights in \(bad.joined(separator: ", "))") }
                print("verified: \(imported.storedTensors.count) tensors read and converted, every weight finite")
                return
            }
            let reader = try CheckpointReader(path: path)
            print(CheckpointSummary.text(reader, json: json, rows: rows))
            guard verify else { return }
            let start = Date()
            try reader.verify(threads: 2)
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "verified: %d tensors, %@ decompressed and checksummed in %.2fs (%.0f MB/s)", reader.entries.count,
                         CheckpointSummary.formatBytes(reader.rawBytes), seconds, Double(reader.rawBytes) / 1e6 / max(seconds, 1e-9)))
        }
    }
}
