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

/// Layer normalisation over the last dimension with learned scale and shift.
public final class LayerNorm: Module {
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
