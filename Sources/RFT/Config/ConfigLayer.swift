import Foundation
import Yams

/// A configuration value as written: one scalar's text, a list of them, or null.
public enum ConfigValue: Equatable, Sendable {
    /// A scalar (numbers, booleans and names are all text until the key's kind reads them).
    case scalar(String)
    /// A list of scalars.
    case list([String])
    /// Nothing (`null`, `~` or an empty value in YAML).
    case null

    /// The value as it would be written.
    var text: String {
        switch self {
        case .scalar(let s): return s
        case .list(let l): return "[" + l.joined(separator: ", ") + "]"
        case .null: return "null"
        }
    }
}

/// Settings as users wrote them, by key (`sft.max_steps`), each with where it came from.
/// Config files and flags are added in order (a later setting of a key wins: flags after files),
/// and `resolve` turns the whole into a validated configuration.
public struct ConfigLayer: Sendable {
    /// The settings in the order they were first made, with the latest value of each.
    public private(set) var settings: [(key: String, value: ConfigValue, source: ConfigSource)] = []
    private var position: [String: Int] = [:]

    /// An empty layer (every key at its default).
    public init() {}

    /// Sets `key` (a later setting replaces an earlier one).
    public mutating func set(_ key: String, _ value: ConfigValue, source: ConfigSource) {
        if let i = position[key] { settings[i] = (key, value, source) } else {
            position[key] = settings.count
            settings.append((key, value, source))
        }
    }

    /// Where `key` was set, if it was.
    public func source(of key: String) -> ConfigSource? { position[key].map { settings[$0].source } }

    /// Adds a JSON-like tree (nested objects are sections).
    public mutating func add(tree: [String: JSONValue], source: ConfigSource, prefix: String = "") throws {
        for (key, value) in tree.sorted(by: { $0.key < $1.key }) {
            let name = prefix + key
            switch value {
            case .object(let inner): try add(tree: inner, source: source, prefix: name + ".")
            case .null: set(name, .null, source: source)
            case .array(let items):
                set(name, .list(try items.map { item in
                    guard let text = Self.scalarText(item) else {
                        throw ConfigError.badValue(key: name, value: "[…]", expected: "a list of strings or numbers", source: source)
                    }
                    return text
                }), source: source)
            default: set(name, .scalar(Self.scalarText(value)!), source: source)
            }
        }
    }

