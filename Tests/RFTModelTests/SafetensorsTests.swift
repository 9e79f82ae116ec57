import Foundation
import Testing
@testable import RFTModel
import RFTTensor

/// A safetensors file from a raw header and data (no validation: for damaged files).
func safetensorsBytes(header: String, data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.le(UInt64(header.utf8.count))
    return out + Array(header.utf8) + data
}

/// The safetensors reader and writer: round trips, dtypes, shards.
@Suite struct SafetensorsTests {
    let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, 0, 1e-3, -65504])
    let b = Tensor(shape: [4], data: [0.1, 0.2, 0.3, 0.4])
    let scalar = Tensor(scalar: 7)

    @Test func roundTripF32() throws {
        let bytes = try SafetensorsWriter.encode([("a", a), ("b", b), ("s", scalar)], metadata: ["format": "pt"])
        #expect(bytes.count % 4 == 0)
        let file = try SafetensorsFile(bytes: bytes)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.tensors.map(\.name) == ["a", "b", "s"])
        #expect(file.info("a")?.shape == [2, 3] && file.info("a")?.dtype == .f32)
        #expect(try file.readTensor("a").toArray() == a.toArray())
        #expect(try file.readTensor("b").toArray() == b.toArray())
        #expect(try file.readTensor("s").shape == [] && file.readTensor("s").toArray() == [7])
        #expect((8 + Int(file.dataStart - 8)) % 8 == 0)
    }

    @Test func roundTripBF16() throws {
        let file = try SafetensorsFile(bytes: try SafetensorsWriter.encode([("a", a)], dtype: .bf16))
        #expect(file.info("a")?.dtype == .bf16)
        #expect(try file.readTensor("a").toArray() == a.toArray().map { HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16($0)) })
        #expect(HalfPrecision.bfloat16(1.00390625) == 0x3F80)  // halfway: rounds to even
        #expect(HalfPrecision.bfloat16(1.01171875) == 0x3F82)
        #expect(HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16(.nan)).isNaN)
    }

    @Test func readsF16() throws {
        let values: [Float] = [1, -0.5, 65504, 6e-8, .infinity]
        let data = GGMLBlocks.f16(values)
        let file = try SafetensorsFile(bytes: safetensorsBytes(header: #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]}}"#, data: data))
        #expect(try file.readTensor("h").toArray() == values.map { Float(Float16($0)) })
    }

    @Test func writesAFileAtomically() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try SafetensorsWriter.write([("a", a)], to: dir + "/model.safetensors")
        let shards = try SafetensorsShards(path: dir)
        #expect(shards.tensorNames == ["a"])
        #expect(try shards.readTensor("a").toArray() == a.toArray())
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.safetensors"])
        #expect(throws: ImportError.self) { try SafetensorsWriter.write([("a", a), ("a", b)], to: dir + "/x.safetensors") }
        #expect(throws: ImportError.self) { try SafetensorsWriter.write([("", a)], to: dir + "/x.safetensors") }
        #expect(throws: ImportError.self) { try SafetensorsWriter.write([("a", a)], dtype: .f16, to: dir + "/x.safetensors") }
    }

    /// A folder with `model.safetensors.index.json` and two shards.
    func shardedFolder(index: String? = nil, second: [(String, Tensor)]? = nil) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shards-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try SafetensorsWriter.write([("a", a)], to: dir + "/model-00001-of-00002.safetensors")
        try SafetensorsWriter.write(second ?? [("b", b), ("s", scalar)], to: dir + "/model-00002-of-00002.safetensors")
        let text = index ?? #"{"metadata": {"total_size": 44}, "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "s": "model-00002-of-00002.safetensors"}}"#
        try text.write(toFile: dir + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        return dir
    }

    @Test func readsShards() throws {
        let dir = try shardedFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let shards = try SafetensorsShards(path: dir)
        #expect(shards.files.count == 2)
        #expect(shards.tensorNames == ["a", "b", "s"])
        #expect(shards.metadata["total_size"] == "44")
        #expect(try shards.readAll().map { $0.tensor.toArray() } == [a.toArray(), b.toArray(), [7]])
        #expect(throws: ImportError.missingTensor(path: dir, name: "zz")) { try shards.readTensor("zz") }
    }

    @Test func refusesInconsistentShards() throws {
        let cases: [(String, String?, [(String, Tensor)]?)] = [
            ("path escape", #"{"weight_map": {"a": "../model-00001-of-00002.safetensors"}}"#, nil),
            ("missing shard", #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "nope.safetensors"}}"#, nil),
            ("wrong shard", #"{"weight_map": {"a": "model-00002-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}}"#, nil),
            ("not in index", #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}"#, nil),
            ("missing tensor", #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "s": "model-00002-of-00002.safetensors", "t": "model-00002-of-00002.safetensors"}}"#, nil),
            ("duplicate across shards", nil, [("a", a), ("b", b), ("s", scalar)]),
            ("duplicate in the index", #"{"weight_map": {"a": "model-00001-of-00002.safetensors", "a": "model-00002-of-00002.safetensors"}}"#, nil),
            ("no weight_map", #"{"metadata": {}}"#, nil),
            ("weight_map value", #"{"weight_map": {"a": 3}}"#, nil),
            ("not JSON", #"{"weight_map": "#, nil),
        ]
        for (name, index, second) in cases {
            let dir = try shardedFolder(index: index, second: second)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            #expect(throws: ImportError.self, "\(name)") { try SafetensorsShards(path: dir) }
        }
        #expect(throws: ImportError.self) { try SafetensorsShards(path: "/nonexistent-dir-rft") }
    }
}
