/// A Float32 tensor: contiguous, row-major, with reverse-mode autograd.
///
/// Storage comes from the `CachingAllocator`; `reshape` returns a view on the same storage.
/// An op whose inputs require gradients records its backward next to its output; `backward()`
/// walks that graph in reverse topological order and accumulates (`+=`) into `grad`.
public final class Tensor: @unchecked Sendable {
    /// The dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements (product of `shape`).
    public let count: Int
    /// The shared storage block and where this tensor starts in it.
    public let storage: Storage
    let offset: Int
    /// When true, `backward()` accumulates this tensor's gradient into `grad`.
    public var requiresGrad: Bool
    /// The accumulated gradient (same shape), or nil before any backward pass reached it.
    public var grad: Tensor?
    /// How this tensor was computed, if it was recorded for autograd.
    var node: Node?
    /// True once a `backward()` walked through this tensor's node and released it.
    var graphReleased = false

    /// A tensor over `storage` (no copy).
    init(shape: [Int], storage: Storage, offset: Int = 0, requiresGrad: Bool = false) {
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
    }

    /// An uninitialised tensor of `shape` (fill it before reading).
    public init(uninitialized shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.storage = Storage(count: count)
        self.offset = 0
        self.requiresGrad = false
    }

    /// A tensor of `shape` filled with `value`.
    public convenience init(repeating value: Float, shape: [Int]) {
        self.init(uninitialized: shape)
        data.update(repeating: value, count: count)
    }

    /// A tensor of zeros.
    public convenience init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A tensor with the given elements in row-major order.
    public convenience init(shape: [Int], data values: [Float], requiresGrad: Bool = false) {
        self.init(uninitialized: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
        self.requiresGrad = requiresGrad
    }

    /// A scalar tensor (shape []).
    public convenience init(scalar: Float) { self.init(shape: [], data: [scalar]) }

    /// Normal(0, std²) samples from `generator`.
    public static func randomNormal(
        _ shape: [Int], std: Float = 1, using generator: inout RandomGenerator
    ) -> Tensor {
        guard std != 0 else { return Tensor(zeros: shape) }  // zeros, drawing nothing (weights about to be loaded)
        let t = Tensor(uninitialized: shape)
        for i in 0..<t.count { t.data[i] = generator.nextNormal() * std }
        return t
    }

    /// Pointer to the first element.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// Number of dimensions.
    public var rank: Int { shape.count }

    /// The elements in row-major order.
    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single element of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item() on a tensor of shape \(shape)")
        return data[0]
    }

    /// A copy that shares nothing and records no graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Copies `other`'s elements into this tensor (same count), outside autograd.
    public func assign(_ other: Tensor) {
        precondition(other.count == count, "assign: \(other.shape) into \(shape)")
        data.update(from: other.data, count: count)
    }

    /// This tensor cut off from the graph (shares storage; like `tensor.detach()`).
    public func detached() -> Tensor { Tensor(shape: shape, storage: storage, offset: offset) }

    /// `shape`'s worth of elements starting `offset` elements into this tensor, as a view on the
    /// same storage that records no graph (for buffers carved out of one allocation).
    public func view(offset start: Int, shape newShape: [Int]) -> Tensor {
        let n = newShape.reduce(1, *)
        precondition(start >= 0 && start + n <= count, "view: \(start)..<\(start + n) of \(count) elements")
        return Tensor(shape: newShape, storage: storage, offset: offset + start)
    }

    /// Sets every element to zero.
    public func zero() { data.update(repeating: 0, count: count) }
}

extension Tensor: CustomStringConvertible {
    /// Shape and the first few elements.
    public var description: String {
        let head = (0..<min(count, 8)).map { String(data[$0]) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}
