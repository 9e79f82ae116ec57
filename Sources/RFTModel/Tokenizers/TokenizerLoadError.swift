/// Why a byte-level BPE tokenizer could not be built from a file (tokenizer.json, GGUF, tiktoken).
public enum TokenizerLoadError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file's content is not a valid tokenizer description (`source` names the file and key).
    case malformed(source: String, reason: String)
    /// The file describes a tokenizer this build does not implement (another model type,
    /// normalizer, pre-tokenizer or option).
    case unsupported(source: String, what: String)

    /// One line naming the file and the problem.
    public var description: String {
        switch self {
        case .malformed(let s, let r): return "\(s): malformed tokenizer: \(r)"
        case .unsupported(let s, let w): return "\(s): unsupported tokenizer: \(w)"
        }
    }
}
