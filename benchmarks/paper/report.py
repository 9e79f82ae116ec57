#!/usr/bin/env python3
"""Summarise a scenario's runs into a Markdown report and two SVG plots (standard library only).

Usage: report.py RUNS_DIR [addition|smollm2] > README.md
  addition (default): benchmarks/paper/runs; the plots and notes.md next to this script.
  smollm2: benchmarks/paper/smollm2/runs; the plots and notes.md in benchmarks/paper/smollm2/,
           and the prevalence of small-std inputs from RUNS_DIR/diagnose-500x16.
"""
import json, os, re, shutil, statistics, sys

VARIANTS = [
    ("rft-only", "RFT only"),
    ("rft-lr10x", "RFT, 10× learning rate"),
    ("rft-temperature1.5", "RFT, temperature 1.5"),
    ("rft-entropy", "RFT, entropy bonus 0.01"),
    ("full-sft-rft", "full SFT → RFT"),
    ("random1pct-sft-rft", "random 1% SFT → RFT"),
    ("lowstd1pct-sft-rft", "lowest-std 1% SFT → RFT"),
    ("ppo-gae", "PPO (critic, GAE, adaptive KL)"),
    ("ppo-gae-lowstd1pct", "lowest-std 1% SFT → PPO"),
]
HERE = os.path.dirname(os.path.abspath(__file__))
SMOLLM2_VARIANTS = [
    ("rft-only", "RFT only"),
    ("random1pct-sft-rft", "random 1% SFT → RFT"),
    ("lowstd1pct-sft-rft", "lowest-std 1% SFT → RFT"),
    ("full-sft-rft", "full SFT → RFT"),
]


def load(runs, variants):
    out = {}
    for key, _ in variants:
        seeds = []
        for name in sorted(os.listdir(runs)):
            d = os.path.join(runs, name)
            if not (name.startswith(key + "-seed") and os.path.isdir(d)):
                continue
            path = os.path.join(d, "summary.json")
            if not os.path.exists(path):
                continue
            with open(path) as f:
                rec = json.load(f)
            phases = {p["name"]: p for p in rec["table"]}
            if "after RFT" not in phases:
                continue
            before = rec["diagnoses"]["before"]
            solved, unflagged = before["num_solved"], before["num_inputs"] - before["num_flagged"]
            for p in phases.values():  # the mean reward of every input that was not stuck before training
                parts = [(solved, p.get("reward_initially_solved")), (unflagged, p.get("reward_initially_unflagged"))]
                parts = [(n, r) for n, r in parts if r is not None and n > 0]
                p["reward_rest"] = sum(n * r for n, r in parts) / sum(n for n, _ in parts) if parts else float("nan")
            lines = [json.loads(l) for l in open(os.path.join(d, "metrics.jsonl")) if l.strip()]
            rewards = [l["reward"] for l in lines if l.get("phase") == "rft"]
            seconds = float(open(os.path.join(d, "seconds")).read()) if os.path.exists(os.path.join(d, "seconds")) else float("nan")
            seeds.append({"phases": phases, "rewards": rewards, "seconds": seconds})
        out[key] = seeds
    return out


def ms(xs):
    xs = [x for x in xs if x == x]
    if not xs:
        return "—"
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.mean(xs):.3f} ± {sd:.3f}"


def bar_svg(data, path, variants):
    w, h, left, top, bottom = 720, 300, 210, 30, 40
    rows = [(label, [s["phases"]["after RFT"]["reward_initially_stuck"] for s in data[k]]) for k, label in variants if data[k]]
    bh = (h - top - bottom) / max(1, len(rows))
    x = lambda v: left + v * (w - left - 20)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<text x="{w/2}" y="18" text-anchor="middle">Final reward on initially stuck inputs (mean ± sd over seeds)</text>']
    for i in range(6):
        v = i / 5
        parts.append(f'<line x1="{x(v):.1f}" y1="{top}" x2="{x(v):.1f}" y2="{h-bottom}" stroke="#ddd"/>'
                     f'<text x="{x(v):.1f}" y="{h-bottom+15}" text-anchor="middle">{v:.1f}</text>')
    for i, (label, vals) in enumerate(rows):
        y = top + i * bh
        m = statistics.mean(vals); sd = statistics.stdev(vals) if len(vals) > 1 else 0
        color = "#c0392b" if "SFT" not in label else "#2e86c1"
        parts.append(f'<text x="{left-6}" y="{y+bh/2+4:.1f}" text-anchor="end">{label}</text>'
                     f'<rect x="{left}" y="{y+4:.1f}" width="{x(m)-left:.1f}" height="{bh-8:.1f}" fill="{color}"/>'
                     f'<line x1="{x(max(0,m-sd)):.1f}" y1="{y+bh/2:.1f}" x2="{x(min(1,m+sd)):.1f}" y2="{y+bh/2:.1f}" stroke="black"/>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def curve_svg(data, path, variants):
    w, h, left, top, bottom, right = 720, 320, 50, 30, 40, 200
    colors = ["#c0392b", "#e67e22", "#f1c40f", "#8e44ad", "#27ae60", "#2e86c1", "#17202a"]
    series = []
    for (k, label), c in zip(variants, colors):
        runs = data[k]
        if not runs:
            continue
        n = min(len(r["rewards"]) for r in runs)
        series.append((label, c, [statistics.mean(r["rewards"][i] for r in runs) for i in range(n)]))
    steps = max((len(s[2]) for s in series), default=1)
    x = lambda i: left + i / max(1, steps - 1) * (w - left - right)
    y = lambda v: top + (1 - v) * (h - top - bottom)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
             f'<text x="{(w-right)/2}" y="18" text-anchor="middle">Mean rollout reward per RFT step (mean over seeds)</text>']
    for i in range(6):
        v = i / 5
        parts.append(f'<line x1="{left}" y1="{y(v):.1f}" x2="{w-right}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="{left-6}" y="{y(v)+4:.1f}" text-anchor="end">{v:.1f}</text>')
    parts.append(f'<text x="{(w-right)/2}" y="{h-8}" text-anchor="middle">RFT step</text>')
    for j, (label, c, ys) in enumerate(series):
        pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(ys))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="1.5"/>'
                     f'<rect x="{w-right+10}" y="{top+j*18}" width="12" height="3" fill="{c}"/>'
                     f'<text x="{w-right+28}" y="{top+j*18+5}">{label}</text>')
    parts.append("</svg>")
    open(path, "w").write("\n".join(parts))


