import Foundation
import Testing
@testable import RFTModel

/// Damaged GGUF files: every case is a typed `ImportError`, never a crash or a huge allocation.
@Suite struct GGUFCorruptionTests {
    let sample = sampleGGUF().build()

    func open(_ bytes: [UInt8], limits: ImportLimits = .default) throws -> GGUFFile {
        try GGUFFile(bytes: bytes, path: "bad.gguf", limits: limits)
    }

    /// Expects `bytes` to be refused with an error for which `match` holds.
    func refuses(_ bytes: [UInt8], limits: ImportLimits = .default, _ what: String, _ match: (ImportError) -> Bool) {
        do {
            let file = try open(bytes, limits: limits)
            _ = try file.readAll()
            Issue.record("\(what): accepted")
            return
        } catch let e as ImportError {
            #expect(match(e), "\(what): \(e)")
            #expect(e.description.hasPrefix("bad.gguf: "))
        } catch {
            Issue.record("\(what): untyped error \(error)")
        }
    }

    func with(_ change: (inout GGUFBuilder) -> Void) -> [UInt8] {
        var b = sampleGGUF()
        change(&b)
        return b.build().bytes
    }

    func patched(_ offset: Int, _ value: UInt64, width: Int = 8) -> [UInt8] {
        var bytes = sample.bytes
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
        return bytes
    }

    @Test func everyTruncationIsTyped() {
        for n in 0..<sample.bytes.count {
            do {
                let f = try open(Array(sample.bytes[0..<n]))
                _ = try f.readAll()
                Issue.record("prefix of \(n) bytes accepted")
            } catch is ImportError {
            } catch { Issue.record("prefix \(n): untyped \(error)") }
        }
    }

    @Test func headerDamage() {
        var b = sample.bytes
        b[0] = UInt8(ascii: "X")
        refuses(b, "bad magic") { if case .badMagic = $0 { return true }; return false }
        for v: UInt64 in [1, 2, 4, 0xFFFF_FFFF] {
            refuses(patched(4, v, width: 4), "version \(v)") { if case .unsupportedVersion(_, let got, 3) = $0 { return UInt64(got) == v }; return false }
        }
        refuses(patched(8, .max), "huge tensor count") { if case .sizeOutOfBounds(_, "tensor count", _, _) = $0 { return true }; return false }
        refuses(patched(16, .max), "huge metadata count") { if case .sizeOutOfBounds(_, "metadata count", _, _) = $0 { return true }; return false }
        refuses(patched(16, 100_000), "metadata count beyond the file") { if case .truncated = $0 { return true }; return false }
        refuses(patched(8, 50_000), "tensor count beyond the file") { if case .truncated = $0 { return true }; return false }
    }

    @Test func metadataDamage() {
        let kv = sample.layout.kvStart
        refuses(patched(kv, .max), "huge key length") { if case .sizeOutOfBounds = $0 { return true }; return false }
        refuses(patched(kv, 1 << 20), "key past the end") { if case .truncated = $0 { return true }; return false }
        let typeField = kv + 8 + "general.architecture".utf8.count
        refuses(patched(typeField, 13, width: 4), "unknown value type") { if case .malformedHeader = $0 { return true }; return false }
        refuses(patched(typeField + 4, .max), "huge string value") { if case .sizeOutOfBounds = $0 { return true }; return false }
        refuses(with { $0.metadata.append(("general.architecture", .string("gpt2"))) }, "duplicate key") {
            $0 == .duplicateKey(path: "bad.gguf", key: "general.architecture")
        }
        refuses(with { $0.metadata[0].0 = "" }, "empty key") { if case .malformedHeader = $0 { return true }; return false }
        // Bad UTF-8 in a string value: "llama" → "ll\xFFma".
        var utf8 = sample.bytes
        utf8[typeField + 4 + 8 + 2] = 0xFF
        refuses(utf8, "invalid UTF-8") { if case .malformedHeader(_, _, let r) = $0 { return r.contains("UTF-8") }; return false }
        // A bool that is neither 0 nor 1.
        var boolBytes = with { $0.metadata = [("flag", .bool(true))] }
        boolBytes[sampleBoolOffset(boolBytes)] = 2
        refuses(boolBytes, "bool 2") { if case .malformedHeader = $0 { return true }; return false }
        // Arrays: huge count, count beyond the file, unknown element type, nesting too deep.
        var deep: GGUFValue = .array(.int32, [])
        for _ in 0..<10 { deep = .array(.array, [deep]) }
        refuses(with { $0.metadata.append(("deep", deep)) }, "nesting") { if case .sizeOutOfBounds = $0 { return true }; return false }
        let arrayStart = with { $0.metadata = [("a", .array(.uint8, [.uint8(1)]))]; $0.tensors = [] }
        let countField = 24 + 8 + 1 + 4 + 4
        var huge = arrayStart
        for i in 0..<8 { huge[countField + i] = 0xFF }
        refuses(huge, "huge array") { if case .sizeOutOfBounds = $0 { return true }; return false }
        var past = arrayStart
        past[countField + 2] = 0x10  // 1M elements of one byte in a small file
        refuses(past, "array beyond the file") { if case .truncated = $0 { return true }; return false }
        var element = arrayStart
        element[countField - 4] = 77
        refuses(element, "unknown element type") { if case .malformedHeader = $0 { return true }; return false }
        var small = ImportLimits()
        small.maxMetadataBytes = 64
        refuses(sample.bytes, limits: small, "metadata budget") { if case .sizeOutOfBounds = $0 { return true }; return false }
        refuses(with { $0.metadata[1].1 = .uint64(32) }, "alignment type") { if case .metadataType(_, "general.alignment", _, _) = $0 { return true }; return false }
        refuses(with { $0.metadata[1].1 = .uint32(24) }, "alignment not a power of two") { if case .malformedHeader = $0 { return true }; return false }
        refuses(with { $0.metadata[1].1 = .uint32(0) }, "alignment 0") { if case .malformedHeader = $0 { return true }; return false }
    }

