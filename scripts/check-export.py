#!/usr/bin/env python3
"""Checks by hand that `rft export` writes folders transformers loads as the same model.

Run from the repository after `swift build -c release`, with the peers' venv
(benchmarks/setup-peers; it needs torch, transformers, tokenizers and gguf):

    benchmarks/.venv/bin/python scripts/check-export.py [--smollm2]

For every tiny fixture of Tests/RFTModelTests/Fixtures/import (GPT-2, Llama, Qwen2; Hugging
Face folders and GGUF files) and rft's own character-level checkpoint, it runs
`rft export --model M --output DIR` and then, in transformers:
  1. AutoModelForCausalLM.from_pretrained(DIR) gives the original's logits (the folder or the
     GGUF file as transformers itself reads it): worst |diff| / max |logit| <= 1e-4;
  2. rft's own log-probabilities of sampled completions (`rft sample --json`) equal the ones
     the exported model gives the same tokens (teacher-forced): relative error <= 1e-4;
  3. AutoTokenizer.from_pretrained(DIR) encodes like the original tokenizer (BPE models) and
     gives rft's prompt ids (character models).
With --smollm2 it does the same for SmolLM2-135M-Instruct's GGUF (scripts/fetch-models), with
1e-3 for its quantized-then-fp32 weights. Exit status 1 when any check fails.
"""
import json, os, subprocess, sys, tempfile

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RFT = os.environ.get("RFT", os.path.join(ROOT, ".build", "release", "rft"))
FIXTURES = os.path.join(ROOT, "Tests", "RFTModelTests", "Fixtures", "import")
STRINGS = ["abc", "a b  c\n\nd", "ssss", "hello", "abcdefghijklmnopqrs", "  leading", "trailing  ", "a\tb", "<|endoftext|>ab"]
failures = []


def rft(*args):
    r = subprocess.run([RFT, *args], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"rft {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


def check(label, ok, detail):
    print(f"  {'ok  ' if ok else 'FAIL'} {label}: {detail}")
    if not ok:
        failures.append(label)


def load_original(path):
    """The model as transformers reads it, and its tokenizer: a fixture GGUF file's is the one of
    the folder next to it (transformers cannot read a GGUF tokenizer without merge scores)."""
    if path.endswith(".gguf"):
        folder, name = os.path.split(path)
        sibling = path[: -len(".gguf")]
        tokenizer = AutoTokenizer.from_pretrained(sibling) if os.path.isdir(sibling) else AutoTokenizer.from_pretrained(folder, gguf_file=name)
        return AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32), tokenizer
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), AutoTokenizer.from_pretrained(path)


def logprob_check(label, model_path, exported, prompts, tolerance):
    worst = 0.0
    for p in prompts:
        for line in rft("sample", p, "--model", model_path, "--num-generations", "4", "--max-new-tokens", "12",
                        "--seed", "7", "--json").splitlines():
            result = json.loads(line)
            for s in result["samples"]:
                ids = result["prompt_ids"] + s["token_ids"]
                with torch.no_grad():
                    logits = exported(torch.tensor([ids])).logits[0].double()
                lp = torch.log_softmax(logits, -1)
                n = len(result["prompt_ids"])
                theirs = sum(lp[n - 1 + i, t].item() for i, t in enumerate(s["token_ids"]))
                worst = max(worst, abs(theirs - s["log_prob"]) / max(1.0, abs(theirs)))
    check(f"{label} log-probs of rft's samples", worst <= tolerance, f"worst relative error {worst:.2e}")
    return worst


def check_model(label, path, tolerance=1e-4, prompts=("abc", "sab")):
    print(label)
    out = tempfile.mkdtemp(prefix="rft-check-export-")
    exported_dir = os.path.join(out, "hf")
    rft("export", "--model", path, "--output", exported_dir)
    exported = AutoModelForCausalLM.from_pretrained(exported_dir, dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(exported_dir)
    if path.endswith(".rftckpt"):
        for p in prompts:
            line = json.loads(rft("sample", p, "--model", path, "--max-new-tokens", "1", "--json").splitlines()[0])
            got = tokenizer(p)["input_ids"]
            check(f"{label} tokenizer({p!r})", got == line["prompt_ids"], f"{got} vs rft {line['prompt_ids']}")
    else:
        original, original_tokenizer = load_original(path)
        original.eval()
        ids = torch.arange(min(12, exported.config.vocab_size)).remainder(exported.config.vocab_size)[None, :]
        with torch.no_grad():
            a, b = exported(ids).logits, original(ids).logits
        err = ((a - b).abs().max() / b.abs().max()).item()
        check(f"{label} logits against the original", err <= tolerance, f"{err:.2e}")
        same = [s for s in STRINGS if tokenizer.encode(s, add_special_tokens=False) != original_tokenizer.encode(s, add_special_tokens=False)]
        check(f"{label} tokenizer", not same, f"{len(STRINGS) - len(same)}/{len(STRINGS)} strings encode the same" + (f"; differ: {same}" if same else ""))
    logprob_check(label, path, exported, prompts, tolerance)


def main():
    if not os.access(RFT, os.X_OK):
        raise SystemExit(f"build rft first: swift build -c release ({RFT} missing)")
    for name in ["gpt2", "llama", "qwen2", "gpt2.gguf", "llama.gguf", "qwen2.gguf"]:
        check_model(name, os.path.join(FIXTURES, name))
    check_model("addition-base (rft's character model)", os.path.join(ROOT, "checkpoints", "addition-base.rftckpt"), prompts=("12+34", "7+8"))
    if "--smollm2" in sys.argv:
        gguf = os.path.join(os.path.expanduser(os.environ.get("RFT_CACHE", "~/.cache/rft")), "SmolLM2-135M-Instruct.Q4_1.gguf")
        check_model("SmolLM2-135M-Instruct (Q4_1 GGUF)", gguf, tolerance=1e-3, prompts=("The capital of France is", "2+3="))
    print("all checks passed" if not failures else f"{len(failures)} checks failed: {failures}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
