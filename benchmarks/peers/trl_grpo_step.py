#!/usr/bin/env python3
"""TRL peer for `rft-bench rft-step`: one GRPO step of TRL's GRPOTrainer on the `tiny` GPT or SmolLM2.

Usage: python trl_grpo_step.py [tiny|smollm2] [--steps N] [--warmup W]

The `smollm2` work (the same as `rft-bench rft-step smollm2`):
  model      SmolLM2-135M-Instruct from the Q4_1 GGUF that scripts/fetch-models caches
             ($RFT_CACHE, default ~/.cache/rft), loaded by transformers itself
             (`from_pretrained(dir, gguf_file=..., dtype=float32)`: dequantized to fp32, as rft
             does), with the tokenizer and ChatML chat template of the same file. No downloads.
  prompts    64 conversational prompts `[{"role": "user", "content": "What is a+b? Answer with the
             number only."}]`, a = 10 + (37i + 13) mod 90, b = 10 + (59i + 29) mod 90: the list of
             rft's `rftStepChatPrompts`. TRL renders them with the chat template (SmolLM2's default
             system message included) and stops at `<|im_end|>`, as rft does.
  reward     number match: the number the answer gives (last \\boxed{}, else the last "answer is N",
             else the last number) equals the sum: rft's `number-match` (NumberExtraction), in Python.
  step       as tiny below, with at most 64 new tokens and learning rate 1e-5.

The `tiny` work (the same as `rft-bench rft-step tiny`):
  model      GPT2LMHeadModel, random weights (torch.manual_seed), n_layer 4, n_head 4, n_embd 128,
             vocab 65, n_positions 64, GELU(tanh) ("gelu_new"), tied embeddings, no dropout:
             the `tiny` shape of torch_train_step.py and rft's GPT.
  tokenizer  in process, no downloads: a PreTrainedTokenizerFast over a WordLevel vocabulary of
             rft's 5 special tokens (<bos> 0, <eos> 1, <pad> 2, <sep> 3, <unk> 4) and the 60 ASCII
             characters '!'..'\\' (ids 5..64), split into characters; prompts are encoded as
             `<bos> x <sep>`, exactly as rft's Tokenizer.encodePrompt does, so both sides see the
             same token ids.
  prompts    addition `a+b` with a of 2 digits and b of 1–2 digits, in random order (rft's
             AdditionTask with lengths 2...2); the reward is exact match of the decoded completion
             with the sum (a plain Python function, 0/1).
  step       8 prompts × 8 generations (per_device_train_batch_size 64, num_generations 8,
             gradient_accumulation_steps 1, so one generation per optimizer step), at most 8 new
             tokens, temperature 1, no top-k/top-p, fp32 on the CPU.

Settings that differ from TRL's defaults, and why:
  bf16=False, gradient_checkpointing=False   TRL turns both on by default; rft does neither (fp32, no
                                             recomputation).
  learning_rate 1e-4, constant schedule, max_grad_norm 1, weight_decay 0   rft's GRPOConfig defaults.
  beta 0 (TRL's default, as rft's)            no reference model, no KL term.
  num_iterations 1                            one pass, so π_old = π and neither side computes old
                                              log-probs (TRL uses per_token_logps.detach(), rft ratio 1).
  loss_type "dapo" (TRL's default)            token-level PPO-clip loss summed over every completion
                                              token of the batch / number of those tokens: rft's
                                              `ppo_clip` with `token_mean` aggregation (ε 0.2 both).
  scale_rewards "group" (default)             A = (r − group mean) / (group std + 1e-4): rft's `.grpo`.
  mask_truncated_completions False (default)  truncated completions stay in the loss, as in rft.
  top_entropy_quantile 1.0, off_policy_mask_threshold None, use_vllm False (defaults): no token or
                                              sequence is masked out. TRL never drops zero-std groups
                                              (it only logs frac_reward_zero_std); rft runs with
                                              dynamicSampling off, so neither side skips them.
  report_to "none", logging_steps huge, save_strategy "no", log_completions False, disable_tqdm.
Both sides also compute the per-token entropy during the update (TRL always does; rft logs it).

Timing: the interval between consecutive `on_step_end` callbacks (everything one optimizer step
costs: data loading, generation, scoring, advantages, forward, backward, AdamW, TRL's metric
bookkeeping), after `--warmup` steps; the medians of the time spent in `_generate` (tokenising,
sampling, decoding) and `_calculate_rewards` (scoring) per step; update = step − generation − scoring.

Prints ONE line of JSON on stdout:
  {"config", "median_s", "gen_s", "score_s", "update_s", "steps", "warmup", "prompt_tokens", "times_s",
   "reward", "completion_length", "trl", "transformers", "torch", "threads", "peak_rss_mb"}
"""
import argparse
import json
import os
import random
import re
import resource
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
warnings.filterwarnings("ignore")

