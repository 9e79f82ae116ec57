#!/usr/bin/env python3
"""Generate the model-family reference fixtures used by RFTModelTests (FamilyFixtureTests).

Run by hand (never by the tests) with the benchmarks venv (torch 2.13 CPU, transformers):

    benchmarks/setup-peers
    benchmarks/.venv/bin/python Tests/RFTModelTests/Fixtures/make_family_fixtures.py

For each family it builds a tiny random model with Hugging Face transformers itself —
  gpt2   GPT2LMHeadModel: learned positions, LayerNorm, GELU(tanh), fused qkv, biases, tied
  llama  LlamaForCausalLM: RMSNorm, RoPE with llama3 scaling, SwiGLU, GQA (4 heads, 2 kv), tied
  qwen2  Qwen2ForCausalLM: as llama with q/k/v bias, linear RoPE scaling, GQA (6, 2), untied
— maps its weights onto rft's parameter names (the mapping an importer makes: q/k/v and
gate/up concatenated by rows, GPT-2's Conv1D weights transposed), and writes next to this script
  family_<name>.json  -- rft's GPTConfig JSON, HF's config, batch, loss, AdamW spec, tensor index
  family_<name>.bin   -- little-endian float32 tensors: param/, grad/, updated/ (rft names), logits
The weights are drawn in float32 (so the stored initial parameters are exact); forward, backward
and 3 AdamW steps run in float64 (model.double(), eager attention), rounded to float32 on storing.
"""
import copy
import json
import os
import sys
import warnings
from array import array

warnings.filterwarnings("ignore")

import torch
import torch.nn.functional as F
import transformers
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))
B, T = 2, 12
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, steps=3)
# GPT-2's key bias gets a gradient of exactly zero (it adds a constant to every score of a query),
# so AdamW moves it by lr·g/(|g| + eps): by rounding noise alone. In float64 that noise is ~1e-17
# and the bias stays; rft's float32 noise (~1e-10) over eps = 1e-8 moves it by ~1e-4 a step. With
# eps = 1e-6 both stay put and the comparison tests the update rule, not the noise.
EPS = {"gpt2": 1e-6}


def gpt2_family():
    hf = GPT2Config(vocab_size=23, n_positions=16, n_layer=2, n_head=2, n_embd=32, activation_function="gelu_new",
                    bos_token_id=None, eos_token_id=None, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, layer_norm_epsilon=1e-5,
                    tie_word_embeddings=True)
    rft = dict(vocabularySize=23, contextLength=16, layers=2, heads=2, width=32, mlpRatio=4, tiedEmbeddings=True,
               layerNormEps=1e-5)
    return hf, GPT2LMHeadModel, rft


def llama_family():
    scaling = dict(rope_type="llama3", rope_theta=500.0, factor=4.0, low_freq_factor=1.0, high_freq_factor=4.0,
                   original_max_position_embeddings=8)
    hf = LlamaConfig(vocab_size=29, hidden_size=32, intermediate_size=40, num_hidden_layers=2, num_attention_heads=4,
                     num_key_value_heads=2, head_dim=8, max_position_embeddings=16, rms_norm_eps=1e-5,
                     rope_parameters=scaling, tie_word_embeddings=True, attention_bias=False, mlp_bias=False)
    rft = dict(vocabularySize=29, contextLength=16, layers=2, heads=4, width=32, mlpRatio=4, tiedEmbeddings=True,
               layerNormEps=1e-5, kvHeads=2, headSize=8, positionEncoding="rotary", ropeTheta=500.0,
               ropeScaling=dict(type="llama3", factor=4.0, lowFrequencyFactor=1.0, highFrequencyFactor=4.0,
                                originalContextLength=8),
               normalization="rmsNorm", activation="swiglu", intermediateSize=40, qkvBias=False,
               attentionOutputBias=False, mlpBias=False)
    return hf, LlamaForCausalLM, rft


