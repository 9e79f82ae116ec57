#if canImport(Glibc)
import Glibc
#endif
import RFTTensor

/// A pretrained model read from a Hugging Face folder (`config.json`, `model.safetensors` or a
/// sharded index, `tokenizer.json`) or a GGUF file: its configuration as a `GPTConfig`, its
/// weights under rft's parameter names (see `GPT`), its tokenizer. GPT-2, Llama (SmolLM2,
/// Llama 3) and Qwen2 architectures; F32, F16, BF16 and the GGUF quantizations the readers
/// dequantize, computed in fp32.
public struct PretrainedModel {
    /// The model.
    public let model: GPT
    /// Its tokenizer.
    public let tokenizer: Tokenizer
    /// Where it was read from.
    public let path: String
    /// `hf` or `gguf`.
    public let format: String
    /// transformers' `model_type` of its architecture: gpt2, llama or qwen2.
    public let modelType: String
    /// The tensors as the file stores them (names, dtypes, shapes), in file order.
    public let storedTensors: [StoredTensor]

    /// One tensor as a file stores it.
    public struct StoredTensor: Sendable {
        /// Its name in the file.
        public let name: String
        /// Its dtype as the format names it (`BF16`, `Q4_1`).
        public let dtype: String
        /// Its dimensions, outermost first.
        public let shape: [Int]
    }

    /// Whether `path` is something this type reads (a folder with config.json, or a GGUF file).
    public static func canRead(_ path: String) -> Bool {
        isFolder(path) ? (try? FileByteSource(path: path + "/config.json")) != nil : hasGGUFMagic(path)
    }

    /// Reads the model at `path`: a Hugging Face folder or a GGUF file.
    public init(path: String, limits: ImportLimits = .default) throws {
        if Self.isFolder(path) {
            try self.init(folder: path, limits: limits)
        } else {
            try self.init(gguf: try GGUFFile(path: path, limits: limits))
        }
    }

    // MARK: - Hugging Face folders

    /// Reads `config.json`, the safetensors weights and `tokenizer.json` of a Hugging Face folder.
    public init(folder: String, limits: ImportLimits = .default) throws {
        let configPath = folder + "/config.json"
        let json: StrictJSON.Value
        let source = try FileByteSource(path: configPath)
        guard source.size <= 1 << 20 else {
            throw ImportError.sizeOutOfBounds(path: configPath, field: "file size", value: source.size, limit: 1 << 20)
        }
        do { json = try StrictJSON.parse(try source.bytes(at: 0, count: source.size, section: "config.json"), maxDepth: 32) }
        catch let e as StrictJSON.Failure { throw ImportError.malformedHeader(path: configPath, offset: UInt64(e.offset), reason: e.reason) }
        let family = try Family(huggingFace: json, path: configPath)
        let config = try Self.config(json, family: family, path: configPath)
        let weights = try SafetensorsShards(path: folder, limits: limits)
        let stored = weights.tensorNames.reduce(0) { $0 + (weights.info($1)?.elementCount ?? 0) }
        let model = try Self.allocate(config, storedElements: stored, path: folder)
        let layout = HuggingFaceLayout(family: family, config: config)
        for (name, target) in model.namedParameters() {
            let value = try Self.huggingFaceTensor(name, shape: target.shape, layout: layout, file: weights)
            try Self.assign(value, to: target, name: name, path: folder)
        }
        let eos = json["eos_token_id"]?.int ?? json["eos_token_id"]?.array?.first?.int
        let tokenizer = try Self.tokenizer(path: folder) { try Tokenizer(huggingFaceFolder: folder, eosFallback: eos) }
        let storedTensors = weights.tensorNames.compactMap { n in weights.info(n).map { StoredTensor(name: n, dtype: $0.dtype.rawValue, shape: $0.shape) } }
        self.init(model: model, tokenizer: tokenizer, path: folder, format: "hf", family: family, storedTensors: storedTensors)
    }

    /// The three decoders rft reads.
    enum Family {
        case gpt2, llama, qwen2

        /// The family of a config.json (`model_type`).
        init(huggingFace json: StrictJSON.Value, path: String) throws {
            switch json["model_type"]?.string {
            case "gpt2"?: self = .gpt2
            case "llama"?, "mistral"?: self = .llama
            case "qwen2"?: self = .qwen2
            case let other:
                throw ImportError.unsupportedModel(path: path, reason: "model_type \(other.map { $0.debugDescription } ?? "missing"); rft reads gpt2, llama (SmolLM2, Llama 3) and qwen2")
            }
        }
    }