import torch
import transformers
import trl
from datasets import Dataset
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, PrinterCallback, TrainerCallback
from trl import GRPOConfig, GRPOTrainer

transformers.logging.set_verbosity_error()

CONFIGS = {  # name: (vocab, context, layers, heads, width); smollm2's shape comes from its file
    "tiny": (65, 64, 4, 4, 128),
    "smollm2": None,
}
SMOLLM2 = os.path.join(os.path.expanduser(os.environ.get("RFT_CACHE", "~/.cache/rft")), "SmolLM2-135M-Instruct.Q4_1.gguf")
SPECIALS = ["<bos>", "<eos>", "<pad>", "<sep>", "<unk>"]  # rft's Tokenizer ids 0..4
CHARACTERS = [chr(c) for c in range(33, 93)]  # '!'..'\\': 60 characters, ids 5..64 (digits and '+' among them)


def char_tokenizer() -> PreTrainedTokenizerFast:
    """rft's character tokenizer as a fast tokenizer: one id per character, `<bos> x <sep>` around text."""
    vocab = {t: i for i, t in enumerate(SPECIALS + CHARACTERS)}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()  # characters back to text without separators
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A <sep>", special_tokens=[("<bos>", 0), ("<sep>", 3)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                                   sep_token="<sep>", unk_token="<unk>")


def addition_prompts(n: int, seed: int) -> list[dict]:
    """n prompts `a+b` (a: 2 digits, b: 1–2 digits, in random order) with their sums."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        a = rng.randint(10, 99)
        b = rng.randint(0, 9) if rng.random() < 0.5 else rng.randint(10, 99)
        if rng.random() < 0.5:
            a, b = b, a
        rows.append({"prompt": f"{a}+{b}", "answer": str(a + b)})
    return rows


def chat_addition_prompts() -> list[dict]:
    """rft's `rftStepChatPrompts`: 64 two-digit sums asked as a user message, with their answers."""
    rows = []
    for i in range(64):
        a, b = 10 + (37 * i + 13) % 90, 10 + (59 * i + 29) % 90
        rows.append({"prompt": [{"role": "user", "content": f"What is {a}+{b}? Answer with the number only."}],
                     "answer": str(a + b)})
    return rows


NUMBER = r"(?<![A-Za-z0-9)\]])-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|(?<![A-Za-z0-9)\]])-?\d+(?:\.\d+)?"


def canonical(n: str) -> str:
    """A number without separators, leading zeros or trailing decimal zeros (rft's canonical form)."""
    n = n.replace(",", "")
    sign = "-" if n.startswith("-") else ""
    n = n.lstrip("-")
    whole, _, frac = n.partition(".")
    whole, frac = whole.lstrip("0") or "0", frac.rstrip("0")
    body = whole + ("." + frac if frac else "")
    return ("" if body == "0" else sign) + body


def number_answer(text: str):
    """The number a free-text answer gives: the last \\boxed{}, else the last "answer is N", else the last number."""
    boxed = re.findall(r"\\boxed\{([^{}]*)\}", text)
    if boxed and re.findall(NUMBER, boxed[-1]):
        return canonical(re.findall(NUMBER, boxed[-1])[-1])
    phrase = re.findall(r"answer[\s*_$]*(?:is|:|=)[\s*_$]*(" + NUMBER + ")", text, flags=re.IGNORECASE)
    if phrase:
        return canonical(phrase[-1])
    numbers = re.findall(NUMBER, text)
    return canonical(numbers[-1]) if numbers else None


def number_match(completions, answer, **kwargs):
    """1.0 when the (conversational) completion's number is the sum, else 0.0."""
    texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
    return [1.0 if number_answer(t) == a else 0.0 for t, a in zip(texts, answer)]


def exact_match(completions, answer, **kwargs):
    """1.0 when the completion is the sum, else 0.0."""
    return [1.0 if c.strip() == a else 0.0 for c, a in zip(completions, answer)]


