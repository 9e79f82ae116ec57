/// The shape of a GPT: sizes of vocabulary, context, depth and width.
public struct GPTConfig: Codable, Equatable, Sendable {
    /// Number of token ids.
    public var vocabularySize: Int
    /// Longest sequence (learned positions).
    public var contextLength: Int
    /// Number of transformer blocks.
    public var layers: Int
    /// Attention heads per block (must divide `width`).
    public var heads: Int
    /// Residual stream width (n_embd).
    public var width: Int
    /// MLP hidden width as a multiple of `width` (GPT-2: 4).
    public var mlpRatio: Int
    /// When true the output projection is the token embedding (GPT-2 ties them).
    public var tiedEmbeddings: Bool
    /// LayerNorm epsilon (PyTorch's default).
    public var layerNormEps: Float

    /// A configuration; defaults are a tiny character-level model.
    public init(vocabularySize: Int, contextLength: Int = 64, layers: Int = 4, heads: Int = 4,
                width: Int = 128, mlpRatio: Int = 4, tiedEmbeddings: Bool = true,
                layerNormEps: Float = 1e-5) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.layers = layers
        self.heads = heads
        self.width = width
        self.mlpRatio = mlpRatio
        self.tiedEmbeddings = tiedEmbeddings
        self.layerNormEps = layerNormEps
    }

    /// Width of one attention head.
    public var headSize: Int { width / heads }

    /// Why the configuration cannot build a model, or nil when it can.
    public func validationError() -> String? {
        if vocabularySize < 1 { return "vocabularySize must be ≥ 1, got \(vocabularySize)" }
        if contextLength < 1 { return "contextLength must be ≥ 1, got \(contextLength)" }
        if layers < 1 || heads < 1 || width < 1 || mlpRatio < 1 { return "layers, heads, width and mlpRatio must be ≥ 1" }
        if width % heads != 0 { return "width \(width) is not divisible by heads \(heads)" }
        return nil
    }
}