    /// A config.json's GPTConfig.
    static func config(_ j: StrictJSON.Value, family: Family, path: String) throws -> GPTConfig {
        func int(_ key: String) throws -> Int {
            guard let v = j[key]?.int else { throw ImportError.missingMetadata(path: path, key: key) }
            return v
        }
        let vocabulary = try int("vocab_size")
        if family == .gpt2 {
            let width = try int("n_embd")
            let context = try j["n_positions"]?.int ?? int("n_ctx")
            return GPTConfig(vocabularySize: vocabulary, contextLength: context, layers: try int("n_layer"),
                             heads: try int("n_head"), width: width, mlpRatio: 4, tiedEmbeddings: j["tie_word_embeddings"]?.bool ?? true,
                             layerNormEps: Float(j["layer_norm_epsilon"]?.double ?? 1e-5),
                             intermediateSize: j["n_inner"]?.int.flatMap { $0 == 4 * width ? nil : $0 })
        }
        var scaling: RoPEScaling?
        // transformers 4 writes rope_theta and rope_scaling; transformers 5 one rope_parameters object
        let rope = j["rope_parameters"]?.object != nil ? j["rope_parameters"] : j["rope_scaling"]
        if let s = rope, s.object != nil {
            let type = s["rope_type"]?.string ?? s["type"]?.string
            let factor = Float(s["factor"]?.double ?? 1)
            switch type {
            case "linear"?: scaling = RoPEScaling(type: .linear, factor: factor)
            case "llama3"?:
                scaling = RoPEScaling(type: .llama3, factor: factor, lowFrequencyFactor: s["low_freq_factor"]?.double.map(Float.init),
                                      highFrequencyFactor: s["high_freq_factor"]?.double.map(Float.init),
                                      originalContextLength: s["original_max_position_embeddings"]?.int)
            case "default"?, nil: scaling = nil
            case let other?: throw ImportError.unsupportedModel(path: path, reason: "rope_scaling type \(other.debugDescription); rft reads linear and llama3")
            }
        }
        let heads = try int("num_attention_heads")
        let attentionBias = j["attention_bias"]?.bool ?? false
        var config = GPTConfig.llama(vocabularySize: vocabulary, contextLength: try int("max_position_embeddings"), layers: try int("num_hidden_layers"),
                                     heads: heads, kvHeads: j["num_key_value_heads"]?.int ?? heads, width: try int("hidden_size"),
                                     intermediateSize: try int("intermediate_size"), headSize: j["head_dim"]?.int,
                                     ropeTheta: Float(j["rope_parameters"]?["rope_theta"]?.double ?? j["rope_theta"]?.double ?? 10_000), ropeScaling: scaling,
                                     normEps: Float(j["rms_norm_eps"]?.double ?? 1e-6),
                                     tiedEmbeddings: j["tie_word_embeddings"]?.bool ?? (family == .qwen2 ? false : true),
                                     qkvBias: family == .qwen2 || attentionBias)
        config.attentionOutputBias = family == .llama && attentionBias
        config.mlpBias = family == .llama && (j["mlp_bias"]?.bool ?? false)
        return config
    }

    /// The value of rft parameter `name` (of `shape`) from a Hugging Face checkpoint: its parts
    /// (see `HuggingFaceLayout`) read, each checked for its rows, transposed back where stored so,
    /// and stacked.
    static func huggingFaceTensor(_ name: String, shape: [Int], layout: HuggingFaceLayout, file: SafetensorsShards) throws -> Tensor {
        guard let parts = layout.parts(name, shape: shape) else { throw ImportError.missingTensor(path: file.path, name: name) }
        let tensors = try parts.map { part -> Tensor in
            guard let stored = part.names.first(where: { file.info($0) != nil }) else {
                throw ImportError.missingTensor(path: file.path, name: part.names[0])
            }
            var t = try file.readTensor(stored)
            if part.transposed {
                guard t.shape.count == 2 else { throw ImportError.invalidShape(path: file.path, tensor: stored, reason: "a Conv1D weight is 2-D, the file has \(t.shape)") }
                t = transposed(t)
            }
            guard t.shape.first == part.rows else {
                throw ImportError.invalidShape(path: file.path, tensor: stored, reason: "rft needs \(part.rows) rows, the file has \(t.shape)")
            }
            return t
        }
        return try concatenatedRows(tensors, path: file.path, name: name)
    }

    // MARK: - GGUF

