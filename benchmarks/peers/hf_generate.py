"""Peer for `rft-bench sample`: Hugging Face transformers' generate on the same model shape.

For tiny and small, a GPT-2 config equivalent to rft's GPT (learned positions, pre-LayerNorm,
GELU(tanh), tied embeddings); for smollm2, LlamaForCausalLM with SmolLM2-135M's shape (30 layers,
width 576, 9 heads, 3 key/value heads, MLP 1536, vocabulary 49152, tied, RoPE θ 1e5); random
weights either way, sampling `new` tokens for `batch` prompts of `prompt` tokens at
temperature 1 with the KV cache (use_cache=True, do_sample=True, no top-k, every row makes all
its new tokens). Prints one JSON line with the median new tokens per second.

Usage: hf_generate.py <tiny|small|smollm2> [--repeats N] [--warmup W]
"""
import json
import resource
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

CONFIGS = {  # name: (vocab, context, layers, heads, width, batch, prompt, new)
    "tiny": (65, 64, 4, 4, 128, 64, 16, 32),
    "small": (65, 256, 6, 6, 384, 64, 64, 64),
    "smollm2": (49152, 8192, 30, 9, 576, 32, 32, 64),
}
DEFAULT_RUNS = {"smollm2": (2, 0)}  # (repeats, warmup) where a run takes seconds to minutes


def make_model(name, v, ctx, layers, heads, width):
    if name == "smollm2":
        config = LlamaConfig(vocab_size=v, hidden_size=width, intermediate_size=1536, num_hidden_layers=layers,
                             num_attention_heads=heads, num_key_value_heads=3, max_position_embeddings=ctx,
                             rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True, bos_token_id=0,
                             eos_token_id=None, pad_token_id=2)
        return LlamaForCausalLM(config).eval()
    config = GPT2Config(vocab_size=v, n_positions=ctx, n_layer=layers, n_head=heads, n_embd=width,
                        activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                        tie_word_embeddings=True, bos_token_id=0, eos_token_id=None, pad_token_id=2)
    return GPT2LMHeadModel(config).eval()


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    args = sys.argv[2:]
    default_repeats, default_warmup = DEFAULT_RUNS.get(name, (10, 2))
    repeats = int(args[args.index("--repeats") + 1]) if "--repeats" in args else default_repeats
    warmup = int(args[args.index("--warmup") + 1]) if "--warmup" in args else default_warmup
    v, ctx, layers, heads, width, batch, prompt, new = CONFIGS[name]
    torch.manual_seed(0)
    model = make_model(name, v, ctx, layers, heads, width)
    ids = torch.randint(0, v, (batch, prompt))
    mask = torch.ones_like(ids)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            t0 = time.perf_counter()
            out = model.generate(ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                 max_new_tokens=new, min_new_tokens=new, use_cache=True, pad_token_id=2)
            dt = time.perf_counter() - t0
            assert out.shape == (batch, prompt + new), out.shape
            if i >= warmup:
                times.append(dt)
    rates = [batch * new / t for t in times]
    print(json.dumps({"suite": "sample", "config": name, "median_tok_s": statistics.median(rates),
                      "median_ms": statistics.median(times) * 1000, "threads": torch.get_num_threads(),
                      "torch": torch.__version__, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
