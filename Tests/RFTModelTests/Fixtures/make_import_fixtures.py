#!/usr/bin/env python3
"""Generate the import fixtures used by RFTModelTests (ImportTests): tiny random models of each
family in both formats rft reads, and the logits Hugging Face transformers computes from each file.

Run by hand (never by the tests), in a venv with torch (the CPU 2.13 wheel), transformers,
tokenizers, safetensors and gguf, e.g. the one scripts/make-tokenizer-fixtures.py makes:

    .build-venv/bin/python Tests/RFTModelTests/Fixtures/make_import_fixtures.py

For each family it builds a tiny model with transformers itself (random weights drawn in float32)
and a 20-token byte-level BPE tokenizer, then writes under Fixtures/import/:
  <family>/            save_pretrained: config.json, model.safetensors, tokenizer.json,
                       tokenizer_config.json, generation_config.json
  <family>.gguf        the same weights as llama.cpp's converter lays them out (token_embd, blk.N.attn_q, …;
                       llama's q/k rows permuted to GGML's interleaved rotary pairs), F32, with the tokenizer
                       in the tokenizer.ggml.* keys
and import_expected.json: for each file, the token ids fed and the logits transformers computes
(in float64) from that file as it loads it — the folder with from_pretrained(dir), the GGUF with
from_pretrained(dir, gguf_file=…). The script checks that both loads give the logits of the model
it built, so the GGUF really is a file transformers reads as the same model.
"""
import json
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore")

import numpy as np
import torch
import transformers
from gguf import GGUFWriter
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (AutoModelForCausalLM, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM,
                          PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "import")
B, T = 2, 10
LETTERS = "abcdefghijklmnopqrs"  # 19 byte-level tokens + <|endoftext|> = 20 ids