    /// Reads a GGUF file's model (architectures llama and qwen2, and gpt2) and its tokenizer.
    public init(gguf file: GGUFFile) throws {
        let m = file.metadata
        let arch = try m.string("general.architecture")
        let config = try Self.config(gguf: m, architecture: arch, file: file)
        let model = try Self.allocate(config, storedElements: file.tensors.reduce(0) { $0 + $1.elementCount }, path: file.path)
        for (name, target) in model.namedParameters() {
            try Self.assign(try Self.ggufTensor(name, architecture: arch, config: config, file: file), to: target, name: name, path: file.path)
        }
        let tokenizer = try Self.tokenizer(path: file.path) { try Tokenizer(byteLevel: try ByteLevelBPETokenizer(gguf: m)) }
        self.init(model: model, tokenizer: tokenizer, path: file.path, format: "gguf", family: arch == "gpt2" ? .gpt2 : arch == "qwen2" ? .qwen2 : .llama,
                  storedTensors: file.tensors.map { StoredTensor(name: $0.name, dtype: String(describing: $0.type).uppercased(), shape: $0.shape) })
    }

    /// A GGUF file's GPTConfig from its `<arch>.*` keys.
    static func config(gguf m: GGUFMetadata, architecture arch: String, file: GGUFFile) throws -> GPTConfig {
        func int(_ key: String) throws -> Int { try m.int(arch + "." + key) }
        let vocabulary = m.contains(arch + ".vocab_size") ? try int("vocab_size") : (try m.strings("tokenizer.ggml.tokens")).count
        let tied = file.info("output.weight") == nil
        switch arch {
        case "gpt2":
            return GPTConfig(vocabularySize: vocabulary, contextLength: try int("context_length"), layers: try int("block_count"),
                             heads: try int("attention.head_count"), width: try int("embedding_length"), mlpRatio: 4, tiedEmbeddings: tied,
                             layerNormEps: Float(try m.float(arch + ".attention.layer_norm_epsilon")))
        case "llama", "qwen2":
            let heads = try int("attention.head_count"), width = try int("embedding_length")
            let headSize = m.contains(arch + ".attention.key_length") ? try int("attention.key_length") : width / heads
            var scaling: RoPEScaling?
            if let type = m[arch + ".rope.scaling.type"]?.string, type != "none" {
                guard type == "linear" else { throw ImportError.unsupportedModel(path: file.path, reason: "rope scaling \(type.debugDescription)") }
                scaling = RoPEScaling(type: .linear, factor: Float(try m.float(arch + ".rope.scaling.factor")))
            }
            return GPTConfig.llama(vocabularySize: vocabulary, contextLength: try int("context_length"), layers: try int("block_count"),
                                   heads: heads, kvHeads: m.contains(arch + ".attention.head_count_kv") ? try int("attention.head_count_kv") : heads,
                                   width: width, intermediateSize: try int("feed_forward_length"), headSize: headSize,
                                   ropeTheta: Float(m.contains(arch + ".rope.freq_base") ? try m.float(arch + ".rope.freq_base") : 10_000),
                                   ropeScaling: scaling, normEps: Float(try m.float(arch + ".attention.layer_norm_rms_epsilon")),
                                   tiedEmbeddings: tied, qkvBias: file.info("blk.0.attn_q.bias") != nil)
        default:
            throw ImportError.unsupportedModel(path: file.path, reason: "GGUF architecture \(arch.debugDescription); rft reads llama, qwen2 and gpt2")
        }
    }

    /// The value of rft parameter `name` from a GGUF file. llama files store q and k rows
    /// interleaved per head (GGML's rotary pairing); they are put back in rotate-half order.
    static func ggufTensor(_ name: String, architecture arch: String, config: GPTConfig, file: GGUFFile) throws -> Tensor {
        let parts = name.split(separator: ".").map(String.init)
        let kind = parts.last!
        switch parts.first {
        case "wte"?: return try file.readTensor("token_embd.weight")
        case "wpe"?: return try file.readTensor("position_embd.weight")
        case "ln_f"?: return try file.readTensor("output_norm." + kind)
        case "lm_head"?: return try file.readTensor("output.weight")
        case "h"? where parts.count >= 4:
            let b = "blk.\(parts[1])."
            switch (parts[2], parts[3]) {
            case ("ln_1", _): return try file.readTensor(b + "attn_norm." + kind)
            case ("ln_2", _): return try file.readTensor(b + "ffn_norm." + kind)
            case ("attn", "qkv"):
                if arch == "gpt2" { return try file.readTensor(b + "attn_qkv." + kind) }
                var q = try file.readTensor(b + "attn_q." + kind), k = try file.readTensor(b + "attn_k." + kind)
                for (t, rows, n) in [(q, config.attentionWidth, "attn_q"), (k, config.keyValueWidth, "attn_k")] where t.shape.first != rows {
                    throw ImportError.invalidShape(path: file.path, tensor: b + n + "." + kind, reason: "rft needs \(rows) rows, the file has \(t.shape)")
                }
                if arch == "llama" {
                    q = rotateHalfRows(q, heads: config.heads, headSize: config.headSize)
                    k = rotateHalfRows(k, heads: config.kvHeads, headSize: config.headSize)
                }
                return try concatenatedRows([q, k, try file.readTensor(b + "attn_v." + kind)], path: file.path, name: name)
            case ("attn", "proj"): return try file.readTensor(b + "attn_output." + kind)
            case ("mlp", "fc"):
                if arch == "gpt2" { return try file.readTensor(b + "ffn_up." + kind) }
                return try concatenatedRows([try file.readTensor(b + "ffn_gate." + kind), try file.readTensor(b + "ffn_up." + kind)], path: file.path, name: name)
            case ("mlp", "proj"): return try file.readTensor(b + "ffn_down." + kind)
            default: break
            }
        default: break
        }
        throw ImportError.missingTensor(path: file.path, name: name)
    }

