import RFTTensor

/// How a model knows where each token stands.
public enum PositionEncoding: String, Codable, Sendable {
    /// A learned vector per position added to the token embedding (GPT-2's `wpe`).
    case learned
    /// Rotary embeddings applied to queries and keys inside attention (Llama's RoPE).
    case rotary
}

/// The normalisation before attention, before the MLP and after the last block.
public enum Normalization: String, Codable, Sendable {
    /// LayerNorm with scale and shift (GPT-2).
    case layerNorm
    /// RMSNorm with scale only (Llama).
    case rmsNorm
}

/// The feed-forward block's nonlinearity.
public enum MLPActivation: String, Codable, Sendable {
    /// fc → GELU(tanh) → proj (GPT-2).
    case gelu
    /// fc (gate and up, fused) → SiLU(gate)·up → proj (Llama's SwiGLU).
    case swiglu
}

/// The shape and parts of the decoder: sizes of vocabulary, context, depth and width, and which
/// family's parts each block uses — GPT-2 (learned positions, LayerNorm, GELU, biases everywhere;
/// the defaults) or the Llama family (RoPE, RMSNorm, SwiGLU, grouped-query attention, no biases;
/// Qwen2 adds q/k/v biases). See `GPT` for the parameter names each choice gives.
///
/// JSON: every key below is the property's name. The keys added for the Llama family are
/// optional when decoding and default to GPT-2's parts, so configurations written before they
/// existed (rft's own `.rftckpt` headers) decode to the same model; they are written only where
/// they differ from those defaults, so a GPT-2-style configuration encodes to the same JSON as
/// before (and a damaged key in it cannot pass for a default).
public struct GPTConfig: Codable, Equatable, Sendable {
    /// Number of token ids.
    public var vocabularySize: Int
    /// Longest sequence (learned positions; the rotary table's length).
    public var contextLength: Int
    /// Number of transformer blocks.
    public var layers: Int
    /// Query heads per block.
    public var heads: Int
    /// Residual stream width (n_embd, hidden_size).
    public var width: Int
    /// MLP hidden width as a multiple of `width` (GPT-2: 4), when `intermediateSize` is nil.
    public var mlpRatio: Int
    /// When true the output projection is the token embedding (GPT-2 ties them).
    public var tiedEmbeddings: Bool
    /// Epsilon of every norm, LayerNorm's or RMSNorm's (PyTorch's LayerNorm default; Llama: 1e-5 or 1e-6).
    public var layerNormEps: Float
    /// Key/value heads (grouped-query attention when fewer than `heads`; must divide it). Default: `heads`.
    public var kvHeads: Int
    /// Features per attention head. Default: width / heads.
    public var headSize: Int
    /// Learned positions (default) or rotary embeddings.
    public var positionEncoding: PositionEncoding
    /// RoPE base θ (Llama 2: 1e4, SmolLM2: 1e5, Llama 3: 5e5); unused with learned positions.
    public var ropeTheta: Float
    /// RoPE frequency scaling, or nil for none.
    public var ropeScaling: RoPEScaling?
    /// LayerNorm (default) or RMSNorm.
    public var normalization: Normalization
    /// GELU (default) or SwiGLU.
    public var activation: MLPActivation
    /// MLP hidden width when set (Llama's intermediate_size); else mlpRatio · width.
    public var intermediateSize: Int?
    /// Bias on the q, k and v projections (GPT-2 and Qwen2: true; Llama: false).
    public var qkvBias: Bool
    /// Bias on attention's output projection (GPT-2: true; Llama and Qwen2: false).
    public var attentionOutputBias: Bool
    /// Bias on the MLP's projections (GPT-2: true; Llama and Qwen2: false).
    public var mlpBias: Bool

