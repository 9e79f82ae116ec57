/// A controlled "stuck" class for experiments (Razin et al.'s pretraining with mislabeled
/// inputs): every prompt starting with `leadingCharacter` gets a consistently wrong reference —
/// its last digit shifted by 5 — so a model pretrained on it gives the correct answer of that
/// whole class (about 11% of addition prompts for one digit) almost no probability.
public struct MislabeledClass: Codable, Equatable, Sendable {
    /// Prompts starting with this character are mislabeled.
    public var leadingCharacter: Character

    /// The class of prompts starting with `leadingCharacter`.
    public init(leadingCharacter: Character) { self.leadingCharacter = leadingCharacter }

    /// True when `prompt` belongs to the class.
    public func contains(_ prompt: String) -> Bool { prompt.first == leadingCharacter }

    /// `example` with its reference's last digit shifted by 5 when its prompt is in the class.
    public func apply(_ example: TaskExample) -> TaskExample {
        guard contains(example.prompt), var chars = example.reference.map(Array.init), let last = chars.last,
              let digit = last.wholeNumberValue else { return example }
        var e = example
        chars[chars.count - 1] = Character(String((digit + 5) % 10))
        e.reference = String(chars)
        return e
    }

    /// Codable as its one-character string.
    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard s.count == 1, let c = s.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "expected one character"))
        }
        leadingCharacter = c
    }

    /// Encodes the character as a string.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(String(leadingCharacter))
    }
}
