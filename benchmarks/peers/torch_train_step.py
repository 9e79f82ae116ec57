#!/usr/bin/env python3
"""PyTorch peer for the `train-step` benchmark.

Usage: python torch_train_step.py <config> [--steps N] [--warmup W]

Configs (layers L, heads H, width C, vocab V, batch B, seq T):
  tiny  L4  H4  C128 V65    B4  T64
  char  L4  H4  C128 V65    B12 T64
  small L6  H6  C384 V65    B8  T256
  gpt2  L12 H12 C768 V50257 B4  T64
  smollm2 L30 H9 (3 kv) C576 MLP 1536 SwiGLU V49152 B8 T128: transformers' LlamaForCausalLM
        (SmolLM2-135M's shape, RoPE θ 1e5, tied, sdpa attention, its own random init)

Same GPT as the rft model: tied embeddings (lm_head = wte), biases everywhere,
LayerNorm eps 1e-5, GELU(tanh), MLP ratio 4, context_length = T, GPT-2 init.
Attention uses F.scaled_dot_product_attention(is_causal=True), as a PyTorch user
would write it. fp32, 2 intra-op threads, 1 inter-op thread.

One timed step = zero_grad(set_to_none=True), forward, cross-entropy, backward,
AdamW(lr=3e-4, weight_decay=0.1).step(), on a fixed random token batch.

Prints ONE line of JSON on stdout:
  {"config", "median_ms", "times_ms", "peak_rss_mb", "flops_per_step", "torch", "threads"}
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    #        L   H   C    V      B   T
    "tiny": (4, 4, 128, 65, 4, 64),
    "char": (4, 4, 128, 65, 12, 64),
    "small": (6, 6, 384, 65, 8, 256),
    "gpt2": (12, 12, 768, 50257, 4, 64),
    "smollm2": (30, 9, 576, 49152, 8, 128),
}
DEFAULT_STEPS = {"tiny": 30, "char": 30, "small": 5, "gpt2": 5, "smollm2": 3}
DEFAULT_WARMUP = {"tiny": 3, "char": 3, "small": 3, "gpt2": 1, "smollm2": 1}
SMOLLM2_KV_HEADS, SMOLLM2_MLP = 3, 1536


class SmolLM2(nn.Module):
    """transformers' Llama with SmolLM2-135M's shape; forward gives the logits like GPT above."""

    def __init__(self, L, H, C, V, T):
        super().__init__()
        from transformers import LlamaConfig, LlamaForCausalLM
        config = LlamaConfig(vocab_size=V, hidden_size=C, intermediate_size=SMOLLM2_MLP, num_hidden_layers=L,
                             num_attention_heads=H, num_key_value_heads=SMOLLM2_KV_HEADS, max_position_embeddings=8192,
                             rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True)
        self.model = LlamaForCausalLM(config)

    def forward(self, idx):
        return self.model(input_ids=idx, use_cache=False).logits


class CausalSelfAttention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.n_head = H
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        H = self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, C // H).transpose(1, 2)
        k = k.view(B, T, H, C // H).transpose(1, 2)
        v = v.view(B, T, H, C // H).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc = nn.Linear(C, 4 * C)
        self.proj = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=1e-5)
        self.attn = CausalSelfAttention(C, H)
        self.ln_2 = nn.LayerNorm(C, eps=1e-5)
        self.mlp = MLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, L, H, C, V, T):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(T, C)
        self.h = nn.ModuleList(Block(C, H) for _ in range(L))
        self.ln_f = nn.LayerNorm(C, eps=1e-5)
        # GPT-2 init: N(0, 0.02) weights, zero biases, LayerNorm (1, 0),
        # residual projections N(0, 0.02/sqrt(2L)).
        resid_std = 0.02 / math.sqrt(2 * L)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if ".ln_" in name or name.startswith("ln_"):
                    if name.endswith(".weight"):
                        p.fill_(1.0)
                    else:
                        p.zero_()
                elif name.endswith(".bias"):
                    p.zero_()
                elif name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                    p.normal_(0.0, resid_std)
                else:
                    p.normal_(0.0, 0.02)

    def forward(self, idx):
        _, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return x @ self.wte.weight.T  # tied lm_head


def smollm2_flops_per_step(L, H, C, V, B, T):
    # The same convention for the Llama shape: matmul weights per layer qkv (H + 2KV)·hs·C, output
    # C·H·hs, gate+up 2·F·C, down C·F; attention over H·hs = C.
    hs = C // H
    per_layer = (H + 2 * SMOLLM2_KV_HEADS) * hs * C + C * H * hs + 2 * SMOLLM2_MLP * C + C * SMOLLM2_MLP
    return 6 * B * T * (L * per_layer + V * C) + 12 * L * B * T * T * H * hs


def flops_per_step(L, C, V, B, T):
    # Model FLOPs of one step (PaLM's convention; the Swift side uses the same formula):
    #
    #   flops = 6*B*T*(12*L*C*C + V*C) + 12*L*B*T*T*C
    #
    # First term: 6 flops (fwd 2 + bwd 4) per matmul weight per token. Matmul
    # weights per layer: qkv 3C^2 + attn proj C^2 + fc 4C^2 + mlp proj 4C^2 = 12C^2;
    # plus V*C for the lm_head (the tied wte, counted once for its matmul use;
    # the embedding lookup is not a matmul). Biases/LayerNorm/softmax are ignored.
    # Second term: attention scores and values (QK^T and PV): 2*2*B*T*T*C forward per
    # layer, times 3 for forward + backward, over the full TxT matrix (no causal discount).
    return 6 * B * T * (12 * L * C * C + V * C) + 12 * L * B * T * T * C


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--warmup", type=int, default=None)
    args = ap.parse_args()
    L, H, C, V, B, T = CONFIGS[args.config]
    steps = args.steps if args.steps is not None else DEFAULT_STEPS[args.config]
    warmup = args.warmup if args.warmup is not None else DEFAULT_WARMUP[args.config]

    torch.set_num_threads(2)
    torch.set_num_interop_threads(1)
    torch.manual_seed(1337)

    model = SmolLM2(L, H, C, V, T) if args.config == "smollm2" else GPT(L, H, C, V, T)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    g = torch.Generator().manual_seed(42)
    idx = torch.randint(0, V, (B, T), generator=g)
    targets = torch.randint(0, V, (B, T), generator=g)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(idx)
        loss = F.cross_entropy(logits.view(-1, V), targets.view(-1))
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    times_ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times_ms.append((time.perf_counter() - t0) * 1000.0)

    out = {
        "config": args.config,
        "median_ms": statistics.median(times_ms) if times_ms else None,
        "times_ms": [round(t, 4) for t in times_ms],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "flops_per_step": smollm2_flops_per_step(L, H, C, V, B, T) if args.config == "smollm2"
        else flops_per_step(L, C, V, B, T),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
