import Foundation
import Testing
@testable import RFTModel

/// Chat templates render what Hugging Face's `apply_chat_template(messages,
/// add_generation_prompt=True, tokenize=False)` renders. Every expected string below was printed
/// by transformers 5.24.0 (run by hand, /tmp scripts, not by the tests) from the template text
/// shown: SmolLM2-135M-Instruct's as its GGUF carries it, Meta Llama 3 Instruct's with
/// `bos_token` `<|begin_of_text|>`, and two ChatML variants.
@Suite struct ChatTemplateTests {
    /// `tokenizer.chat_template` of SmolLM2-135M-Instruct.Q4_1.gguf, verbatim (its `\n` are newlines).
    static let smolLM2 = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    /// Meta Llama 3 Instruct's template.
    static let llama3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    /// ChatML whose default system message uses Jinja escapes (`\n`, `\'`, `\t` as two characters).
    static let escapedChatML = #"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou\'re a helpful assistant.\tBe brief.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
    /// Plain ChatML: no default system message.
    static let plainChatML = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"

    /// The conversations rendered: one user message, a system message first, and several turns
    /// with a last message that Llama 3 trims.
    static let conversations: [String: [ChatMessage]] = [
        "user": [.user("What is the capital of France?")],
        "system": [ChatMessage(role: .system, content: "You are terse."), .user("What is 37+48? Answer with the number only.")],
        "multi": [.user("Hi"), ChatMessage(role: .assistant, content: "Hello! How can I help?"), .user(" What is 2+2?\n")],
    ]

    static let smolLM2Expected = [
        "user": "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "system": "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 37+48? Answer with the number only.<|im_end|>\n<|im_start|>assistant\n",
        "multi": "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n<|im_start|>user\n What is 2+2?\n<|im_end|>\n<|im_start|>assistant\n",
    ]

    static let llama3Expected = [
        "user": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is the capital of France?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "system": "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 37+48? Answer with the number only.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
        "multi": "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello! How can I help?<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    ]

    @Test func smolLM2RendersAsHuggingFace() throws {
        let template = try ChatTemplate(recognizing: Self.smolLM2)
        #expect(template == .chatml(defaultSystemMessage: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        for (name, messages) in Self.conversations {
            #expect(template.render(messages, bosToken: "<|im_start|>") == Self.smolLM2Expected[name], "\(name)")
        }
        #expect(template.endOfTurn == "<|im_end|>")
    }

    @Test func llama3RendersAsHuggingFace() throws {
        let template = try ChatTemplate(recognizing: Self.llama3)
        #expect(template == .llama3)
        for (name, messages) in Self.conversations {
            #expect(template.render(messages, bosToken: "<|begin_of_text|>") == Self.llama3Expected[name], "\(name)")
        }
        #expect(template.endOfTurn == "<|eot_id|>")
        // the assistant's turn, as `apply_chat_template(... + [assistant " Paris. \n"])` ends: "Paris.<|eot_id|>"
        #expect(template.assistantContent(" Paris. \n") == "Paris.")
    }