    /// Rows of `t` (heads · headSize, …) reordered from GGML's interleaved rotary pairs (2j, 2j+1)
    /// to Hugging Face's rotate-half pairs (j, j + headSize/2), head by head.
    static func rotateHalfRows(_ t: Tensor, heads: Int, headSize: Int) -> Tensor {
        let rowLength = t.count / max(1, t.shape[0]), half = headSize / 2
        let out = Tensor(uninitialized: t.shape)
        for h in 0..<heads {
            for j in 0..<half {
                for pair in 0..<2 {
                    let source = h * headSize + 2 * j + pair, target = h * headSize + pair * half + j
                    (out.data + target * rowLength).update(from: t.data + source * rowLength, count: rowLength)
                }
            }
        }
        return out
    }

    // MARK: - Shared

    private init(model: GPT, tokenizer: Tokenizer, path: String, format: String, family: Family, storedTensors: [StoredTensor]) {
        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.format = format
        self.modelType = family.modelType
        self.storedTensors = storedTensors
    }

    /// A GPT for `config`, after checking it is sound and the file holds its parameters (so an
    /// absurd config cannot make rft allocate).
    static func allocate(_ config: GPTConfig, storedElements: Int, path: String) throws -> GPT {
        if let problem = config.validationError() { throw ImportError.unsupportedModel(path: path, reason: problem) }
        guard let needed = config.parameterCount, needed <= storedElements + (1 << 20) else {
            throw ImportError.unsupportedModel(path: path, reason: "the configuration needs more parameters than the file holds")
        }
        return GPT(config, initializerRange: 0)
    }

    /// Copies `value` into `target` after checking the shape.
    static func assign(_ value: Tensor, to target: Tensor, name: String, path: String) throws {
        guard value.shape == target.shape else {
            throw ImportError.invalidShape(path: path, tensor: name, reason: "rft needs \(target.shape), the file has \(value.shape)")
        }
        target.assign(value)
    }

    /// The tokenizer `make` reads, a missing end-of-sequence token an `ImportError` naming `path`.
    static func tokenizer(path: String, _ make: () throws -> Tokenizer) throws -> Tokenizer {
        do { return try make() } catch let e as TokenizerError {
            throw ImportError.unsupportedModel(path: path, reason: e.description)
        }
    }

    /// The rows of `parts` one after the other; they must agree in every dimension but the first
    /// (else a typed error naming parameter `name`).
    static func concatenatedRows(_ parts: [Tensor], path: String, name: String) throws -> Tensor {
        if parts.count == 1 { return parts[0] }
        let tail = Array(parts[0].shape.dropFirst())
        for p in parts where Array(p.shape.dropFirst()) != tail || p.shape.isEmpty {
            throw ImportError.invalidShape(path: path, tensor: name, reason: "its parts have shapes \(parts.map(\.shape)), which do not stack")
        }
        let rows = parts.reduce(0) { $0 + $1.shape[0] }
        let out = Tensor(uninitialized: [rows] + tail)
        var offset = 0
        for p in parts {
            (out.data + offset).update(from: p.data, count: p.count)
            offset += p.count
        }
        return out
    }

    /// A 2-D tensor transposed.
    static func transposed(_ t: Tensor) -> Tensor {
        let (r, c) = (t.shape[0], t.shape[1])
        let out = Tensor(uninitialized: [c, r])
        for i in 0..<r { for j in 0..<c { out.data[j * r + i] = t.data[i * c + j] } }
        return out
    }

    /// Whether `path` names a folder.
    static func isFolder(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether the regular file `path` starts with GGUF's magic bytes.
    static func hasGGUFMagic(_ path: String) -> Bool {
        guard let source = try? FileByteSource(path: path), source.size >= 4,
              let head = try? source.bytes(at: 0, count: 4, section: "magic") else { return false }
        return head == GGUFFile.magic
    }
}