    /// Offset of the bool byte in a file whose only metadata is ("flag", bool).
    func sampleBoolOffset(_ bytes: [UInt8]) -> Int { 24 + 8 + 4 + 4 }

    @Test func tensorInfoDamage() {
        let info = sample.layout.infos[0]  // "f32": name (8 + 3), rank, dims 3 × 2, type, offset
        let rankField = info + 8 + 3
        refuses(patched(rankField, 0, width: 4), "rank 0") { if case .invalidShape = $0 { return true }; return false }
        refuses(patched(rankField, 5, width: 4), "rank 5") { if case .invalidShape = $0 { return true }; return false }
        refuses(patched(rankField + 4, .max), "huge dimension") { if case .invalidShape = $0 { return true }; return false }
        refuses(with { $0.tensors[0].dims = [1 << 30, 1 << 30, 1 << 30, 1 << 30] }, "element count overflow") { if case .invalidShape = $0 { return true }; return false }
        refuses(patched(rankField + 4 + 16, 99, width: 4), "unknown type") { if case .unsupportedDType(_, "f32", let d) = $0 { return d.contains("99") }; return false }
        refuses(with { $0.tensors = [.init(name: "k", dims: [256], type: .q4_K, data: [UInt8](repeating: 0, count: 144))] }, "unconverted type") {
            if case .unsupportedDType(_, "k", _) = $0 { return true }; return false
        }
        refuses(with { $0.tensors[3].dims = [16, 4] }, "row not a block multiple") { if case .invalidShape(_, "q8_0", _) = $0 { return true }; return false }
        let offsetField = sample.layout.offsetFields[1]
        refuses(patched(offsetField, 8), "misaligned") { if case .tensorOutOfBounds(_, "f16", _) = $0 { return true }; return false }
        refuses(patched(offsetField, 0), "overlap") { if case .tensorOutOfBounds = $0 { return true }; return false }
        refuses(patched(offsetField, 1 << 40), "offset past the end") { if case .truncated = $0 { return true }; return false }
        refuses(patched(offsetField, UInt64.max - 31), "offset overflowing") { if case .truncated = $0 { return true }; return false }
        refuses(with { $0.tensors.append($0.tensors[0]) }, "duplicate name") { $0 == .duplicateTensor(path: "bad.gguf", name: "f32") }
        refuses(with { $0.tensors[0].name = "" }, "empty name") { if case .malformedHeader = $0 { return true }; return false }
        refuses(Array(with { $0.tensors = [$0.tensors[0]] }.dropLast(9)), "data cut short") { if case .truncated = $0 { return true }; return false }
    }

    /// Seeded random damage (bytes set, fields overwritten, lengths cut): typed errors or success, never a crash.
    @Test func randomDamageNeverCrashes() {
        var rng = SeededGenerator(seed: 7)
        for round in 0..<3000 {
            var bytes = sample.bytes
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = [0, 0xFF, 0x7F, 0x80, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
            }
            if round % 5 == 0 { bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng)) }
            do { _ = try open(bytes).readAll() } catch is ImportError {} catch { Issue.record("round \(round): untyped \(error)") }
        }
    }
}

/// SplitMix64: a reproducible generator for the corruption tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