    /// A configuration; defaults are a tiny character-level GPT-2-style model.
    public init(vocabularySize: Int, contextLength: Int = 64, layers: Int = 4, heads: Int = 4,
                width: Int = 128, mlpRatio: Int = 4, tiedEmbeddings: Bool = true,
                layerNormEps: Float = 1e-5, kvHeads: Int? = nil, headSize: Int? = nil,
                positionEncoding: PositionEncoding = .learned, ropeTheta: Float = 10_000, ropeScaling: RoPEScaling? = nil,
                normalization: Normalization = .layerNorm, activation: MLPActivation = .gelu,
                intermediateSize: Int? = nil, qkvBias: Bool = true, attentionOutputBias: Bool = true, mlpBias: Bool = true) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.layers = layers
        self.heads = heads
        self.width = width
        self.mlpRatio = mlpRatio
        self.tiedEmbeddings = tiedEmbeddings
        self.layerNormEps = layerNormEps
        self.kvHeads = kvHeads ?? heads
        // 0 when width does not split into heads: `validationError` then says so
        self.headSize = headSize ?? (heads > 0 && width % heads == 0 ? width / heads : 0)
        self.positionEncoding = positionEncoding
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.normalization = normalization
        self.activation = activation
        self.intermediateSize = intermediateSize
        self.qkvBias = qkvBias
        self.attentionOutputBias = attentionOutputBias
        self.mlpBias = mlpBias
    }

    /// A Llama-family configuration: RoPE, RMSNorm, SwiGLU, grouped-query attention, no biases
    /// (`qkvBias: true` gives Qwen2's blocks).
    public static func llama(vocabularySize: Int, contextLength: Int, layers: Int, heads: Int, kvHeads: Int,
                             width: Int, intermediateSize: Int, headSize: Int? = nil, ropeTheta: Float = 10_000,
                             ropeScaling: RoPEScaling? = nil, normEps: Float = 1e-5, tiedEmbeddings: Bool = true,
                             qkvBias: Bool = false) -> GPTConfig {
        GPTConfig(vocabularySize: vocabularySize, contextLength: contextLength, layers: layers, heads: heads, width: width,
                  tiedEmbeddings: tiedEmbeddings, layerNormEps: normEps, kvHeads: kvHeads, headSize: headSize,
                  positionEncoding: .rotary, ropeTheta: ropeTheta, ropeScaling: ropeScaling, normalization: .rmsNorm,
                  activation: .swiglu, intermediateSize: intermediateSize, qkvBias: qkvBias, attentionOutputBias: false,
                  mlpBias: false)
    }

    private enum CodingKeys: String, CodingKey {
        case vocabularySize, contextLength, layers, heads, width, mlpRatio, tiedEmbeddings, layerNormEps
        case kvHeads, headSize, positionEncoding, ropeTheta, ropeScaling, normalization, activation, intermediateSize
        case qkvBias, attentionOutputBias, mlpBias
    }

    /// Decodes a configuration; keys missing from older files take GPT-2's parts (see the type's doc).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(vocabularySize: try c.decode(Int.self, forKey: .vocabularySize),
                  contextLength: try c.decode(Int.self, forKey: .contextLength),
                  layers: try c.decode(Int.self, forKey: .layers),
                  heads: try c.decode(Int.self, forKey: .heads),
                  width: try c.decode(Int.self, forKey: .width),
                  mlpRatio: try c.decode(Int.self, forKey: .mlpRatio),
                  tiedEmbeddings: try c.decode(Bool.self, forKey: .tiedEmbeddings),
                  layerNormEps: try c.decode(Float.self, forKey: .layerNormEps),
                  kvHeads: try c.decodeIfPresent(Int.self, forKey: .kvHeads),
                  headSize: try c.decodeIfPresent(Int.self, forKey: .headSize),
                  positionEncoding: try c.decodeIfPresent(PositionEncoding.self, forKey: .positionEncoding) ?? .learned,
                  ropeTheta: try c.decodeIfPresent(Float.self, forKey: .ropeTheta) ?? 10_000,
                  ropeScaling: try c.decodeIfPresent(RoPEScaling.self, forKey: .ropeScaling),
                  normalization: try c.decodeIfPresent(Normalization.self, forKey: .normalization) ?? .layerNorm,
                  activation: try c.decodeIfPresent(MLPActivation.self, forKey: .activation) ?? .gelu,
                  intermediateSize: try c.decodeIfPresent(Int.self, forKey: .intermediateSize),
                  qkvBias: try c.decodeIfPresent(Bool.self, forKey: .qkvBias) ?? true,
                  attentionOutputBias: try c.decodeIfPresent(Bool.self, forKey: .attentionOutputBias) ?? true,
                  mlpBias: try c.decodeIfPresent(Bool.self, forKey: .mlpBias) ?? true)
    }

    /// Encodes the original eight keys, then each family key whose value differs from GPT-2's
    /// default (rotary models always write ropeTheta).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabularySize, forKey: .vocabularySize)
        try c.encode(contextLength, forKey: .contextLength)
        try c.encode(layers, forKey: .layers)
        try c.encode(heads, forKey: .heads)
        try c.encode(width, forKey: .width)
        try c.encode(mlpRatio, forKey: .mlpRatio)
        try c.encode(tiedEmbeddings, forKey: .tiedEmbeddings)
        try c.encode(layerNormEps, forKey: .layerNormEps)
        if kvHeads != heads { try c.encode(kvHeads, forKey: .kvHeads) }
        if headSize != GPTConfig(vocabularySize: 1, heads: heads, width: width).headSize { try c.encode(headSize, forKey: .headSize) }
        if positionEncoding != .learned { try c.encode(positionEncoding, forKey: .positionEncoding) }
        if positionEncoding != .learned || ropeTheta != 10_000 { try c.encode(ropeTheta, forKey: .ropeTheta) }
        try c.encodeIfPresent(ropeScaling, forKey: .ropeScaling)
        if normalization != .layerNorm { try c.encode(normalization, forKey: .normalization) }
        if activation != .gelu { try c.encode(activation, forKey: .activation) }
        try c.encodeIfPresent(intermediateSize, forKey: .intermediateSize)
        if !qkvBias { try c.encode(qkvBias, forKey: .qkvBias) }
        if !attentionOutputBias { try c.encode(attentionOutputBias, forKey: .attentionOutputBias) }
        if !mlpBias { try c.encode(mlpBias, forKey: .mlpBias) }
    }

    /// Width of all query heads together (heads · headSize; usually `width`).
    public var attentionWidth: Int { heads * headSize }
    /// Width of the keys (or the values) of all key/value heads (kvHeads · headSize).
    public var keyValueWidth: Int { kvHeads * headSize }
    /// Output features of the fused q/k/v projection: attentionWidth + 2 · keyValueWidth.
    public var qkvWidth: Int { attentionWidth + 2 * keyValueWidth }
    /// The MLP's hidden width: `intermediateSize`, else mlpRatio · width.
    public var mlpHiddenSize: Int { intermediateSize ?? mlpRatio * width }

    /// Why the configuration cannot build a model, or nil when it can.
    public func validationError() -> String? {
        if vocabularySize < 1 { return "vocabularySize must be ≥ 1, got \(vocabularySize)" }
        if contextLength < 1 { return "contextLength must be ≥ 1, got \(contextLength)" }
        if layers < 1 || heads < 1 || width < 1 || mlpRatio < 1 { return "layers, heads, width and mlpRatio must be ≥ 1" }
        if headSize < 1 {
            return width % heads != 0 ? "width \(width) is not divisible by heads \(heads)" : "headSize must be ≥ 1, got \(headSize)"
        }
        if kvHeads < 1 || heads % kvHeads != 0 { return "kvHeads \(kvHeads) must be ≥ 1 and divide heads \(heads)" }
        if let i = intermediateSize, i < 1 { return "intermediateSize must be ≥ 1, got \(i)" }
        if !(layerNormEps.isFinite && layerNormEps > 0) { return "layerNormEps must be positive and finite, got \(layerNormEps)" }
        if positionEncoding == .rotary {
            if headSize % 2 != 0 { return "rotary positions need an even headSize, got \(headSize)" }
            if !(ropeTheta.isFinite && ropeTheta > 1) { return "ropeTheta must be finite and > 1, got \(ropeTheta)" }
            if let e = ropeScaling?.validationError() { return e }
        }
        if parameterCount == nil { return "the parameter count overflows" }
        return nil
    }
}

