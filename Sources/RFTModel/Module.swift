import RFTTensor

/// A building block with named parameters and child modules (PyTorch's nn.Module).
/// Parameter names join the path of children with dots (`h.0.attn.qkv.weight`) in a stable
/// order: these names are the checkpoint keys.
open class Module {
    /// Creates an empty module.
    public init() {}

    /// This module's own parameters, in declaration order.
    open var localParameters: [(name: String, tensor: Tensor)] { [] }

    /// Child modules, in declaration order.
    open var children: [(name: String, module: Module)] { [] }

    /// Every parameter of this module and its children, depth-first, each named by its path.
    /// A tensor shared by two places (tied weights) appears once, under its first name.
    public func namedParameters() -> [(name: String, tensor: Tensor)] {
        var seen = Set<ObjectIdentifier>()
        var out: [(name: String, tensor: Tensor)] = []
        func visit(_ m: Module, _ prefix: String) {
            for (n, t) in m.localParameters where seen.insert(ObjectIdentifier(t)).inserted {
                out.append((prefix + n, t))
            }
            for (n, c) in m.children { visit(c, prefix + n + ".") }
        }
        visit(self, "")
        return out
    }

    /// The parameter tensors in `namedParameters()` order.
    public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

    /// Total number of scalar parameters.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }

    /// Copies values into parameters by name; every parameter must be present with its shape.
    public func load(_ values: [String: Tensor]) throws {
        for (name, p) in namedParameters() {
            guard let v = values[name] else { throw ModuleError.missingParameter(name) }
            guard v.shape == p.shape else {
                throw ModuleError.shapeMismatch(name: name, expected: p.shape, found: v.shape)
            }
            p.assign(v)
        }
    }
}

/// Errors from loading parameters into a module.
public enum ModuleError: Error, CustomStringConvertible, Equatable {
    /// No value was given for this parameter.
    case missingParameter(String)
    /// The value for this parameter has another shape.
    case shapeMismatch(name: String, expected: [Int], found: [Int])

    /// A one-line explanation naming the parameter.
    public var description: String {
        switch self {
        case .missingParameter(let n): return "missing parameter \(n)"
        case .shapeMismatch(let n, let e, let f): return "parameter \(n): expected shape \(e), found \(f)"
        }
    }
}

/// A parameter tensor: trainable (requires gradients).
func parameter(_ t: Tensor) -> Tensor {
    t.requiresGrad = true
    return t
}
