import ArgumentParser
import Foundation
import RFT

/// `rft inspect`: a checkpoint's header, tensor table, sizes and compression; `--verify`
/// decompresses every tensor and checks every checksum.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's header, tensor table and compression; --verify checks every checksum.")

    @Argument(help: "The checkpoint file (.rftckpt).") var checkpoint: String?
    @Option(help: "The checkpoint file, as the other commands name it.") var model: String?
    @Flag(help: "Decompress every tensor and verify its checksums (exit code 1 on damage).") var verify = false
    @Flag(help: "Print the JSON header as stored instead of a summary.") var json = false
    @Option(help: "Show at most this many table rows (0: all).") var rows = 0

    func run() throws {
        try runCommand {
            try Processes.requireOne("inspect")
            guard let path = model ?? checkpoint else { throw ValidationError("name the checkpoint: rft inspect FILE (or --model FILE)") }
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
