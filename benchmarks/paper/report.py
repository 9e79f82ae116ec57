#!/usr/bin/env python3
"""Summarise benchmarks/paper/runs into a Markdown report and two SVG plots (standard library only).

Usage: report.py RUNS_DIR > README.md   (the plots are written next to this script)
"""
import json, os, statistics, sys

VARIANTS = [
    ("rft-only", "RFT only"),
    ("rft-lr10x", "RFT, 10× learning rate"),
    ("rft-temperature1.5", "RFT, temperature 1.5"),
    ("rft-entropy", "RFT, entropy bonus 0.01"),
    ("full-sft-rft", "full SFT → RFT"),
    ("random1pct-sft-rft", "random 1% SFT → RFT"),
    ("lowstd1pct-sft-rft", "lowest-std 1% SFT → RFT"),
]
HERE = os.path.dirname(os.path.abspath(__file__))


def load(runs):
    out = {}
    for key, _ in VARIANTS:
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


def bar_svg(data, path):
    w, h, left, top, bottom = 720, 300, 210, 30, 40
    rows = [(label, [s["phases"]["after RFT"]["reward_initially_stuck"] for s in data[k]]) for k, label in VARIANTS if data[k]]
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


def curve_svg(data, path):
    w, h, left, top, bottom, right = 720, 320, 50, 30, 40, 200
    colors = ["#c0392b", "#e67e22", "#f1c40f", "#8e44ad", "#27ae60", "#2e86c1", "#17202a"]
    series = []
    for (k, label), c in zip(VARIANTS, colors):
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


def main():
    runs = sys.argv[1]
    data = load(runs)
    bar_svg(data, os.path.join(HERE, "stuck-reward.svg"))
    curve_svg(data, os.path.join(HERE, "reward-curves.svg"))
    print("# Vanishing gradients in RFT, reproduced on rft's addition scenario\n")
    print("Made by `benchmarks/paper/run` (see its header for the exact setting); every number is a")
    print("mean ± sd over seeds, measured by the reward-std monitor on all 2000 training inputs")
    print("(16 samples each, temperature 1). *Stuck*: reward std < 0.05 and mean reward < 0.5 before")
    print("any training (the prompts starting with 7, which the base was pretrained to get wrong, and")
    print("some hard 3-digit sums). *Rest*: every other input.\n")
    print("| variant | seeds | stuck share before | final reward, initially stuck | final reward, rest | final stuck share | wall time (s) |")
    print("|---|---|---|---|---|---|---|")
    finals = {}
    for k, label in VARIANTS:
        runs_k = data[k]
        if not runs_k:
            print(f"| {label} | 0 | — | — | — | — | — |")
            continue
        stuck = [r["phases"]["after RFT"]["reward_initially_stuck"] for r in runs_k]
        finals[k] = statistics.mean(stuck)
        print(f"| {label} | {len(runs_k)} | {ms([r['phases']['before']['frac_stuck'] for r in runs_k])} | {ms(stuck)} | "
              f"{ms([r['phases']['after RFT']['reward_rest'] for r in runs_k])} | {ms([r['phases']['after RFT']['frac_stuck'] for r in runs_k])} | "
              f"{ms([r['seconds'] for r in runs_k])} |")
    if "full-sft-rft" in finals and finals["full-sft-rft"] > 0:
        for k in ("random1pct-sft-rft", "lowstd1pct-sft-rft"):
            if k in finals:
                print(f"\n{dict(VARIANTS)[k]} reaches {100 * finals[k] / finals['full-sft-rft']:.0f}% of full SFT → RFT on the initially stuck inputs.")
    print("\n![final reward on initially stuck inputs](stuck-reward.svg)\n")
    print("![reward per RFT step](reward-curves.svg)\n")
    notes = os.path.join(HERE, "notes.md")
    if os.path.exists(notes):
        print(open(notes).read())


if __name__ == "__main__":
    main()
