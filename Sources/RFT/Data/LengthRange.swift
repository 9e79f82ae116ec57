/// A range of instance lengths written `N` or `A-B` (1 ≤ A ≤ B).
public struct LengthRange: ConfigText, Equatable, Hashable {
    /// The lengths.
    public var range: ClosedRange<Int>

    /// A range.
    public init(_ range: ClosedRange<Int>) { self.range = range }

    /// Parses `N` or `A-B`.
    public init(parsing text: String) throws {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        if parts.count == 1, let a = parts[0], a >= 1, a <= 1 << 20 { range = a...a; return }
        if parts.count == 2, let a = parts[0], let b = parts[1], a >= 1, a <= b, b <= 1 << 20 { range = a...b; return }
        throw LengthRangeError(text: text)
    }

    /// `N` or `A-B`.
    public var text: String { range.count == 1 ? "\(range.lowerBound)" : "\(range.lowerBound)-\(range.upperBound)" }
    /// The written form.
    public static let format = "N|A-B"

    /// Written as its text.
    public init(from decoder: Decoder) throws { try self.init(parsing: try decoder.singleValueContainer().decode(String.self)) }
    /// Written as its text.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }
}

/// A length range that does not parse.
public struct LengthRangeError: Error, Equatable, CustomStringConvertible {
    /// What was written.
    public var text: String
    /// The expected form.
    public var description: String { "expected N or A-B with 1 ≤ A ≤ B ≤ 1048576, got \(text.debugDescription)" }
}
