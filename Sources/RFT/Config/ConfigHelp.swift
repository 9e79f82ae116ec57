/// A configuration type's keys as `--help` text, and a configuration written back as YAML that
/// `--config` reads again.
public enum ConfigHelp {
    /// Each key's flag (and alias) with its kind, then its help and default on indented lines
    /// of at most 80 columns; sections under their own heading.
    public static func text(_ type: any Configuration.Type) -> String {
        let aliases = Dictionary(CommandLineArguments.aliases.map { ($0.value, "--" + $0.key) }, uniquingKeysWith: { a, _ in a })
        var lines: [String] = []
        var section: String?
        for e in ConfigSchema.entries(type) {
            let s = e.key.contains(".") ? String(e.key.split(separator: ".").first!) : nil
            if s != section {
                section = s
                if let s { lines += ["", "\(s.uppercased()) (keys \(s).*, flags \(ConfigSchema.flag(for: s))-*):"] }
            }
            let flag = aliases[e.key].map { "\($0), \(ConfigSchema.flag(for: e.key))" } ?? ConfigSchema.flag(for: e.key)
            var help = e.help
            switch e.kind.unwrapped {
            case .bool: lines.append("  " + flag)
            case .choice(let names) where flag.count + names.joined(separator: "|").count > 74:
                lines.append("  \(flag) <choice>")
                help += ": " + names.joined(separator: ", ")
            default: lines.append("  \(flag) \(e.kind)")
            }
            let shown = ConfigSchema.text(of: e.value).map { " (default \($0.isEmpty ? "\"\"" : $0))" } ?? ""
            lines += wrapped(help + shown, width: 68).map { "        " + $0 }
        }
        return lines.joined(separator: "\n")
    }

    /// `text` in lines of at most `width` characters, broken at spaces.
    static func wrapped(_ text: String, width: Int) -> [String] {
        var lines: [String] = [], line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty && line.count + 1 + word.count > width { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        return line.isEmpty ? lines : lines + [line]
    }

    /// `config` as a YAML document: top-level keys, then one mapping per section; keys left at
    /// nil are left out.
    public static func yaml(_ config: any Configuration) -> String {
        var top: [String] = []
        var sections: [(name: String, lines: [String])] = []
        for (entry, value) in ConfigSchema.values(config) {
            guard let text = ConfigSchema.text(of: value) else { continue }
            let shown: String
            switch entry.kind.unwrapped {
            case .string, .text, .choice: shown = ConfigSchema.quoted(text)
            default: shown = text
            }
            let parts = entry.key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 1 { top.append("\(entry.key): \(shown)"); continue }
            if sections.last?.name != parts[0] { sections.append((parts[0], [])) }
            sections[sections.count - 1].lines.append("  \(parts[1]): \(shown)")
        }
        return (top + sections.flatMap { ["\($0.name):"] + $0.lines }).joined(separator: "\n") + "\n"
    }
}
