#!/usr/bin/env python3
"""Generate the GPT reference fixture used by RFTModelTests.

Run by hand (never by the tests) with the benchmarks venv:

    benchmarks/setup-peers
    benchmarks/.venv/bin/python Tests/RFTModelTests/Fixtures/make_gpt_fixture.py

Writes, next to this script:
  gpt_fixture.json  -- config, batch, losses, tensor index (offsets in floats)
  gpt_fixture.bin   -- raw little-endian float32 tensors, concatenated

The model is initialised in float32 (so the stored initial parameters are exact),
then converted to float64 with model.double() for the reference computations
(forward, backward, AdamW). Every result is rounded to float32 when stored.
"""
import copy
import json
import math
import os
import sys
import warnings
from array import array

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
JSON_PATH = os.path.join(HERE, "gpt_fixture.json")
BIN_PATH = os.path.join(HERE, "gpt_fixture.bin")

CONFIG = dict(
    vocab_size=23,
    context_length=16,
    n_layer=2,
    n_head=2,
    n_embd=32,
    mlp_ratio=4,
    tied_embeddings=True,
    layer_norm_eps=1e-5,
)
B, T = 2, 12
ADAMW = dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, steps=3)


class CausalSelfAttention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.n_head = H
        self.qkv = nn.Linear(C, 3 * C, bias=True)
        self.proj = nn.Linear(C, C, bias=True)

    def forward(self, x):
        Bx, Tx, C = x.shape
        H = self.n_head
        hs = C // H
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(Bx, Tx, H, hs).transpose(1, 2)
        k = k.view(Bx, Tx, H, hs).transpose(1, 2)
        v = v.view(Bx, Tx, H, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        mask = torch.ones(Tx, Tx, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~mask, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = att @ v
        y = y.transpose(1, 2).contiguous().view(Bx, Tx, C)
        return self.proj(y)


class MLP(nn.Module):
    def __init__(self, C, ratio):
        super().__init__()
        self.fc = nn.Linear(C, ratio * C, bias=True)
        self.proj = nn.Linear(ratio * C, C, bias=True)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, H, ratio, eps):
        super().__init__()
        self.ln_1 = nn.LayerNorm(C, eps=eps)
        self.attn = CausalSelfAttention(C, H)
        self.ln_2 = nn.LayerNorm(C, eps=eps)
        self.mlp = MLP(C, ratio)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab_size"], C)
        self.wpe = nn.Embedding(cfg["context_length"], C)
        self.h = nn.ModuleList(
            Block(C, cfg["n_head"], cfg["mlp_ratio"], cfg["layer_norm_eps"])
            for _ in range(cfg["n_layer"])
        )
        self.ln_f = nn.LayerNorm(C, eps=cfg["layer_norm_eps"])
        # Tied embeddings: the lm_head weight IS wte.weight (used in forward).

    def forward(self, idx):
        _, Tx = idx.shape
        pos = torch.arange(Tx, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return x @ self.wte.weight.T


def expected_names(n_layer):
    names = ["wte.weight", "wpe.weight"]
    for i in range(n_layer):
        for s in ["ln_1.weight", "ln_1.bias", "attn.qkv.weight", "attn.qkv.bias",
                  "attn.proj.weight", "attn.proj.bias", "ln_2.weight", "ln_2.bias",
                  "mlp.fc.weight", "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias"]:
            names.append(f"h.{i}.{s}")
    names += ["ln_f.weight", "ln_f.bias"]
    return names


def init_weights(model, n_layer):
    resid_std = 0.02 / math.sqrt(2 * n_layer)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".ln_" in name or name.startswith("ln_"):
                if name.endswith(".weight"):
                    p.copy_(1.0 + 0.1 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.1)
            elif name.endswith("attn.proj.weight") or name.endswith("mlp.proj.weight"):
                p.normal_(0.0, resid_std)
            else:  # embeddings, other linear weights, all linear biases
                p.normal_(0.0, 0.02)


def loss_fn(logits, targets):
    V = logits.size(-1)
    return F.cross_entropy(logits.view(-1, V), targets.view(-1), ignore_index=-1)


def main():
    assert sys.byteorder == "little", "fixture writer assumes a little-endian host"
    torch.manual_seed(1234)

    model32 = GPT(CONFIG)
    init_weights(model32, CONFIG["n_layer"])
    names = [n for n, _ in model32.named_parameters()]
    assert names == expected_names(CONFIG["n_layer"]), names

    V = CONFIG["vocab_size"]
    idx = torch.randint(0, V, (B, T))
    targets = torch.randint(0, V, (B, T))
    targets[0][3] = -1
    targets[1][7] = -1

    initial = {n: p.detach().clone() for n, p in model32.named_parameters()}

    # --- forward + backward in float64 -------------------------------------
    model = copy.deepcopy(model32).double()
    logits = model(idx)
    loss = loss_fn(logits, targets)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}

    # --- AdamW, 3 steps, from a fresh copy of the initial parameters --------
    model_opt = copy.deepcopy(model32).double()
    opt = torch.optim.AdamW(model_opt.parameters(), lr=ADAMW["lr"], betas=ADAMW["betas"],
                            eps=ADAMW["eps"], weight_decay=ADAMW["weight_decay"])
    adam_losses = []
    for _ in range(ADAMW["steps"]):
        opt.zero_grad()
        l = loss_fn(model_opt(idx), targets)
        l.backward()
        opt.step()
        adam_losses.append(l.item())
    updated = {n: p.detach().clone() for n, p in model_opt.named_parameters()}

    # --- write --------------------------------------------------------------
    data = array("f")
    tensors = {}

    def put(key, t):
        t = t.detach().to(torch.float32).contiguous()
        tensors[key] = {"offset": len(data), "shape": list(t.shape)}
        data.extend(t.view(-1).tolist())

    for n in names:
        put(f"param/{n}", initial[n])
    for n in names:
        put(f"grad/{n}", grads[n])
    for n in names:
        put(f"updated/{n}", updated[n])
    put("logits", logits)

    meta = {
        "config": CONFIG,
        "batch": B,
        "seq": T,
        "idx": idx.view(-1).tolist(),
        "targets": targets.view(-1).tolist(),
        "loss": loss.item(),
        "adamw": {
            "lr": ADAMW["lr"],
            "betas": list(ADAMW["betas"]),
            "eps": ADAMW["eps"],
            "weight_decay": ADAMW["weight_decay"],
            "steps": ADAMW["steps"],
            "losses": adam_losses,
        },
        "parameter_names": names,
        "tensors": tensors,
    }
    with open(BIN_PATH, "wb") as f:
        data.tofile(f)
    with open(JSON_PATH, "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")

    n_params = sum(p.numel() for p in initial.values())
    total = os.path.getsize(BIN_PATH) + os.path.getsize(JSON_PATH)
    print(f"torch {torch.__version__}; {len(names)} parameter tensors, {n_params} parameters")
    print(f"loss = {loss.item():.10f}")
    print(f"adamw losses = {adam_losses}")
    print(f"wrote {BIN_PATH} ({os.path.getsize(BIN_PATH)} bytes, {len(data)} floats)")
    print(f"wrote {JSON_PATH} ({os.path.getsize(JSON_PATH)} bytes)")
    print(f"total size: {total} bytes ({total / 1024:.1f} KiB)")
    assert total <= 2 * 1024 * 1024


if __name__ == "__main__":
    main()
