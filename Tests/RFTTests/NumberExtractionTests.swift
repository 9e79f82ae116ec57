import Foundation
import Testing
@testable import RFT

/// Reading the number out of a chat model's free text, and the number-match reward built on it.
@Suite struct NumberExtractionTests {
    /// Realistic answers and the number each gives (nil: none).
    static let battery: [(String, String?)] = [
        ("85", "85"),
        ("85\n", "85"),
        ("The answer is 85.", "85"),
        ("the answer is: 85", "85"),
        ("THE ANSWER IS 85", "85"),
        ("37 + 48 = **85**", "85"),
        ("37+48=85.", "85"),
        ("**Answer:** 85", "85"),
        ("**Answer**: $85$", "85"),
        ("Answer = 85", "85"),
        ("\\boxed{85}", "85"),
        ("So $37 + 48 = \\boxed{85}$.", "85"),
        ("First \\boxed{84}, no: \\boxed{ 85 }", "85"),
        ("The answer is \\boxed{85}, not 84.", "85"),
        ("\\boxed{85 \\text{ apples}} and 3 more words", "85"),
        ("The answer is 85. Check: 80 + 6 = 86", "85"),
        ("The answer is unclear. Answer: 12", "12"),
        ("Sara has 15 - 5 = 10 oranges.\n#### 10\nSo she sold 5.", "10"),
        ("#### -3 (after 7 steps)", "-3"),
        ("The answers are many: 3 and 4", "4"),
        ("I think 84. No wait, it is 85", "85"),
        ("Sam has 12 + 3*4 - 5 = 19 apples now.", "19"),
        ("The total is 1,234 apples.", "1234"),
        ("1,234,567", "1234567"),
        ("a list: 1,2,3", "3"),
        ("1234,567", "567"),
        ("The answer is -12.", "-12"),
        ("Answer: −7", "-7"),
        ("It is -5", "-5"),
        ("37-48", "48"),
        ("(-3)", "-3"),
        ("85.0", "85"),
        ("85.50", "85.5"),
        ("It costs 0.5 dollars", "0.5"),
        ("007", "7"),
        ("-0", "0"),
        ("v1.2.3", "3"),
        ("", nil),
        ("no number here", nil),
        ("The answer is forty-two.", nil),
        ("\\boxed{x}", nil),
    ]

    @Test func readsTheAnswerOfRealisticCompletions() {
        for (text, expected) in Self.battery {
            #expect(NumberExtraction.answer(in: text) == expected, "\(text.debugDescription)")
        }
    }

    @Test func boxedBeatsAnswerIsBeatsTheLastNumber() {
        #expect(NumberExtraction.answer(in: "The answer is 3. \\boxed{4} then 5") == "4")
        #expect(NumberExtraction.answer(in: "The answer is 3, then 5") == "3")
        #expect(NumberExtraction.answer(in: "answer: 1 ... the answer is 2 ... 9") == "2")
        #expect(NumberExtraction.answer(in: "\\boxed{7") == "7")  // an unclosed box (a cut completion) still counts
    }

    @Test func referencesMustBeOneNumber() {
        #expect(NumberExtraction.number(" 42 ") == "42")
        #expect(NumberExtraction.number("+42") == "42")
        #expect(NumberExtraction.number("-42") == "-42")
        #expect(NumberExtraction.number("1,234") == "1234")
        #expect(NumberExtraction.number("85.0") == "85")
        for bad in ["", "forty", "4 2", "42 apples", "\\boxed{42}", "42.", "--42", "1-2"] {
            #expect(NumberExtraction.number(bad) == nil, "\(bad.debugDescription)")
        }
    }

    /// Absurd digit counts compare as text; a megabyte of adversarial text is one linear pass.
    @Test func hugeInputsAreFastAndExact() {
        let digits = String(repeating: "9", count: 200_000)
        #expect(NumberExtraction.answer(in: "The answer is " + digits + ".") == digits)
        #expect(NumberExtraction.answer(in: "0000" + digits) == digits)
        let megabyte = 1 << 20
        let texts = [String(repeating: "a ", count: megabyte / 2) + "42",
                     String(repeating: "answer ", count: megabyte / 7) + "42",
                     String(repeating: "\\boxed{", count: megabyte / 7) + "42",
                     String(repeating: "1,", count: megabyte / 2) + "42",
                     String(repeating: "answer is **", count: megabyte / 12) + "42",
                     String(repeating: "#", count: megabyte) + "42"]
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for text in texts { #expect(NumberExtraction.answer(in: text) == "42") }
        }
        #expect(elapsed < .seconds(10), "\(elapsed) for 6 MB: not linear")
    }

    @Test func numberMatchScoresTheExtractedNumber() throws {
        let completions = ["The answer is 85.", "\\boxed{85}", "85.0", "37 + 48 = **85**", "84", "850", "", "eighty-five", "85.5", "-85"]
        let examples = completions.indices.map { TaskExample(prompt: "p\($0)", reference: "85", length: 1, id: "ex-\($0)") }
        let r = try NumberMatchReward().rewards(prompts: examples.map(\.prompt), completions: completions, examples: examples)
        #expect(r == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        let comma = [TaskExample(prompt: "p", reference: "1,234", length: 1)]
        #expect(try NumberMatchReward().rewards(prompts: ["p"], completions: ["It is 1234."], examples: comma) == [1])
    }

    @Test func numberMatchNeedsANumericReference() {
        let e = [TaskExample(prompt: "p", reference: "forty", length: 1, id: "ex-0")]
        #expect(throws: RewardError.nonNumericReference(reward: "number-match", example: "ex-0", reference: "forty")) {
            try NumberMatchReward().rewards(prompts: ["p"], completions: ["40"], examples: e)
        }
        #expect(RewardError.nonNumericReference(reward: "number-match", example: "ex-0", reference: "forty").description
            == "number-match: example ex-0: reference \"forty\" is not a number")
    }

    /// With a task, number-match asks the task's verifier (as exact-match does), so a wrong or
    /// missing reference does not matter; on a dataset it reads the reference.
    @Test func numberMatchByNameWithAndWithoutATask() throws {
        let task = try TaskRegistry.task(named: "addition")
        let prompt = "37+48"
        let wrong = TaskExample(prompt: prompt, reference: "1", length: 2)
        let withTask = try BuiltinReward.named("number-match", task: task)
        #expect(try withTask.rewards(prompts: [prompt, prompt, "not an instance"], completions: ["It is 85", "1", "85"],
                                     examples: [wrong, wrong, wrong]) == [1, 0, 0])
        let dataset = try BuiltinReward.named("number-match", task: nil)
        #expect(try dataset.rewards(prompts: [prompt], completions: ["It is 1."], examples: [wrong]) == [1])
    }
}
