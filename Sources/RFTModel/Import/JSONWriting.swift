extension StrictJSON {
    /// `s` as a JSON string literal: UTF-8 as is, quotes, backslashes and control characters escaped.
    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20: out += "\\u00" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

extension StrictJSON.Value {
    /// An integer.
    static func integer(_ v: Int) -> StrictJSON.Value { .number(String(v)) }

    /// A Float, as the shortest text that reads back to the same Float (`1e-05`, `100000.0`).
    static func real(_ v: Float) -> StrictJSON.Value { .number(v.description) }

    /// An integer, or null.
    static func integer(_ v: Int?) -> StrictJSON.Value { v.map { .integer($0) } ?? .null }

    /// JSON text as Python's `json.dumps(indent=2)` lays it out (members and elements one per
    /// line), except that arrays of scalars stay on one line; keys in their stored order.
    var text: String {
        var out = ""
        write(into: &out, indent: 0)
        return out + "\n"
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): out += StrictJSON.quoted(s)
        case .array(let items):
            if items.isEmpty { out += "[]"; return }
            if items.allSatisfy(\.isScalar) {
                out += "["
                for (i, item) in items.enumerated() { if i > 0 { out += ", " }; item.write(into: &out, indent: indent) }
                out += "]"
                return
            }
            let pad = String(repeating: " ", count: indent + 2)
            out += "[\n"
            for (i, item) in items.enumerated() {
                out += pad
                item.write(into: &out, indent: indent + 2)
                out += i + 1 < items.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let members):
            if members.isEmpty { out += "{}"; return }
            let pad = String(repeating: " ", count: indent + 2)
            out += "{\n"
            for (i, m) in members.enumerated() {
                out += pad + StrictJSON.quoted(m.key) + ": "
                m.value.write(into: &out, indent: indent + 2)
                out += i + 1 < members.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }
}