extension GPTConfig {
    /// The configuration in one line of words: `4 layers, width 128, 4 heads, MLP 512 GELU,
    /// learned positions, LayerNorm, vocabulary 20, context 64, tied embeddings`.
    public var summary: String {
        var parts = ["\(layers) layers", "width \(width)",
                     "\(heads) heads" + (kvHeads != heads ? " (\(kvHeads) key/value)" : "") + (headSize * heads != width ? " of \(headSize)" : ""),
                     "MLP \(mlpHiddenSize) " + (activation == .swiglu ? "SwiGLU" : "GELU")]
        if positionEncoding == .rotary {
            parts.append("RoPE θ \(ropeTheta)" + (ropeScaling.map { " (\($0.type.rawValue) ×\($0.factor))" } ?? ""))
        } else {
            parts.append("learned positions")
        }
        parts.append((normalization == .rmsNorm ? "RMSNorm" : "LayerNorm") + " ε \(layerNormEps)")
        let biases = [("q/k/v", qkvBias), ("attention output", attentionOutputBias), ("MLP", mlpBias)].filter(\.1).map(\.0)
        if biases.count < 3 { parts.append(biases.isEmpty ? "no biases" : "biases on " + biases.joined(separator: ", ")) }
        parts += ["vocabulary \(vocabularySize)", "context \(contextLength)", tiedEmbeddings ? "tied embeddings" : "untied embeddings"]
        return parts.joined(separator: ", ")
    }
}

