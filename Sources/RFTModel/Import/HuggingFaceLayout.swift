import RFTTensor

/// Where each rft parameter (see `GPT` for the names) lives in a Hugging Face checkpoint of its
/// family: the tensors whose rows, one after the other, make it up (q, k, v for `attn.qkv`; gate,
/// up for a SwiGLU `mlp.fc`), and whether they are stored transposed (GPT-2's Conv1D keeps
/// (in, out)). Import and export read this one table in opposite directions.
struct HuggingFaceLayout {
    /// One stored tensor: its names (the first is the one written; GPT-2 checkpoints exist with
    /// and without the `transformer.` prefix), how many of the parameter's rows it holds, and
    /// whether it is stored transposed.
    struct Part {
        var names: [String]
        var rows: Int
        var transposed = false
    }

    let family: PretrainedModel.Family
    let config: GPTConfig

    /// The parts of rft parameter `name` with `shape`, or nil for a name this family lacks.
    func parts(_ name: String, shape: [Int]) -> [Part]? {
        let parts = name.split(separator: ".").map(String.init)
        let kind = parts.last ?? ""
        let rows = shape.first ?? 1
        if family == .gpt2 {
            if name == "lm_head.weight" { return [Part(names: ["lm_head.weight"], rows: rows)] }
            let hf = name.replacingOccurrences(of: ".qkv.", with: ".c_attn.").replacingOccurrences(of: "attn.proj.", with: "attn.c_proj.")
                .replacingOccurrences(of: "mlp.fc.", with: "mlp.c_fc.").replacingOccurrences(of: "mlp.proj.", with: "mlp.c_proj.")
            let conv1D = kind == "weight" && parts.count == 5 && ["attn", "mlp"].contains(parts[2])
            return [Part(names: ["transformer." + hf, hf], rows: rows, transposed: conv1D)]
        }
        func one(_ hf: String) -> [Part] { [Part(names: [hf], rows: rows)] }
        switch parts.first {
        case "wte"?: return one("model.embed_tokens.weight")
        case "ln_f"?: return one("model.norm.weight")
        case "lm_head"?: return one("lm_head.weight")
        case "h"? where parts.count >= 4:
            let p = "model.layers.\(parts[1])."
            switch (parts[2], parts[3]) {
            case ("ln_1", _): return one(p + "input_layernorm.weight")
            case ("ln_2", _): return one(p + "post_attention_layernorm.weight")
            case ("attn", "qkv"):
                let q = config.attentionWidth, kv = config.keyValueWidth
                return [Part(names: [p + "self_attn.q_proj." + kind], rows: q), Part(names: [p + "self_attn.k_proj." + kind], rows: kv),
                        Part(names: [p + "self_attn.v_proj." + kind], rows: kv)]
            case ("attn", "proj"): return one(p + "self_attn.o_proj." + kind)
            case ("mlp", "fc"):
                let hidden = config.mlpHiddenSize
                return [Part(names: [p + "mlp.gate_proj." + kind], rows: hidden), Part(names: [p + "mlp.up_proj." + kind], rows: hidden)]
            case ("mlp", "proj"): return one(p + "mlp.down_proj." + kind)
            default: return nil
            }
        default: return nil
        }
    }

    /// The stored tensors of `parameter` named `name`: its rows split into parts, each transposed
    /// back where the family stores it so.
    func split(_ parameter: Tensor, name: String) -> [(name: String, tensor: Tensor)]? {
        guard let parts = parts(name, shape: parameter.shape) else { return nil }
        let rowLength = parameter.count / max(1, parameter.shape.first ?? 1)
        var offset = 0
        return parts.map { part in
            let slice = Tensor(uninitialized: [part.rows] + parameter.shape.dropFirst())
            slice.data.update(from: parameter.data + offset * rowLength, count: part.rows * rowLength)
            offset += part.rows
            return (part.names[0], part.transposed ? PretrainedModel.transposed(slice) : slice)
        }
    }
}
