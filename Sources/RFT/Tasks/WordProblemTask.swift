import RFTTensor

/// Generated multi-step word problems, asked as an instruct model is asked — `Sam has 12
/// apples. Sam buys 3 bags of 4 apples. Then Sam gives 5 apples to Mia. How many apples does Sam
/// have now? Answer with the number only.` → `19` — and scored by the number read out of the
/// answer (`NumberExtraction`). The length is the number of statements before the question: the
/// starting count, then one step each (length 1 asks the starting count back; 3 is the example,
/// two steps). A step adds, adds a number of groups, takes away, halves or doubles, phrased by one
/// of ten templates with a random name, friend, object and connective, and every count along the
/// way is a non-negative integer. The verifier parses the sentences back, so it computes the answer
/// from the prompt alone. English text: for byte-level BPE models such as SmolLM2.
public struct WordProblemTask: ChatTask {
    /// Training lengths (statements).
    public var trainLengths: ClosedRange<Int>
    /// Test lengths (statements).
    public var testLengths: ClosedRange<Int>

    /// Word problems with default lengths train 1–3 statements (0–2 steps), test 4–6 (3–5 steps).
    public init(trainLengths: ClosedRange<Int> = 1...3, testLengths: ClosedRange<Int> = 4...6) {
        self.trainLengths = trainLengths
        self.testLengths = testLengths
    }

    /// What one step does to the count.
    enum Step: CaseIterable {
        /// + n.
        case add
        /// + n·m (n containers of m each).
        case addGroups
        /// − n.
        case subtract
        /// ÷ 2 (of an even count).
        case half
        /// × 2.
        case double
    }

    /// A word of a sentence template: literal text or a slot the generator fills.
    enum Word: Equatable {
        case text(String)
        case name, friend, n, m, objects, containers
    }

    /// A step's sentence: its words, split at spaces (every slot is one word).
    struct Template {
        let step: Step
        let words: [Word]

        /// `pattern`'s words, `{name}`, `{friend}`, `{n}`, `{m}`, `{objects}` and `{containers}` being slots.
        init(_ step: Step, _ pattern: String) {
            let slots: [String: Word] = ["{name}": .name, "{friend}": .friend, "{n}": .n, "{m}": .m,
                                         "{objects}": .objects, "{containers}": .containers]
            self.step = step
            words = pattern.split(separator: " ").map { slots[String($0)] ?? .text(String($0)) }
        }
    }

    /// Two or three phrasings of each step.
    static let templates = [
        Template(.add, "{name} buys {n} more {objects}"),
        Template(.add, "{name} finds {n} more {objects}"),
        Template(.add, "{friend} gives {name} {n} more {objects}"),
        Template(.addGroups, "{name} buys {n} {containers} of {m} {objects}"),
        Template(.addGroups, "{name} gets {n} {containers} with {m} {objects} in each"),
        Template(.subtract, "{name} gives {n} {objects} to {friend}"),
        Template(.subtract, "{name} loses {n} {objects}"),
        Template(.subtract, "{name} sells {n} {objects}"),
        Template(.half, "{name} gives half of the {objects} to {friend}"),
        Template(.double, "{friend} gives {name} as many {objects} as {name} already has"),
    ]
    /// Subjects and friends.
    static let names = ["Sam", "Mia", "Leo", "Ava", "Noah", "Emma", "Liam", "Zoe", "Omar", "Lily",
                        "Ravi", "Nina", "Tom", "Ana", "Kai", "Ella", "Ben", "Sara", "Max", "Ivy"]
    /// What is counted (plural).
    static let objects = ["apples", "marbles", "stickers", "books", "cookies", "pencils", "coins", "cards",
                          "shells", "stamps", "eggs", "balloons", "crayons", "beads", "oranges"]
    /// What groups come in.
    static let containers = ["bags", "boxes", "packs", "jars"]
    /// Words a step's sentence may start with.
    static let connectives = [[], ["Then"], ["Later,"], ["Next,"], ["After", "that,"]]
    /// The question's instruction (every chat task's).
    static let instruction = " " + chatInstruction

    /// Bounds of the generated numbers: the start, a step's n (and a group's n and m); none is 1,
    /// so every object is plural.
    static let starts = 2...20, amounts = 2...10, groupCounts = 2...5, groupSizes = 2...6
    /// Only a count up to this is doubled, so counts stay small.
    static let doubleLimit = 30

    /// `chat-word-problems`.
    public var name: String { "chat-word-problems" }
    /// Every character of the templates, names, objects, digits and punctuation.
    public var alphabet: String {
        let words = Self.templates.flatMap(\.words).compactMap { if case .text(let t) = $0 { t } else { nil } }
        return distinctCharacters(words + Self.names + Self.objects + Self.containers + Self.connectives.flatMap { $0 }
                                  + ["0123456789 .?", Self.question(name: "", objects: "")])
    }
    /// 1–50 statements.
    public var validLengths: ClosedRange<Int> { 1...50 }

    /// Digits of the largest count `length - 1` steps can reach: each step adds at most 5·6, and a
    /// doubling needs a count of at most 30.
    public func maxReferenceLength(_ length: Int) -> Int {
        String(2 * Self.doubleLimit + Self.groupCounts.upperBound * Self.groupSizes.upperBound * (length - 1)).count
    }

    /// 48 tokens: SmolLM2-135M-Instruct works a problem out in lines ("Sam has 12 apples.\n5 more
    /// apples = 12 + 5 = 17 apples\n…The answer is 17.") before it answers.
    public var roomForWords: Int { 48 }

