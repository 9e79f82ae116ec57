import Testing
@testable import RFT
import RFTModel
import RFTTensor

@Suite struct TaskTests {
    /// Every built-in task: examples verify, stay in the alphabet and the declared sizes, come
    /// from the asked length, are reproducible from the seed, and get reward 1 for the reference.
    @Test(arguments: TaskRegistry.names)
    func generatorsVerifiersAndRewardsAgree(name: String) throws {
        let task = try TaskRegistry.task(named: name)
        #expect(task.name == name)
        let tokenizer = task.tokenizer
        for split in TaskSplit.allCases {
            let lengths = task.lengths(split)
            #expect(task.validLengths.contains(lengths.lowerBound) && task.validLengths.contains(lengths.upperBound))
            let examples = task.examples(count: 200, lengths: lengths, seed: 1)
            #expect(examples == task.examples(count: 200, lengths: lengths, seed: 1))
            #expect(examples != task.examples(count: 200, lengths: lengths, seed: 2))
            #expect(Set(examples.map(\.length)).count > 1 || lengths.count == 1)
            for e in examples {
                #expect(lengths.contains(e.length))
                #expect(task.answer(for: e.prompt) == e.reference, "\(e)")
                #expect(task.verify(prompt: e.prompt, completion: e.reference!))
                #expect(!task.verify(prompt: e.prompt, completion: e.reference! + "1"))
                #expect(e.prompt.count <= task.maxPromptLength(e.length) && e.reference!.count <= task.maxReferenceLength(e.length))
                _ = try tokenizer.encodePrompt(e.prompt) + tokenizer.encodeCompletion(e.reference!)  // in the alphabet
                #expect(TaskReward.exactMatch.score(task: task, prompt: e.prompt, completion: e.reference!) == 1)
                #expect(TaskReward.partialCredit.score(task: task, prompt: e.prompt, completion: e.reference!) == 1)
                #expect(TaskReward.exactMatch.score(task: task, prompt: e.prompt, completion: "") == 0)
            }
            let longest = examples.map { $0.prompt.count + $0.reference!.count + 3 }.max()!
            #expect(longest <= task.maxSequenceLength(lengths))
        }
        #expect(task.trainLengths.upperBound < task.testLengths.lowerBound)
    }

    @Test func additionFormats() {
        #expect(AdditionTask().answer(for: "123+45") == "168")
        #expect(AdditionTask(reversed: true).answer(for: "123+45") == "861")
        #expect(AdditionTask(indexHints: true).answer(for: "c1b2a3+b4a5") == "c1b6a8")
        #expect(AdditionTask(reversed: true, indexHints: true).answer(for: "c1b2a3+b4a5") == "a8b6c1")
        #expect(AdditionTask(indexHints: true).answer(for: "b1b2a3+b4a5") == nil)  // wrong hint
        #expect(AdditionTask().answer(for: "99+1") == "100")
        for bad in ["", "12", "1+", "+1", "1+2+3", "a+1", "1234567890123456789+1"] {
            #expect(AdditionTask().answer(for: bad) == nil, "\(bad)")
        }
        var g = RandomGenerator(seed: 4)
        let e = AdditionTask(indexHints: true).example(length: 3, using: &g)
        #expect(e.prompt.contains("c") && e.prompt.filter(\.isNumber).count >= 4)
    }

    @Test func otherAnswers() {
        #expect(ParityTask().answer(for: "10110") == "1")
        #expect(ParityTask().answer(for: "1001") == "0")
        #expect(ParityTask().answer(for: "10a") == nil)
        #expect(MajorityTask().answer(for: "10110") == "1")
        #expect(MajorityTask().answer(for: "1001") == nil)  // a tie is not an instance
        #expect(StringTask(.copy).answer(for: "abca") == "abca")
        #expect(StringTask(.reverse).answer(for: "abc") == "cba")
        #expect(StringTask(.sort).answer(for: "dbca") == "abcd")
        #expect(StringTask(.copy).answer(for: "aB") == nil)
        #expect(CountTask().answer(for: "3,7") == "3,4,5,6,7")
        #expect(CountTask().answer(for: "7,3") == nil)
        #expect(CountTask().answer(for: "5,5") == "5")
    }

    @Test func uniqueStringsHaveDistinctCharacters() throws {
        let task = try TaskRegistry.task(named: "copy-unique")
        for e in task.examples(count: 100, lengths: 1...26, seed: 3) { #expect(Set(e.prompt).count == e.prompt.count) }
    }

    @Test func majorityInstancesHaveNoTies() {
        for e in MajorityTask().examples(count: 300, lengths: 1...8, seed: 2) {
            let ones = e.prompt.filter { $0 == "1" }.count
            #expect(ones * 2 != e.prompt.count)
        }
    }

    @Test func partialCredit() {
        #expect(characterAccuracy("168", reference: "168") == 1)
        #expect(characterAccuracy("178", reference: "168") == 2.0 / 3)
        #expect(characterAccuracy("16", reference: "168") == 2.0 / 3)
        #expect(characterAccuracy("1680", reference: "168") == 3.0 / 4)
        #expect(characterAccuracy("", reference: "1") == 0)
        #expect(TaskReward.partialCredit.score(task: AdditionTask(), prompt: "1+1", completion: "2") == 1)
        #expect(TaskReward.partialCredit.score(task: AdditionTask(), prompt: "bad", completion: "2") == 0)
        #expect(TaskReward.exactMatch.score(task: StringTask(.sort), prompt: "cab", completion: "abc") == 1)
    }

    @Test func unknownTaskNamesTheKnownOnes() {
        #expect(throws: TaskError.self) { try TaskRegistry.task(named: "division") }
        do { _ = try TaskRegistry.task(named: "division") } catch { #expect("\(error)".contains("addition")) }
    }

    @Test func teacherForcingBatchTakesLossOnTheCompletionOnly() throws {
        let task = AdditionTask()
        let tokenizer = task.tokenizer
        let examples = [TaskExample(prompt: "12+3", reference: "15", length: 2), TaskExample(prompt: "1+1", reference: "2", length: 1)]
        let batch = try TaskBatch(examples, tokenizer: tokenizer)
        // row 0: <bos> 1 2 + 3 <sep> 1 5 <eos> → 9 tokens, inputs are the first 8
        #expect(batch.batch == 2 && batch.length == 8)
        let row0 = Array(batch.targets[0..<8]), row1 = Array(batch.targets[8..<16])
        #expect(row0 == [-1, -1, -1, -1, -1] + (try tokenizer.encodeCompletion("15")))
        #expect(row1 == [-1, -1, -1, -1] + (try tokenizer.encodeCompletion("2")) + [-1, -1])
        #expect(Array(batch.inputs[8..<16]) == (try tokenizer.encodePrompt("1+1")) + (try tokenizer.encode("2")) + [Tokenizer.eos, Tokenizer.pad])
        #expect(throws: TokenizerError.self) { try TaskBatch([TaskExample(prompt: "1*1", reference: "1", length: 1)], tokenizer: tokenizer) }
    }

    @Test func evaluationScoresAnUntrainedModelLow() throws {
        let task = StringTask(.copy, letters: "ab")
        let tokenizer = task.tokenizer
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 16, layers: 1, heads: 2, width: 16), seed: 1)
        let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: 2...3, examplesPerLength: 8, seed: 5)
        #expect(rows.map(\.length) == [2, 3] && rows.allSatisfy { $0.count == 8 && $0.accuracy <= $0.reward + 1e-12 })
        #expect(rows == (try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: 2...3, examplesPerLength: 8, seed: 5)))
    }
}
