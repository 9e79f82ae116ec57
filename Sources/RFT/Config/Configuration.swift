import Foundation

/// A settings type that config files and command-line flags fill in. Codable, with a default
/// for every key in `init()`, so that a file or a command line names only what it changes:
/// the library, `--config` files (YAML or JSON) and flags all read the same type, and every
/// default is written once, in `init()`.
///
/// Keys are the snake_case names of the stored properties (`learningRate` → `learning_rate`).
/// A property that is itself a `Configuration` is a section (`sft.max_steps`), unless it is
/// listed in `flattened`: then its keys sit at this level (a TRL GRPO file is flat).
public protocol Configuration: Codable, Equatable, Sendable {
    /// The defaults.
    init()
    /// One line of help per key of this type (snake_case key → text), shown by `--help`.
    static var help: [String: String] { get }
    /// Property names whose keys sit at this level instead of in a section of their own.
    static var flattened: Set<String> { get }
    /// Keys (as users write them, `sft.seed`) that this type reads from elsewhere or not at all,
    /// with the reason: they are neither shown nor accepted.
    static var hiddenKeys: [String: String] { get }
    /// Throws `ConfigError.invalid` naming the first key whose value breaks a rule.
    func validate() throws
}

extension Configuration {
    /// No help.
    public static var help: [String: String] { [:] }
    /// Nothing flattened.
    public static var flattened: Set<String> { [] }
    /// Nothing hidden.
    public static var hiddenKeys: [String: String] { [:] }
    /// Every value is allowed.
    public func validate() throws {}

    /// The defaults with `tree` (keys as users write them, sections nested or dotted) applied,
    /// validated. Unknown keys are errors that name the nearest known key.
    public static func decode(_ tree: [String: JSONValue]) throws -> Self {
        var layer = ConfigLayer()
        try layer.add(tree: tree, source: .library)
        return try layer.resolve(Self.self).config
    }
}

/// Where a setting came from, so an error can point at it.
public enum ConfigSource: Equatable, Sendable, CustomStringConvertible {
    /// Set in code.
    case library
    /// A command-line flag (as typed).
    case flag(String)
    /// A config file, at a line when known.
    case file(path: String, line: Int?)

    /// `--beta`, `run.yaml:3`, or empty for the library.
    public var description: String {
        switch self {
        case .library: return ""
        case .flag(let f): return f
        case .file(let p, let l): return l.map { "\(p):\($0)" } ?? p
        }
    }
}

/// What is wrong with a configuration: the key, the rule or the value, and where it was set.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    /// A value breaks a rule (`beta must be ≥ 0, got -1`); `source` is where it was set.
    case invalid(key: String, reason: String, source: ConfigSource = .library)
    /// No key of that name; `suggestion` is the nearest known one.
    case unknownKey(key: String, suggestion: String?, source: ConfigSource)
    /// A key rft knows it does not read here, with the reason.
    case unsupportedKey(key: String, reason: String, source: ConfigSource)
    /// A value of the wrong kind (`expected an integer`).
    case badValue(key: String, value: String, expected: String, source: ConfigSource)
    /// A config file cannot be read or parsed.
    case file(path: String, line: Int?, reason: String)
    /// A command line that cannot be parsed (a flag without its value…).
    case commandLine(String)

    /// One line naming where, what and why.
    public var description: String {
        func at(_ s: ConfigSource, _ key: String) -> String {
            switch s {
            case .library: return key
            case .flag(let f): return f
            case .file: return "\(s): \(key)"
            }
        }
        switch self {
        case .invalid(let k, let r, let s): return "\(at(s, k)): \(r)"
        case .unknownKey(let k, let suggestion, let s):
            let name = s.isFlag ? "flag" : "key"
            return "\(s.isFlag ? s.description : at(s, k)): unknown \(name)" + (suggestion.map { "; did you mean \(s.isFlag && !$0.hasPrefix("--") ? ConfigSchema.flag(for: $0) : $0)?" } ?? "")
        case .unsupportedKey(let k, let r, let s): return "\(at(s, k)): not supported by rft: \(r)"
        case .badValue(let k, let v, let e, let s): return "\(at(s, k)) \(v.debugDescription): \(e)"
        case .file(let p, let l, let r): return (l.map { "\(p):\($0)" } ?? p) + ": " + r
        case .commandLine(let r): return r
        }
    }

    /// The same error with its key prefixed by `section.` (for errors of a nested section).
    func inSection(_ section: String) -> ConfigError {
        guard case .invalid(let k, let r, let s) = self, !section.isEmpty else { return self }
        return .invalid(key: section + "." + k, reason: r, source: s)
    }
}

extension ConfigSource {
    var isFlag: Bool { if case .flag = self { return true } else { return false } }
}

/// Validation helpers: each throws `ConfigError.invalid` for `key` when the rule fails.
public enum ConfigRule {
    /// `value` ≥ `minimum` (and ≤ `maximum` when given).
    public static func range<T: Comparable & CustomStringConvertible>(_ key: String, _ value: T, _ minimum: T, _ maximum: T? = nil) throws {
        if value < minimum || maximum.map({ value > $0 }) == true {
            let bound = maximum.map { "in \(minimum)…\($0)" } ?? "≥ \(minimum)"
            throw ConfigError.invalid(key: key, reason: "must be \(bound), got \(value)")
        }
    }

    /// `value` is finite and ≥ `minimum` (and ≤ `maximum` when given).
    public static func finite<T: BinaryFloatingPoint & CustomStringConvertible>(_ key: String, _ value: T, _ minimum: T, _ maximum: T? = nil) throws {
        guard value.isFinite else { throw ConfigError.invalid(key: key, reason: "must be a finite number, got \(value)") }
        try range(key, value, minimum, maximum)
    }

    /// `value` is finite and > 0.
    public static func positive<T: BinaryFloatingPoint & CustomStringConvertible>(_ key: String, _ value: T) throws {
        guard value.isFinite, value > 0 else { throw ConfigError.invalid(key: key, reason: "must be a finite number > 0, got \(value)") }
    }

    /// Sampling settings: temperature in [0, 100] (above 0 when `positive`), top_k ≥ 0, top_p in (0, 1].
    public static func sampling(temperature: Float, topK: Int, topP: Float, positive: Bool = false) throws {
        try finite("temperature", temperature, 0, 100)
        if positive && temperature <= 0 { throw ConfigError.invalid(key: "temperature", reason: "must be > 0 to sample, got \(temperature)") }
        try range("top_k", topK, 0)
        try finite("top_p", topP, 0, 1)
        if topP <= 0 { throw ConfigError.invalid(key: "top_p", reason: "must be in (0, 1], got \(topP)") }
    }

    /// Runs `body`, prefixing the key of an `invalid` error with `section`.
    public static func section(_ section: String, _ body: () throws -> Void) throws {
        do { try body() } catch let e as ConfigError { throw e.inSection(section) }
    }
}
