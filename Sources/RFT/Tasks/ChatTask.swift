/// The instruction every chat task's prompt ends with.
let chatInstruction = "Answer with the number only."

/// A built-in task asked in chat form (the prompt is the text of one user message, which a chat
/// template wraps) whose answer is a number read out of the model's free text: `\boxed{85}`,
/// "The answer is 85." and "85" all answer 85 (`NumberExtraction.answer(in:)`). Its prompts are
/// English, so it needs a model with a byte-level BPE tokenizer (SmolLM2, Llama, Qwen2, GPT-2).
public protocol ChatTask: VerifiableTask {
    /// Tokens a completion may take beyond the answer's digits and its end: what a chat model
    /// writes around the number ("The answer is 85.", "37 + 48 = 85", a few lines of working).
    var roomForWords: Int { get }
}

extension ChatTask {
    /// The canonical number the completion answers with, or "" when it holds none.
    public func extractAnswer(from completion: String) -> String { NumberExtraction.answer(in: completion) ?? "" }

    /// The answer's digits, its end and `roomForWords`.
    public func maxCompletionLength(_ length: Int) -> Int { maxReferenceLength(length) + 1 + roomForWords }
}
