import Foundation
import RFTModel

/// What `rft inspect` prints about a checkpoint: the header in words (or as stored), the tensor
/// table with sizes and compression.
public enum CheckpointSummary {
    /// The summary of the checkpoint `reader` opened: header (as stored JSON when `json`), then
    /// the table (at most `rows` rows; 0: all).
    public static func text(_ reader: CheckpointReader, json: Bool, rows: Int) -> String {
        var lines = ["checkpoint \(reader.path)",
                     "format version \(reader.version), \(formatBytes(reader.fileSize)) on disk, \(reader.entries.count) tensors", ""]
        lines += json ? [prettyJSON(reader.headerBytes)] : header(reader.header)
        if !json, let head = reader.entries.first(where: { $0.name == RewardModel.headName }) {
            lines.append("reward model: head \(head.name) \(head.shape) (use it with --reward-model)")
        }
        return (lines + [""] + table(reader, rows: rows)).joined(separator: "\n")
    }

    /// The header in words.
    static func header(_ h: CheckpointHeader) -> [String] {
        var out: [String] = []
        func print(_ s: String) { out.append(s) }
        print("written by rft \(h.rftVersion) at \(h.createdAt)")
        if let m = h.model { print("model: \(m.summary)") }
        if let t = h.tokenizer {
            let decoded = (try? JSONEncoder().encode(t)).flatMap { try? JSONDecoder().decode(Tokenizer.self, from: $0) }
            print("tokenizer: \(decoded?.summary ?? describe(t))")
        }
        switch h.trainer {
        case .sft(let s)?: print("trainer: sft, step \(s.step)")
        case .reward(let s)?: print("trainer: reward model, step \(s.step)")
        case .grpo(let s)?: print("trainer: grpo, step \(s.stepCount), \(s.tracker.records.count) inputs tracked")
        case nil: break
        }
        if let p = h.pipeline {
            print("run: stage \(p.stage?.label ?? "done"), position \(p.position), diagnoses done: \(p.reports.keys.sorted().joined(separator: ", "))"
                  + (p.partialRows.isEmpty ? "" : ", \(p.partialRows.count) inputs of a diagnosis measured"))
        }
        if let o = h.optimizer {
            var parts = ["lr \(o.learningRate)"]
            if let b1 = o.beta1, let b2 = o.beta2 { parts.append("betas (\(b1), \(b2))") }
            if let e = o.eps { parts.append("eps \(e)") }
            if let w = o.weightDecay { parts.append("weight decay \(w)") }
            if let m = o.momentum { parts.append("momentum \(m)") }
            print("optimizer: \(o.kind), step \(o.stepCount), " + parts.joined(separator: ", "))
        }
        if !h.metrics.isEmpty { print("metrics: " + h.metrics.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
        if !h.metadata.isEmpty { print("metadata: " + h.metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")) }
        return out
    }

    /// What `rft inspect` prints about a Hugging Face folder or a GGUF file rft imports: the
    /// architecture, the configuration and tokenizer in words, the stored tensors (at most `rows`
    /// rows; 0: all).
    public static func text(_ imported: PretrainedModel, rows: Int) -> String {
        let c = imported.model.config
        var lines = ["\(imported.format == "gguf" ? "GGUF file" : "Hugging Face folder") \(imported.path)",
                     "architecture \(imported.modelType), \(c.parameterCount ?? 0) parameters (\(formatBytes(UInt64(c.weightBytes ?? 0))) as float32), \(imported.storedTensors.count) tensors stored",
                     "", "model: \(c.summary)", "tokenizer: \(imported.tokenizer.summary)", ""]
        let nameWidth = min(48, max(4, imported.storedTensors.map(\.name.count).max() ?? 4))
        lines.append(pad("name", nameWidth) + "  " + pad("dtype", 6) + "  shape")
        let shown = rows > 0 ? Array(imported.storedTensors.prefix(rows)) : imported.storedTensors
        for t in shown { lines.append(pad(t.name, nameWidth) + "  " + pad(t.dtype, 6) + "  \(t.shape)") }
        if shown.count < imported.storedTensors.count { lines.append("… \(imported.storedTensors.count - shown.count) more") }
        return lines.joined(separator: "\n")
    }

    /// `s` padded with spaces to `n` characters (on the left when `left`).
    static func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
        s.count >= n ? s : (left ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
    }

    /// The tensor table with sizes and compression ratios.
    static func table(_ r: CheckpointReader, rows: Int) -> [String] {
        var out: [String] = []
        func print(_ s: String) { out.append(s) }
        let nameWidth = min(48, max(4, r.entries.map(\.name.count).max() ?? 4))
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
        return out
    }

    /// A JSON value in one line of at most 200 characters.
    static func describe(_ v: JSONValue) -> String {
        let s = prettyJSON(Array((try? JSONEncoder().encode(v)) ?? Data()), pretty: false)
        return s.count > 200 ? String(s.prefix(200)) + "…" : s
    }

    /// JSON bytes re-indented with sorted keys (or as they are, when they do not parse).
    static func prettyJSON(_ bytes: [UInt8], pretty: Bool = true) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)),
              let data = try? JSONSerialization.data(withJSONObject: object, options: pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys])
        else { return String(decoding: bytes, as: UTF8.self) }
        return String(decoding: data, as: UTF8.self)
    }

    /// Bytes as B, KB, MB or GB (powers of 1000).
    public static func formatBytes(_ n: UInt64) -> String {
        let v = Double(n)
        if v < 1e3 { return "\(n) B" }
        if v < 1e6 { return String(format: "%.1f KB", v / 1e3) }
        if v < 1e9 { return String(format: "%.1f MB", v / 1e6) }
        return String(format: "%.2f GB", v / 1e9)
    }
}