    /// The first sentence, `length - 1` of the longest step sentence with the longest connective, the question.
    public func maxPromptLength(_ length: Int) -> Int {
        let name = Self.names.map(\.count).max()!, object = Self.objects.map(\.count).max()!
        let container = Self.containers.map(\.count).max()!, digits = 2
        let connective = Self.connectives.map { $0.joined(separator: " ").count + 1 }.max()!
        let step = Self.templates.map { t in
            t.words.reduce(t.words.count) { total, word in
                switch word {
                case .text(let s): return total + s.count
                case .name, .friend: return total + name
                case .n, .m: return total + digits
                case .objects: return total + object
                case .containers: return total + container
                }
            }
        }.max()!
        return name + " has ".count + digits + 1 + object + 2 + (length - 1) * (connective + step + 1)
            + Self.question(name: String(repeating: "x", count: name), objects: String(repeating: "x", count: object)).count
    }

    /// `How many apples does Sam have now? Answer with the number only.`
    static func question(name: String, objects: String) -> String {
        "How many \(objects) does \(name) have now?" + instruction
    }

    /// A random problem of `length` statements (`length - 1` steps).
    public func example(length: Int, using g: inout RandomGenerator) -> TaskExample {
        precondition(validLengths.contains(length), "\(name): length \(length) outside \(validLengths)")
        let name = randomElement(Self.names, &g)
        var friend = randomElement(Self.names, &g)
        while friend == name { friend = randomElement(Self.names, &g) }
        let objects = randomElement(Self.objects, &g)
        var count = randomInt(Self.starts, &g)
        var sentences = ["\(name) has \(count) \(objects)."]
        for _ in 1..<length {
            let possible = Step.allCases.filter { step in
                switch step {
                case .add, .addGroups: return true
                case .subtract: return count >= Self.amounts.lowerBound
                case .half: return count >= 2 && count % 2 == 0
                case .double: return count >= 1 && count <= Self.doubleLimit
                }
            }
            let step = randomElement(possible, &g)
            let template = randomElement(Self.templates.filter { $0.step == step }, &g)
            var n = 0, m = 0
            switch step {
            case .add: n = randomInt(Self.amounts, &g)
            case .addGroups: n = randomInt(Self.groupCounts, &g); m = randomInt(Self.groupSizes, &g)
            case .subtract: n = randomInt(Self.amounts.lowerBound...min(count, Self.amounts.upperBound), &g)
            case .half, .double: break
            }
            count = Self.apply(step, to: count, n: n, m: m)!
            let connective = randomElement(Self.connectives, &g)
            let words = template.words.map { word -> String in
                switch word {
                case .text(let s): return s
                case .name: return name
                case .friend: return friend
                case .n: return String(n)
                case .m: return String(m)
                case .objects: return objects
                case .containers: return randomElement(Self.containers, &g)
                }
            }
            sentences.append((connective + words).joined(separator: " ") + ".")
        }
        let prompt = (sentences + [Self.question(name: name, objects: objects)]).joined(separator: " ")
        return TaskExample(prompt: prompt, reference: String(count), length: length)
    }

    /// `count` after `step` (n and m its numbers), or nil when the result would be negative, not
    /// an integer, or beyond a million.
    static func apply(_ step: Step, to count: Int, n: Int, m: Int) -> Int? {
        let result: Int
        switch step {
        case .add: result = count + n
        case .addGroups: result = count + n * m
        case .subtract: result = count - n
        case .half: guard count % 2 == 0 else { return nil }; result = count / 2
        case .double: result = 2 * count
        }
        return (0...1_000_000).contains(result) ? result : nil
    }

    /// The count the problem ends with, by parsing its sentences back (one subject and one kind
    /// of object throughout; numbers of at most 6 digits); nil for any other text.
    public func answer(for prompt: String) -> String? {
        guard prompt.hasSuffix(Self.instruction) else { return nil }
        let body = String(prompt.dropLast(Self.instruction.count))
        guard body.hasSuffix(" have now?") else { return nil }
        let parts = body.components(separatedBy: ". ")
        guard parts.count >= 2 else { return nil }
        let first = parts[0].split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        guard first.count == 4, first[1] == "has", let start = Self.amount(first[2]) else { return nil }
        let (name, objects) = (first[0], first[3])
        guard parts.last == Self.question(name: name, objects: objects).dropLast(Self.instruction.count).description else { return nil }
        var count = start
        for sentence in parts.dropFirst().dropLast() {
            guard let next = Self.parseStep(sentence.split(separator: " ", omittingEmptySubsequences: false).map(String.init),
                                            name: name, objects: objects, count: count) else { return nil }
            count = next
        }
        return String(count)
    }

    /// The count after the step `words` spell (a connective, then one template's words), or nil.
    static func parseStep(_ words: [String], name: String, objects: String, count: Int) -> Int? {
        for connective in connectives where words.starts(with: connective) {
            let rest = Array(words.dropFirst(connective.count))
            for template in templates where template.words.count == rest.count {
                var n = 0, m = 0, matched = true
                for (word, text) in zip(template.words, rest) {
                    switch word {
                    case .text(let s): matched = text == s
                    case .name: matched = text == name
                    case .friend, .containers: matched = !text.isEmpty
                    case .objects: matched = text == objects
                    case .n: if let v = amount(text) { n = v } else { matched = false }
                    case .m: if let v = amount(text) { m = v } else { matched = false }
                    }
                    if !matched { break }
                }
                if matched, let next = apply(template.step, to: count, n: n, m: m) { return next }
            }
        }
        return nil
    }

    /// The value of a number in a sentence: 1–6 ASCII digits, or nil.
    static func amount(_ text: String) -> Int? { decimalValue(text, maxDigits: 6) }
}
