#!/usr/bin/env python3
"""An external reward for rft: 1 when the completion matches the reference, else 0.

Usage:
    rft train --model checkpoints/addition-base.rftckpt --data data.jsonl --reward-cmd python3 -u examples/reward_match.py

rft starts this program once and sends it one JSON line per batch on stdin:
    {"id": 0, "items": [{"prompt": "12+30=", "completion": "42", "reference": "42", "metadata": {}}, ...]}
and reads one JSON line per batch from stdout:
    {"id": 0, "rewards": [1.0, ...]}
(protocol: docs/reward-command.md). Only the standard library is used.

Matching: when both texts parse as numbers they must agree within TOLERANCE ("42.0" matches
"42"); otherwise the two texts must be equal after trimming whitespace. An item without a
reference scores 0 and is reported on stderr, which rft passes through to its own.

Copy this file to write your own reward: keep the loop, replace `score`. Flush stdout after
every answer (print(..., flush=True)): a pipe is block-buffered, and rft would wait forever.
"""
import json
import math
import sys

TOLERANCE = 1e-6


def as_number(text):
    """The number `text` spells, or None."""
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def score(prompt, completion, reference, metadata):
    """The reward of one completion, in [0, 1]."""
    if reference is None:
        print(f"reward_match.py: no reference for prompt {prompt!r}; reward 0", file=sys.stderr)
        return 0.0
    a, b = as_number(completion), as_number(reference)
    if a is not None and b is not None:
        return 1.0 if abs(a - b) <= TOLERANCE else 0.0
    return 1.0 if completion.strip() == reference.strip() else 0.0


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        rewards = [score(item["prompt"], item["completion"], item.get("reference"), item.get("metadata", {}))
                   for item in request["items"]]
        print(json.dumps({"id": request["id"], "rewards": rewards}), flush=True)


if __name__ == "__main__":
    main()
