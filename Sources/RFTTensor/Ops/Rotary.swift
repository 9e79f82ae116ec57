/// Rotary position embeddings (RoPE, Su et al. 2021) in the "rotate half" layout Hugging Face's
/// Llama and Qwen2 use: within a head of hs features, feature d < hs/2 and feature d + hs/2 form
/// a pair rotated by the angle position · ω_d, ω_d = θ^(−2d/hs) (optionally rescaled, see
/// `RoPEScaling`). Applied to the queries and keys inside attention (`causalSelfAttention`,
/// `packedSelfAttention`, the decoder's cached path), or to any tensor with `rotaryEmbedding`.

import Foundation

/// How the rotary frequencies are stretched for contexts longer than the model was trained on
/// (Hugging Face's `rope_scaling` / `rope_parameters`).
public struct RoPEScaling: Codable, Equatable, Sendable {
    /// The rescaling rule.
    public enum Kind: String, Codable, Sendable {
        /// Every frequency divided by `factor` (positions interpolated).
        case linear
        /// Llama 3.1's: low frequencies divided by `factor`, high ones kept, a smooth blend between.
        case llama3
    }

    /// The rule (JSON key `type`).
    public var type: Kind
    /// How much longer the context is meant to be.
    public var factor: Float
    /// llama3: wavelengths above originalContextLength / lowFrequencyFactor are fully scaled.
    public var lowFrequencyFactor: Float?
    /// llama3: wavelengths below originalContextLength / highFrequencyFactor are kept.
    public var highFrequencyFactor: Float?
    /// llama3: the context length the model was pretrained with.
    public var originalContextLength: Int?

    /// A scaling; llama3 needs the three optional values.
    public init(type: Kind, factor: Float, lowFrequencyFactor: Float? = nil, highFrequencyFactor: Float? = nil,
                originalContextLength: Int? = nil) {
        self.type = type
        self.factor = factor
        self.lowFrequencyFactor = lowFrequencyFactor
        self.highFrequencyFactor = highFrequencyFactor
        self.originalContextLength = originalContextLength
    }

    /// Why these values cannot scale frequencies, or nil when they can.
    public func validationError() -> String? {
        if !(factor.isFinite && factor > 0) { return "ropeScaling.factor must be positive and finite, got \(factor)" }
        guard type == .llama3 else { return nil }
        guard let low = lowFrequencyFactor, let high = highFrequencyFactor, let original = originalContextLength else {
            return "ropeScaling llama3 needs lowFrequencyFactor, highFrequencyFactor and originalContextLength"
        }
        if !(low.isFinite && high.isFinite && low > 0 && high > low) {
            return "ropeScaling llama3 needs 0 < lowFrequencyFactor < highFrequencyFactor, got \(low), \(high)"
        }
        if original < 1 { return "ropeScaling.originalContextLength must be ≥ 1, got \(original)" }
        return nil
    }
}

/// The cos/sin table of rotary embeddings for one head size, for positions 0..<positions.
/// Immutable once made; one instance is shared by every layer of a model.
public final class RotaryEmbedding: @unchecked Sendable {
    /// Features per head (even).
    public let headSize: Int
    /// Positions the table covers.
    public let positions: Int
    /// The frequencies ω_d, d < hs/2 (after scaling), as Hugging Face computes them in float32.
    public let inverseFrequencies: [Float]
    /// cos and sin of position · ω_d: (positions, hs/2) each, one after the other.
    let table: Tensor

    /// The table for heads of `headSize` features, base `theta`, `scaling`, positions 0..<positions.
    public init(headSize: Int, theta: Float, scaling: RoPEScaling? = nil, positions: Int) {
        precondition(headSize >= 2 && headSize % 2 == 0, "RotaryEmbedding: head size \(headSize) is not even")
        precondition(positions >= 1, "RotaryEmbedding: \(positions) positions")
        self.headSize = headSize
        self.positions = positions
        let frequencies = RotaryEmbedding.frequencies(headSize: headSize, theta: theta, scaling: scaling)
        inverseFrequencies = frequencies
        let half = headSize / 2
        table = Tensor(uninitialized: [2, positions, half])
        let (cosines, sines) = (table.data, table.data + positions * half)
        for p in 0..<positions {
            for d in 0..<half {
                // the angle rounded to float32 first, as torch multiplies float32 frequencies by positions
                let angle = Double(frequencies[d] * Float(p))
                cosines[p * half + d] = Float(cos(angle))
                sines[p * half + d] = Float(sin(angle))
            }
        }
    }

