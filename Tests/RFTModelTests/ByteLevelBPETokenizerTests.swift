import Foundation
import Testing
@testable import RFTModel

/// The byte-level BPE tokenizer against Hugging Face `tokenizers` on the fixture battery
/// (Fixtures/tokenizer, written by scripts/make-tokenizer-fixtures.py).
@Suite struct ByteLevelBPETokenizerTests {
    let fixtures = TokenizerFixtures.shared

    @Test func batteryIsLargeAndVaried() {
        #expect(fixtures.strings.count >= 2000)
        #expect(fixtures.strings.contains { $0.contains("<|im_start|>") })
        #expect(fixtures.strings.contains { $0.contains("\r\n") })
        #expect(fixtures.strings.contains { $0.unicodeScalars.contains { $0.value == 0x200D } })  // ZWJ
    }

    @Test func scalarClassesMatchHuggingFaceRegexEngine() {
        func set(_ key: String) -> Set<UInt32> { Set(fixtures.classes[key]!.flatMap { $0[0]...$0[1] }) }
        let letters = set("L"), numbers = set("N"), spaces = set("S")
        var wrong: [String] = []
        for v in UInt32(1)..<0x110000 where !(0xD800..<0xE000).contains(v) {
            let c = ScalarClass.of(v)
            let mine = (c & ScalarClass.letter != 0, c & ScalarClass.number != 0, c & ScalarClass.space != 0)
            let theirs = (letters.contains(v), numbers.contains(v), spaces.contains(v))
            if mine != theirs { wrong.append(String(v, radix: 16)) }
        }
        #expect(wrong.isEmpty, "\(wrong.count) code points classified differently, e.g. U+\(wrong.prefix(8).joined(separator: " U+"))")
    }

    @Test(arguments: PreTokenizer.allCases) func piecesMatchHuggingFace(_ kind: PreTokenizer) {
        let expected = fixtures.splits[kind.rawValue]!
        let report = mismatches(expected, fixtures.strings) { kind.pieceLengths($0) }
        #expect(report.isEmpty, "\(kind): \(report)")
    }

