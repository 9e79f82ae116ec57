/// A command line read against a configuration type: every key is a flag (`sft.max_steps` is
/// `--sft-max-steps`; underscores work too), plus `--config FILE`, the command's own switches
/// (`--resume`) and positional arguments.
///
/// - A scalar flag takes the next argument as its value, whatever it looks like (`--max-steps -5`),
///   or `--flag=value`.
/// - A boolean flag alone means true; `--flag=false` or `--flag false` sets false.
/// - A list flag (`--reward-cmd python3 -u r.py`) takes the arguments up to the next flag of this
///   command or a lone `--`; an argument that is one of rft's flags goes in a config file instead.
public struct CommandLineArguments: Sendable {
    /// The flags as settings (to be applied after the config files).
    public var flags = ConfigLayer()
    /// The `--config` files, in order.
    public var configFiles: [String] = []
    /// The command's switches that were given.
    public var switches: Set<String> = []
    /// Positional arguments.
    public var positional: [String] = []

    /// Short names for the keys every user types (`--model`, `--output`).
    public static let aliases = ["model": "model_name_or_path", "output": "output_dir"]

    /// Reads `arguments` for a command configured by `type`, with `switches` (names without
    /// dashes) and at most `maxPositional` positional arguments.
    public static func parse(_ arguments: [String], for type: any Configuration.Type, switches: Set<String> = [],
                             maxPositional: Int = 0) throws -> CommandLineArguments {
        let entries = ConfigSchema.entries(type)
        var flags: [String: ConfigEntry] = [:]
        for e in entries { flags[ConfigSchema.flag(for: e.key)] = e }
        for (alias, key) in aliases { if let e = entries.first(where: { $0.key == key }) { flags["--" + alias] = e } }
        let switchFlags = Set(switches.map { "--" + $0 })
        func isFlag(_ a: String) -> Bool {
            let name = normalized(a.split(separator: "=", maxSplits: 1).first.map(String.init) ?? a)
            return flags[name] != nil || switchFlags.contains(name) || name == "--config"
        }

        var out = CommandLineArguments()
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                guard out.positional.count < maxPositional else {
                    throw ConfigError.commandLine("unexpected argument \(argument.debugDescription)" +
                        (argument.hasPrefix("-") ? " (flags are spelled --name)" : ""))
                }
                out.positional.append(argument)
                continue
            }
            let parts = argument.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let name = normalized(parts[0])
            let inline = parts.count == 2 ? parts[1] : nil
            func value() throws -> String {
                if let inline { return inline }
                guard i < arguments.count else { throw ConfigError.commandLine("\(name) needs a value") }
                defer { i += 1 }
                return arguments[i]
            }
            if name == "--config" { out.configFiles.append(try value()); continue }
            if switchFlags.contains(name) {
                guard inline == nil else { throw ConfigError.commandLine("\(name) takes no value") }
                out.switches.insert(String(name.dropFirst(2)))
                continue
            }
            guard let entry = flags[name] else {
                // a key this command hides, or one of TRL's it does not read: a setting, so that
                // resolving it says why (and skips TRL's harmless ones with a warning)
                if let key = (Array(ConfigSchema.hidden(type).keys) + TRLKeys.names).first(where: { ConfigSchema.flag(for: $0) == name }) {
                    var value = ConfigValue.scalar(inline ?? "true")
                    if inline == nil, i < arguments.count, !arguments[i].hasPrefix("--") { value = .scalar(arguments[i]); i += 1 }
                    out.flags.set(key, value, source: .flag(name))
                    continue
                }
                let known = Array(flags.keys) + Array(switchFlags) + ["--config"]
                throw ConfigError.unknownKey(key: name, suggestion: ConfigSchema.nearest(name, in: known).map { key(ofFlag: $0, flags) },
                                             source: .flag(name))
            }
            let source = ConfigSource.flag(name)
            switch entry.kind.unwrapped {
            case .bool:
                if let inline { out.flags.set(entry.key, .scalar(inline), source: source) }
                else if i < arguments.count, ["true", "false"].contains(arguments[i].lowercased()) {
                    out.flags.set(entry.key, .scalar(arguments[i]), source: source); i += 1
                } else { out.flags.set(entry.key, .scalar("true"), source: source) }
            case .list, .numberList:
                if let inline { out.flags.set(entry.key, .list([inline]), source: source); continue }
                var items: [String] = []
                while i < arguments.count, arguments[i] != "--", !isFlag(arguments[i]) { items.append(arguments[i]); i += 1 }
                if i < arguments.count, arguments[i] == "--" { i += 1 }
                guard !items.isEmpty else { throw ConfigError.commandLine("\(name) needs at least one value") }
                out.flags.set(entry.key, .list(items), source: source)
            default:
                let v = try value()
                // `none` is null, unless it is one of the key's values (`--scale-rewards none`)
                let null = v == "null" || (v == "none" && !entry.kind.takes("none"))
                out.flags.set(entry.key, null ? .null : .scalar(v), source: source)
            }
        }
        return out
    }

    /// The configuration: `type`'s defaults, then the config files in order, then the flags.
    public func resolve<T: Configuration>(_ type: T.Type) throws -> (config: T, warnings: [String]) {
        var layer = ConfigLayer()
        for path in configFiles { try layer.add(file: path) }
        for s in flags.settings { layer.set(s.key, s.value, source: s.source) }
        return try layer.resolve(T.self)
    }

    /// `--learning_rate` → `--learning-rate`.
    static func normalized(_ flag: String) -> String {
        "--" + flag.dropFirst(2).replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
    }

    /// The key a suggested flag stands for (switches and `--config` stand for themselves).
    private static func key(ofFlag flag: String, _ flags: [String: ConfigEntry]) -> String { flags[flag]?.key ?? flag }
}

extension ConfigKind {
    /// The kind without `optional`.
    var unwrapped: ConfigKind {
        if case .optional(let k) = self { return k.unwrapped }
        return self
    }
}
