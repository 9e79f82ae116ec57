import Foundation

/// A configuration value written as one string in files and flags (`1%`, `1-3`, `auto:0.05`).
public protocol ConfigText: Codable, Sendable {
    /// Parses the written form; throws a `ConfigError` or any error whose description says why not.
    init(parsing text: String) throws
    /// The written form (`init(parsing: text)` gives the value back).
    var text: String { get }
    /// What the written form looks like, for help and errors (`N or A-B`).
    static var format: String { get }
}

/// An enum configuration value: one of its string raw values.
public protocol ConfigChoice: CaseIterable, RawRepresentable, Codable, Sendable where RawValue == String {}

extension ConfigChoice {
    /// Every raw value, in declaration order.
    static var choiceNames: [String] { allCases.map(\.rawValue) }
    /// The raw value.
    var choiceText: String { rawValue }
}

/// What kind of value a key holds.
public indirect enum ConfigKind: CustomStringConvertible {
    /// true or false.
    case bool
    /// A signed integer.
    case integer
    /// A non-negative integer up to 2⁵³ (seeds).
    case unsignedInteger
    /// A finite number.
    case number
    /// Any text.
    case string
    /// A list of strings (`[python3, r.py]`).
    case list
    /// A list of finite numbers (`[1.0, 0.5]`).
    case numberList
    /// One of these names.
    case choice([String])
    /// A string in the form the type parses.
    case text(any ConfigText.Type)
    /// The kind, or nothing (null; the help says what nothing means).
    case optional(ConfigKind)

    /// The kind of a stored property's type, or nil when the type is not a configuration value.
    init?(_ type: Any.Type) {
        if let o = type as? any OptionalValue.Type {
            guard let wrapped = ConfigKind(o.wrappedType) else { return nil }
            self = .optional(wrapped)
        } else if type == Bool.self { self = .bool }
        else if type == Int.self { self = .integer }
        else if type == UInt64.self { self = .unsignedInteger }
        else if type == Float.self || type == Double.self { self = .number }
        else if type == String.self { self = .string }
        else if type == [String].self { self = .list }
        else if type == [Double].self { self = .numberList }
        else if let c = type as? any ConfigChoice.Type { self = .choice(c.choiceNames) }
        else if let t = type as? any ConfigText.Type { self = .text(t) }
        else { return nil }
    }

    /// Whether `text` is one of this kind's values (a choice's name, or a text the type parses).
    func takes(_ text: String) -> Bool {
        switch self {
        case .choice(let names): return names.contains(text)
        case .text(let type): return (try? type.init(parsing: text)) != nil
        default: return false
        }
    }

    /// `<int>`, `<float>`, `grpo|rloo`, … for help.
    public var description: String {
        switch self {
        case .bool: return "<bool>"
        case .integer, .unsignedInteger: return "<int>"
        case .number: return "<float>"
        case .string: return "<text>"
        case .list: return "<args…>"
        case .numberList: return "<floats…>"
        case .choice(let names): return names.joined(separator: "|")
        case .text(let t): return "<\(t.format)>"
        case .optional(let k): return k.description
        }
    }
}

/// Lets the schema see through `Optional` to the wrapped type.
protocol OptionalValue { static var wrappedType: Any.Type { get } }
extension Optional: OptionalValue { static var wrappedType: Any.Type { Wrapped.self } }

/// One key of a configuration type.
public struct ConfigEntry {
    /// The key as users write it, sections dotted (`sft.max_steps`).
    public let key: String
    /// Where it sits in the type's Codable form (snake_case property names, flattened parts included).
    let path: [String]
    /// Its kind.
    public let kind: ConfigKind
    /// One line of help.
    public let help: String
    /// Its value in the instance the entries were read from (the defaults, for `entries(_:)`).
    public let value: Any
}

/// The keys of a configuration type, read off its `init()` with `Mirror`, and the conversions
/// between what users write (text in files and flags) and the type's Codable form.
public enum ConfigSchema {
    /// Every key of `type` that users can set, in declaration order.
    public static func entries(_ type: any Configuration.Type) -> [ConfigEntry] {
        var out: [ConfigEntry] = []
        walk(type.init(), path: [], visible: [], into: &out)
        return out
    }

    /// The keys `type` hides, with the reason (`sft.seed` → "set from seed").
    static func hidden(_ type: any Configuration.Type) -> [String: String] {
        var out: [String: String] = [:]
        func collect(_ value: any Configuration, visible: [String]) {
            let t = Swift.type(of: value)
            for (k, reason) in t.hiddenKeys { out[(visible + [k]).joined(separator: ".")] = reason }
            for child in Mirror(reflecting: value).children {
                guard let label = child.label, let section = child.value as? any Configuration else { continue }
                collect(section, visible: t.flattened.contains(label) ? visible : visible + [snakeCase(label)])
            }
        }
        collect(type.init(), visible: [])
        return out
    }

    /// The keys of `value` with their values, in declaration order (for writing a config file back).
    static func values(_ value: any Configuration) -> [(entry: ConfigEntry, value: Any)] {
        var entries: [ConfigEntry] = []
        walk(value, path: [], visible: [], into: &entries)
        return entries.map { ($0, $0.value) }
    }