def qwen2_family():
    scaling = dict(rope_type="linear", rope_theta=10000.0, factor=2.0)
    hf = Qwen2Config(vocab_size=31, hidden_size=48, intermediate_size=56, num_hidden_layers=2, num_attention_heads=6,
                     num_key_value_heads=2, max_position_embeddings=16, rms_norm_eps=1e-6, rope_parameters=scaling,
                     tie_word_embeddings=False, use_sliding_window=False)
    rft = dict(vocabularySize=31, contextLength=16, layers=2, heads=6, width=48, mlpRatio=4, tiedEmbeddings=False,
               layerNormEps=1e-6, kvHeads=2, headSize=8, positionEncoding="rotary", ropeTheta=10000.0,
               ropeScaling=dict(type="linear", factor=2.0), normalization="rmsNorm", activation="swiglu",
               intermediateSize=56, qkvBias=True, attentionOutputBias=False, mlpBias=False)
    return hf, Qwen2ForCausalLM, rft


def to_rft(model, family, n_layer, tied):
    """HF parameters (or their .grad with grads=True) as an ordered dict of rft names."""
    p = dict(model.named_parameters())
    out = {}
    if family == "gpt2":
        t = lambda n: p["transformer." + n]
        out["wte.weight"] = t("wte.weight")
        out["wpe.weight"] = t("wpe.weight")
        for i in range(n_layer):
            h = f"h.{i}."
            out[h + "ln_1.weight"] = t(h + "ln_1.weight")
            out[h + "ln_1.bias"] = t(h + "ln_1.bias")
            out[h + "attn.qkv.weight"] = t(h + "attn.c_attn.weight").t()  # Conv1D stores (in, out)
            out[h + "attn.qkv.bias"] = t(h + "attn.c_attn.bias")
            out[h + "attn.proj.weight"] = t(h + "attn.c_proj.weight").t()
            out[h + "attn.proj.bias"] = t(h + "attn.c_proj.bias")
            out[h + "ln_2.weight"] = t(h + "ln_2.weight")
            out[h + "ln_2.bias"] = t(h + "ln_2.bias")
            out[h + "mlp.fc.weight"] = t(h + "mlp.c_fc.weight").t()
            out[h + "mlp.fc.bias"] = t(h + "mlp.c_fc.bias")
            out[h + "mlp.proj.weight"] = t(h + "mlp.c_proj.weight").t()
            out[h + "mlp.proj.bias"] = t(h + "mlp.c_proj.bias")
        out["ln_f.weight"] = t("ln_f.weight")
        out["ln_f.bias"] = t("ln_f.bias")
    else:
        m = lambda n: p["model." + n]
        out["wte.weight"] = m("embed_tokens.weight")
        for i in range(n_layer):
            h, l = f"h.{i}.", f"layers.{i}."
            out[h + "ln_1.weight"] = m(l + "input_layernorm.weight")
            out[h + "attn.qkv.weight"] = torch.cat([m(l + f"self_attn.{x}_proj.weight") for x in "qkv"], 0)
            if l + "self_attn.q_proj.bias" in {k[6:] for k in p}:
                out[h + "attn.qkv.bias"] = torch.cat([m(l + f"self_attn.{x}_proj.bias") for x in "qkv"], 0)
            out[h + "attn.proj.weight"] = m(l + "self_attn.o_proj.weight")
            out[h + "ln_2.weight"] = m(l + "post_attention_layernorm.weight")
            out[h + "mlp.fc.weight"] = torch.cat([m(l + "mlp.gate_proj.weight"), m(l + "mlp.up_proj.weight")], 0)
            out[h + "mlp.proj.weight"] = m(l + "mlp.down_proj.weight")
        out["ln_f.weight"] = m("norm.weight")
    if not tied:
        out["lm_head.weight"] = p["lm_head.weight"]
    return out


