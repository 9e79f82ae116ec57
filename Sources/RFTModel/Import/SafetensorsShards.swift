import Foundation
import RFTTensor

/// The weights of a Hugging Face folder: one `model.safetensors`, or the shards a
/// `model.safetensors.index.json` names. The index is checked against the shards: shard names
/// are plain file names inside the folder, every indexed tensor is in the shard it names, and
/// no tensor is in two shards or missing from the index.
public final class SafetensorsShards: @unchecked Sendable {
    /// The folder, index or file this was opened from.
    public let path: String
    /// The opened files (one, or each shard once, in index order).
    public let files: [SafetensorsFile]
    /// Every tensor name, in file order then header order.
    public let tensorNames: [String]
    /// The index file's `metadata` strings (`total_size` printed as text), or the single file's `__metadata__`.
    public let metadata: [String: String]
    private let owner: [String: Int]

    /// Opens a `.safetensors` file, a `model.safetensors.index.json`, or a folder holding either
    /// (the index is preferred).
    public init(path: String, limits: ImportLimits = .default) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        var target = path
        if exists && isDirectory.boolValue {
            let index = (path as NSString).appendingPathComponent("model.safetensors.index.json")
            let single = (path as NSString).appendingPathComponent("model.safetensors")
            if FileManager.default.fileExists(atPath: index) { target = index }
            else if FileManager.default.fileExists(atPath: single) { target = single }
            else { throw ImportError.io(path: path, operation: "open (no model.safetensors.index.json or model.safetensors in the folder)", errno: ENOENT) }
        }
        if target.hasSuffix(".json") {
            (files, metadata, owner) = try SafetensorsShards.openIndex(target, limits: limits)
        } else {
            let file = try SafetensorsFile(path: target, limits: limits)
            files = [file]
            metadata = file.metadata
            var owner: [String: Int] = [:]
            for t in file.tensors { owner[t.name] = 0 }
            self.owner = owner
        }
        tensorNames = files.flatMap { $0.tensors.map(\.name) }
    }

    private static func openIndex(_ indexPath: String, limits: ImportLimits) throws
        -> ([SafetensorsFile], [String: String], [String: Int])
    {
        let source = try FileByteSource(path: indexPath)
        guard source.size <= limits.maxHeaderBytes else {
            throw ImportError.sizeOutOfBounds(path: indexPath, field: "index file size", value: source.size, limit: limits.maxHeaderBytes)
        }
        let bytes = try source.bytes(at: 0, count: source.size, section: "index")
        let json: StrictJSON.Value
        do {
            json = try StrictJSON.parse(bytes, maxDepth: limits.maxNestingDepth)
        } catch {
            if let key = error.duplicateKey, error.depth == 2 { throw ImportError.duplicateTensor(path: indexPath, name: key) }
            throw ImportError.malformedHeader(path: indexPath, offset: UInt64(error.offset), reason: error.reason)
        }
        func bad(_ reason: String) -> ImportError { .malformedHeader(path: indexPath, offset: 0, reason: reason) }
        guard let weightMap = json["weight_map"]?.object else { throw bad("no object \"weight_map\"") }
        var metadata: [String: String] = [:]
        if let m = json["metadata"], !m.isNull {
            guard let entries = m.object else { throw bad("\"metadata\" is \(m.typeName), not an object") }
            for (k, v) in entries {
                switch v {
                case .string(let s): metadata[k] = s
                case .number(let n): metadata[k] = n
                case .bool(let b): metadata[k] = String(b)
                default: throw bad("metadata[\(k.debugDescription)] is \(v.typeName)")
                }
            }
        }
        let folder = (indexPath as NSString).deletingLastPathComponent
        var shardNames: [String] = []
        var shardIndex: [String: Int] = [:]
        var wanted: [String: Int] = [:]
        for (tensor, value) in weightMap {
            guard let file = value.string else { throw bad("weight_map[\(tensor.debugDescription)] is \(value.typeName), not a file name") }
            guard !file.isEmpty, !file.contains("/"), !file.contains("\0"), file != ".", file != ".." else {
                throw bad("weight_map[\(tensor.debugDescription)]: \(file.debugDescription) is not a file name inside the folder")
            }
            if shardIndex[file] == nil {
                guard shardNames.count < limits.maxShardCount else {
                    throw ImportError.sizeOutOfBounds(path: indexPath, field: "shard count", value: UInt64(shardNames.count + 1),
                                                      limit: UInt64(limits.maxShardCount))
                }
                shardIndex[file] = shardNames.count
                shardNames.append(file)
            }
            wanted[tensor] = shardIndex[file]!
        }
        var files: [SafetensorsFile] = []
        var owner: [String: Int] = [:]
        for (k, name) in shardNames.enumerated() {
            let file = try SafetensorsFile(path: (folder as NSString).appendingPathComponent(name), limits: limits)
            for t in file.tensors {
                if let other = owner[t.name] {
                    throw ImportError.duplicateTensor(path: file.path, name: t.name + " (also in \(shardNames[other]))")
                }
                guard wanted[t.name] == k else {
                    throw ImportError.malformedHeader(path: indexPath, offset: 0, reason: wanted[t.name] == nil
                        ? "tensor \(t.name.debugDescription) of \(name) is not in weight_map"
                        : "tensor \(t.name.debugDescription) is in \(name), weight_map says \(shardNames[wanted[t.name]!])")
                }
                owner[t.name] = k
            }
            files.append(file)
        }
        for (tensor, k) in wanted where owner[tensor] == nil {
            throw ImportError.missingTensor(path: files[k].path, name: tensor)
        }
        return (files, metadata, owner)
    }

    /// The entry for `name`, or nil.
    public func info(_ name: String) -> SafetensorsTensorInfo? { owner[name].flatMap { files[$0].info(name) } }

    /// Reads tensor `name` as Float32 from whichever shard holds it.
    public func readTensor(_ name: String) throws -> Tensor {
        guard let k = owner[name] else { throw ImportError.missingTensor(path: path, name: name) }
        return try files[k].readTensor(name)
    }

    /// Reads every tensor, in `tensorNames` order.
    public func readAll() throws -> [(name: String, tensor: Tensor)] {
        try tensorNames.map { ($0, try readTensor($0)) }
    }
}
