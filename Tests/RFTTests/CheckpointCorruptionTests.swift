import Foundation
@testable import RFT
import RFTTensor
import Testing

/// The catalogue of damaged files: every section truncated, flipped and lied about, each
/// mapped to the specific typed error the reader must give.
@Suite struct CheckpointCorruptionTests {
    let bytes = sampleCheckpointBytes()
    var reader: CheckpointReader { try! CheckpointReader(bytes: bytes) }
    var headerLength: Int { reader.headerBytes.count }
    var tableStart: Int { 40 + headerLength }
    var payloadStart: Int { Int(reader.entries[0].offset) }

    /// The error loading `data` fully (structure, then every chunk) gives, or nil.
    func loadError(_ data: [UInt8]) -> CheckpointError? {
        do {
            _ = try Checkpoint.load(bytes: data, path: "bad.rftckpt")
            return nil
        } catch let e as CheckpointError {
            #expect(e.description.hasPrefix("bad.rftckpt"), "error does not name the file: \(e)")
            return e
        } catch {
            Issue.record("untyped error \(error)")
            return nil
        }
    }

    func expectError(_ data: [UInt8], _ what: String = "", sourceLocation: SourceLocation = #_sourceLocation,
                     _ matches: (CheckpointError) -> Bool) {
        guard let e = loadError(data) else {
            Issue.record("\(what): loaded without error", sourceLocation: sourceLocation)
            return
        }
        #expect(matches(e), "\(what): got \(e)", sourceLocation: sourceLocation)
    }

    func truncatedIn(_ section: String) -> (CheckpointError) -> Bool {
        { if case .truncated(_, let s, _, _) = $0 { return s == section }; return false }
    }

    /// `bytes` with the little-endian integer at `offset` replaced.
    func patched<T: FixedWidthInteger>(_ data: [UInt8], at offset: Int, _ value: T) -> [UInt8] {
        var d = data
        withUnsafeBytes(of: value.littleEndian) { for i in 0..<MemoryLayout<T>.size { d[offset + i] = $0[i] } }
        return d
    }

    /// A forged file: the given table (and header) with a correct header checksum, so that the
    /// reader's structural checks, not the checksum, must catch the lie.
    func forged(entries: [CheckpointTableEntry]? = nil, header: [UInt8]? = nil, count: UInt32? = nil,
                tableEdit: ((inout [UInt8]) -> Void)? = nil) -> [UInt8] {
        let r = reader
        let h = header ?? r.headerBytes
        let list = entries ?? r.entries
        var table: [UInt8] = []
        table.appendLE(count ?? UInt32(list.count))
        for e in list { e.encode(into: &table) }
        tableEdit?(&table)
        var out = Array(bytes[0..<40])
        out = patched(out, at: 16, UInt64(h.count))
        out = patched(out, at: 24, UInt64(table.count))
        out += h + table
        let shift = out.count - payloadStart
        if shift != 0, entries == nil {  // keep offsets consistent when only the header changed size
            return forged(entries: r.entries.map { var e = $0; e.offset = UInt64(Int(e.offset) + shift); return e },
                          header: header, count: count, tableEdit: tableEdit)
        }
        out += bytes[payloadStart...]
        let c = CheckpointReader.checksum(out.prefix(40 + h.count + table.count).map { $0 })
        return patched(out, at: 32, c)
    }

    @Test func sampleIsValid() throws {
        #expect(loadError(bytes) == nil)
        #expect(loadError(forged()) == nil)  // the forging helper itself produces a valid file
        #expect(reader.entries.count == 4)
    }

    @Test func truncationAtEverySectionBoundary() {
        let r = reader
        expectError([], "empty file", truncatedIn("magic"))
        expectError(Array(bytes[0..<5]), "inside magic", truncatedIn("magic"))
        expectError(Array(bytes[0..<8]), "after magic", truncatedIn("version"))
        expectError(Array(bytes[0..<10]), "inside version", truncatedIn("version"))
        expectError(Array(bytes[0..<12]), "after version", truncatedIn("preamble"))
        expectError(Array(bytes[0..<30]), "inside sizes", truncatedIn("preamble"))
        expectError(Array(bytes[0..<39]), "inside checksum", truncatedIn("preamble"))
        expectError(Array(bytes[0..<40]), "after preamble", truncatedIn("header"))
        expectError(Array(bytes[0..<(40 + headerLength / 2)]), "inside header", truncatedIn("header"))
        expectError(Array(bytes[0..<tableStart]), "after header", truncatedIn("tensor table"))
        expectError(Array(bytes[0..<(tableStart + 10)]), "inside table", truncatedIn("tensor table"))
        expectError(Array(bytes[0..<(payloadStart - 1)]), "end of table", truncatedIn("tensor table"))
        for e in r.entries {
            let start = Int(e.offset), end = start + Int(e.storedBytes)
            expectError(Array(bytes[0..<start]), "before \(e.name)", truncatedIn("tensor \(e.name)"))
            expectError(Array(bytes[0..<(start + Int(e.chunks[0].length) / 2)]), "inside \(e.name)", truncatedIn("tensor \(e.name)"))
            expectError(Array(bytes[0..<(end - 1)]), "last byte of \(e.name)", truncatedIn("tensor \(e.name)"))
        }
    }

