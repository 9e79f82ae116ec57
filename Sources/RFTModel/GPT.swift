import RFTTensor

/// Causal multi-head self-attention: a packed q/k/v projection, the fused attention op and an
/// output projection.
public final class CausalSelfAttention: Module {
    /// (3C, C): q, k and v for all heads.
    public let qkv: Linear
    /// (C, C): back to the residual stream.
    public let proj: Linear
    /// Number of heads.
    public let heads: Int

    /// Attention for `config`; `proj` uses the residual-scaled init.
    public init(_ config: GPTConfig, residualStd: Float, using g: inout RandomGenerator) {
        qkv = Linear(config.width, 3 * config.width, using: &g)
        proj = Linear(config.width, config.width, std: residualStd, using: &g)
        heads = config.heads
    }

    /// The projections.
    public override var children: [(name: String, module: Module)] { [("qkv", qkv), ("proj", proj)] }

    /// x is (B, T, C) → (B, T, C).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        proj(causalSelfAttention(qkv(x), heads: heads))
    }

    /// x is the (N, C) rows of a packed batch, attending as `layout` says → (N, C).
    public func callAsFunction(_ x: Tensor, layout: AttentionLayout) -> Tensor {
        proj(packedSelfAttention(qkv(x), layout: layout, heads: heads))
    }
}

/// The feed-forward block: Linear → GELU(tanh) → Linear.
public final class MLP: Module {
    /// (ratio·C, C).
    public let fc: Linear
    /// (C, ratio·C), residual-scaled init.
    public let proj: Linear

    /// An MLP for `config`.
    public init(_ config: GPTConfig, residualStd: Float, using g: inout RandomGenerator) {
        fc = Linear(config.width, config.mlpRatio * config.width, using: &g)
        proj = Linear(config.mlpRatio * config.width, config.width, std: residualStd, using: &g)
    }

    /// The two layers.
    public override var children: [(name: String, module: Module)] { [("fc", fc), ("proj", proj)] }

    /// x is (..., C) → (..., C).
    public func callAsFunction(_ x: Tensor) -> Tensor { proj(gelu(fc(x))) }
}

/// A pre-LayerNorm transformer block.
public final class Block: Module {
    /// Norm before attention.
    public let ln1: LayerNorm
    /// Self-attention.
    public let attn: CausalSelfAttention
    /// Norm before the MLP.
    public let ln2: LayerNorm
    /// Feed-forward.
    public let mlp: MLP

    /// A block for `config`.
    public init(_ config: GPTConfig, using g: inout RandomGenerator) {
        // GPT-2: residual projections get std 0.02/√(2·layers) so the stream's variance stays O(1)
        let residualStd = 0.02 / Float(2 * config.layers).squareRoot()
        ln1 = LayerNorm(config.width, eps: config.layerNormEps)
        attn = CausalSelfAttention(config, residualStd: residualStd, using: &g)
        ln2 = LayerNorm(config.width, eps: config.layerNormEps)
        mlp = MLP(config, residualStd: residualStd, using: &g)
    }

    /// ln_1, attn, ln_2, mlp (GPT-2's names).
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

/// A GPT-2-style decoder: token + learned position embeddings, pre-LN blocks, a final norm
/// and an output projection (tied to the token embedding by default).
public final class GPT: Module {
    /// The shape of this model.
    public let config: GPTConfig
    /// Token embedding (V, C).
    public let wte: Embedding
    /// Position embedding (context, C).
    public let wpe: Embedding
    /// The blocks.
    public let blocks: [Block]
    /// Final LayerNorm.
    public let lnF: LayerNorm
    /// Output projection (V, C) when embeddings are not tied.
    public let lmHead: Linear?

    /// A GPT with GPT-2 initialisation drawn from a generator seeded with `seed`.
    public init(_ config: GPTConfig, seed: UInt64 = 0) {
        precondition(config.validationError() == nil, config.validationError() ?? "")
        var g = RandomGenerator(seed: seed)
        self.config = config
        wte = Embedding(config.vocabularySize, config.width, using: &g)
        wpe = Embedding(config.contextLength, config.width, using: &g)
        blocks = (0..<config.layers).map { _ in Block(config, using: &g) }
        lnF = LayerNorm(config.width, eps: config.layerNormEps)
        lmHead = config.tiedEmbeddings ? nil : Linear(config.width, config.vocabularySize, bias: false, using: &g)
    }

    /// wte, wpe, h.0 … h.{L−1}, ln_f, and lm_head when untied.
    public override var children: [(name: String, module: Module)] {
        [("wte", wte), ("wpe", wpe)] + blocks.enumerated().map { ("h.\($0.offset)", $0.element) }
            + [("ln_f", lnF)] + (lmHead.map { [("lm_head", $0)] } ?? [])
    }

    /// Logits for a batch of token ids.  tokens has B·T ids (row-major, T ≤ contextLength)
    /// → logits (B, T, V).
    public func callAsFunction(_ tokens: [Int], batch: Int, length: Int) -> Tensor {
        precondition(length <= config.contextLength, "sequence of \(length) exceeds context \(config.contextLength)")
        let tok = wte(tokens, shape: [batch, length])       // (B, T, C)
        let pos = wpe(Array(0..<length), shape: [length])    // (T, C)
        var x = tok + pos
        for block in blocks { x = block(x) }
        x = lnF(x)
        return linear(x, weight: lmHead?.weight ?? wte.weight)  // (B, T, V)
    }

    /// The residual stream after the last block (before ln_f) for a packed batch: row i is token
    /// `tokens[i]` at the position `layout` gives it, attending as `layout` says (a prompt shared
    /// by several continuations is computed once). tokens has layout.rowCount ids → (N, C).
    public func residualStream(tokens: [Int], layout: AttentionLayout) -> Tensor {
        let n = tokens.count, positions = layout.positions
        precondition(n == layout.rowCount, "residualStream: \(n) tokens for a layout of \(layout.rowCount) rows")
        precondition(positions.allSatisfy { $0 < config.contextLength }, "residualStream: a row lies past the context \(config.contextLength)")
        var x = wte(tokens, shape: [n]) + wpe(positions, shape: [n])  // (N, C)
        for block in blocks { x = block(x, layout: layout) }
        return x
    }

    /// Next-token logits at selected rows of a residual stream: ln_f and the output projection
    /// on those rows only. stream is (N, C), rows (R, any order, repeats allowed) → (R, V).
    public func logits(of stream: Tensor, rows: [Int]) -> Tensor {
        let picked = embedding(stream, indices: rows, shape: [rows.count])  // (R, C): a row gather
        return linear(lnF(picked), weight: lmHead?.weight ?? wte.weight)   // (R, V)
    }
}