    /// A JSON scalar as text (integers without a decimal point), or nil for arrays and objects.
    private static func scalarText(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .null: return "null"
        case .array, .object: return nil
        }
    }

    /// Adds a config file: YAML (read by Yams; nested mappings are sections) or JSON.
    /// Every error names the file and, for YAML, the line.
    public mutating func add(file path: String) throws {
        let bytes: [UInt8]
        do { bytes = try RegularFile.read(path, limit: 1 << 20) } catch let e as FileReadError {
            throw ConfigError.file(path: path, line: nil, reason: e.reason)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError.file(path: path, line: nil, reason: "not UTF-8 text")
        }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if path.hasSuffix(".json") || trimmed.hasPrefix("{") {
            guard case .object(let tree)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)) else {
                throw ConfigError.file(path: path, line: nil, reason: "not a JSON object")
            }
            try add(tree: tree, source: .file(path: path, line: nil))
            return
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError.file(path: path, line: Self.line(of: error), reason: "not valid YAML: \(Self.yamlProblem(error))")
        }
        guard let root else { return }  // an empty file sets nothing
        guard case .mapping(let mapping) = root else {
            throw ConfigError.file(path: path, line: root.mark?.line, reason: "expected a mapping of keys to values")
        }
        try add(mapping: mapping, path: path, prefix: "")
    }

    private mutating func add(mapping: Node.Mapping, path: String, prefix: String) throws {
        var seen = Set<String>()
        for (keyNode, valueNode) in mapping {
            let line = keyNode.mark?.line
            guard let key = keyNode.scalar?.string, !key.isEmpty else {
                throw ConfigError.file(path: path, line: line, reason: "keys must be plain names")
            }
            let name = prefix + key
            guard seen.insert(key).inserted else { throw ConfigError.file(path: path, line: line, reason: "\(name) appears twice") }
            let source = ConfigSource.file(path: path, line: line)
            switch valueNode {
            case .scalar(let s):
                set(name, valueNode.null != nil && s.style == .plain ? .null : .scalar(s.string), source: source)
            case .sequence(let items):
                set(name, .list(try items.map { item in
                    guard let s = item.scalar?.string else {
                        throw ConfigError.file(path: path, line: item.mark?.line, reason: "\(name): list items must be plain values")
                    }
                    return s
                }), source: source)
            case .mapping(let inner):
                try add(mapping: inner, path: path, prefix: name + ".")
            case .alias:
                throw ConfigError.file(path: path, line: line, reason: "\(name): YAML aliases are not supported")
            }
        }
    }

    private static func line(of error: Error) -> Int? {
        if case YamlError.scanner(_, _, let mark, _) = error { return mark.line }
        if case YamlError.parser(_, _, let mark, _) = error { return mark.line }
        return nil
    }

    private static func yamlProblem(_ error: Error) -> String {
        if case YamlError.scanner(_, let problem, _, _) = error { return problem }
        if case YamlError.parser(_, let problem, _, _) = error { return problem }
        return "\(error)"
    }

    /// The configuration these settings describe: `T()`'s defaults with every setting applied,
    /// validated. Throws for an unknown key (naming the nearest known one), a value of the wrong
    /// kind, or a rule the result breaks (pointing at where that key was set). TRL keys that do
    /// not change a CPU run (`bf16`, `use_vllm`, …) are skipped, each with a warning.
    public func resolve<T: Configuration>(_ type: T.Type) throws -> (config: T, warnings: [String]) {
        let entries = ConfigSchema.entries(T.self)
        let byKey = Dictionary(entries.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let hidden = ConfigSchema.hidden(T.self)
        var tree = try Self.encode(T())
        var warnings: [String] = []
        for (key, value, source) in settings {
            guard let entry = byKey[key] else {
                if let reason = hidden[key] { throw ConfigError.unsupportedKey(key: key, reason: reason, source: source) }
                if let trl = TRLKeys[key] {
                    guard trl.ignored else { throw ConfigError.unsupportedKey(key: key, reason: trl.reason, source: source) }
                    warnings.append("\(source.isFlag || source == .library ? key : "\(source): \(key)") ignored: \(trl.reason)")
                    continue
                }
                throw ConfigError.unknownKey(key: key, suggestion: ConfigSchema.nearest(key, in: entries.map(\.key)), source: source)
            }
            Self.set(&tree, at: entry.path[...], try ConfigSchema.convert(value, kind: entry.kind, key: key, source: source))
        }
        let config: T
        do {
            config = try JSONDecoder.snakeCase.decode(T.self, from: JSONEncoder().encode(tree))
        } catch {
            throw ConfigError.invalid(key: "", reason: "cannot build the configuration: \(error)")
        }
        do { try config.validate() } catch ConfigError.invalid(let key, let reason, _) {
            throw ConfigError.invalid(key: key, reason: reason, source: source(of: key) ?? .library)
        }
        return (config, warnings)
    }

    /// A configuration's Codable form as a tree (snake_case keys).
    static func encode(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder.snakeCase.encode(value))
    }

    private static func set(_ tree: inout JSONValue, at path: ArraySlice<String>, _ value: JSONValue) {
        guard let first = path.first else { tree = value; return }
        guard case .object(var object) = tree else { return }
        var child = object[first] ?? .object([:])
        set(&child, at: path.dropFirst(), value)
        object[first] = child
        tree = .object(object)
    }
}

extension JSONEncoder {
    /// snake_case keys, sorted, slashes unescaped: how configurations, metrics and reports are written.
    public static var snakeCase: JSONEncoder {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension JSONDecoder {
    /// snake_case keys, as `JSONEncoder.snakeCase` writes them.
    public static var snakeCase: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