    private static func walk(_ value: any Configuration, path: [String], visible: [String], into out: inout [ConfigEntry]) {
        let t = type(of: value)
        let start = out.count
        for child in Mirror(reflecting: value).children {
            guard let label = child.label else { continue }
            let key = snakeCase(label)
            if let section = child.value as? any Configuration {
                walk(section, path: path + [key], visible: t.flattened.contains(label) ? visible : visible + [key], into: &out)
            } else if let kind = ConfigKind(Swift.type(of: child.value)) {
                out.append(ConfigEntry(key: (visible + [key]).joined(separator: "."), path: path + [key], kind: kind,
                                       help: t.help[key] ?? "", value: child.value))
            }
        }
        // keys this level hides (relative to it) leave the schema
        let prefix = visible.isEmpty ? "" : visible.joined(separator: ".") + "."
        let hidden = Set(t.hiddenKeys.keys.map { prefix + $0 })
        if !hidden.isEmpty { out.replaceSubrange(start..., with: out[start...].filter { !hidden.contains($0.key) }) }
    }

    /// `learningRate` → `learning_rate` (as JSONEncoder's `convertToSnakeCase` for names without acronyms).
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for c in name {
            if c.isUppercase { out += "_" + c.lowercased() } else { out.append(c) }
        }
        return out
    }

    /// The flag for a key: `sft.max_steps` → `--sft-max-steps`.
    public static func flag(for key: String) -> String {
        "--" + key.replacingOccurrences(of: ".", with: "-").replacingOccurrences(of: "_", with: "-")
    }

    /// The key written as text: a config-file scalar, a flag value, or `nil` for none.
    static func text(of value: Any) -> String? {
        if let o = value as? any OptionalValue, let unwrapped = unwrap(o) { return text(of: unwrapped) }
        if value is any OptionalValue { return nil }
        switch value {
        case let v as any ConfigText: return v.text
        case let v as any ConfigChoice: return v.choiceText
        case let v as [String]: return "[" + v.map(quoted).joined(separator: ", ") + "]"
        case let v as [Double]: return "[" + v.map { "\($0)" }.joined(separator: ", ") + "]"
        case let v as String: return v
        default: return "\(value)"
        }
    }

    private static func unwrap(_ value: any OptionalValue) -> Any? {
        let m = Mirror(reflecting: value)
        guard m.displayStyle == .optional else { return value }
        return m.children.first?.value
    }

    /// `text` as a YAML/JSON double-quoted string when it needs quoting, else unchanged.
    static func quoted(_ text: String) -> String {
        let plain = !text.isEmpty && text.allSatisfy { $0.isLetter || $0.isNumber || "-_./+%:".contains($0) }
            && !["true", "false", "yes", "no", "on", "off", "null", "~"].contains(text.lowercased())
            && Double(text) == nil && !text.hasPrefix("-")
        if plain { return text }
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Converts a written value to the Codable form of `kind`; throws `badValue` naming the key.
    static func convert(_ value: ConfigValue, kind: ConfigKind, key: String, source: ConfigSource) throws -> JSONValue {
        func bad(_ expected: String) -> ConfigError {
            .badValue(key: key, value: value.text, expected: expected, source: source)
        }
        if case .optional(let wrapped) = kind {
            if case .null = value { return .null }
            return try convert(value, kind: wrapped, key: key, source: source)
        }
        if case .list(let items) = value {
            switch kind {
            case .list: return .array(items.map { .string($0) })
            case .numberList:
                return .array(try items.map { item in
                    guard let n = Double(item.trimmingCharacters(in: .whitespaces)), n.isFinite else { throw bad("expected finite numbers") }
                    return .number(n)
                })
            default: throw bad("expected one value, not a list")
            }
        }
        guard case .scalar(let text) = value else { throw bad("a value is required") }
        switch kind {
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw bad("expected true or false")
            }
        case .integer, .unsignedInteger:
            let limit = 9_007_199_254_740_992.0  // 2⁵³: every integer up to it survives the JSON form
            let number = Int(text).map(Double.init) ?? Double(text)
            guard let n = number, n.isFinite, n == n.rounded(), abs(n) <= limit else { throw bad("expected an integer") }
            if case .unsignedInteger = kind, n < 0 { throw bad("expected an integer ≥ 0") }
            return .number(n)
        case .number:
            guard let n = Double(text.trimmingCharacters(in: .whitespaces)) else { throw bad("expected a number") }
            guard n.isFinite else { throw bad("expected a finite number") }
            return .number(n)
        case .string:
            return .string(text)
        case .list, .numberList:
            throw bad("expected a list (`[a, b]` in a file, or the values after the flag)")
        case .choice(let names):
            guard names.contains(text) else {
                let near = nearest(text, in: names).map { "; did you mean \($0)?" } ?? ""
                throw bad("expected one of \(names.joined(separator: ", "))\(near)")
            }
            return .string(text)
        case .text(let type):
            do { return .string(try type.init(parsing: text).text) } catch let e as ConfigError {
                throw e
            } catch {
                throw bad("\(error)")
            }
        case .optional:
            preconditionFailure("unwrapped above")
        }
    }

    /// The name in `names` closest to `word`: by edit distance when it is close enough to be a
    /// typo, else the shortest name that ends with it as a word (`--steps` → `--max-steps`).
    public static func nearest(_ word: String, in names: [String]) -> String? {
        let scored = names.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        if let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }), best.1 <= max(2, word.count / 3) { return best.0 }
        let bare = word.drop { $0 == "-" }.lowercased()
        guard bare.count >= 3 else { return nil }
        return names.filter { $0.lowercased().hasSuffix("-" + bare) || $0.lowercased().hasSuffix("_" + bare) || $0.lowercased().hasSuffix("." + bare) }
            .min { ($0.count, $0) < ($1.count, $1) }
    }

    /// Levenshtein distance.
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
