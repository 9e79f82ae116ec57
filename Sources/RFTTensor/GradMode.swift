/// Whether operations record the autograd graph (like `torch.is_grad_enabled()`).
public enum GradMode {
    @TaskLocal static var enabled = true

    /// True when new operations record their backward.
    public static var isEnabled: Bool { enabled }
}

/// Runs `body` without recording any autograd graph: no backward closures, no saved activations.
/// Use it for sampling and evaluation (like `torch.no_grad()`).
@discardableResult
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$enabled.withValue(false) { try body() }
}
