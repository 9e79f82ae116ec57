import RFTTensor

/// y = x·Wᵀ + b, with W of shape (out, in) as in nn.Linear.
public final class Linear: Module {
    /// (outputDimensions, inputDimensions).
    public let weight: Tensor
    /// (outputDimensions), or nil without bias.
    public let bias: Tensor?

    /// A linear layer with weight ~ N(0, std²) and zero bias.
    public init(_ inputDimensions: Int, _ outputDimensions: Int, bias: Bool = true, std: Float = 0.02,
                using generator: inout RandomGenerator) {
        weight = parameter(.randomNormal([outputDimensions, inputDimensions], std: std, using: &generator))
        self.bias = bias ? parameter(Tensor(zeros: [outputDimensions])) : nil
    }

    /// The weight and bias.
    public override var localParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// x is (..., in) → (..., out).
    public func callAsFunction(_ x: Tensor) -> Tensor { linear(x, weight: weight, bias: bias) }
}

/// A normalisation over the last dimension (LayerNorm or RMSNorm), for autograd and for the
/// decoder's cached path.
public protocol NormLayer: Module {
    /// x is (..., C) → (..., C).
    func callAsFunction(_ x: Tensor) -> Tensor
    /// The same arithmetic on raw rows, no autograd: x and y are (rows, C).
    func normalize(rows: Int, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>)
}

/// Layer normalisation over the last dimension with learned scale and shift.
public final class LayerNorm: Module, NormLayer {
    /// Scale, initialised to 1.
    public let weight: Tensor
    /// Shift, initialised to 0.
    public let bias: Tensor
    /// Added to the variance.
    public let eps: Float

    /// A LayerNorm over `dimensions` features.
    public init(_ dimensions: Int, eps: Float = 1e-5) {
        weight = parameter(Tensor(repeating: 1, shape: [dimensions]))
        bias = parameter(Tensor(zeros: [dimensions]))
        self.eps = eps
    }

    /// The weight and bias.
    public override var localParameters: [(name: String, tensor: Tensor)] { [("weight", weight), ("bias", bias)] }

    /// x is (..., C) → (..., C).
    public func callAsFunction(_ x: Tensor) -> Tensor { layerNorm(x, weight: weight, bias: bias, eps: eps) }

    /// x and y are (rows, C).
    public func normalize(rows: Int, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        DecodeKernels.layerNorm(rows: rows, c: weight.count, x: x, weight: weight.data, bias: bias.data, eps: eps, y: y)
    }
}

/// RMS normalisation over the last dimension with a learned scale (Llama's RMSNorm).
public final class RMSNorm: Module, NormLayer {
    /// Scale, initialised to 1.
    public let weight: Tensor
    /// Added to the mean square.
    public let eps: Float

    /// An RMSNorm over `dimensions` features.
    public init(_ dimensions: Int, eps: Float = 1e-6) {
        weight = parameter(Tensor(repeating: 1, shape: [dimensions]))
        self.eps = eps
    }

    /// The weight.
    public override var localParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    /// x is (..., C) → (..., C).
    public func callAsFunction(_ x: Tensor) -> Tensor { rmsNorm(x, weight: weight, eps: eps) }

    /// x and y are (rows, C).
    public func normalize(rows: Int, _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        DecodeKernels.rmsNorm(rows: rows, c: weight.count, x: x, weight: weight.data, eps: eps, y: y)
    }
}

/// The norm `config` asks for over `width` features.
func makeNorm(_ config: GPTConfig) -> any NormLayer {
    switch config.normalization {
    case .layerNorm: return LayerNorm(config.width, eps: config.layerNormEps)
    case .rmsNorm: return RMSNorm(config.width, eps: config.layerNormEps)
    }
}

/// A table of learned vectors looked up by integer index.
public final class Embedding: Module {
    /// (count, dimensions).
    public let weight: Tensor

    /// `count` vectors of `dimensions`, ~ N(0, std²).
    public init(_ count: Int, _ dimensions: Int, std: Float = 0.02, using generator: inout RandomGenerator) {
        weight = parameter(.randomNormal([count, dimensions], std: std, using: &generator))
    }

    /// The table.
    public override var localParameters: [(name: String, tensor: Tensor)] { [("weight", weight)] }

    /// indices with `shape` → (shape..., dimensions).
    public func callAsFunction(_ indices: [Int], shape: [Int]) -> Tensor {
        embedding(weight, indices: indices, shape: shape)
    }
}