def percentile(sorted_xs, q):
    """Linear-interpolation percentile of a sorted list (as rft's RewardStatistics.percentile)."""
    if not sorted_xs:
        return float("nan")
    pos = q * (len(sorted_xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(sorted_xs) - 1)
    return sorted_xs[lo] + (pos - lo) * (sorted_xs[hi] - sorted_xs[lo])


def digits(prompt):
    """The digit count of a chat-addition prompt's longer operand (its difficulty)."""
    m = re.search(r"(\d+)\+(\d+)", prompt)
    return max(len(m.group(1)), len(m.group(2))) if m else None


def prevalence(runs, here):
    """The Figure-1 section: how the reward std of the pretrained model is spread over 500 inputs."""
    d = os.path.join(runs, "diagnose-500x16")
    if not os.path.exists(os.path.join(d, "summary.json")):
        return "The prevalence run (diagnose-500x16) has not been made.\n"
    summary = json.load(open(os.path.join(d, "summary.json")))["diagnoses"]["before"]  # rft diagnose's summary.json
    rows = [json.loads(l) for l in open(os.path.join(d, "inputs.jsonl")) if l.strip()]
    stds = sorted(r["std"] for r in rows)
    out = ["## How prevalent are small-std inputs? (the paper's Figure 1)\n",
           f"`rft diagnose` on {len(rows)} chat-addition inputs (1–3 digits), {rows[0]['num_samples']} samples each, "
           "temperature 1, at most 24 new tokens, number-match reward.\n",
           "| reward std percentile | p10 | p25 | p50 | p75 | p90 |", "|---|---|---|---|---|---|",
           "| SmolLM2-135M-Instruct | " + " | ".join(f"{percentile(stds, q):.3f}" for q in (0.1, 0.25, 0.5, 0.75, 0.9)) + " |\n",
           "| digits | inputs | mean reward | std = 0 | flagged (std < 0.05) | stuck (flagged, mean < 0.5) | solved (flagged, mean ≥ 0.5) |",
           "|---|---|---|---|---|---|---|"]
    groups = {}
    for r in rows:
        groups.setdefault(digits(r["prompt"]), []).append(r)
    for key in sorted(groups, key=lambda k: (k is None, k)):
        g = groups[key]
        n = len(g)
        share = lambda f: f"{sum(1 for r in g if f(r)) / n:.3f}"
        out.append(f"| {key if key is not None else 'all'} | {n} | {statistics.mean(r['mean'] for r in g):.3f} | {share(lambda r: r['std'] == 0)} | "
                   f"{share(lambda r: r['flagged'])} | {share(lambda r: r['stuck'])} | {share(lambda r: r['flagged'] and not r['stuck'])} |")
    n = len(rows)
    share = lambda f: f"{sum(1 for r in rows if f(r)) / n:.3f}"
    out.append(f"| all | {n} | {summary['reward']:.3f} | {share(lambda r: r['std'] == 0)} | {summary['frac_flagged']:.3f} | "
               f"{summary['frac_stuck']:.3f} | {summary['frac_solved']:.3f} |\n")
    svg = os.path.join(d, "mean-vs-std-before.svg")
    if os.path.exists(svg):
        shutil.copy(svg, os.path.join(here, "mean-vs-std.svg"))
        out.append("![reward mean against reward std, one dot an input](mean-vs-std.svg)\n")
    seconds = float(open(os.path.join(d, "seconds")).read()) if os.path.exists(os.path.join(d, "seconds")) else None
    tokens = summary.get("completion_tokens")
    log = os.path.join(runs, "diagnose-500x16.log")
    rss = None
    if os.path.exists(log):
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(log).read())
        rss = int(m.group(1)) / 1024 if m else None
    if seconds:
        parts = [f"**Cost:** {seconds:.0f} s for {n * rows[0]['num_samples']} completions"]
        if tokens:
            parts.append(f"{tokens} completion tokens, {tokens / seconds:.0f} tokens/s over the whole command (loading and scoring included)")
        if rss:
            parts.append(f"peak memory {rss:.0f} MB (maximum resident set size)")
        out.append(", ".join(parts) + ".\n")
    return "\n".join(out)


