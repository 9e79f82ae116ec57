import RFTTensor

/// Causal self-attention: a fused q/k/v projection, the fused attention op (grouped-query when
/// `kvHeads` < `heads`, rotary when the model uses RoPE) and an output projection.
public final class CausalSelfAttention: Module {
    /// ((H + 2·KV)·hs, C): q for every query head, then k and v for every key/value head.
    public let qkv: Linear
    /// (C, H·hs): back to the residual stream.
    public let proj: Linear
    /// Number of query heads.
    public let heads: Int
    /// Number of key/value heads (divides `heads`).
    public let kvHeads: Int
    /// The rotary table queries and keys are rotated with, or nil for learned positions.
    public let rotary: RotaryEmbedding?

    /// Attention for `config`: `qkv` ~ N(0, std²), `proj` with the residual-scaled std.
    public init(_ config: GPTConfig, rotary: RotaryEmbedding?, std: Float = 0.02, residualStd: Float, using g: inout RandomGenerator) {
        qkv = Linear(config.width, config.qkvWidth, bias: config.qkvBias, std: std, using: &g)
        proj = Linear(config.attentionWidth, config.width, bias: config.attentionOutputBias, std: residualStd, using: &g)
        heads = config.heads
        kvHeads = config.kvHeads
        self.rotary = rotary
    }

    /// The projections.
    public override var children: [(name: String, module: Module)] { [("qkv", qkv), ("proj", proj)] }

    /// x is (B, T, C) → (B, T, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        proj(causalSelfAttention(qkv(x), heads: heads, kvHeads: kvHeads, rotary: rotary))
    }

    /// x is the (N, C) rows of a packed batch, attending as `layout` says → (N, C).
    public func callAsFunction(_ x: Tensor, layout: AttentionLayout) -> Tensor {
        proj(packedSelfAttention(qkv(x), layout: layout, heads: heads, kvHeads: kvHeads, rotary: rotary))
    }
}

/// The feed-forward block: Linear → GELU(tanh) → Linear (GPT-2), or Linear (gate and up fused)
/// → SiLU(gate)·up → Linear (Llama's SwiGLU).
public final class MLP: Module {
    /// (hidden, C) for GELU; (2·hidden, C) for SwiGLU, the gate's rows first, then up's.
    public let fc: Linear
    /// (C, hidden), residual-scaled init.
    public let proj: Linear
    /// GELU or SwiGLU.
    public let activation: MLPActivation

    /// An MLP for `config`: `fc` ~ N(0, std²), `proj` with the residual-scaled std.
    public init(_ config: GPTConfig, std: Float = 0.02, residualStd: Float, using g: inout RandomGenerator) {
        let hidden = config.mlpHiddenSize
        activation = config.activation
        fc = Linear(config.width, activation == .swiglu ? 2 * hidden : hidden, bias: config.mlpBias, std: std, using: &g)
        proj = Linear(hidden, config.width, bias: config.mlpBias, std: residualStd, using: &g)
    }

    /// The two layers.
    public override var children: [(name: String, module: Module)] { [("fc", fc), ("proj", proj)] }

    /// x is (..., C) → (..., C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        proj(activation == .swiglu ? swiglu(fc(x)) : gelu(fc(x)))
    }
}

/// A pre-norm transformer block.
public final class Block: Module {
    /// Norm before attention.
    public let ln1: any NormLayer
    /// Self-attention.
    public let attn: CausalSelfAttention
    /// Norm before the MLP.
    public let ln2: any NormLayer
    /// Feed-forward.
    public let mlp: MLP

    /// A block for `config`, its matrices ~ N(0, std²) (0: zeros, for weights about to be loaded).
    public init(_ config: GPTConfig, rotary: RotaryEmbedding?, std: Float = 0.02, using g: inout RandomGenerator) {
        // GPT-2: residual projections get std 0.02/√(2·layers) so the stream's variance stays O(1)
        let residualStd = std / Float(2 * config.layers).squareRoot()
        ln1 = makeNorm(config)
        attn = CausalSelfAttention(config, rotary: rotary, std: std, residualStd: residualStd, using: &g)
        ln2 = makeNorm(config)
        mlp = MLP(config, std: std, residualStd: residualStd, using: &g)
    }

