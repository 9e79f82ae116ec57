#!/usr/bin/env python3
"""Writes smollm2_expected.json: what transformers computes on SmolLM2-135M-Instruct's GGUF
(scripts/fetch-models puts it in ~/.cache/rft), for the real-model tests. Run by hand, never by
tests or CI, with torch, transformers and gguf (benchmarks/setup-peers):

    benchmarks/.venv/bin/python Tests/RFTModelTests/Fixtures/make_smollm2_fixture.py

transformers loads the GGUF itself (`from_pretrained(dir, gguf_file=...)`, dequantized to fp32).
For each fixed prompt (its token ids as transformers' GGUF tokenizer gives them; the test feeds
these ids to rft and also checks that rft's tokenizer gives the same ids) it records per
position the logsumexp, the max |logit|, the 16 largest logits and 48 logits at fixed vocabulary
ids: enough to bound rft's relative error on the logits without storing 49,152 per position.
"""
import json, os, sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

CACHE = os.path.expanduser(os.environ.get("RFT_CACHE", "~/.cache/rft"))
NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PROMPTS = [
    "The capital of France is",
    "<|im_start|>user\nWhat is 12+30? Answer with the number only.<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    if n < 2:\n        return n\n",
]
FIXED = list(range(0, 49152, 1024))  # 48 ids spread over the vocabulary


def main():
    model = AutoModelForCausalLM.from_pretrained(CACHE, gguf_file=NAME, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(CACHE, gguf_file=NAME)
    model.eval()
    out = {"model": NAME, "fixed_ids": FIXED, "prompts": []}
    for text in PROMPTS:
        ids = tokenizer.encode(text, add_special_tokens=False)
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        rows = []
        for row in logits:
            top = torch.topk(row, 16)
            rows.append({"logsumexp": torch.logsumexp(row, 0).item(), "max_abs": row.abs().max().item(),
                         "top_ids": top.indices.tolist(), "top": top.values.tolist(), "fixed": row[FIXED].tolist()})
        out["prompts"].append({"text": text, "ids": ids, "positions": rows})
        print(f"{len(ids)} tokens: {text[:40]!r} → greedy next {tokenizer.decode([int(logits[-1].argmax())])!r}")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2_expected.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=None)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