    /// ω_d = 1 / θ^(2d/hs) for d < hs/2, rescaled by `scaling`, in float32 arithmetic (as
    /// transformers' `_compute_default_rope_parameters` and `_compute_llama3_parameters`).
    public static func frequencies(headSize: Int, theta: Float, scaling: RoPEScaling?) -> [Float] {
        let base = (0..<(headSize / 2)).map { d in 1 / powf(theta, Float(2 * d) / Float(headSize)) }
        guard let s = scaling else { return base }
        switch s.type {
        case .linear:
            return base.map { $0 / s.factor }
        case .llama3:
            let (low, high) = (s.lowFrequencyFactor ?? 1, s.highFrequencyFactor ?? 4)
            let original = Float(s.originalContextLength ?? 8192)
            let (lowWavelength, highWavelength) = (original / low, original / high)
            return base.map { w in
                let wavelength = 2 * Float.pi / w
                if wavelength > lowWavelength { return w / s.factor }  // low frequency: fully interpolated
                if wavelength < highWavelength { return w }            // high frequency: kept
                let smooth = (original / wavelength - low) / (high - low)
                return (1 - smooth) * w / s.factor + smooth * w
            }
        }
    }

    /// Rotates `heads` consecutive heads of one row at position `p`: y = R(p)·x per head, or
    /// the inverse Rᵀ(p) (the backward) when `inverse`. x and y hold heads·hs floats (y may be x).
    @inline(__always)
    func rotate(heads: Int, position p: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, inverse: Bool) {
        let half = headSize / 2
        let c = UnsafePointer(table.data + p * half), s = UnsafePointer(table.data + (positions + p) * half)
        let sign: Float = inverse ? -1 : 1
        for h in 0..<heads {
            let x1 = x + h * headSize, x2 = x1 + half, y1 = y + h * headSize, y2 = y1 + half
            var d = 0
            while d + 16 <= half {
                let (a, b, cv, sv) = (load16(x1 + d), load16(x2 + d), load16(c + d), sign * load16(s + d))
                store16(a * cv - b * sv, y1 + d)
                store16(b * cv + a * sv, y2 + d)
                d += 16
            }
            while d < half {
                let (a, b, sv) = (x1[d], x2[d], sign * s[d])
                y1[d] = a * c[d] - b * sv
                y2[d] = b * c[d] + a * sv
                d += 1
            }
        }
    }

    /// Rotates the first `heads` heads of each of `rows` rows (ld floats apart) of `x` into `y`
    /// (same strides; y may be x), row r at position positions[r]; in parallel for many rows.
    func rotateRows(_ rows: Int, heads: Int, ld: Int, positions: [Int], _ x: UnsafePointer<Float>,
                    _ y: UnsafeMutablePointer<Float>, inverse: Bool) {
        positions.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            parallelFor(rows, grain: max(1, 8192 / max(1, heads * headSize))) { range in
                for r in range { self.rotate(heads: heads, position: p[r], x + r * ld, y + r * ld, inverse: inverse) }
            }
        }
    }

    /// Stops unless every position lies in the table.
    func checkPositions(_ positions: [Int], _ caller: String) {
        precondition(positions.allSatisfy { $0 >= 0 && $0 < self.positions },
                     "\(caller): a position lies outside the rotary table's 0..<\(self.positions)")
    }
}

/// Rotary embedding of every head of every row: row r (of x.count / W rows, W = x's last
/// dimension, a multiple of hs) rotated at positions[r]. x is (..., W) → (..., W).
public func rotaryEmbedding(_ x: Tensor, positions: [Int], rotary: RotaryEmbedding) -> Tensor {
    let w = x.shape.last ?? 0, hs = rotary.headSize
    precondition(w % hs == 0 && w > 0, "rotaryEmbedding: last dimension \(w) is not a multiple of head size \(hs)")
    let rows = x.count / w
    precondition(positions.count == rows, "rotaryEmbedding: \(positions.count) positions for \(rows) rows")
    rotary.checkPositions(positions, "rotaryEmbedding")
    let out = Tensor(uninitialized: x.shape)
    rotary.rotateRows(rows, heads: w / hs, ld: w, positions: positions, x.data, out.data, inverse: false)
    return out.recorded(from: [x]) { g in
        // dx += R(p)ᵀ g: rotate the gradient back, then add
        let back = Tensor(uninitialized: x.shape)
        rotary.rotateRows(rows, heads: w / hs, ld: w, positions: positions, g.data, back.data, inverse: true)
        let (gx, fresh) = x.gradBufferForOverwrite()
        if fresh { gx.update(from: back.data, count: x.count) } else { vadd(x.count, back.data, gx) }
    }
}