    /// ln_1, attn, ln_2, mlp (GPT-2's names, for every family).
    public override var children: [(name: String, module: Module)] {
        [("ln_1", ln1), ("attn", attn), ("ln_2", ln2), ("mlp", mlp)]
    }

    /// x is (B, T, C) → (B, T, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let x = x + attn(ln1(x))
        return x + mlp(ln2(x))
    }

    /// x is the (N, C) rows of a packed batch (see `AttentionLayout`) → (N, C).
    public func callAsFunction(_ x: Tensor, layout: AttentionLayout) -> Tensor {
        let x = x + attn(ln1(x), layout: layout)
        return x + mlp(ln2(x))
    }
}

/// The decoder of both families: a token embedding (+ learned positions for GPT-2), pre-norm
/// blocks, a final norm and an output projection (tied to the token embedding by default).
/// The parts come from `GPTConfig`.
///
/// Parameter names (`namedParameters()`, the checkpoint keys) — one scheme for every family, GPT-2's
/// module names; a part a configuration leaves out has no entry. Shapes: V vocabulary, C width,
/// H query heads, KV key/value heads, hs head size, F the MLP's hidden width. In brackets, the
/// Hugging Face names an importer maps onto them (GPT-2 `transformer.…` / Llama, Qwen2 `model.…`):
///
///     wte.weight              (V, C)             [wte / embed_tokens]
///     wpe.weight              (context, C)       learned positions only [wpe]
///     h.{i}.ln_1.weight       (C)                [h.{i}.ln_1 / layers.{i}.input_layernorm]
///     h.{i}.ln_1.bias         (C)                LayerNorm only
///     h.{i}.attn.qkv.weight   ((H + 2·KV)·hs, C) rows: q (H·hs), k (KV·hs), v (KV·hs)
///                                                [attn.c_attn, transposed (Conv1D) /
///                                                 self_attn.q_proj, k_proj, v_proj concatenated]
///     h.{i}.attn.qkv.bias     ((H + 2·KV)·hs)    when qkvBias [c_attn / q_proj, k_proj, v_proj]
///     h.{i}.attn.proj.weight  (C, H·hs)          [attn.c_proj, transposed / self_attn.o_proj]
///     h.{i}.attn.proj.bias    (C)                when attentionOutputBias
///     h.{i}.ln_2.weight       (C)                [h.{i}.ln_2 / layers.{i}.post_attention_layernorm]
///     h.{i}.ln_2.bias         (C)                LayerNorm only
///     h.{i}.mlp.fc.weight     (F, C) for GELU    [mlp.c_fc, transposed]
///                             (2·F, C) SwiGLU    rows: gate, then up [mlp.gate_proj, up_proj concatenated]
///     h.{i}.mlp.fc.bias       (F or 2·F)         when mlpBias
///     h.{i}.mlp.proj.weight   (C, F)             [mlp.c_proj, transposed / mlp.down_proj]
///     h.{i}.mlp.proj.bias     (C)                when mlpBias
///     ln_f.weight, ln_f.bias  (C)                bias for LayerNorm only [ln_f / norm]
///     lm_head.weight          (V, C)             untied only [lm_head]
///
/// Rotary embeddings use Hugging Face's "rotate half" pairing (feature d with d + hs/2), so q and k
/// rows load from safetensors as they are; GGUF's llama files store them interleaved, to be
/// permuted back on import.
public final class GPT: Module {
    /// The shape of this model.
    public let config: GPTConfig
    /// Token embedding (V, C).
    public let wte: Embedding
    /// Position embedding (context, C) with learned positions; nil with rotary ones.
    public let wpe: Embedding?
    /// The rotary table (context positions) shared by every block, or nil with learned positions.
    public let rotary: RotaryEmbedding?
    /// The blocks.
    public let blocks: [Block]
    /// Final norm.
    public let lnF: any NormLayer
    /// Output projection (V, C) when embeddings are not tied.
    public let lmHead: Linear?

