import RFTModel

/// TRL's conversational dataset fields: a `"prompt"` that is a list of messages
/// (`[{"role": "system", "content": "…"}, {"role": "user", "content": "…"}]`) and a
/// `"completion"` that is one assistant message (`[{"role": "assistant", "content": "…"}]`).
/// Every size is bounded, and each problem is a `ConversationalFieldError` saying which
/// message and what is wrong.
public enum ConversationalFields {
    /// The most messages one prompt may hold.
    public static let maxMessages = 256
    /// The longest message content read, in UTF-8 bytes (1 MiB).
    public static let maxContentBytes = 1 << 20

    /// The messages of a conversational `"prompt"`: at most `maxMessages`, a system message
    /// only first, and a user message last (the model answers it).
    public static func prompt(_ value: [JSONValue]) throws -> [ChatMessage] {
        guard !value.isEmpty else { throw ConversationalFieldError("\"prompt\" is an empty list of messages") }
        guard value.count <= maxMessages else {
            throw ConversationalFieldError("\"prompt\" holds \(value.count) messages, above the limit of \(maxMessages)")
        }
        let messages = try value.enumerated().map { try message($1, at: "\"prompt\"[\($0)]") }
        if let i = messages.dropFirst().firstIndex(where: { $0.role == .system }) {
            throw ConversationalFieldError("\"prompt\"[\(i)]: a system message may only come first")
        }
        guard messages.last?.role == .user else {
            throw ConversationalFieldError("\"prompt\"[\(messages.count - 1)]: the last message must be the user's (role \"user\"), got \"\(messages.last!.role.rawValue)\"")
        }
        return messages
    }

    /// The text of a conversational `"completion"`: exactly one message, the assistant's.
    public static func completion(_ value: [JSONValue]) throws -> String {
        guard value.count == 1 else {
            throw ConversationalFieldError("\"completion\" must hold exactly one message (the assistant's), got \(value.count)")
        }
        let m = try message(value[0], at: "\"completion\"[0]")
        guard m.role == .assistant else {
            throw ConversationalFieldError("\"completion\"[0]: the completion must be the assistant's (role \"assistant\"), got \"\(m.role.rawValue)\"")
        }
        return m.content
    }

    /// One `{"role": …, "content": …}` object; `at` names it in errors.
    static func message(_ value: JSONValue, at: String) throws -> ChatMessage {
        guard case .object(let fields) = value else { throw ConversationalFieldError("\(at): a message must be an object with \"role\" and \"content\"") }
        if let extra = fields.keys.sorted().first(where: { $0 != "role" && $0 != "content" }) {
            throw ConversationalFieldError("\(at): unknown key \(extra.debugDescription); a message has \"role\" and \"content\" only")
        }
        guard case .string(let roleName)? = fields["role"] else { throw ConversationalFieldError("\(at): \"role\" must be a string") }
        guard let role = ChatRole(rawValue: roleName) else {
            let shown = roleName.count > 40 ? String(roleName.prefix(40)) + "…" : roleName
            throw ConversationalFieldError("\(at): unknown role \(shown.debugDescription); roles are \(ChatRole.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard case .string(let content)? = fields["content"] else { throw ConversationalFieldError("\(at): \"content\" must be a string") }
        guard content.utf8.count <= maxContentBytes else {
            throw ConversationalFieldError("\(at): \"content\" of \(content.utf8.count) bytes, above the limit of \(maxContentBytes)")
        }
        return ChatMessage(role: role, content: content)
    }
}

/// What is wrong with a conversational field of a dataset line (the file and line are added by
/// the dataset reader).
public struct ConversationalFieldError: Error, Equatable, CustomStringConvertible {
    /// The problem, naming the message (`"prompt"[2]: unknown role "tool"`).
    public var description: String

    /// An error saying `description`.
    init(_ description: String) { self.description = description }
}
