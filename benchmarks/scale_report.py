"""benchmarks/run scale's summary: for each configuration (LABEL=run-folder,run-folder,...) the
median RFT step time of rank 0 (generation + scoring + update, from timings.jsonl; the first
steps of each run skipped: 3, or a third of them when there are fewer than 9), steps/s, completion tokens/s (completion_length x completions per
step from metrics.jsonl, over that step's time) and the median all-reduce time per step; then
ratios against the first and the last configuration."""
import json
import statistics
import sys


def lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summary(folders, completions):
    steps, tokens, reduce = [], [], []
    for folder in folders:
        timing = {t["step"]: t for t in lines(folder + "/timings.jsonl") if t.get("phase") == "rft"}
        skip = min(3, len(timing) // 3)
        for m in lines(folder + "/metrics.jsonl"):
            if m.get("phase") != "rft" or m["step"] <= skip:
                continue
            t = timing[m["step"]]
            seconds = t["generation_seconds"] + t["scoring_seconds"] + t["update_seconds"]
            steps.append(seconds)
            tokens.append(m["completion_length"] * completions / seconds)
            reduce.append(t.get("all_reduce_seconds", 0))
    return statistics.median(steps), statistics.median(tokens), statistics.median(reduce), len(steps)


def main():
    model, completions = sys.argv[1], int(sys.argv[2])
    rows = []
    for spec in sys.argv[3:]:
        label, folders = spec.split("=", 1)
        rows.append((label,) + summary(folders.split(","), completions))
    first, last = rows[0], rows[-1]
    for label, step, tok, red, n in rows:
        print(f"scale {model} {label}: step {step * 1e3:.1f} ms ({1 / step:.2f} steps/s), {tok:,.0f} completion tokens/s, "
              f"all-reduce {red * 1e3:.2f} ms/step ({red / step * 100:.1f}%), {n} steps; "
              f"speed vs {first[0]} {first[1] / step:.2f}x, vs {last[0]} {last[1] / step:.2f}x")


main()
