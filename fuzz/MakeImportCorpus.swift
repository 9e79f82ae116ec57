// Writes the seed corpora of the GGUF and safetensors fuzz targets (built by fuzz/run-import):
// the tests' sample GGUF (every metadata and tensor type), one with a tiny byte-level tokenizer,
// and safetensors files in F32, BF16 and F16 with metadata.
import Foundation
import RFTTensor

@main struct MakeImportCorpus {
    static func main() throws {
        let dir = CommandLine.arguments[1]
        func write(_ name: String, _ bytes: [UInt8]) throws {
            try FileManager.default.createDirectory(atPath: dir + "/gguf", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/safetensors", withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        try write("gguf/sample.gguf", sampleGGUF().build().bytes)
        var tokenizer = GGUFBuilder()
        let tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) } + ["Ġw", "or", "ld", "<|im_start|>"]
        tokenizer.metadata = [
            ("general.architecture", .string("llama")),
            ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(.string, tokens.map { .string($0) })),
            ("tokenizer.ggml.token_type", .array(.int32, tokens.indices.map { .int32($0 == 259 ? 3 : 1) })),
            ("tokenizer.ggml.merges", .array(.string, [.string("Ġ w"), .string("o r"), .string("l d")])),
            ("tokenizer.ggml.bos_token_id", .uint32(259)), ("tokenizer.chat_template", .string("{{ x }}")),
        ]
        try write("gguf/tokenizer.gguf", tokenizer.build().bytes)
        let a = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6]), b = Tensor(shape: [1], data: [0.5])
        try write("safetensors/f32.safetensors", SafetensorsWriter.encode([("a", a), ("b", b)], metadata: ["format": "pt"]))
        try write("safetensors/bf16.safetensors", SafetensorsWriter.encode([("a", a)], dtype: .bf16))
        let header = #"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}"#
        var f16: [UInt8] = []
        f16.le(UInt64(header.utf8.count))
        try write("safetensors/f16.safetensors", f16 + Array(header.utf8) + [0x00, 0x3C, 0x00, 0xC0])
    }
}
