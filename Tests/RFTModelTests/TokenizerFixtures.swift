import Foundation

/// The battery and Hugging Face's answers, written by scripts/make-tokenizer-fixtures.py.
struct TokenizerFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/tokenizer")
    struct Battery: Decodable { let strings: [String] }

    let strings: [String]
    let expected: [String: [[Int]]]
    let splits: [String: [[Int]]]
    let classes: [String: [[UInt32]]]

    static let shared: TokenizerFixtures = {
        func load<T: Decodable>(_ name: String, _ type: T.Type) -> T {
            let data = try! Data(contentsOf: directory.appendingPathComponent(name))
            return try! JSONDecoder().decode(T.self, from: data)
        }
        struct Expected: Decodable {
            let values: [String: [[Int]]]
            init(from decoder: Decoder) throws {
                let c = try decoder.singleValueContainer()
                let raw = try c.decode([String: AnyDecodable].self)
                values = raw.compactMapValues(\.rows)
            }
        }
        return TokenizerFixtures(strings: load("battery.json", Battery.self).strings, expected: load("expected.json", Expected.self).values,
                                 splits: load("splits.json", [String: [[Int]]].self), classes: load("classes.json", [String: [[UInt32]]].self))
    }()

    /// The bytes of a fixture file.
    static func file(_ name: String) -> [UInt8] { [UInt8](try! Data(contentsOf: directory.appendingPathComponent(name))) }
}

/// Decodes either a list of id lists or anything else (ignored).
private struct AnyDecodable: Decodable {
    let rows: [[Int]]?
    init(from decoder: Decoder) throws { rows = try? decoder.singleValueContainer().decode([[Int]].self) }
}

/// Compares a tokenizer's ids with the fixture's on every battery string: "" when all agree,
/// else how many differ and the first few (index, text, expected, got).
func mismatches(_ expected: [[Int]], _ strings: [String], encode: (String) -> [Int]) -> String {
    var count = 0, examples: [String] = []
    for (i, s) in strings.enumerated() {
        let got = encode(s)
        guard got != expected[i] else { continue }
        count += 1
        if examples.count < 3 { examples.append("#\(i) \(s.debugDescription): expected \(expected[i]) got \(got)") }
    }
    return count == 0 ? "" : "\(count) of \(strings.count) differ: " + examples.joined(separator: "; ")
}

/// The battery strings whose decoded ids are not exactly (scalar for scalar) the text.
func decodeFailures(_ strings: [String], encode: (String) -> [Int], decode: ([Int]) -> String) -> String {
    let bad = strings.enumerated().filter { !decode(encode($0.element)).unicodeScalars.elementsEqual($0.element.unicodeScalars) }
    return bad.isEmpty ? "" : "\(bad.count) strings do not round-trip, first #\(bad[0].offset) \(bad[0].element.debugDescription)"
}
