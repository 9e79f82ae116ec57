import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// The chat-form tasks: prompts, difficulty, answers checked by a computation of the test's own,
/// free-text answers scored fairly, and a clear error on a character-level model.
@Suite struct ChatTaskTests {
    static let names = ["chat-addition", "chat-multiplication", "chat-word-problems"]

    /// The numbers of `text`, in order (the test's own reading, independent of the task's parser).
    func numbers(_ text: String) -> [Int] {
        text.split { !$0.isNumber }.compactMap { Int($0) }
    }

    @Test func chatAdditionAsksAndAnswersLikeAnInstructModel() throws {
        let task = try TaskRegistry.task(named: "chat-addition")
        #expect(task.answer(for: "What is 37+48? Answer with the number only.") == "85")
        for length in 1...6 {
            for e in task.examples(count: 50, lengths: length...length, seed: 7) {
                #expect(e.prompt.hasPrefix("What is ") && e.prompt.hasSuffix("? Answer with the number only."))
                let operands = numbers(e.prompt)
                #expect(operands.count == 2 && operands.allSatisfy { String($0).count == length }, "\(e.prompt)")
                #expect(e.reference == String(operands.reduce(0, +)))
            }
        }
    }

    @Test func chatMultiplicationSplitsTheDigitsBetweenTheFactors() throws {
        let task = try TaskRegistry.task(named: "chat-multiplication")
        #expect(task.answer(for: "What is 7×13? Answer with the number only.") == "91")
        #expect(task.answer(for: "What is 7*13? Answer with the number only.") == nil)
        for length in 2...6 {
            for e in task.examples(count: 50, lengths: length...length, seed: 7) {
                #expect(e.prompt.contains("×"))
                let factors = numbers(e.prompt)
                let digits = factors.map { String($0).count }.sorted()
                #expect(factors.count == 2 && digits == [length / 2, (length + 1) / 2], "\(e.prompt)")
                #expect(factors.allSatisfy { $0 >= 2 }, "no ×0 or ×1: \(e.prompt)")
                #expect(e.reference == String(factors[0] * factors[1]))
            }
        }
    }

    /// The test's own solver: the first number is the start; each step is recognised by its
    /// keywords, not by the task's templates.
    func solve(_ prompt: String) -> Int? {
        let sentences = prompt.components(separatedBy: ". ")
        guard var count = numbers(sentences[0]).first else { return nil }
        for s in sentences.dropFirst().dropLast() {
            let n = numbers(s)
            if s.contains("half") { count /= 2 } else if s.contains("as many") { count *= 2 }
            else if n.count == 2 { count += n[0] * n[1] }
            else if s.contains("more") { count += n[0] }
            else if s.contains("gives") || s.contains("loses") || s.contains("sells") { count -= n[0] }
            else { return nil }
        }
        return count
    }

    @Test func wordProblemsHaveOneStatementALengthAndAnIndependentlyCheckedAnswer() throws {
        let task = try TaskRegistry.task(named: "chat-word-problems")
        #expect(task.answer(for: "Sam has 12 apples. Sam buys 3 bags of 4 apples. Then Sam gives 5 apples to Mia. How many apples does Sam have now? Answer with the number only.") == "19")
        var names = Set<String>(), objects = Set<String>(), steps: [String] = []
        for length in 1...6 {
            for e in task.examples(count: 100, lengths: length...length, seed: 11) {
                let sentences = e.prompt.components(separatedBy: ". ")
                #expect(sentences.count == length + 1, "\(e.prompt)")  // the start, length - 1 steps, the question
                #expect(e.prompt.hasSuffix("have now? Answer with the number only."))
                let answer = try #require(solve(e.prompt), "\(e.prompt)")
                #expect(answer >= 0 && e.reference == String(answer), "\(e.prompt)")
                let first = sentences[0].split(separator: " ")
                names.insert(String(first[0]))
                objects.insert(String(first[3]))
                steps += sentences.dropFirst().dropLast()
            }
        }
        #expect(names.count >= 15 && objects.count >= 12, "\(names) \(objects)")
        for phrase in ["buys", "more", "finds", "bags of", "in each", " to ", "loses", "sells", "half of the", "as many"] {
            #expect(steps.contains { $0.contains(phrase) }, "no step says \(phrase.debugDescription)")
        }
        for connective in ["Then ", "Later, ", "Next, ", "After that, "] {
            #expect(steps.contains { $0.hasPrefix(connective) }, "no step starts with \(connective.debugDescription)")
        }
    }

    @Test func malformedWordProblemsHaveNoAnswer() throws {
        let task = try TaskRegistry.task(named: "chat-word-problems")
        let suffix = " How many apples does Sam have now? Answer with the number only."
        #expect(task.answer(for: "Sam has 3 apples. Sam buys 2 more apples." + suffix) == "5")
        for bad in ["Sam has 3 apples. Sam loses 4 apples." + suffix,            // below zero
                    "Sam has 3 apples. Sam gives half of the apples to Mia." + suffix,  // not an integer
                    "Sam has 3 apples. Mia buys 2 more apples." + suffix,       // another subject
                    "Sam has 3 apples. Sam buys 2 more pears." + suffix,        // another object
                    "Sam has 3 apples. Sam juggles 2 apples." + suffix,         // no such step
                    "Sam has 3 apples." + suffix.replacingOccurrences(of: "Sam have", with: "Mia have"),
                    "Sam has 3 apples. Sam buys 2 more apples. How many apples does Sam have now?",
                    "Sam has 3000000 apples." + suffix, ""] {
            #expect(task.answer(for: bad) == nil, "\(bad)")
        }
    }