    @Test(arguments: ["llama3", "qwen2"]) func tokenizerJSONMatchesHuggingFace(_ kind: String) throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_\(kind).json"), source: "tiny_\(kind).json")
        #expect(tokenizer.preTokenizer.rawValue == kind)
        #expect(tokenizer.ignoreMerges == (kind == "llama3"))
        let report = mismatches(fixtures.expected["tiny_\(kind)"]!, fixtures.strings) { tokenizer.encode($0) }
        #expect(report.isEmpty, "\(report)")
        // `<mask>` has lstrip: it swallows the whitespace before it, in Hugging Face as here.
        let decoding = decodeFailures(fixtures.strings.filter { !$0.contains("<mask>") }, encode: { tokenizer.encode($0) },
                                      decode: { tokenizer.decode($0) })
        #expect(decoding.isEmpty, "\(decoding)")
        #expect(tokenizer.decode(tokenizer.encode("a  <mask> b")) == "a<mask> b")
    }

    // Needs GPT-2's ranks from scripts/fetch-models (`make test` runs it); skipped when absent.
    @Test(.enabled(if: ModelCache.has(ModelCache.tiktoken), "skipped: \(ModelCache.tiktoken) missing (run scripts/fetch-models)"))
    func gpt2FromTiktokenMatchesHuggingFace() throws {
        let tokenizer = try ByteLevelBPETokenizer(tiktokenFile: ModelCache.tiktoken)
        #expect(tokenizer.vocabularySize == 50257)
        #expect(tokenizer.merges.count >= 50000)
        #expect(tokenizer.encode("Hello world") == [15496, 995])
        let report = mismatches(fixtures.expected["gpt2"]!, fixtures.strings) { tokenizer.encode($0) }
        #expect(report.isEmpty, "\(report)")
        let decoding = decodeFailures(fixtures.strings, encode: { tokenizer.encode($0) }, decode: { tokenizer.decode($0) })
        #expect(decoding.isEmpty, "\(decoding)")
    }

    // Needs the SmolLM2 GGUF from scripts/fetch-models; skipped when absent.
    @Test(.enabled(if: ModelCache.has(ModelCache.smolLM2), "skipped: \(ModelCache.smolLM2) missing (run scripts/fetch-models)"))
    func smolLM2FromGGUFMatchesHuggingFace() throws {
        let gguf = try GGUFFile(path: ModelCache.smolLM2)
        // As llama.cpp and SmolLM2's own tokenizer.json split (`tokenizer.ggml.pre` = smollm).
        let tokenizer = try ByteLevelBPETokenizer(gguf: gguf.metadata)
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosTokenID == 1 && tokenizer.eosTokenID == 2)
        #expect(tokenizer.chatTemplate?.contains("<|im_start|>") == true)
        #expect(tokenizer.addedTokens.count == 17)
        let report = mismatches(fixtures.expected["smollm2_smollm"]!, fixtures.strings) { tokenizer.encode($0) }
        #expect(report.isEmpty, "smollm: \(report)")
        let decoding = decodeFailures(fixtures.strings, encode: { tokenizer.encode($0) }, decode: { tokenizer.decode($0) })
        #expect(decoding.isEmpty, "\(decoding)")
        // As transformers loads the GGUF: it ignores `smollm` and splits with GPT-2's regex.
        let asTransformers = try ByteLevelBPETokenizer(gguf: gguf.metadata, preTokenizer: .gpt2)
        let report2 = mismatches(fixtures.expected["smollm2_gguf"]!, fixtures.strings) { asTransformers.encode($0) }
        #expect(report2.isEmpty, "transformers' GGUF tokenizer: \(report2)")
    }

    @Test func codableRoundTripKeepsEveryID() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_llama3.json"))
        var withConfig = tokenizer
        withConfig.chatTemplate = "{{ messages }}"
        withConfig.bosTokenID = 1
        let data = try JSONEncoder().encode(withConfig)
        let back = try JSONDecoder().decode(ByteLevelBPETokenizer.self, from: data)
        #expect(back == withConfig)
        #expect(back != tokenizer)
        for s in fixtures.strings.prefix(300) { #expect(back.encode(s) == tokenizer.encode(s)) }
        // Corrupt stored forms are decoding errors, not crashes.
        var json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        json["merges"] = [0, 1, 2]
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ByteLevelBPETokenizer.self, from: JSONSerialization.data(withJSONObject: json)) }
        json["merges"] = [0, 999_999]
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ByteLevelBPETokenizer.self, from: JSONSerialization.data(withJSONObject: json)) }
        json["kind"] = "char"
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ByteLevelBPETokenizer.self, from: JSONSerialization.data(withJSONObject: json)) }
    }

    @Test func heapAndScanMergesAgree() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_qwen2.json"))
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("the quick brown fox jumps over a lazy dog THE éà你好".utf8)
        for _ in 0..<200 {
            let bytes = (0..<Int.random(in: 2...300, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            var a = bytes.map { tokenizer.model.byteToken[Int($0)] }, b = a
            tokenizer.model.scanMerge(&a)
            tokenizer.model.heapMerge(&b)
            #expect(a == b)
        }
    }

    @Test func specialTokensAndOptions() throws {
        let tokenizer = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_llama3.json"))
        let start = try #require(tokenizer.addedTokenID("<|im_start|>"))
        let ids = tokenizer.encode("<|im_start|>user")
        #expect(ids.first == start)
        #expect(!tokenizer.encode("<|im_start|>user", parseSpecialTokens: false).contains(start))
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "user")
        #expect(tokenizer.decode([-1, 1 << 30]) == "")
        #expect(tokenizer.encode("") == [])
    }

    @Test func malformedTokenizerFilesAreTypedErrors() throws {
        let good = try JSONSerialization.jsonObject(with: Data(TokenizerFixtures.file("tiny_qwen2.json"))) as! [String: Any]
        func variant(_ change: (inout [String: Any]) -> Void) throws -> [UInt8] {
            var j = good
            change(&j)
            return [UInt8](try JSONSerialization.data(withJSONObject: j))
        }
        func model(_ j: inout [String: Any], _ change: (inout [String: Any]) -> Void) {
            var m = j["model"] as! [String: Any]
            change(&m)
            j["model"] = m
        }
        let cases: [(String, [UInt8])] = [
            ("not JSON", Array("{\"model\": ".utf8)),
            ("normalizer", try variant { $0["normalizer"] = ["type": "NFC"] }),
            ("other pre-tokenizer", try variant { $0["pre_tokenizer"] = ["type": "Whitespace"] }),
            ("other split regex", try variant { $0["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "\\s+"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "use_regex": false]]] }),
            ("prefix space", try variant { $0["pre_tokenizer"] = ["type": "ByteLevel", "add_prefix_space": true, "use_regex": true] }),
            ("WordPiece", try variant { model(&$0) { $0["type"] = "WordPiece" } }),
            ("byte fallback", try variant { model(&$0) { $0["byte_fallback"] = true } }),
            ("unknown merge token", try variant { model(&$0) { $0["merges"] = ["zzzq qqqz"] } }),
            ("merge of three", try variant { model(&$0) { $0["merges"] = ["a b c"] } }),
            ("merge result not in vocab", try variant { model(&$0) { $0["vocab"] = ["a": 0, "b": 1]; $0["merges"] = ["a b"] } }),
            ("vocab id not a number", try variant { model(&$0) { $0["vocab"] = ["a": "x"] } }),
            ("two tokens, one id", try variant { model(&$0) { $0["vocab"] = ["a": 0, "b": 0]; $0["merges"] = [String]() } }),
            ("no vocab", try variant { model(&$0) { $0["vocab"] = nil } }),
            ("single_word", try variant { $0["added_tokens"] = [["id": 5, "content": "x", "single_word": true]] }),
            ("added token without id", try variant { $0["added_tokens"] = [["content": "x"]] }),
            ("negative added id", try variant { $0["added_tokens"] = [["id": -3, "content": "x"]] }),
        ]
        for (name, bytes) in cases {
            #expect(throws: TokenizerLoadError.self, "\(name)") { try ByteLevelBPETokenizer(tokenizerJSON: bytes) }
        }
        let config = Array(#"{"bos_token": "<nope>"}"#.utf8)
        #expect(throws: TokenizerLoadError.self) { try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_qwen2.json"), config: config) }
        let configured = try ByteLevelBPETokenizer(tokenizerJSON: TokenizerFixtures.file("tiny_qwen2.json"),
            config: Array(#"{"bos_token": {"content": "<|im_start|>"}, "eos_token": "<|im_end|>", "add_bos_token": true, "chat_template": "T"}"#.utf8))
        #expect(configured.bosTokenID == configured.addedTokenID("<|im_start|>"))
        #expect(configured.encode("hi", addSpecialTokens: true).first == configured.bosTokenID)
        #expect(configured.chatTemplate == "T")
    }

    @Test func malformedTiktokenFilesAreTypedErrors() {
        for text in ["", "IQ==\n", "IQ== x\n", "!!!! 0\n", "IQ== 0\nIQ== 1\n", "IQ== 0\nIg== 0\n", "IQ== 1\n", "IQ== 0 1\n"] {
            #expect(throws: TokenizerLoadError.self, "\(text.debugDescription)") { try ByteLevelBPETokenizer(tiktokenRanks: text) }
        }
    }
}
