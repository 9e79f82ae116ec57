/// Who speaks a chat message (Hugging Face's and TRL's role names).
public enum ChatRole: String, Codable, CaseIterable, Sendable {
    /// Instructions that frame the conversation (first message only).
    case system
    /// The person asking.
    case user
    /// The model.
    case assistant
}

/// One message of a conversation, `{"role": "user", "content": "…"}` as TRL's conversational
/// datasets and `apply_chat_template` write it.
public struct ChatMessage: Codable, Equatable, Sendable {
    /// Who speaks.
    public var role: ChatRole
    /// What is said.
    public var content: String

    /// A message.
    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }

    /// A user message.
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
}

/// A chat template rft renders itself, equal to what Hugging Face's
/// `apply_chat_template(messages, add_generation_prompt=True, tokenize=False)` renders with the
/// model's Jinja template. Recognised from that template's text (GGUF `tokenizer.chat_template`,
/// `tokenizer_config.json` `chat_template`): ChatML by `<|im_start|>`, Llama 3 by
/// `<|start_header_id|>`. Each names its end-of-turn token, at which generation stops.
public enum ChatTemplate: Equatable, Sendable {
    /// ChatML: `<|im_start|>role\ncontent<|im_end|>\n` per message, then `<|im_start|>assistant\n`
    /// (SmolLM2, Qwen2). `defaultSystemMessage` is the system turn the template writes first
    /// when a conversation does not start with one (SmolLM2's "You are a helpful AI assistant
    /// named SmolLM, trained by Hugging Face"), read from the template text.
    case chatml(defaultSystemMessage: String?)
    /// Llama 3: BOS, then `<|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|>` per
    /// message with the content trimmed, then `<|start_header_id|>assistant<|end_header_id|>\n\n`.
    case llama3

    /// The names of the templates rft renders, as `chat_template` takes them.
    public static let names = ["chatml", "llama3"]

    /// `chatml` or `llama3`.
    public var name: String {
        switch self {
        case .chatml: return "chatml"
        case .llama3: return "llama3"
        }
    }

    /// The token that ends a turn (`<|im_end|>`, `<|eot_id|>`): generation stops at it, and an
    /// SFT completion ends with it.
    public var endOfTurn: String {
        switch self {
        case .chatml: return "<|im_end|>"
        case .llama3: return "<|eot_id|>"
        }
    }

    /// The added tokens a tokenizer needs to render this template.
    public var requiredTokens: [String] {
        switch self {
        case .chatml: return ["<|im_start|>", "<|im_end|>"]
        case .llama3: return ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
        }
    }

    /// The template a Jinja template text is: ChatML when it writes `<|im_start|>`, Llama 3 when
    /// it writes `<|start_header_id|>`; throws `ChatTemplateError.unknown` for any other text and
    /// `.unsupported` for Llama 3.1's dated system header, which rft does not render.
    public init(recognizing text: String) throws {
        if text.contains("<|im_start|>") {
            self = .chatml(defaultSystemMessage: Self.chatMLDefaultSystemMessage(in: text))
        } else if text.contains("<|start_header_id|>") {
            guard !text.contains("Cutting Knowledge Date") else {
                throw ChatTemplateError.unsupported(name: "Llama 3.1's template (a dated system header before every conversation)")
            }
            self = .llama3
        } else {
            throw ChatTemplateError.unknown(excerpt: text)
        }
    }

    /// The prompt text of `messages`: every message rendered, then (when `addGenerationPrompt`)
    /// the assistant's header, so the model's next tokens are the assistant's answer.
    /// `bosToken` is the tokenizer's BOS text, which Llama 3 writes first.
    public func render(_ messages: [ChatMessage], bosToken: String?, addGenerationPrompt: Bool = true) -> String {
        var out = ""
        switch self {
        case .chatml(let defaultSystemMessage):
            if let defaultSystemMessage, let first = messages.first, first.role != .system {
                out += "<|im_start|>system\n" + defaultSystemMessage + "<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>" + m.role.rawValue + "\n" + m.content + "<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bosToken ?? "" }
                out += "<|start_header_id|>" + m.role.rawValue + "<|end_header_id|>\n\n" + Self.trim(m.content) + "<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        }
        return out
    }

    /// The text an assistant turn holds for `content` before its end-of-turn token (Llama 3 trims it).
    public func assistantContent(_ content: String) -> String {
        switch self {
        case .chatml: return content
        case .llama3: return Self.trim(content)
        }
    }

    /// Jinja's `trim` (Python's `str.strip()`): whitespace off both ends.
    static func trim(_ s: String) -> String {
        let scalars = s.unicodeScalars
        func space(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }
        guard let start = scalars.firstIndex(where: { !space($0) }), let last = scalars.lastIndex(where: { !space($0) }) else { return "" }
        return String(scalars[start...last])
    }

    /// The system message a ChatML template writes when a conversation has none: the literal
    /// text of a Jinja string `'<|im_start|>system\n…<|im_end|>'`, or nil when the template has
    /// no such literal (a system turn built from `message['content']` is not one).
    static func chatMLDefaultSystemMessage(in text: String) -> String? {
        let marker = "<|im_start|>system", end = "<|im_end|>"
        var searchFrom = text.startIndex
        while let r = text[searchFrom...].firstRange(of: marker) {
            searchFrom = r.upperBound
            var rest = text[r.upperBound...]
            if rest.hasPrefix("\n") { rest = rest.dropFirst() } else if rest.hasPrefix("\\n") { rest = rest.dropFirst(2) } else { continue }
            var message = "", i = rest.startIndex
            literal: while i < rest.endIndex {
                if rest[i...].hasPrefix(end) { return message }
                let c = rest[i]
                switch c {
                case "'", "\"", "{", "}": break literal  // the Jinja string ends: not a literal system message
                case "\\":
                    i = rest.index(after: i)
                    guard i < rest.endIndex else { break literal }
                    switch rest[i] {
                    case "n": message.append("\n")
                    case "t": message.append("\t")
                    case "r": message.append("\r")
                    default: message.append(rest[i])
                    }
                default: message.append(c)
                }
                i = rest.index(after: i)
            }
        }
        return nil
    }
}

/// Errors choosing or applying a chat template.
public enum ChatTemplateError: Error, Equatable, CustomStringConvertible {
    /// The tokenizer's template text is none of the templates rft renders (`excerpt`: its start).
    case unknown(excerpt: String)
    /// A known family's variant rft does not render.
    case unsupported(name: String)
    /// The tokenizer lacks added tokens the template needs.
    case missingTokens(template: String, missing: [String])
    /// A conversation was given to a tokenizer with no chat template.
    case noTemplate

    /// How each known template is recognised, for errors.
    static let known = "chatml (recognised by <|im_start|>), llama3 (by <|start_header_id|>)"

    /// A one-line explanation naming the templates rft knows.
    public var description: String {
        switch self {
        case .unknown(let text):
            let flat = text.replacing("\n", with: " ")
            let shown = flat.count > 80 ? String(flat.prefix(80)) + "…" : flat
            return "the model's chat template is not one rft renders (known: \(Self.known)): \"\(shown)\""
        case .unsupported(let name): return "\(name) is not rendered by rft (known: \(Self.known))"
        case .missingTokens(let template, let missing):
            return "the \(template) chat template needs the tokens \(missing.joined(separator: ", ")), which the model's tokenizer does not have"
        case .noTemplate: return "a conversation (a list of messages) needs a chat template, and the tokenizer has none"
        }
    }
}
