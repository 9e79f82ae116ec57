import Foundation
@testable import RFT
@testable import RFTModel

/// Chat-capable tokenizers and tiny models for the chat tests: a byte-level BPE over all 256
/// bytes (no merges) plus a template's special tokens, with EOS `<|endoftext|>` — another
/// token than the end-of-turn one, so that stopping at the end of a turn is the template's doing.
enum ChatFixture {
    /// A ChatML template with a default system message, in SmolLM2's shape.
    static let chatMLTemplate = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nBe brief.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    /// Meta Llama 3's template.
    static let llama3Template = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

    /// ChatML tokens: 256 `<|endoftext|>` (EOS), 257 `<|im_start|>`, 258 `<|im_end|>`; no BOS.
    static func chatML(template: String? = chatMLTemplate) -> Tokenizer {
        bytes(["<|endoftext|>", "<|im_start|>", "<|im_end|>"], bos: nil, eos: 256, template: template)
    }

    /// Llama 3 tokens: 256 `<|begin_of_text|>` (BOS, added to prompts), 257 `<|end_of_text|>`
    /// (EOS), 258 `<|start_header_id|>`, 259 `<|end_header_id|>`, 260 `<|eot_id|>`.
    static func llama3(template: String? = llama3Template) -> Tokenizer {
        bytes(["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"], bos: 256, eos: 257,
              template: template)
    }

    /// 256 byte tokens, then `specials` from id 256.
    static func bytes(_ specials: [String], bos: Int?, eos: Int, template: String?) -> Tokenizer {
        let tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        let added = specials.enumerated().map { AddedToken(id: 256 + $0, content: $1) }
        let bpe = try! ByteLevelBPETokenizer(tokens: tokens, merges: [], addedTokens: added, preTokenizer: .gpt2, bosTokenID: bos,
                                             eosTokenID: eos, addBOS: bos != nil, chatTemplate: template)
        return try! Tokenizer(byteLevel: bpe)
    }

    /// A 1-layer Llama-family model over `tokenizer`'s vocabulary.
    static func model(_ tokenizer: Tokenizer, contextLength: Int = 160, seed: UInt64 = 5) -> GPT {
        GPT(.llama(vocabularySize: tokenizer.vocabularySize, contextLength: contextLength, layers: 1, heads: 2, kvHeads: 1, width: 32,
                   intermediateSize: 48), seed: seed)
    }

    /// `model` and `tokenizer` written as a Hugging Face folder at `path` (what `rft export` writes).
    static func writeFolder(_ model: GPT, tokenizer: Tokenizer, to path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        for (name, bytes) in try HuggingFaceExport.folder(model, tokenizer: tokenizer).files {
            try Data(bytes).write(to: URL(fileURLWithPath: path + "/" + name))
        }
    }

    /// Three conversations and their answers, as TRL's conversational JSONL lines: a user
    /// message, a system message first, and several turns.
    static let conversations = [
        #"{"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "ok"}]}"#,
        #"{"prompt": [{"role": "system", "content": "Say no."}, {"role": "user", "content": "yes?"}], "completion": [{"role": "assistant", "content": "no"}], "id": "sys"}"#,
        #"{"prompt": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}], "completion": "d"}"#,
    ]

    /// `lines` written to `path`.
    static func write(_ lines: [String], to path: String) {
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