    @Test func flippedBitInEverySection() {
        func flip(_ offset: Int, bit: Int = 0) -> [UInt8] { var d = bytes; d[offset] ^= UInt8(1 << bit); return d }
        func checksumMismatch(_ e: CheckpointError) -> Bool { if case .headerChecksumMismatch = e { return true }; return false }
        for i in 0..<8 { expectError(flip(i, bit: i % 8), "magic byte \(i)") { $0 == .badMagic(path: "bad.rftckpt") } }
        expectError(flip(8), "version low bit") { $0 == .unsupportedVersion(path: "bad.rftckpt", version: 3) }
        expectError(flip(11, bit: 7), "version high bit") { if case .unsupportedVersion = $0 { return true }; return false }
        expectError(flip(12), "reserved", checksumMismatch)
        expectError(flip(16), "header length low bit", checksumMismatch)
        expectError(flip(22, bit: 7), "header length high bit") {
            if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "header length" }; return false
        }
        expectError(flip(24), "table length low bit", checksumMismatch)
        expectError(flip(31, bit: 7), "table length top bit") {
            if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "table length" }; return false
        }
        expectError(flip(32), "checksum", checksumMismatch)
        expectError(flip(39, bit: 7), "checksum top bit", checksumMismatch)
        for offset in [40, 40 + headerLength / 2, tableStart - 1] { expectError(flip(offset, bit: 3), "header byte \(offset)", checksumMismatch) }
        for offset in [tableStart, tableStart + 7, payloadStart - 1] { expectError(flip(offset, bit: 5), "table byte \(offset)", checksumMismatch) }
        for e in reader.entries {
            var offset = Int(e.offset)
            for (k, chunk) in e.chunks.enumerated() {
                for position in [offset, offset + Int(chunk.length) / 2, offset + Int(chunk.length) - 1] {
                    expectError(flip(position, bit: 2), "\(e.name) chunk \(k) byte \(position)") {
                        switch $0 {
                        case .tensorChecksumMismatch(_, let t, let c), .corruptTensorData(_, let t, let c, _): return t == e.name && c == k
                        default: return false
                        }
                    }
                }
                offset += Int(chunk.length)
            }
        }
    }

    @Test func wrongMagicAndUnknownVersion() {
        var gguf = bytes
        gguf.replaceSubrange(0..<4, with: Array("GGUF".utf8))
        expectError(gguf, "GGUF file") { $0 == .badMagic(path: "bad.rftckpt") }
        expectError(Array("hello world, this is text and not a checkpoint at all".utf8), "text") { $0 == .badMagic(path: "bad.rftckpt") }
        expectError(patched(bytes, at: 8, UInt32(3)), "version 3") { $0 == .unsupportedVersion(path: "bad.rftckpt", version: 3) }
        expectError(Array(patched(bytes, at: 8, UInt32(0xFFFF_FFFF))[0..<12]), "version max, truncated") {
            $0 == .unsupportedVersion(path: "bad.rftckpt", version: 0xFFFF_FFFF)
        }
    }

    @Test func liesInPreambleSizeFields() {
        let size = UInt64(bytes.count)
        func outOfBounds(_ field: String) -> (CheckpointError) -> Bool {
            { if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == field }; return false }
        }
        expectError(patched(bytes, at: 16, size), "header length = file size", truncatedIn("header"))
        expectError(patched(bytes, at: 16, UInt64.max), "header length max", outOfBounds("header length"))
        expectError(patched(bytes, at: 16, UInt64(1) << 40), "header length 1 TiB", outOfBounds("header length"))
        expectError(patched(bytes, at: 24, size), "table length = file size", truncatedIn("tensor table"))
        expectError(patched(bytes, at: 24, UInt64.max), "table length max", outOfBounds("table length"))
        expectError(patched(bytes, at: 16, UInt64(headerLength - 1))) { if case .headerChecksumMismatch = $0 { return true }; return false }
    }

    @Test func liesInTheTable() {
        let r = reader
        func edit(_ i: Int, _ change: (inout CheckpointTableEntry) -> Void) -> [UInt8] {
            var list = r.entries
            change(&list[i])
            return forged(entries: list)
        }
        func kind(_ e: CheckpointError) -> String { Mirror(reflecting: e).children.first?.label ?? "" }
        func isKind(_ name: String, tensor: String? = nil) -> (CheckpointError) -> Bool {
            { e in
                guard kind(e) == name else { return false }
                guard let tensor else { return true }
                return e.description.contains("tensor \(tensor)")
            }
        }
        let last = r.entries.count - 1
        // Offsets.
        expectError(edit(1) { $0.offset += 1 }, "offset +1", isKind("tensorOutOfBounds", tensor: "b.weight"))
        expectError(edit(0) { $0.offset = UInt64(bytes.count) * 4 }, "offset past EOF", isKind("tensorOutOfBounds", tensor: "a.weight"))
        expectError(edit(0) { $0.offset = .max }, "offset max", isKind("tensorOutOfBounds", tensor: "a.weight"))
        // Stored length and chunk lengths.
        expectError(edit(0) { $0.storedBytes += 1 }, "stored +1", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.storedBytes = .max }, "stored max", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(last) { $0.chunks[0].length += 1; $0.storedBytes += 1 }, "last chunk +1", truncatedIn("tensor d.scalar"))
        expectError(edit(0) { $0.chunks[1].length = UInt64(1) << 50; $0.storedBytes = 0 }, "chunk length huge", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.chunks[0].length += 1; $0.storedBytes += 1 }, "chunk +1 shifts the next block", isKind("tensorOutOfBounds", tensor: "b.weight"))
        // Raw sizes and shapes.
        expectError(edit(0) { $0.rawBytes += 4 }, "raw +4", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.rawBytes = .max }, "raw max", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.shape = [20, 20] }, "shape ×2", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.shape = [1 << 40, 1] }, "dimension 2^40", isKind("invalidShape", tensor: "a.weight"))
        expectError(edit(0) { $0.shape = Array(repeating: 1 << 30, count: 8) }, "shape overflows", isKind("invalidShape", tensor: "a.weight"))
        expectError(edit(0) { $0.shape = Array(repeating: 1, count: 9) }, "rank 9", isKind("invalidShape", tensor: "a.weight"))
        expectError(edit(0) { $0.shape = [1 << 30, 1 << 12]; $0.rawBytes = UInt64(1) << 44 }, "raw 16 TiB",
                    { if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "tensor a.weight size" }; return false })
        expectError(edit(0) {
            $0.shape = [1 << 20, 1 << 4]; $0.rawBytes = UInt64(1) << 26; $0.chunkElements = UInt64(1) << 24
            $0.chunks = [$0.chunks[0]]; $0.storedBytes = $0.chunks[0].length
        }, "decompression bomb") { e in isKind("inconsistentSize", tensor: "a.weight")(e) && e.description.contains("maximum ratio") }
        // Chunking.
        expectError(edit(0) { $0.chunkElements = 100 }, "chunk elements", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.chunkElements = 65 }, "chunk elements, same chunk count") {
            if case .corruptTensorData(_, let t, let c, _) = $0 { return t == "a.weight" && c == 0 }; return false
        }
        expectError(edit(0) { $0.chunkElements = 0 }, "zero chunk elements", isKind("inconsistentSize", tensor: "a.weight"))
        expectError(edit(0) { $0.chunkElements = .max }, "huge chunks",
                    { if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "tensor a.weight chunk size" }; return false })
        expectError(edit(2) { $0.chunks[1].checksum ^= 1 }, "chunk checksum") { $0 == .tensorChecksumMismatch(path: "bad.rftckpt", tensor: "c.bias", chunk: 1) }
        expectError(edit(2) { $0.dtype = .f32; $0.rawBytes *= 2 }, "dtype lie") {
            if case .corruptTensorData(_, let t, let c, _) = $0 { return t == "c.bias" && c == 0 }; return false
        }
        // Names and counts.
        expectError(edit(1) { $0.name = "a.weight" }, "duplicate name") { $0 == .duplicateTensor(path: "bad.rftckpt", name: "a.weight") }
        expectError(forged(count: 5), "count +1", isKind("malformedTable"))
        expectError(forged(count: 3), "count -1", isKind("malformedTable"))
        expectError(forged(count: 0xFFFF_FFFF), "count max",
                    { if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "tensor count" }; return false })
        let dtypeAt = 4 + 2 + 8  // count, name length, "a.weight"
        expectError(forged { $0[dtypeAt] = 7 }, "dtype code 7", isKind("malformedTable"))
        expectError(forged { $0[4] = 0; $0[5] = 0 }, "empty name", isKind("malformedTable"))
        expectError(forged { $0[6] = 0xFF }, "name not UTF-8", isKind("malformedTable"))
        expectError(forged { $0 += [0, 0] }, "bytes after the table", isKind("malformedTable"))
        var trailing = bytes
        trailing += [1, 2, 3]
        expectError(trailing, "trailing data") { $0 == .trailingData(path: "bad.rftckpt", bytes: 3) }
    }

    /// An empty tensor has no frames, but its chunk size is still bounded (it was once used
    /// unchecked as an Int).
    @Test func emptyTensorWithAbsurdChunkSize() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let c = Checkpoint(header: CheckpointHeader(createdAt: "x"), tensors: [("e", Tensor(zeros: [0]), .f32), ("s", Tensor(scalar: 1), .f32)])
        try c.save(to: dir + "/e.rftckpt")
        let data = readBytes(dir + "/e.rftckpt")
        let r = try CheckpointReader(bytes: data)
        var list = r.entries
        list[0].chunkElements = .max
        var table: [UInt8] = []
        table.appendLE(UInt32(list.count))
        for e in list { e.encode(into: &table) }
        var forged = Array(data[0..<(40 + r.headerBytes.count)]) + table + data[(40 + r.headerBytes.count + table.count)...]
        let checksum = CheckpointReader.checksum(Array(forged[0..<(40 + r.headerBytes.count + table.count)]))
        forged = patched(forged, at: 32, checksum)
        expectError(forged, "empty tensor, chunk size max") {
            if case .sizeOutOfBounds(_, let f, _, _) = $0 { return f == "tensor e chunk size" }; return false
        }
    }

    @Test func liesInTheHeader() {
        func malformed(_ e: CheckpointError) -> Bool { if case .malformedHeader = e { return true }; return false }
        let json = String(decoding: reader.headerBytes, as: UTF8.self)
        expectError(forged(header: Array("{not json".utf8)), "not JSON", malformed)
        expectError(forged(header: Array("[]".utf8)), "array header", malformed)
        expectError(forged(header: Array("{}".utf8)), "missing fields", malformed)
        expectError(forged(header: Array(json.replacingOccurrences(of: "\"step\":7", with: "\"step\":-7").utf8)), "negative step", malformed)
        let rng = RandomGenerator(seed: 2).state.map(String.init).joined(separator: ",")
        let threeWords = RandomGenerator(seed: 2).state.prefix(3).map(String.init).joined(separator: ",")
        #expect(json.contains(rng))
        expectError(forged(header: Array(json.replacingOccurrences(of: rng, with: threeWords).utf8)), "RNG with 3 words", malformed)
        expectError(forged(header: Array(json.replacingOccurrences(of: "\"heads\":2", with: "\"heads\":3").utf8)), "heads not dividing width", malformed)
        expectError(forged(header: Array(repeating: UInt8(ascii: "["), count: 100_000)), "deep nesting", malformed)
        // A header that still decodes is accepted when the lie is only in free fields.
        #expect(loadError(forged(header: Array(json.replacingOccurrences(of: "\"run\":\"test\"", with: "\"run\":\"other\"").utf8))) == nil)
    }

    @Test func fileOnDiskErrorsNameThePath() throws {
        let dir = makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/t.rftckpt"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes[0..<(payloadStart + 3)]))
        do {
            _ = try Checkpoint.load(from: path)
            Issue.record("loaded a truncated file")
        } catch let e as CheckpointError {
            guard case .truncated(let p, let s, _, let size) = e else { Issue.record("\(e)"); return }
            #expect(p == path && s == "tensor a.weight" && size == UInt64(payloadStart + 3))
        }
        #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(from: dir + "/missing.rftckpt") }
        #expect(throws: CheckpointError.self) { _ = try Checkpoint.load(from: dir) }
    }

    /// Random damage never crashes and always gives a typed error (a mini fuzz run in the tests).
    @Test func randomDamageGivesTypedErrors() {
        var g = RandomGenerator(seed: 77)
        for _ in 0..<2000 {
            var d = bytes
            switch g.next() % 3 {
            case 0: for _ in 0...(g.next() % 4) { d[Int(g.next() % UInt64(d.count))] ^= UInt8(1 << (g.next() % 8)) }
            case 1: d = Array(d[0..<Int(g.next() % UInt64(d.count))])
            default: d.insert(UInt8(truncatingIfNeeded: g.next()), at: Int(g.next() % UInt64(d.count)))
            }
            if d == bytes { continue }
            #expect(loadError(d) != nil)
        }
    }
}