    /// Difficulty is the length: train lengths are the easy end, test lengths the hard end.
    @Test(arguments: names)
    func difficultyRanges(name: String) throws {
        let task = try TaskRegistry.task(named: name)
        #expect(task is any ChatTask)
        #expect(task.trainLengths.lowerBound == task.validLengths.lowerBound)  // training starts at the easiest
        for length in task.validLengths {  // up to the longest, every answer fits
            for e in task.examples(count: 5, lengths: length...length, seed: 3) {
                #expect(e.length == length && task.answer(for: e.prompt) == e.reference)
            }
        }
    }

    /// What an instruct model answers is scored by its number, through every path that scores a task.
    @Test(arguments: names)
    func freeTextAnswersAreScoredByTheirNumber(name: String) throws {
        let task = try TaskRegistry.task(named: name)
        let e = task.examples(count: 1, lengths: task.trainLengths, seed: 5)[0]
        let y = try #require(e.reference)
        let wrong = String(Int(y)! + 1)
        let right = [y, "The answer is \(y).", "\\boxed{\(y)}", "So the total is **\(y)**", "\(y).0"]
        for c in right {
            #expect(task.verify(prompt: e.prompt, completion: c), "\(c)")
            #expect(TaskReward.exactMatch.score(task: task, prompt: e.prompt, completion: c) == 1)
            #expect(TaskReward.partialCredit.score(task: task, prompt: e.prompt, completion: c) == 1)
        }
        for c in [wrong, "The answer is \(wrong).", "I don't know", "\(y)1"] {
            #expect(!task.verify(prompt: e.prompt, completion: c), "\(c)")
        }
        let reward = try BuiltinReward.named("exact-match", task: task)
        #expect(try reward.rewards(prompts: [e.prompt, e.prompt], completions: Array(right.prefix(2)), examples: [e, e]) == [1, 1])
        let numberMatch = try BuiltinReward.named("number-match", task: task)
        #expect(try numberMatch.rewards(prompts: [e.prompt, e.prompt], completions: ["It is \(y)", wrong], examples: [e, e]) == [1, 0])
    }

    /// A chat model's answer has words around its number, so sampling gives it room: the task's
    /// completion length, the run inputs' default and a task source's default; an algorithmic
    /// task keeps its reference's length (and a fixed list of its inputs, their references).
    @Test func chatCompletionsHaveRoomForWords() throws {
        let addition = ChatArithmeticTask(.addition), words = WordProblemTask()
        #expect(addition.maxCompletionLength(3) == 4 + 1 + 24 && words.maxCompletionLength(3) == 3 + 1 + 48)
        #expect(AdditionTask().maxCompletionLength(3) == 5)
        #expect(ExampleSource.task(addition, lengths: 1...3).defaultCompletionLength(tokenizer: addition.tokenizer) == 29)
        let model = GPT(GPTConfig(vocabularySize: addition.tokenizer.vocabularySize, contextLength: 64, layers: 1, heads: 2, width: 16), seed: 1)
        let inputs = RunInputs(model: model, tokenizer: addition.tokenizer, examples: addition.examples(count: 20, lengths: 1...2, seed: 1), task: addition)
        #expect(inputs.defaultCompletionLength == addition.maxCompletionLength(2))
        let plain = AdditionTask()
        #expect(RunInputs(model: model, tokenizer: plain.tokenizer, examples: plain.examples(count: 20, lengths: 1...2, seed: 1),
                          task: plain).defaultCompletionLength == nil)
    }

    /// A character-level model cannot write these prompts: a clear error, not a crash.
    @Test(arguments: names)
    func aCharacterModelGetsAClearError(name: String) throws {
        let task = try TaskRegistry.task(named: name)
        let tokenizer = AdditionTask().tokenizer
        #expect(throws: TaskError.self) { try task.checkVocabulary(of: tokenizer) }
        do { try task.checkVocabulary(of: tokenizer) } catch {
            #expect("\(error)".contains("task \(name) writes") && "\(error)".contains("byte-level BPE"), "\(error)")
        }
        try task.checkVocabulary(of: task.tokenizer)
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 64, layers: 1, heads: 2, width: 16), seed: 1)
        #expect(throws: TaskError.self) {
            try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: task.trainLengths, examplesPerLength: 2, seed: 1)
        }
    }

    /// The shipped character model on a chat task through the run's input loader.
    @Test func runInputsRefuseAChatTaskOnACharacterModel() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var inputs = InputConfig()
        inputs.modelNameOrPath = root.appendingPathComponent("checkpoints/addition-base.rftckpt").path
        inputs.task = "chat-addition"
        do {
            _ = try inputs.load(seed: 0)
            Issue.record("loaded a chat task on a character model")
        } catch let error as ConfigError {
            #expect("\(error)".contains("task chat-addition writes") && "\(error)".contains("SmolLM2"), "\(error)")
        }
    }

    /// rft eval reports the chat tasks per difficulty, each row scored by the extracted number.
    @Test func evaluationReportsPerDifficulty() throws {
        let task = ChatArithmeticTask(.addition)
        let tokenizer = task.tokenizer
        let model = GPT(GPTConfig(vocabularySize: tokenizer.vocabularySize, contextLength: 64, layers: 1, heads: 2, width: 16), seed: 1)
        let rows = try TaskEvaluation.evaluate(model: model, tokenizer: tokenizer, task: task, lengths: 1...3, examplesPerLength: 4, seed: 2)
        #expect(rows.map(\.length) == [1, 2, 3] && rows.allSatisfy { $0.count == 4 && (0...1).contains($0.accuracy) })
    }
}
