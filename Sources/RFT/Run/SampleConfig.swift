import RFTModel
import RFTTensor

/// Everything `rft sample` runs with: the model, how many completions of each prompt, how
/// they are sampled.
public struct SampleConfig: Configuration {
    /// The model (a .rftckpt file, a run folder, a Hugging Face folder or a GGUF file; --model; default: the demo's).
    public var modelNameOrPath: String?
    /// Completions per prompt.
    public var numGenerations = 1
    /// Temperature (0: greedy).
    public var temperature: Float = 1
    /// Keep the k most likely tokens (0: all).
    public var topK = 0
    /// Keep the most likely tokens up to this probability mass (1: all).
    public var topP: Float = 1
    /// Most new tokens (nil: up to the context).
    public var maxNewTokens: Int?
    /// Seed of the samples.
    public var seed: UInt64 = 0
    /// Send each prompt as it is, without `<bos>` and `<sep>` and without the chat template.
    public var raw = false
    /// How prompts are rendered: the model's chat template (`auto`), a forced one, or none.
    public var chatTemplate: ChatTemplateChoice = .auto
    /// Threads.
    public var threads = 2

    /// The defaults.
    public init() {}

    /// The help of each key.
    public static let help = [
        "model_name_or_path": "the model: a .rftckpt file, a run folder, a Hugging Face folder or a GGUF file (--model; default: the demo's)",
        "num_generations": "completions per prompt", "temperature": "temperature (0 = greedy)", "top_k": "top-k (0 = off)",
        "top_p": "top-p (1 = off)", "max_new_tokens": "most new tokens (default: up to the context)", "seed": "random seed",
        "raw": "send the prompt as is: no <bos>/<sep>, no chat template", "chat_template": ChatTemplateChoice.help, "threads": "threads",
    ]

    /// Ranges.
    public func validate() throws {
        try ConfigRule.range("num_generations", numGenerations, 1, 1 << 20)
        try ConfigRule.sampling(temperature: temperature, topK: topK, topP: topP)
        if let m = maxNewTokens { try ConfigRule.range("max_new_tokens", m, 1, 1 << 20) }
        try ConfigRule.range("threads", threads, 1, 256)
    }

    /// The completions of one prompt.
    public struct Result: Codable, Sendable {
        /// The prompt as given.
        public var prompt: String
        /// The token ids the model was given.
        public var promptIDs: [Int]
        /// The completions.
        public var samples: [Sampled]

        private enum CodingKeys: String, CodingKey { case prompt, promptIDs = "prompt_ids", samples }
    }

    /// One sampled completion.
    public struct Sampled: Codable, Sendable {
        /// The text before the stop token.
        public var completion: String
        /// The generated ids, the stop token included when generation stopped at it.
        public var tokenIDs: [Int]
        /// Their log-probability under the sampling distribution (0 when greedy).
        public var logProb: Float
        /// Why generation stopped.
        public var finishReason: String
        /// For a prompt of the model's task: whether the completion is the answer.
        public var correct: Bool?
        /// For a prompt of the model's task: the answer.
        public var answer: String?

        private enum CodingKeys: String, CodingKey { case completion, tokenIDs = "token_ids", logProb, finishReason, correct, answer }
    }

    /// Samples `numGenerations` completions of every prompt (prompt i with seed + i).
    public func sample(_ prompts: [String]) throws -> [Result] {
        guard !prompts.isEmpty else { throw ConfigError.invalid(key: "prompt", reason: "no prompt: pass one, or pipe lines into stdin") }
        let loaded = try InputConfig(modelNameOrPath: modelNameOrPath, chatTemplate: chatTemplate).loadModel()
        let task = loaded.taskName.flatMap { try? TaskRegistry.task(named: $0) }
        let context = loaded.model.config.contextLength
        // the longest prompt plus max_new_tokens, when set; else the whole context
        // (a prompt that does not encode counts 0 here: the loop below reports it, naming the prompt)
        let longestPrompt = prompts.map { ((try? raw ? loaded.tokenizer.encode($0) : loaded.tokenizer.encodePrompt($0))?.count) ?? 0 }.max() ?? 0
        let length = maxNewTokens.map { min(context, longestPrompt + $0) } ?? context
        try MemoryBudget.check(MemoryBudget.sampling(loaded.model.config, rows: numGenerations, length: length),
                               for: "\(numGenerations) samples at once", key: "num_generations")
        let sampler = Sampler(model: loaded.model)
        return try BLAS.withThreads(threads) {
            try prompts.enumerated().map { index, text in
                let ids: [Int]
                do { ids = raw ? try loaded.tokenizer.encode(text) : try loaded.tokenizer.encodePrompt(text) } catch {
                    throw ConfigError.invalid(key: "prompt", reason: "prompt \(index + 1): \(error)")
                }
                guard ids.count < context else {
                    throw ConfigError.invalid(key: "prompt", reason: "prompt \(index + 1) has \(ids.count) tokens; the context is \(context)")
                }
                let options = SamplingOptions(temperature: temperature, topK: topK, topP: topP,
                                              maxNewTokens: min(maxNewTokens ?? context, context - ids.count), stopTokens: loaded.tokenizer.stopTokens)
                let out = try sampler.generate(Array(repeating: ids, count: numGenerations), options: options, seed: seed &+ UInt64(index))
                return Result(prompt: text, promptIDs: ids, samples: out.map { g in
                    let completion = loaded.tokenizer.completionText(g.tokens)
                    return Sampled(completion: completion, tokenIDs: g.tokens, logProb: g.logProbs.reduce(0, +),
                                   finishReason: g.finishReason.rawValue, correct: task.map { $0.verify(prompt: text, completion: completion) },
                                   answer: task?.answer(for: text))
                })
            }
        }
    }
}

extension InputConfig {
    /// Inputs of a model only (for commands that read no task or data).
    init(modelNameOrPath: String?, chatTemplate: ChatTemplateChoice = .auto) {
        self.init()
        self.modelNameOrPath = modelNameOrPath
        self.chatTemplate = chatTemplate
    }
}
