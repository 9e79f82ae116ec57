import Foundation
import Testing
@testable import RFT
import RFTModel
import RFTTensor

/// JSONL datasets: fields, metadata, and one error naming file and line for each kind of bad line.
struct DatasetTests {
    static let tokenizer = Tokenizer(characters: "0123456789+=abc ")

    /// Writes `text` to a fresh file and returns its path.
    static func file(_ text: String) -> String {
        let path = makeTemporaryDirectory("data") + "/train.jsonl"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    @Test func readsFieldsAndMetadata() throws {
        let path = Self.file("""
        {"prompt": "1+2=", "completion": "3", "id": "a", "difficulty": 2}

        {"prompt": "12+5=", "length": 2}
        {"prompt": "abc", "id": 7, "tags": ["x"]}
        """)
        let d = try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(tokenizer: Self.tokenizer, contextLength: 16))
        #expect(d.examples.count == 3 && d.skipped.isEmpty)
        #expect(d.examples[0] == TaskExample(prompt: "1+2=", reference: "3", length: 4, id: "a", metadata: ["difficulty": .number(2)]))
        #expect(d.examples[1].reference == nil && d.examples[1].length == 2 && d.examples[1].id == "\(path):3")
        #expect(d.examples[2].id == "7" && d.examples[2].metadata["tags"] == .array([.string("x")]))
    }

    /// Each bad line, alone after a good one, gives its own message at line 2.
    @Test(arguments: [
        ("{\"prompt\": \"1+2=\"", "malformed JSON"),
        ("[1, 2]", "expected a JSON object"),
        ("{\"completion\": \"3\"}", "missing \"prompt\""),
        ("{\"prompt\": 12}", "\"prompt\" must be a string"),
        ("{\"prompt\": \"\"}", "\"prompt\" is empty"),
        ("{\"prompt\": \"1+2=\", \"completion\": 3}", "\"completion\" must be a string"),
        ("{\"prompt\": \"1*2=\"}", "unknown character \"*\""),
        ("{\"prompt\": \"1111111111111111+1=\"}", "the model's context is 16"),
        ("{\"prompt\": \"1+2=\", \"length\": -1}", "\"length\" must be a non-negative integer"),
    ])
    func badLineNamesFileAndLine(line: String, message: String) throws {
        let path = Self.file("{\"prompt\": \"1+1=\", \"completion\": \"2\"}\n" + line + "\n")
        let requirements = DatasetRequirements(tokenizer: Self.tokenizer, contextLength: 16)
        do {
            _ = try PromptDataset.load(jsonl: path, requirements: requirements)
            Issue.record("no error for \(line)")
        } catch let DatasetError.invalidLine(issue) {
            #expect(issue.line == 2 && issue.path == path)
            #expect(issue.description.hasPrefix("\(path):2: ") && issue.description.contains(message), "\(issue)")
        }
        let skipping = try PromptDataset.load(jsonl: path, requirements: requirements, skipInvalid: true)
        #expect(skipping.examples.count == 1 && skipping.skipped.count == 1 && skipping.skipped[0].line == 2)
    }

    @Test func referenceRequiredForSupervisedUse() throws {
        let path = Self.file("{\"prompt\": \"1+1=\"}\n")
        #expect(throws: DatasetError.invalidLine(DatasetIssue(path: path, line: 1, message: "missing \"completion\" (the reference is needed here)"))) {
            try PromptDataset.load(jsonl: path, requirements: DatasetRequirements(requireReference: true))
        }
        #expect(throws: TaskBatchError.missingReference("x")) {
            try TaskBatch([TaskExample(prompt: "1+1=", reference: nil, length: 1, id: "x")], tokenizer: Self.tokenizer)
        }
    }

    @Test func emptyAndMissingFiles() throws {
        let empty = Self.file("\n\n")
        #expect(throws: DatasetError.empty(path: empty, skipped: 0)) { try PromptDataset.load(jsonl: empty) }
        let allBad = Self.file("nope\n")
        #expect(throws: DatasetError.empty(path: allBad, skipped: 1)) { try PromptDataset.load(jsonl: allBad, skipInvalid: true) }
        do {
            _ = try PromptDataset.load(jsonl: "/nonexistent/train.jsonl")
            Issue.record("no error for a missing file")
        } catch let e as DatasetError {
            #expect(e.description.hasPrefix("/nonexistent/train.jsonl: cannot read"))
        }
        let binary = makeTemporaryDirectory("data") + "/bin.jsonl"
        FileManager.default.createFile(atPath: binary, contents: Data([0xff, 0xfe, 0x00, 0x80]))
        #expect(throws: DatasetError.invalidLine(DatasetIssue(path: binary, line: 1, message: "not UTF-8 text"))) { try PromptDataset.load(jsonl: binary) }
    }

    @Test func fixedSourceDrawsFromTheList() {
        let list = (0..<5).map { TaskExample(prompt: "\($0)", reference: nil, length: 1) }
        var g = RandomGenerator(seed: 3)
        let drawn = ExampleSource.fixed(list).draw(200, using: &g)
        #expect(drawn.count == 200 && Set(drawn.map(\.prompt)) == Set(list.map(\.prompt)))
    }
}
