import Foundation
import Testing
@testable import RFTModel
import RFTTensor

/// Damaged safetensors files: every case is a typed `ImportError`, never a crash.
@Suite struct SafetensorsCorruptionTests {
    let good = try! SafetensorsWriter.encode([("a", Tensor(shape: [2, 2], data: [1, 2, 3, 4])), ("b", Tensor(shape: [2], data: [5, 6]))],
                                             metadata: ["k": "v"])

    func refuses(_ bytes: [UInt8], _ what: String, _ match: (ImportError) -> Bool) {
        do {
            let file = try SafetensorsFile(bytes: bytes, path: "bad.safetensors")
            _ = try file.readAll()
            Issue.record("\(what): accepted")
        } catch let e as ImportError {
            #expect(match(e), "\(what): \(e)")
            #expect(e.description.hasPrefix("bad.safetensors: "))
        } catch {
            Issue.record("\(what): untyped error \(error)")
        }
    }

    func header(_ json: String, data: Int = 24) -> [UInt8] { safetensorsBytes(header: json, data: [UInt8](repeating: 0, count: data)) }
    static let a16 = #""a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"#

    @Test func everyTruncationIsTyped() {
        for n in 0..<good.count {
            do { _ = try SafetensorsFile(bytes: Array(good[0..<n])).readAll(); Issue.record("prefix \(n) accepted") }
            catch is ImportError {} catch { Issue.record("prefix \(n): untyped \(error)") }
        }
    }

    @Test func headerDamage() {
        func isTruncated(_ e: ImportError) -> Bool { if case .truncated = e { return true }; return false }
        func isMalformed(_ e: ImportError) -> Bool { if case .malformedHeader = e { return true }; return false }
        var huge = good
        for i in 0..<8 { huge[i] = 0xFF }
        refuses(huge, "huge header length") { if case .sizeOutOfBounds = $0 { return true }; return false }
        var long = good
        long[3] = 1  // 16 MB header in a small file
        refuses(long, "header past the end", isTruncated)
        refuses(header("{", data: 0), "one-byte header", isMalformed)
        refuses(header("[1, 2]", data: 0), "not an object", isMalformed)
        refuses(header("{\"a\": ", data: 0), "cut JSON", isMalformed)
        refuses(header("{}  x", data: 0), "trailing bytes", isMalformed)
        refuses(safetensorsBytes(header: "{\"a\u{FF}\": 1}", data: []).enumerated().map { $0.offset == 11 ? 0xFF : $0.element }, "bad UTF-8", isMalformed)
        refuses(header(String(repeating: "{\"a\":", count: 20) + "1" + String(repeating: "}", count: 20), data: 0), "deep nesting", isMalformed)
        refuses(header(#"{"__metadata__": {"k": 1}}"#, data: 0), "metadata not strings", isMalformed)
        refuses(header(#"{"__metadata__": [], "a": {}}"#, data: 0), "metadata not an object", isMalformed)
        refuses(header(#"{"__metadata__": {}, "__metadata__": {}}"#, data: 0), "duplicate metadata") { $0 == .duplicateKey(path: "bad.safetensors", key: "__metadata__") }
    }

    @Test func entryDamage() {
        func isShape(_ e: ImportError) -> Bool { if case .invalidShape = e { return true }; return false }
        func isMalformed(_ e: ImportError) -> Bool { if case .malformedHeader = e { return true }; return false }
        func isPlace(_ e: ImportError) -> Bool { if case .tensorOutOfBounds = e { return true }; return false }
        refuses(header("{\(Self.a16), \(Self.a16)}", data: 16), "duplicate name") { $0 == .duplicateTensor(path: "bad.safetensors", name: "a") }
        refuses(header(#"{"a":{"dtype":"F33","shape":[2,2],"data_offsets":[0,16]}}"#, data: 16), "unknown dtype") {
            if case .unsupportedDType(_, "a", _) = $0 { return true }; return false
        }
        refuses(header(#"{"a":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}"#, data: 16), "unconverted dtype") {
            if case .unsupportedDType(_, "a", _) = $0 { return true }; return false
        }
        refuses(header(#"{"a":{"dtype":5,"shape":[2,2],"data_offsets":[0,16]}}"#, data: 16), "dtype not a string", isMalformed)
        refuses(header(#"{"a":{"dtype":"F32","shape":[-2,2],"data_offsets":[0,16]}}"#, data: 16), "negative dimension", isShape)
        refuses(header(#"{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,16]}}"#, data: 16), "fractional dimension", isShape)
        refuses(header(#"{"a":{"dtype":"F32","shape":[99999999999],"data_offsets":[0,16]}}"#, data: 16), "huge dimension", isShape)
        refuses(header(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,16]}}"#, data: 16), "overflow", isShape)
        refuses(header(#"{"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}"#, data: 4), "rank 9", isShape)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0]}}"#, data: 16), "one offset", isMalformed)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[16,0]}}"#, data: 16), "backwards", isPlace)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#, data: 12), "size mismatch") { if case .inconsistentSize = $0 { return true }; return false }
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, data: 8), "past the data") { if case .truncated = $0 { return true }; return false }
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[18446744073709551600,18446744073709551616]}}"#, data: 16), "offset overflow", isMalformed)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[18446744073709551599,18446744073709551615]}}"#, data: 16), "huge offset") {
            if case .truncated = $0 { return true }; return false
        }
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: 16), "overlap", isPlace)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}"#, data: 24), "hole", isPlace)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#, data: 20), "trailing data", isPlace)
        refuses(header(#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16],"extra":1}}"#, data: 16), "unknown field", isMalformed)
        refuses(header(#"{"a":[1]}"#, data: 0), "entry not an object", isMalformed)
        refuses(header(#"{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#, data: 4), "empty name", isMalformed)
        var small = ImportLimits()
        small.maxTensorBytes = 8
        #expect(throws: ImportError.self) { try SafetensorsFile(bytes: good, limits: small) }
        #expect(throws: ImportError.missingTensor(path: "<memory>", name: "zz")) { try SafetensorsFile(bytes: good).readTensor("zz") }
    }

    @Test func notARegularFile() {
        #expect(throws: ImportError.self) { try SafetensorsFile(path: "/dev/null") }
        #expect(throws: ImportError.self) { try SafetensorsFile(path: "/") }
        #expect(throws: ImportError.self) { try SafetensorsFile(path: "/nonexistent.safetensors") }
    }

    @Test func randomDamageNeverCrashes() {
        var rng = SeededGenerator(seed: 11)
        for round in 0..<3000 {
            var bytes = good
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let i = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[i] = [0x22, 0x7B, 0x7D, 0x2C, 0x30, 0x39, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
            }
            do { _ = try SafetensorsFile(bytes: bytes).readAll() } catch is ImportError {} catch { Issue.record("round \(round): untyped \(error)") }
        }
    }
}
