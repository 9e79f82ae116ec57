"""Peer for `rft-bench sample`: Hugging Face transformers' generate on the same GPT shape.

A GPT-2 config equivalent to rft's GPT (learned positions, pre-LayerNorm, GELU(tanh), tied
embeddings, random weights), sampling `new` tokens for `batch` prompts of `prompt` tokens at
temperature 1 with the KV cache (use_cache=True, do_sample=True, no top-k, every row makes all
its new tokens). Prints one JSON line with the median new tokens per second.

Usage: hf_generate.py <tiny|small> [--repeats N] [--warmup W]
"""
import json
import statistics
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel

CONFIGS = {  # name: (vocab, context, layers, heads, width, batch, prompt, new)
    "tiny": (65, 64, 4, 4, 128, 64, 16, 32),
    "small": (65, 256, 6, 6, 384, 64, 64, 64),
}


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    args = sys.argv[2:]
    repeats = int(args[args.index("--repeats") + 1]) if "--repeats" in args else 10
    warmup = int(args[args.index("--warmup") + 1]) if "--warmup" in args else 2
    v, ctx, layers, heads, width, batch, prompt, new = CONFIGS[name]
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=v, n_positions=ctx, n_layer=layers, n_head=heads, n_embd=width,
                        activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                        tie_word_embeddings=True, bos_token_id=0, eos_token_id=None, pad_token_id=2)
    model = GPT2LMHeadModel(config).eval()
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
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