def tiny_tokenizer():
    """A byte-level BPE over 19 letters and one merge-free vocabulary, EOS <|endoftext|> (id 19)."""
    vocab = {c: i for i, c in enumerate(LETTERS)}
    vocab["<|endoftext|>"] = len(vocab)
    t = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    t.decoder = decoders.ByteLevel()
    t.add_special_tokens(["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=t, eos_token="<|endoftext|>", bos_token=None, unk_token=None)


def families():
    gpt2 = GPT2Config(vocab_size=20, n_positions=1024, n_layer=2, n_head=2, n_embd=32, activation_function="gelu_new",
                      bos_token_id=19, eos_token_id=19, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    llama = LlamaConfig(vocab_size=20, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                        num_key_value_heads=2, max_position_embeddings=16, rms_norm_eps=1e-5, rope_theta=500.0,
                        tie_word_embeddings=True, bos_token_id=None, eos_token_id=19)
    qwen2 = Qwen2Config(vocab_size=20, hidden_size=48, intermediate_size=56, num_hidden_layers=2, num_attention_heads=6,
                        num_key_value_heads=2, max_position_embeddings=16, rms_norm_eps=1e-6, rope_theta=10000.0,
                        tie_word_embeddings=False, use_sliding_window=False, bos_token_id=None, eos_token_id=19)
    return [("gpt2", gpt2, GPT2LMHeadModel), ("llama", llama, LlamaForCausalLM), ("qwen2", qwen2, Qwen2ForCausalLM)]


def randomise(model):
    """Weights large enough that attention, RoPE and every bias matter."""
    with torch.no_grad():
        for name, q in model.named_parameters():
            if "norm" in name or ".ln_" in name:
                q.copy_(1.0 + 0.1 * torch.randn_like(q)) if name.endswith("weight") else q.normal_(0.0, 0.1)
            elif name.endswith("bias"):
                q.normal_(0.0, 0.1)
            elif "wte" in name or "wpe" in name or "embed_tokens" in name:
                q.normal_(0.0, 0.5)
            else:
                q.normal_(0.0, 0.15)


def logits64(model, ids):
    m = model.double().eval()
    with torch.no_grad():
        return m(input_ids=ids, use_cache=False).logits


def gguf_permute(w, heads):
    """HF's rotate-half rows → GGML's interleaved pairs (what llama.cpp's converter does for llama)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(family, config, model, tok, path):
    arch = family
    w = GGUFWriter(path, arch)
    sd = {k: v.detach().to(torch.float32).numpy() for k, v in model.state_dict().items()}
    if family == "gpt2":
        w.add_context_length(config.n_positions)
        w.add_embedding_length(config.n_embd)
        w.add_feed_forward_length(4 * config.n_embd)
        w.add_block_count(config.n_layer)
        w.add_head_count(config.n_head)
        w.add_layer_norm_eps(config.layer_norm_epsilon)
        t = lambda n: sd["transformer." + n]
        tensors = {"token_embd.weight": t("wte.weight"), "position_embd.weight": t("wpe.weight"),
                   "output_norm.weight": t("ln_f.weight"), "output_norm.bias": t("ln_f.bias"), "output.weight": t("wte.weight")}
        for i in range(config.n_layer):
            h, b = f"h.{i}.", f"blk.{i}."
            tensors.update({b + "attn_norm.weight": t(h + "ln_1.weight"), b + "attn_norm.bias": t(h + "ln_1.bias"),
                            b + "attn_qkv.weight": t(h + "attn.c_attn.weight").T, b + "attn_qkv.bias": t(h + "attn.c_attn.bias"),
                            b + "attn_output.weight": t(h + "attn.c_proj.weight").T, b + "attn_output.bias": t(h + "attn.c_proj.bias"),
                            b + "ffn_norm.weight": t(h + "ln_2.weight"), b + "ffn_norm.bias": t(h + "ln_2.bias"),
                            b + "ffn_up.weight": t(h + "mlp.c_fc.weight").T, b + "ffn_up.bias": t(h + "mlp.c_fc.bias"),
                            b + "ffn_down.weight": t(h + "mlp.c_proj.weight").T, b + "ffn_down.bias": t(h + "mlp.c_proj.bias")})
    else:
        w.add_context_length(config.max_position_embeddings)
        w.add_embedding_length(config.hidden_size)
        w.add_feed_forward_length(config.intermediate_size)
        w.add_block_count(config.num_hidden_layers)
        w.add_head_count(config.num_attention_heads)
        w.add_head_count_kv(config.num_key_value_heads)
        w.add_layer_norm_rms_eps(config.rms_norm_eps)
        w.add_rope_freq_base(config.rope_theta if hasattr(config, "rope_theta") else config.rope_parameters["rope_theta"])
        w.add_rope_dimension_count(config.hidden_size // config.num_attention_heads)
        m = lambda n: sd["model." + n]
        tensors = {"token_embd.weight": m("embed_tokens.weight"), "output_norm.weight": m("norm.weight")}
        if not config.tie_word_embeddings:
            tensors["output.weight"] = sd["lm_head.weight"]
        for i in range(config.num_hidden_layers):
            l, b = f"layers.{i}.", f"blk.{i}."
            q, k = m(l + "self_attn.q_proj.weight"), m(l + "self_attn.k_proj.weight")
            if family == "llama":
                q, k = gguf_permute(q, config.num_attention_heads), gguf_permute(k, config.num_key_value_heads)
            tensors.update({b + "attn_norm.weight": m(l + "input_layernorm.weight"), b + "attn_q.weight": q, b + "attn_k.weight": k,
                            b + "attn_v.weight": m(l + "self_attn.v_proj.weight"), b + "attn_output.weight": m(l + "self_attn.o_proj.weight"),
                            b + "ffn_norm.weight": m(l + "post_attention_layernorm.weight"), b + "ffn_gate.weight": m(l + "mlp.gate_proj.weight"),
                            b + "ffn_up.weight": m(l + "mlp.up_proj.weight"), b + "ffn_down.weight": m(l + "mlp.down_proj.weight")})
            if family == "qwen2":
                tensors.update({b + f"attn_{x}.bias": m(l + f"self_attn.{x}_proj.bias") for x in "qkv"})
    # the tokenizer, as llama.cpp writes a GPT-2-style BPE
    vocab = tok.get_vocab()
    tokens = [None] * len(vocab)
    for s, i in vocab.items():
        tokens[i] = s
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre({"gpt2": "gpt2", "llama": "llama-bpe", "qwen2": "qwen2"}[family])
    w.add_token_list(tokens)
    w.add_token_types([3 if t == "<|endoftext|>" else 1 for t in tokens])
    w.add_token_merges([])
    w.add_eos_token_id(19)
    w.add_add_bos_token(False)
    for name, value in tensors.items():
        w.add_tensor(name, np.ascontiguousarray(value, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    assert sys.byteorder == "little"
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    tok = tiny_tokenizer()
    expected = {}
    for seed, (family, config, cls) in enumerate(families()):
        torch.manual_seed(100 + seed)
        config._attn_implementation = "eager"
        model = cls(config).float().eval()
        randomise(model)
        ids = torch.randint(0, 20, (B, T))
        folder = os.path.join(OUT, family)
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        built = logits64(model, ids)
        loaded = logits64(AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager"), ids)
        assert torch.allclose(built, loaded, rtol=0, atol=1e-12), f"{family}: the folder does not reload as the same model"
        gguf_path = os.path.join(OUT, f"{family}.gguf")
        write_gguf(family, config, model.float(), tok, gguf_path)
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(gguf_path, os.path.join(d, "m.gguf"))
            from_gguf = logits64(AutoModelForCausalLM.from_pretrained(d, gguf_file="m.gguf", attn_implementation="eager"), ids)
        err = (from_gguf - built).abs().max().item() / built.abs().max().item()
        assert err < 1e-5, f"{family}: transformers reads the GGUF as another model (relative error {err})"
        for key, logits in [(family, loaded), (family + ".gguf", from_gguf)]:
            expected[key] = {"ids": ids.view(-1).tolist(), "batch": B, "length": T, "shape": list(logits.shape),
                             "logits": [round(x, 7) for x in logits.to(torch.float32).view(-1).tolist()]}
        print(f"{family}: {sum(p.numel() for p in model.parameters())} parameters; GGUF through transformers: relative error {err:.2e}")
    expected["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
    with open(os.path.join(HERE, "import_expected.json"), "w") as f:
        json.dump(expected, f)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(dp, n)) for dp, _, ns in os.walk(OUT) for n in ns)
    total += os.path.getsize(os.path.join(HERE, "import_expected.json"))
    print(f"total {total} bytes ({total / 1024:.1f} KiB)")
    assert total <= 1536 * 1024


if __name__ == "__main__":
    main()