    /// A model for `config` with GPT-2 initialisation drawn from a generator seeded with `seed`:
    /// matrices ~ N(0, initializerRange²) (Hugging Face's `initializer_range`), residual
    /// projections scaled by 1/√(2·layers). `initializerRange` 0 leaves every matrix zero and
    /// draws nothing: what a loader uses before it copies the stored weights in.
    public init(_ config: GPTConfig, seed: UInt64 = 0, initializerRange: Float = 0.02) {
        precondition(config.validationError() == nil, config.validationError() ?? "")
        var g = RandomGenerator(seed: seed)
        self.config = config
        let std = initializerRange
        wte = Embedding(config.vocabularySize, config.width, std: std, using: &g)
        switch config.positionEncoding {
        case .learned:
            wpe = Embedding(config.contextLength, config.width, std: std, using: &g)
            rotary = nil
        case .rotary:
            wpe = nil
            rotary = RotaryEmbedding(headSize: config.headSize, theta: config.ropeTheta, scaling: config.ropeScaling,
                                     positions: config.contextLength)
        }
        let rotary = self.rotary
        blocks = (0..<config.layers).map { _ in Block(config, rotary: rotary, std: std, using: &g) }
        lnF = makeNorm(config)
        lmHead = config.tiedEmbeddings ? nil : Linear(config.width, config.vocabularySize, bias: false, std: std, using: &g)
    }

    /// wte, wpe (learned positions), h.0 … h.{L−1}, ln_f, and lm_head when untied.
    public override var children: [(name: String, module: Module)] {
        [("wte", wte)] + (wpe.map { [("wpe", $0)] } ?? []) + blocks.enumerated().map { ("h.\($0.offset)", $0.element) }
            + [("ln_f", lnF)] + (lmHead.map { [("lm_head", $0)] } ?? [])
    }

    /// The output projection's weight (V, C): lm_head's, or the token embedding when tied.
    public var outputWeight: Tensor { lmHead?.weight ?? wte.weight }

    /// Logits for a batch of token ids.  tokens has B·T ids (row-major, T ≤ contextLength)
    /// → logits (B, T, V).
    public func callAsFunction(_ tokens: [Int], batch: Int, length: Int) -> Tensor {
        precondition(length <= config.contextLength, "sequence of \(length) exceeds context \(config.contextLength)")
        var x = wte(tokens, shape: [batch, length])                           // (B, T, C)
        if let wpe { x = x + wpe(Array(0..<length), shape: [length]) }         // + (T, C)
        for block in blocks { x = block(x) }
        return linear(lnF(x), weight: outputWeight)                            // (B, T, V)
    }

    /// The residual stream after the last block (before ln_f) for a packed batch: row i is token
    /// `tokens[i]` at the position `layout` gives it, attending as `layout` says (a prompt shared
    /// by several continuations is computed once). tokens has layout.rowCount ids → (N, C).
    public func residualStream(tokens: [Int], layout: AttentionLayout) -> Tensor {
        let n = tokens.count, positions = layout.positions
        precondition(n == layout.rowCount, "residualStream: \(n) tokens for a layout of \(layout.rowCount) rows")
        precondition(positions.allSatisfy { $0 < config.contextLength }, "residualStream: a row lies past the context \(config.contextLength)")
        var x = wte(tokens, shape: [n])                                // (N, C)
        if let wpe { x = x + wpe(positions, shape: [n]) }
        for block in blocks { x = block(x, layout: layout) }
        return x
    }

    /// Next-token logits at selected rows of a residual stream: ln_f and the output projection
    /// on those rows only. stream is (N, C), rows (R, any order, repeats allowed) → (R, V).
    public func logits(of stream: Tensor, rows: [Int]) -> Tensor {
        let picked = embedding(stream, indices: rows, shape: [rows.count])  // (R, C): a row gather
        return linear(lnF(picked), weight: outputWeight)                   // (R, V)
    }
}
