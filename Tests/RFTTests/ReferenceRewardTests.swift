import Testing
@testable import RFT

/// Built-in rewards against `example.reference`, and `BuiltinReward` names.
@Suite struct ReferenceRewardTests {
    /// Examples with the given references (ids `ex-0`, `ex-1`, …).
    func examples(_ references: [String?]) -> [TaskExample] {
        references.enumerated().map { TaskExample(prompt: "p\($0.offset)", reference: $0.element, length: 1, id: "ex-\($0.offset)") }
    }

    /// Scores `completions` against `references` with `reward`.
    func score(_ reward: any RewardFunction, _ completions: [String], _ references: [String?]) throws -> [Double] {
        let ex = examples(references)
        return try reward.rewards(prompts: ex.map(\.prompt), completions: completions, examples: ex)
    }

    @Test func exactMatchTrimsWhitespaceOnly() throws {
        let r = try score(ExactMatchReward(), [" 42\n", "41", "42 ", "042", "", "ab", "a b"], ["42", "42", "\t42", "42", "", "ab\n", "ab"])
        #expect(r == [1, 0, 1, 0, 1, 1, 0])
    }

    @Test func numericMatchParsesBothWithinTolerance() throws {
        let completions = ["42.0", "4.2e1", " 42 ", "42.0000001", "42.01", "abc", "", "nan", "inf", "-42", "0x2A"]
        let r = try score(NumericMatchReward(), completions, Array(repeating: "42", count: completions.count))
        #expect(r == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0])
        #expect(try score(NumericMatchReward(tolerance: 0.1), ["42.01", "42.2"], ["42", "42"]) == [1, 0])
        #expect(try score(NumericMatchReward(), ["-0.5", "0.25"], ["-.5", "2.5e-1"]) == [1, 1])
    }

    @Test func numericMatchRejectsANonNumericReference() {
        #expect(throws: RewardError.nonNumericReference(reward: "numeric-match", example: "ex-1", reference: "forty")) {
            try score(NumericMatchReward(), ["1", "40"], ["1", "forty"])
        }
    }

    @Test func partialCreditIsCharacterAccuracyOfTrimmedTexts() throws {
        let r = try score(PartialCreditReward(), ["124", "12", " 123 ", "1234", "", "xyz"], ["123", "123", "123", "123", "", "123"])
        let expected: [Double] = [2.0 / 3, 2.0 / 3, 1, 3.0 / 4, 1, 0]
        #expect(r == expected)
    }

    /// A missing reference is an error naming the example (its id, else its prompt), never a 0.
    @Test(arguments: [("exact-match", ExactMatchReward() as any RewardFunction),
                      ("numeric-match", NumericMatchReward()), ("number-match", NumberMatchReward()),
                      ("partial-credit", PartialCreditReward())])
    func missingReferenceNamesTheExample(name: String, reward: any RewardFunction) {
        #expect(throws: RewardError.missingReference(reward: name, example: "ex-2")) {
            try score(reward, ["1", "1", "1"], ["1", "1", nil])
        }
        let noID = [TaskExample(prompt: "what is 6*7?", reference: nil, length: 1)]
        #expect(throws: RewardError.missingReference(reward: name, example: "what is 6*7?")) {
            try reward.rewards(prompts: ["what is 6*7?"], completions: ["42"], examples: noID)
        }
        #expect(RewardError.missingReference(reward: name, example: "ex-2").description
            == "\(name): example ex-2 has no reference (\"completion\" field) to compare with")
    }

    @Test func mismatchedCountsAreAnError() {
        let ex = examples(["1", "2"])
        #expect(throws: RewardError.mismatchedInputs(prompts: 2, completions: 1, examples: 2)) {
            try ExactMatchReward().rewards(prompts: ex.map(\.prompt), completions: ["1"], examples: ex)
        }
    }

    @Test func builtinNamesWithoutATaskUseTheReference() throws {
        #expect(BuiltinReward.names == ["exact-match", "numeric-match", "number-match", "partial-credit", "task-verifier"])
        #expect(try BuiltinReward.named("exact-match", task: nil) is ExactMatchReward)
        #expect(try BuiltinReward.named("numeric-match", task: nil) is NumericMatchReward)
        #expect(try BuiltinReward.named("number-match", task: nil) is NumberMatchReward)
        #expect(try BuiltinReward.named("partial-credit", task: nil) is PartialCreditReward)
        #expect(throws: RewardError.needsTask(reward: "task-verifier")) { try BuiltinReward.named("task-verifier", task: nil) }
        #expect(try score(BuiltinReward.named("partial-credit", task: nil), ["ab"], ["abcd"]) == [0.5])
    }

    /// With a task, exact-match, partial-credit and task-verifier ask the task's verifier, so
    /// they work on examples without a reference and ignore a wrong one.
    @Test func builtinNamesWithATaskUseTheVerifier() throws {
        let task = try TaskRegistry.task(named: "addition")
        let e = task.examples(count: 1, lengths: 2...2, seed: 3)[0]
        let answer = try #require(e.reference)
        let wrong = answer == "0" ? "1" : "0"
        var noReference = e
        noReference.reference = nil
        var badReference = e
        badReference.reference = wrong
        for name in ["exact-match", "task-verifier"] {
            let reward = try BuiltinReward.named(name, task: task)
            let r = try reward.rewards(prompts: [e.prompt, e.prompt, e.prompt], completions: [answer, answer, wrong],
                                       examples: [noReference, badReference, badReference])
            #expect(r == [1, 1, 0], "\(name)")
        }
        let partial = try BuiltinReward.named("partial-credit", task: task)
        #expect(try partial.rewards(prompts: [e.prompt], completions: [answer], examples: [noReference]) == [1])
        // numeric-match always compares with the reference.
        let numeric = try BuiltinReward.named("numeric-match", task: task)
        #expect(try numeric.rewards(prompts: [e.prompt], completions: [answer], examples: [badReference]) == [0])
    }

    @Test func unknownNameListsTheKnownOnes() {
        #expect(throws: RewardError.unknownReward("exact", known: BuiltinReward.names)) { try BuiltinReward.named("exact", task: nil) }
        #expect(RewardError.unknownReward("exact", known: BuiltinReward.names).description
            == "unknown reward 'exact'; built-in rewards: exact-match, numeric-match, number-match, partial-credit, task-verifier")
    }
}