SCENARIOS = {
    "addition": dict(variants=VARIANTS, here=HERE, title="# Vanishing gradients in RFT, reproduced on rft's addition scenario\n",
                     intro=["Made by `benchmarks/paper/run` (see its header for the exact setting); every number is a",
                            "mean ± sd over seeds, measured by the reward-std monitor on all 2000 training inputs",
                            "(16 samples each, temperature 1). *Stuck*: reward std < 0.05 and mean reward < 0.5 before",
                            "any training (the prompts starting with 7, which the base was pretrained to get wrong, and",
                            "some hard 3-digit sums). *Rest*: every other input.\n"]),
    "smollm2": dict(variants=SMOLLM2_VARIANTS, here=os.path.join(HERE, "smollm2"),
                    title="# Vanishing gradients in RFT on a pretrained instruct model: SmolLM2-135M-Instruct\n",
                    intro=["Made by `benchmarks/paper/run smollm2` (see its header for the exact setting): `make demo`'s",
                           "chat-addition (1–3-digit operands, 192 inputs, ChatML prompts, number-match reward), every",
                           "number a mean ± sd over seeds, measured by the reward-std monitor on all 192 training inputs",
                           "(8 samples each, temperature 1). *Stuck*: reward std < 0.05 and mean reward < 0.5 before any",
                           "training (with 8 samples: no correct answer among them). *Rest*: every other input.\n"]),
}


def main():
    runs = sys.argv[1]
    scenario = SCENARIOS[sys.argv[2] if len(sys.argv) > 2 else "addition"]
    variants, here = scenario["variants"], scenario["here"]
    data = load(runs, variants)
    bar_svg(data, os.path.join(here, "stuck-reward.svg"), variants)
    curve_svg(data, os.path.join(here, "reward-curves.svg"), variants)
    print(scenario["title"])
    print("\n".join(scenario["intro"]))
    if variants is SMOLLM2_VARIANTS:
        print(prevalence(runs, here))
        print("## RFT only, or a little SFT first? (equal compute)\n")
    greedy = variants is SMOLLM2_VARIANTS  # rft train's greedy accuracy on held-out inputs (eval_inputs)
    print("| variant | seeds | stuck share before | final reward, initially stuck | final reward, rest | final stuck share |"
          + (" greedy accuracy before → after |" if greedy else "") + " wall time (s) |")
    print("|---|---|---|---|---|---|" + ("---|" if greedy else "") + "---|")
    finals = {}
    for k, label in variants:
        runs_k = data[k]
        if not runs_k:
            print(f"| {label} | 0 | — | — | — | — |" + (" — |" if greedy else "") + " — |")
            continue
        stuck = [r["phases"]["after RFT"]["reward_initially_stuck"] for r in runs_k]
        finals[k] = statistics.mean(stuck)
        acc = ""
        if greedy:
            acc = (f" {ms([r['phases']['before'].get('greedy_accuracy', float('nan')) for r in runs_k])} → "
                   f"{ms([r['phases']['after RFT'].get('greedy_accuracy', float('nan')) for r in runs_k])} |")
        print(f"| {label} | {len(runs_k)} | {ms([r['phases']['before']['frac_stuck'] for r in runs_k])} | {ms(stuck)} | "
              f"{ms([r['phases']['after RFT']['reward_rest'] for r in runs_k])} | {ms([r['phases']['after RFT']['frac_stuck'] for r in runs_k])} |"
              f"{acc} {ms([r['seconds'] for r in runs_k])} |")
    if "full-sft-rft" in finals and finals["full-sft-rft"] > 0:
        for k in ("random1pct-sft-rft", "lowstd1pct-sft-rft"):
            if k in finals:
                print(f"\n{dict(variants)[k]} reaches {100 * finals[k] / finals['full-sft-rft']:.0f}% of full SFT → RFT on the initially stuck inputs.")
    print("\n![final reward on initially stuck inputs](stuck-reward.svg)\n")
    print("![reward per RFT step](reward-curves.svg)\n")
    notes = os.path.join(here, "notes.md")
    if os.path.exists(notes):
        print(open(notes).read())


if __name__ == "__main__":
    main()
