import Foundation

/// `--config <file>`: a JSON object (or a flat YAML mapping) whose keys are the command's long
/// flags (`learning_rate` or `learning-rate`), turned into flags placed before the command
/// line's own, so that flags given on the command line override the file.
public enum ConfigFile {
    /// Errors reading a config file: what and where.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        /// The explanation.
        public let description: String
    }

    /// `arguments` with each `--config FILE` (or `--config=FILE`) replaced by the flags the file holds.
    public static func expand(_ arguments: [String]) throws -> [String] {
        guard let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        var rest = arguments
        let path: String
        if arguments[index] == "--config" {
            guard index + 1 < arguments.count else { throw Problem(description: "--config needs a file") }
            path = arguments[index + 1]
            rest.removeSubrange(index...(index + 1))
        } else {
            path = String(arguments[index].dropFirst("--config=".count))
            rest.remove(at: index)
        }
        let flags = try flags(fromFile: path)
        // the subcommand name stays first; the file's flags come before the command line's
        let insertAt = rest.first.map { $0.hasPrefix("-") } == false ? 1 : 0
        rest.insert(contentsOf: flags, at: insertAt)
        return rest
    }

    /// The flags a config file stands for.
    public static func flags(fromFile path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem(description: "\(path): cannot read the config file") }
        guard let text = String(data: data, encoding: .utf8) else { throw Problem(description: "\(path): not UTF-8 text") }
        let object: [String: JSONValue]
        if path.hasSuffix(".json") || text.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("{") {
            guard case .object(let o)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
                throw Problem(description: "\(path): not a JSON object")
            }
            object = o
        } else {
            object = try flatYAML(text, path: path)
        }
        var flags: [String] = []
        for key in object.keys.sorted() {
            let flag = "--" + key.replacingOccurrences(of: "_", with: "-")
            switch object[key]! {
            case .bool(true): flags.append(flag)
            case .bool(false), .null: break
            case .number(let n): flags += [flag, numberText(n)]
            case .string(let s): flags += [flag, s]
            case .array(let items):
                flags.append(flag)
                for item in items {
                    switch item {
                    case .string(let s): flags.append(s)
                    case .number(let n): flags.append(numberText(n))
                    default: throw Problem(description: "\(path): \(key): list items must be strings or numbers")
                    }
                }
            case .object: throw Problem(description: "\(path): \(key): nested objects are not options; use flat keys")
            }
        }
        return flags
    }

    /// A JSON number as a flag value: integers without a decimal point (`40`, not `40.0`).
    private static func numberText(_ n: Double) -> String {
        n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
    }

    /// A flat YAML mapping: `key: value` lines, `#` comments, values as scalars or `[a, b]` lists.
    public static func flatYAML(_ text: String, path: String) throws -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(raw)
            if let hash = line.firstIndex(of: "#"), !line[..<hash].contains("\"") { line = String(line[..<hash]) }
            line = line.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line == "---" { continue }
            guard let colon = line.firstIndex(of: ":"), !raw.hasPrefix(" "), !raw.hasPrefix("\t") else {
                throw Problem(description: "\(path):\(i + 1): expected `key: value` (only flat mappings are supported)")
            }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty else { throw Problem(description: "\(path):\(i + 1): empty key") }
            if value.hasPrefix("[") && value.hasSuffix("]") {
                out[key] = .array(value.dropFirst().dropLast().split(separator: ",").map { scalar(String($0)) })
            } else {
                out[key] = scalar(value)
            }
        }
        return out
    }

    /// A YAML scalar: true/false, a number, or a (possibly quoted) string.
    private static func scalar(_ text: String) -> JSONValue {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch t.lowercased() {
        case "true", "yes": return .bool(true)
        case "false", "no": return .bool(false)
        case "", "null", "~": return .null
        default: break
        }
        if (t.hasPrefix("\"") && t.hasSuffix("\"") || t.hasPrefix("'") && t.hasSuffix("'")) && t.count >= 2 {
            return .string(String(t.dropFirst().dropLast()))
        }
        return .string(t)  // numbers pass through as text: the option parser reads them
    }
}