// MARK: - sizes

extension GPTConfig {
    /// Scalar parameters of a `GPT` with this configuration (as `GPT(config).parameterCount`),
    /// or nil when the count overflows `Int`: a configuration from an untrusted file is sized
    /// before anything is allocated.
    public var parameterCount: Int? {
        let (c, v) = (width, vocabularySize)
        let s = checkedSizes
        let block = Checked.sum(Checked.product(2, s.norm),                                          // ln_1, ln_2
                                Checked.product(s.qkv, c), qkvBias ? s.qkv : 0,                       // attn.qkv
                                Checked.product(c, s.attention), attentionOutputBias ? c : 0,         // attn.proj
                                Checked.product(s.fc, c), mlpBias ? s.fc : 0,                         // mlp.fc
                                Checked.product(c, s.hidden), mlpBias ? c : 0)                        // mlp.proj
        return Checked.sum(Checked.product(v, c),                                                    // wte
                           positionEncoding == .learned ? Checked.product(contextLength, c) : 0,      // wpe
                           Checked.product(layers, block),                                            // h.*
                           s.norm,                                                                    // ln_f
                           tiedEmbeddings ? 0 : Checked.product(v, c))                                // lm_head
    }

    /// The derived widths, overflow-checked (nil when one overflows): a norm's parameters, query
    /// heads, the fused q/k/v output, the MLP's hidden width and its fc output.
    private var checkedSizes: (norm: Int?, attention: Int?, qkv: Int?, hidden: Int?, fc: Int?) {
        let attention = Checked.product(heads, headSize)
        let hidden = intermediateSize ?? Checked.product(mlpRatio, width)
        return (Checked.product(normalization == .layerNorm ? 2 : 1, width), attention,
                Checked.sum(attention, Checked.product(2, kvHeads, headSize)), hidden,
                Checked.product(activation == .swiglu ? 2 : 1, hidden))
    }

    /// Bytes of the fp32 weights, or nil on overflow.
    public var weightBytes: Int? { Checked.product(parameterCount, MemoryLayout<Float>.size) }

    /// Bytes of what one training forward pass over (batch, length) tokens keeps for its backward
    /// (activations saved by every op, the logits and their softmax), or nil on overflow. An
    /// estimate of rft's peak above weights, gradients and optimizer state (4 × `weightBytes` for
    /// AdamW); the backward's transient buffers add at most one layer's worth.
    public func activationBytes(batch: Int, length: Int) -> Int? {
        let n = Checked.product(batch, length)
        let s = checkedSizes
        // per token and layer: residual input, norm output (×2), the residual after attention,
        // norm statistics, qkv, attention output, the MLP's fc output, its activation (+ GELU's tanh)
        let activated = Checked.product(activation == .swiglu ? 1 : 2, s.hidden)
        let perToken = Checked.sum(Checked.product(4, width), 4, s.qkv, s.attention, s.fc, activated)
        // per sequence, layer and head: the (T, T) attention probabilities
        let probabilities = Checked.product(batch, heads, length, length)
        let perLayer = Checked.sum(Checked.product(n, perToken), probabilities)
        // embeddings, the final norm, the logits and cross-entropy's probabilities
        let outside = Checked.sum(Checked.product(n, 3, width), Checked.product(n, vocabularySize, 2))
        return Checked.product(Checked.sum(Checked.product(layers, perLayer), outside), MemoryLayout<Float>.size)
    }

    /// Bytes of a sampler's key/value cache for `rows` sequences of `positions` positions
    /// (`KVCache`'s layout: positions rounded up to 16), or nil on overflow.
    public func kvCacheBytes(rows: Int, positions: Int) -> Int? {
        let stride = Checked.sum(positions, 15).map { $0 / 16 * 16 }
        return Checked.product(layers, 2, rows, stride, kvHeads, headSize, MemoryLayout<Float>.size)
    }
}
/// Overflow-checked Int arithmetic on optional values (nil = overflowed or unknown).
enum Checked {
    /// The product, or nil on overflow or a nil factor.
    static func product(_ xs: Int?...) -> Int? {
        var r = 1
        for x in xs {
            guard let x else { return nil }
            let (p, o) = r.multipliedReportingOverflow(by: x)
            if o { return nil }
            r = p
        }
        return r
    }

    /// The sum, or nil on overflow or a nil term.
    static func sum(_ xs: Int?...) -> Int? {
        var r = 0
        for x in xs {
            guard let x else { return nil }
            let (s, o) = r.addingReportingOverflow(x)
            if o { return nil }
            r = s
        }
        return r
    }
}
