import RFTTensor

/// A model and its tokenizer as the files of a Hugging Face folder that transformers'
/// `AutoModelForCausalLM` and `AutoTokenizer` load: `config.json` (GPT-2, Llama or Qwen2, from
/// the model's parts), `generation_config.json`, `model.safetensors` (F32 or BF16, under
/// transformers' names, tied output left out), `tokenizer.json` and `tokenizer_config.json`
/// (see `Tokenizer.huggingFaceTokenizerJSON`). rft's own character-level models are GPT-2s
/// with a small vocabulary and export as such.
public enum HuggingFaceExport {
    /// A folder's files, by name, in the order written, and the `model_type` of its config.
    public struct Folder: Sendable {
        /// transformers' `model_type`: gpt2, llama or qwen2.
        public let modelType: String
        /// Each file's name and bytes.
        public let files: [(name: String, bytes: [UInt8])]
    }

    /// The folder's files for `model` and `tokenizer`; throws `ImportError.unsupportedModel`
    /// for blocks no transformers model has, `TokenizerError.notExportable` for a character
    /// vocabulary Hugging Face cannot split the same way.
    public static func folder(_ model: GPT, tokenizer: Tokenizer, dtype: SafetensorsDType = .f32) throws -> Folder {
        let config = model.config
        let family = try PretrainedModel.Family(exporting: config)
        let layout = HuggingFaceLayout(family: family, config: config)
        var tensors: [(name: String, tensor: Tensor)] = []
        for (name, parameter) in model.namedParameters() {
            guard let parts = layout.split(parameter, name: name) else {
                throw ImportError.unsupportedModel(path: "export", reason: "parameter \(name) has no place in a \(family.modelType) checkpoint")
            }
            tensors += parts
        }
        let weights = try SafetensorsWriter.encode(tensors, dtype: dtype, metadata: ["format": "pt"], path: "model.safetensors")
        return Folder(modelType: family.modelType, files: [
            ("config.json", Array(configJSON(config, family: family, tokenizer: tokenizer, dtype: dtype).text.utf8)),
            ("generation_config.json", Array(generationConfig(tokenizer).text.utf8)),
            ("model.safetensors", weights),
            ("tokenizer.json", try tokenizer.huggingFaceTokenizerJSON()),
            ("tokenizer_config.json", tokenizer.huggingFaceTokenizerConfig(contextLength: config.contextLength)),
        ])
    }

    /// The special-token ids both config files name.
    static func tokenIDs(_ tokenizer: Tokenizer) -> [(key: String, value: StrictJSON.Value)] {
        [("bos_token_id", .integer(tokenizer.bosID)), ("eos_token_id", .integer(tokenizer.eosID)), ("pad_token_id", .integer(tokenizer.huggingFacePadID))]
    }

    /// `generation_config.json`: the special tokens.
    static func generationConfig(_ tokenizer: Tokenizer) -> StrictJSON.Value { .object(tokenIDs(tokenizer)) }

    /// `config.json` in transformers' keys for `family`.
    static func configJSON(_ c: GPTConfig, family: PretrainedModel.Family, tokenizer: Tokenizer, dtype: SafetensorsDType) -> StrictJSON.Value {
        typealias V = StrictJSON.Value
        var m: [(key: String, value: V)] = [("architectures", .array([.string(family.architecture)])), ("model_type", .string(family.modelType)),
                                            ("vocab_size", .integer(c.vocabularySize))]
        switch family {
        case .gpt2:
            m += [("n_positions", .integer(c.contextLength)), ("n_embd", .integer(c.width)), ("n_layer", .integer(c.layers)),
                  ("n_head", .integer(c.heads)), ("n_inner", .integer(c.mlpHiddenSize)), ("activation_function", .string("gelu_new")),
                  ("layer_norm_epsilon", .real(c.layerNormEps)), ("resid_pdrop", .real(0)), ("embd_pdrop", .real(0)), ("attn_pdrop", .real(0)),
                  ("scale_attn_weights", .bool(true)), ("scale_attn_by_inverse_layer_idx", .bool(false)), ("reorder_and_upcast_attn", .bool(false))]
        case .llama, .qwen2:
            var scaling: V = .null
            if let s = c.ropeScaling {
                var members: [(key: String, value: V)] = [("rope_type", .string(s.type.rawValue)), ("factor", .real(s.factor))]
                if s.type == .llama3 {
                    members += [("low_freq_factor", s.lowFrequencyFactor.map { .real($0) } ?? .null),
                                ("high_freq_factor", s.highFrequencyFactor.map { .real($0) } ?? .null),
                                ("original_max_position_embeddings", .integer(s.originalContextLength))]
                }
                scaling = .object(members)
            }
            m += [("hidden_size", .integer(c.width)), ("intermediate_size", .integer(c.mlpHiddenSize)), ("num_hidden_layers", .integer(c.layers)),
                  ("num_attention_heads", .integer(c.heads)), ("num_key_value_heads", .integer(c.kvHeads)), ("head_dim", .integer(c.headSize)),
                  ("hidden_act", .string("silu")), ("max_position_embeddings", .integer(c.contextLength)), ("rms_norm_eps", .real(c.layerNormEps)),
                  ("rope_theta", .real(c.ropeTheta)), ("rope_scaling", scaling), ("attention_dropout", .real(0))]
            if family == .llama { m += [("attention_bias", .bool(c.qkvBias)), ("mlp_bias", .bool(c.mlpBias))] }
            else { m += [("use_sliding_window", .bool(false)), ("sliding_window", .null), ("max_window_layers", .integer(c.layers))] }
        }
        m += [("tie_word_embeddings", .bool(c.tiedEmbeddings)), ("initializer_range", .real(0.02)), ("use_cache", .bool(true))]
        m += tokenIDs(tokenizer)
        m.append(("torch_dtype", .string(dtype == .bf16 ? "bfloat16" : "float32")))
        return .object(m)
    }
}

extension PretrainedModel.Family {
    /// transformers' `model_type`.
    var modelType: String {
        switch self {
        case .gpt2: return "gpt2"
        case .llama: return "llama"
        case .qwen2: return "qwen2"
        }
    }

    /// transformers' causal-LM class.
    var architecture: String {
        switch self {
        case .gpt2: return "GPT2LMHeadModel"
        case .llama: return "LlamaForCausalLM"
        case .qwen2: return "Qwen2ForCausalLM"
        }
    }

    /// The family whose blocks are `config`'s, or a typed error saying which part none has.
    init(exporting c: GPTConfig) throws {
        func refuse(_ reason: String) -> ImportError { .unsupportedModel(path: "export", reason: reason + "; transformers has no such model") }
        switch (c.positionEncoding, c.normalization, c.activation) {
        case (.learned, .layerNorm, .gelu):
            guard c.qkvBias, c.attentionOutputBias, c.mlpBias else { throw refuse("a GPT-2 block without biases") }
            guard c.kvHeads == c.heads, c.headSize * c.heads == c.width else { throw refuse("a GPT-2 block with grouped-query attention or a head size other than width / heads") }
            self = .gpt2
        case (.rotary, .rmsNorm, .swiglu):
            if c.qkvBias == c.attentionOutputBias { self = .llama }
            else if c.qkvBias, !c.mlpBias { self = .qwen2 }
            else { throw refuse("a Llama block with a bias on the output projection but not on q, k, v") }
        default:
            throw refuse("a block with \(c.positionEncoding.rawValue) positions, \(c.normalization.rawValue) and \(c.activation.rawValue)")
        }
    }
}
