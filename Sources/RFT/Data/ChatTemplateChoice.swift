import RFTModel

/// The `chat_template` setting: how prompts are rendered for the model. `auto` (the default)
/// uses the template the model's tokenizer carries, recognised from its text (ChatML or Llama 3;
/// none for a tokenizer without one, such as rft's character models); `chatml` and `llama3`
/// force one; `none` sends plain prompts.
public enum ChatTemplateChoice: String, ConfigChoice {
    /// The model's own template, when its tokenizer carries one.
    case auto
    /// ChatML (with the system message the model's own ChatML template inserts, if any).
    case chatml
    /// Llama 3.
    case llama3
    /// Plain prompts.
    case none

    /// The help text of the `chat_template` key.
    static let help = "how prompts are rendered: auto (the model's own chat template, ChatML or Llama 3, when its tokenizer carries one; plain prompts otherwise), chatml, llama3, or none (plain prompts)"

    /// `tokenizer` rendering prompts as this setting says; throws `ConfigError.invalid` for
    /// `chat_template` when the model's template is unknown or its tokenizer lacks the tokens
    /// of a forced one.
    public func apply(to tokenizer: Tokenizer) throws -> Tokenizer {
        do {
            switch self {
            case .none: return try tokenizer.withChatTemplate(nil)
            case .auto: return try tokenizer.withChatTemplate(tokenizer.recognizedChatTemplate())
            case .chatml:
                let own = (try? tokenizer.recognizedChatTemplate()) ?? nil  // the model's own ChatML keeps its system message
                if case .chatml? = own { return try tokenizer.withChatTemplate(own) }
                return try tokenizer.withChatTemplate(.chatml(defaultSystemMessage: nil))
            case .llama3: return try tokenizer.withChatTemplate(.llama3)
            }
        } catch let error as ChatTemplateError {
            var reason = error.description
            if case .missingTokens = error {} else { reason += "; set chat_template to \(ChatTemplate.names.joined(separator: ", ")) or none" }
            throw ConfigError.invalid(key: "chat_template", reason: reason)
        }
    }
}

extension LoadedModel {
    /// The model with its tokenizer rendering prompts as `choice` says (see `ChatTemplateChoice.apply`).
    public func withChatTemplate(_ choice: ChatTemplateChoice) throws -> LoadedModel {
        var out = self
        out.tokenizer = try choice.apply(to: tokenizer)
        return out
    }
}
