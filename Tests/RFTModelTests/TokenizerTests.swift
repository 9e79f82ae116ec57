import Foundation
import Testing
@testable import RFTModel

@Suite struct TokenizerTests {
    @Test func specialTokensHaveFixedIds() throws {
        let t = Tokenizer(characters: "ba")
        #expect([Tokenizer.bos, Tokenizer.eos, Tokenizer.pad, Tokenizer.sep, Tokenizer.unk] as [Int] == [0, 1, 2, 3, 4])
        #expect(t.vocabularySize == 7)
        #expect(t.token(0) == "<bos>" && t.token(3) == "<sep>")
        #expect(try t.encode("ab") == [5, 6])  // sorted: ids do not depend on the order of the data
    }

    @Test func encodeDecodeRoundTrip() throws {
        let t = Tokenizer(corpus: ["12+7=19", "héllo wörld ✓"])
        for text in ["12+7=19", "wörld ✓", ""] {
            #expect(t.decode(try t.encode(text)) == text)
        }
        let ids = try t.encodePrompt("12") + t.encodeCompletion("7")
        #expect(ids.first == Tokenizer.bos && ids.last == Tokenizer.eos)
        #expect(t.decode(ids) == "127")
        #expect(t.decode(ids, skipSpecialTokens: false) == "<bos>12<sep>7<eos>")
        #expect(t.decode([999]) == "<?999>")
    }

    @Test func unknownCharacterIsATypedErrorNamingWhere() throws {
        let t = Tokenizer(characters: "0123456789+")
        #expect(throws: TokenizerError.unknownCharacter("x", offset: 3, text: "12+x4")) { try t.encode("12+x4") }
        do {
            _ = try t.encode("12+x4")
        } catch {
            #expect("\(error)".contains("\"x\"") && "\(error)".contains("offset 3"))
        }
        #expect(try t.encode("1x", unknown: .mapToUnknown) == [try t.encode("1")[0], Tokenizer.unk])
    }

    @Test func codableRoundTripKeepsIds() throws {
        let t = Tokenizer(corpus: ["zyx", "abc ✓"])
        let data = try JSONEncoder().encode(t)
        let back = try JSONDecoder().decode(Tokenizer.self, from: data)
        #expect(back == t)
        #expect(try back.encode("a✓z") == t.encode("a✓z"))
    }

    @Test func decodingRejectsBadStoredTokenizers() {
        let bad = [
            #"{"kind":"bpe","specialTokens":["<bos>","<eos>","<pad>","<sep>","<unk>"],"characters":["a"]}"#,
            #"{"kind":"char","specialTokens":["<eos>","<bos>","<pad>","<sep>","<unk>"],"characters":["a"]}"#,
            #"{"kind":"char","specialTokens":["<bos>","<eos>","<pad>","<sep>","<unk>"],"characters":["ab"]}"#,
            #"{"kind":"char","specialTokens":["<bos>","<eos>","<pad>","<sep>","<unk>"],"characters":["a","a"]}"#,
        ]
        for json in bad {
            #expect(throws: DecodingError.self) { try JSONDecoder().decode(Tokenizer.self, from: Data(json.utf8)) }
        }
    }
}