    @Test func chatMLVariantsRenderAsHuggingFace() throws {
        let escaped = try ChatTemplate(recognizing: Self.escapedChatML)
        #expect(escaped == .chatml(defaultSystemMessage: "You're a helpful assistant.\tBe brief."))
        #expect(escaped.render([.user("Hi")], bosToken: nil)
                == "<|im_start|>system\nYou're a helpful assistant.\tBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(escaped.render([ChatMessage(role: .system, content: "S"), .user("Hi")], bosToken: nil)
                == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        let plain = try ChatTemplate(recognizing: Self.plainChatML)
        #expect(plain == .chatml(defaultSystemMessage: nil))
        #expect(plain.render([.user("Hi")], bosToken: nil) == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
        #expect(plain.render([ChatMessage(role: .system, content: "S"), .user("Hi")], bosToken: nil)
                == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    /// A template rft does not render is an error that names the templates it knows.
    @Test func unknownTemplatesAreErrorsNamingTheKnownOnes() {
        let mistral = "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}"
        #expect(throws: ChatTemplateError.unknown(excerpt: mistral)) { try ChatTemplate(recognizing: mistral) }
        let text = ChatTemplateError.unknown(excerpt: mistral).description
        #expect(text.contains("chatml") && text.contains("<|im_start|>") && text.contains("llama3") && text.contains("<|start_header_id|>") && text.contains(#": "{{ bos_token }}{% for message in messages %}"#), "\(text)")
        let llama31 = "{{- bos_token }}{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(recognizing: llama31) }
        #expect((try? ChatTemplate(recognizing: llama31)) == nil)
        #expect(throws: ChatTemplateError.unknown(excerpt: "")) { try ChatTemplate(recognizing: "") }
    }

    /// Jinja's `trim` is Python's `str.strip()`: Unicode whitespace and the separators U+001C–U+001F.
    @Test func trimIsPythonsStrip() {
        #expect(ChatTemplate.trim(" \t\n a b \u{1F}\u{3000}\u{85}") == "a b")
        #expect(ChatTemplate.trim("\u{200B}x\u{200B}") == "\u{200B}x\u{200B}")  // a zero-width space is not whitespace
        #expect(ChatTemplate.trim(" \n ") == "")
    }

    // Needs the SmolLM2 GGUF from scripts/fetch-models; skipped when absent.
    /// The whole chain on the real model's tokenizer: the template text read from the GGUF,
    /// recognised, rendered and tokenized gives the ids of transformers'
    /// `AutoTokenizer.from_pretrained(dir, gguf_file=…).apply_chat_template(messages,
    /// add_generation_prompt=True)` (recorded by hand).
    @Test(.enabled(if: ModelCache.has(ModelCache.smolLM2), "skipped: \(ModelCache.smolLM2) missing (run scripts/fetch-models)"))
    func smolLM2PromptIDsEqualHuggingFace() throws {
        let bpe = try ByteLevelBPETokenizer(gguf: try GGUFFile(path: ModelCache.smolLM2).metadata)
        #expect(bpe.chatTemplate == Self.smolLM2)
        let tokenizer = try Tokenizer(byteLevel: bpe)
        let chat = try tokenizer.withChatTemplate(try tokenizer.recognizedChatTemplate())
        #expect(chat.chatTemplate != nil)
        let expected: [String: [Int]] = [
            "user": [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198,
                     1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198],
            "system": [1, 9690, 198, 2683, 359, 1733, 313, 30, 2, 198, 1, 4093, 198, 1780, 314, 216, 35, 39, 27, 36, 40, 47, 19842, 351, 260, 1230,
                       805, 30, 2, 198, 1, 520, 9531, 198],
            "multi": [1, 9690, 198, 2683, 359, 253, 5356, 5646, 11173, 3365, 3511, 308, 34519, 28, 7018, 411, 407, 19712, 8182, 2, 198, 1, 4093, 198,
                      26843, 2, 198, 1, 520, 9531, 198, 19556, 17, 1073, 416, 339, 724, 47, 2, 198, 1, 4093, 198, 1812, 314, 216, 34, 27, 34, 47, 198,
                      2, 198, 1, 520, 9531, 198],
        ]
        for (name, messages) in Self.conversations {
            #expect(try chat.encodePrompt(messages: messages) == expected[name], "\(name)")
        }
        // a plain prompt is one user message; BOS (<|im_start|>) is not added a second time
        #expect(try chat.encodePrompt("What is the capital of France?") == expected["user"])
        #expect(chat.stopTokens == [2] && chat.endOfTurnID == 2)
        #expect(try chat.encodeCompletion("Paris.") == tokenizer.encode("Paris.") + [2])
        #expect(tokenizer.summary.contains("chat template (chatml)"), "\(tokenizer.summary)")
    }
}