class StepTimer(TrainerCallback):
    """Wall time between consecutive optimizer-step ends, and each step's reward and completion length."""

    def __init__(self):
        self.ends = []
        self.trainer = None
        self.rewards, self.lengths = [], []

    def on_train_begin(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.ends.append(time.perf_counter())
        metrics = self.trainer._metrics["train"]  # TRL's per-step metrics, kept until the next log
        self.rewards.append(metrics["reward"][-1])
        self.lengths.append(metrics["completions/mean_length"][-1])


def timed(record: list, fn):
    """fn wrapped so that each call appends its wall time to record."""

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        record.append(time.perf_counter() - t0)
        return out

    return wrapper


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?", default="tiny", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 20; smollm2 4)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed first steps (default 3; smollm2 1)")
    args = ap.parse_args()
    threads = int(os.environ.get("RFT_THREADS", "2"))
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(0)

    prompts_per_step, generations = 8, 8
    if args.config == "smollm2":
        warmup, timed_steps = args.warmup if args.warmup is not None else 1, args.steps if args.steps is not None else 4
    else:
        warmup, timed_steps = args.warmup if args.warmup is not None else 3, args.steps if args.steps is not None else 20
    total = warmup + timed_steps
    if args.config == "smollm2":
        folder, name = os.path.split(SMOLLM2)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        # transformers marks a GGUF-loaded model as quantized and refuses to train it, but its
        # weights are plain fp32 tensors (dequantized on load): clear the mark.
        assert all(p.dtype == torch.float32 for p in model.parameters())
        model.is_quantized = False
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        rows = chat_addition_prompts()
        dataset = Dataset.from_list([rows[i % len(rows)] for i in range(prompts_per_step * total)])
        reward, max_new, lr = number_match, 64, 1e-5
        prompt_tokens = len(tokenizer.apply_chat_template(rows[0]["prompt"], add_generation_prompt=True, tokenize=True, return_dict=False))
    else:
        vocab, context, layers, heads, width = CONFIGS[args.config]
        tokenizer = char_tokenizer()
        config = GPT2Config(vocab_size=vocab, n_positions=context, n_layer=layers, n_head=heads, n_embd=width,
                            activation_function="gelu_new", resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                            tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, pad_token_id=2)
        model = GPT2LMHeadModel(config)
        model.generation_config.eos_token_id = 1
        model.generation_config.pad_token_id = 2
        dataset = Dataset.from_list(addition_prompts(prompts_per_step * total, seed=1))
        reward, max_new, lr, prompt_tokens = exact_match, 8, 1e-4, None

    with tempfile.TemporaryDirectory() as out:
        grpo = GRPOConfig(
            output_dir=out, use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
            per_device_train_batch_size=prompts_per_step * generations, gradient_accumulation_steps=1,
            num_generations=generations, max_completion_length=max_new, temperature=1.0, top_k=0, top_p=1.0,
            learning_rate=lr, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0,
            beta=0.0, num_iterations=1, epsilon=0.2, loss_type="dapo", scale_rewards="group",
            mask_truncated_completions=False, top_entropy_quantile=1.0, use_vllm=False,
            max_steps=total, report_to="none", logging_steps=10**9, save_strategy="no", disable_tqdm=True,
            log_completions=False, dataloader_num_workers=0, seed=0, shuffle_dataset=False)
        timer = StepTimer()
        trainer = GRPOTrainer(model=model, reward_funcs=reward, args=grpo, train_dataset=dataset,
                              processing_class=tokenizer, callbacks=[timer])
        trainer.remove_callback(PrinterCallback)  # keep stdout to the one JSON line
        timer.trainer = trainer
        gen_times, score_times = [], []
        trainer._generate = timed(gen_times, trainer._generate)
        trainer._calculate_rewards = timed(score_times, trainer._calculate_rewards)
        trainer.train()

    steps = [b - a for a, b in zip(timer.ends, timer.ends[1:])]
    assert len(steps) == total == len(gen_times) == len(score_times), (len(steps), len(gen_times), total)
    keep = slice(warmup, None)
    steps, gen, score = steps[keep], gen_times[keep], score_times[keep]
    print(json.dumps({
        "suite": "rft-step", "config": args.config, "median_s": statistics.median(steps),
        "gen_s": statistics.median(gen), "score_s": statistics.median(score),
        "update_s": statistics.median(s - g - r for s, g, r in zip(steps, gen, score)),
        "steps": len(steps), "warmup": warmup, "prompt_tokens": prompt_tokens, "times_s": [round(t, 5) for t in steps],
        "reward": statistics.mean(timer.rewards[keep]), "completion_length": statistics.mean(timer.lengths[keep]),
        "trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux reports KiB
    }))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