def init_weights(model, family):
    """Llama family: weights larger than HF's default 0.02 so attention scores (and RoPE) matter:
    linear weights N(0, 0.15²), embeddings N(0, 0.5²), norm scales 1 + N(0, 0.1²), biases N(0, 0.1²).
    GPT-2: HF's N(0, 0.02²) weights (biases too)."""
    if family == "gpt2":
        with torch.no_grad():
            for name, q in model.named_parameters():
                if ".ln_" in name:
                    q.copy_(1.0 + 0.1 * torch.randn_like(q)) if name.endswith("weight") else q.normal_(0.0, 0.1)
                else:
                    q.normal_(0.0, 0.02)
        return
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


def write_family(name, make):
    hf_config, cls, rft_config = make()
    hf_config._attn_implementation = "eager"
    torch.manual_seed({"gpt2": 11, "llama": 12, "qwen2": 13}[name])
    model32 = cls(hf_config).float().eval()
    init_weights(model32, name)
    V, L, tied = rft_config["vocabularySize"], rft_config["layers"], rft_config["tiedEmbeddings"]
    idx = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    targets[0][3] = -1
    targets[1][7] = -1

    def loss_fn(m):
        logits = m(input_ids=idx, use_cache=False).logits
        return logits, F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=-1)

    with torch.no_grad():
        initial = {k: v.detach().clone() for k, v in to_rft(model32, name, L, tied).items()}

    model = copy.deepcopy(model32).double()
    logits, loss = loss_fn(model)
    loss.backward()
    with torch.no_grad():
        for q in model.parameters():
            q.data = q.grad.detach().clone()
        grads = {k: v.detach().clone() for k, v in to_rft(model, name, L, tied).items()}

    model_opt = copy.deepcopy(model32).double()
    eps = EPS.get(name, ADAMW["eps"])
    opt = torch.optim.AdamW(model_opt.parameters(), lr=ADAMW["lr"], betas=ADAMW["betas"], eps=eps,
                            weight_decay=ADAMW["weight_decay"])
    losses = []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        _, l = loss_fn(model_opt)
        l.backward()
        opt.step()
        losses.append(l.item())
    with torch.no_grad():
        updated = {k: v.detach().clone() for k, v in to_rft(model_opt, name, L, tied).items()}

    data, tensors = array("f"), {}

    def put(key, t):
        t = t.detach().to(torch.float32).contiguous()
        tensors[key] = {"offset": len(data), "shape": list(t.shape)}
        data.extend(t.view(-1).tolist())

    names = list(initial)
    for n in names:
        put("param/" + n, initial[n])
    for n in names:
        put("grad/" + n, grads[n])
    for n in names:
        put("updated/" + n, updated[n])
    put("logits", logits)
    meta = {
        "family": name,
        "config": rft_config,
        "hf_config": {k: v for k, v in hf_config.to_dict().items() if isinstance(v, (int, float, str, bool, dict, type(None)))},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "batch": B, "seq": T,
        "idx": idx.view(-1).tolist(), "targets": targets.view(-1).tolist(),
        "loss": loss.item(),
        "adamw": {"lr": ADAMW["lr"], "betas": list(ADAMW["betas"]), "eps": eps,
                  "weight_decay": ADAMW["weight_decay"], "steps": ADAMW["steps"], "losses": losses},
        "parameter_names": names,
        "tensors": tensors,
    }
    bin_path, json_path = os.path.join(HERE, f"family_{name}.bin"), os.path.join(HERE, f"family_{name}.json")
    with open(bin_path, "wb") as f:
        data.tofile(f)
    with open(json_path, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = os.path.getsize(bin_path) + os.path.getsize(json_path)
    n_params = sum(v.numel() for v in initial.values())
    print(f"{name}: {n_params} parameters, loss {loss.item():.8f}, adamw {losses}, {size} bytes")
    return size


def main():
    assert sys.byteorder == "little", "fixture writer assumes a little-endian host"
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    total = sum(write_family(n, f) for n, f in [("gpt2", gpt2_family), ("llama", llama_family), ("qwen2", qwen2_family)])
    print(f"total {total} bytes ({total / 1024:.1f} KiB)")
    assert total <= 2 * 1024 * 1024


if __name__ == "__main__":
    main()
