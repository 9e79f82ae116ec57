import ArgumentParser
import Foundation
import RFT

/// `rft inspect`: prints a checkpoint's header, tensor table, sizes and compression ratio, and
/// with `--verify` decompresses every tensor and checks every checksum.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a checkpoint's header, tensor table and compression; --verify checks every checksum.")

    @Argument(help: "The checkpoint file (.rftckpt).") var checkpoint: String
    @Flag(help: "Decompress every tensor and verify its checksums (exit code 1 on damage).") var verify = false
    @Flag(help: "Print the JSON header as stored instead of a summary.") var json = false
    @Option(help: "Show at most this many table rows (0: all).") var rows = 0

    func run() throws {
        let reader: CheckpointReader
        do {
            reader = try CheckpointReader(path: checkpoint)
        } catch let e as CheckpointError {
            throw fail(e)
        }
        print("checkpoint \(checkpoint)")
        print("format version \(reader.version), \(formatBytes(reader.fileSize)) on disk, \(reader.entries.count) tensors")
        print("")
        if json {
            print(prettyJSON(reader.headerBytes))
        } else {
            printSummary(reader.header)
        }
        print("")
        printTable(reader)
        if verify {
            let start = Date()
            do {
                try reader.verify(threads: 2)
            } catch let e as CheckpointError {
                throw fail(e)
            }
            let seconds = Date().timeIntervalSince(start)
            print(String(format: "verified: %d tensors, %@ decompressed and checksummed in %.2fs (%.0f MB/s)",
                         reader.entries.count, formatBytes(reader.rawBytes), seconds,
                         Double(reader.rawBytes) / 1e6 / max(seconds, 1e-9)))
        }
    }

    /// Prints the error and returns the exit code for it.
    private func fail(_ e: CheckpointError) -> ExitCode {
        FileHandle.standardError.write(Data(("error: " + e.description + "\n").utf8))
        return ExitCode(1)
    }

    private func printSummary(_ h: CheckpointHeader) {
        print("written by rft \(h.rftVersion) at \(h.createdAt)")
        if let m = h.model {
            print("model: GPT \(m.layers)L \(m.heads)H \(m.width)C, vocabulary \(m.vocabularySize), context \(m.contextLength), "
                  + "mlp ×\(m.mlpRatio), \(m.tiedEmbeddings ? "tied" : "untied") embeddings")
        }
        if let t = h.tokenizer { print("tokenizer: \(describe(t))") }
        if let t = h.training {
            var line = "training: step \(t.step)"
            if let r = t.rng { line += ", rng \(r.state.map { String($0, radix: 16) }.joined(separator: ":"))" }
            if let d = t.dataOrder { line += ", data epoch \(d.epoch) position \(d.position)" + (d.rng == nil ? "" : " (rng saved)") }
            print(line)
        }
        if let o = h.optimizer {
            var parts = ["lr \(o.learningRate)"]
            if let b1 = o.beta1, let b2 = o.beta2 { parts.append("betas (\(b1), \(b2))") }
            if let e = o.eps { parts.append("eps \(e)") }
            if let w = o.weightDecay { parts.append("weight decay \(w)") }
            if let m = o.momentum { parts.append("momentum \(m)") }
            print("optimizer: \(o.kind), step \(o.stepCount), " + parts.joined(separator: ", "))
        }
        if let s = h.schedule { print("schedule: \(s.schedule), base lr \(s.baseLearningRate), position \(s.position)") }
        if !h.metrics.isEmpty { print("metrics: " + h.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
        if !h.metadata.isEmpty { print("metadata: " + h.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
    }

    private func printTable(_ r: CheckpointReader) {
        let nameWidth = min(48, max(4, r.entries.map(\.name.count).max() ?? 4))
        func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
            s.count >= n ? s : (left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
        }
        print(pad("name", nameWidth) + "  dtype  " + pad("shape", 16) + pad("stored", 11, left: true) + pad("raw", 11, left: true)
              + pad("ratio", 7, left: true) + pad("frames", 7, left: true))
        let shown = rows > 0 ? Array(r.entries.prefix(rows)) : r.entries
        for e in shown {
            let ratio = e.rawBytes == 0 ? "-" : String(format: "%.3f", Double(e.storedBytes) / Double(e.rawBytes))
            print(pad(e.name, nameWidth) + "  " + pad(e.dtype.rawValue, 5) + "  " + pad("\(e.shape)", 16)
                  + pad(formatBytes(e.storedBytes), 11, left: true) + pad(formatBytes(e.rawBytes), 11, left: true)
                  + pad(ratio, 7, left: true) + pad("\(e.chunks.count)", 7, left: true))
        }
        if shown.count < r.entries.count { print("… \(r.entries.count - shown.count) more") }
        let floatBytes = r.entries.reduce(UInt64(0)) { $0 + UInt64($1.elementCount) * 4 }
        print(String(format: "total: %@ stored, %@ raw (%@ as float32); compressed/raw %.3f, file/float32 %.3f",
                     formatBytes(r.storedBytes), formatBytes(r.rawBytes), formatBytes(floatBytes),
                     Double(r.storedBytes) / Double(max(1, r.rawBytes)), Double(r.fileSize) / Double(max(1, floatBytes))))
    }

    private func describe(_ v: JSONValue) -> String {
        let s = prettyJSON(Array((try? JSONEncoder().encode(v)) ?? Data()), pretty: false)
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }

    private func prettyJSON(_ bytes: [UInt8], pretty: Bool = true) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys])
        else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }
}

/// Bytes as B, KB, MB or GB (powers of 1000).
func formatBytes(_ n: UInt64) -> String {
    let v = Double(n)
    if v < 1e3 { return "\(n) B" }
    if v < 1e6 { return String(format: "%.1f KB", v / 1e3) }
    if v < 1e9 { return String(format: "%.1f MB", v / 1e6) }
    return String(format: "%.2f GB", v / 1e9)
}
