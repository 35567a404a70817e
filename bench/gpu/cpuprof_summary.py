"""Summarise a V8 CPU profile (`deno run --cpu-prof --cpu-prof-dir=D`) for bench/gpu/run_h200.sh --diagnose:
self time per function and per source file, largest first, over the samples taken after --skip-s
seconds (gpu_bench.ts prints `warm_at_s`, when its warm-up ended).

Usage: python3 bench/gpu/cpuprof_summary.py PROFILE.cpuprofile [--skip-s S] [--top N]
"""
from __future__ import annotations

import argparse
import collections
import json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile")
    ap.add_argument("--skip-s", type=float, default=0.0)
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    prof = json.load(open(args.profile))
    frames = {n["id"]: n["callFrame"] for n in prof["nodes"]}
    by_fn: collections.Counter = collections.Counter()
    by_file: collections.Counter = collections.Counter()
    t = 0.0
    total = 0.0
    for node, dt in zip(prof["samples"], prof["timeDeltas"]):
        t += dt / 1e6
        if t < args.skip_s:
            continue
        f = frames[node]
        where = (f.get("url") or "").rsplit("/", 1)[-1]
        by_fn[f"{f.get('functionName') or '(anonymous)'} {where}:{f.get('lineNumber', -1) + 1}"] += dt / 1e3
        by_file[where or "(native)"] += dt / 1e3
        total += dt / 1e3
    print(f"profile: {t:.1f} s, window after {args.skip_s:.1f} s: {total:.0f} ms of samples")
    print("self ms by function:")
    for k, v in by_fn.most_common(args.top):
        print(f"  {v:9.1f}  {100 * v / max(total, 1e-9):5.1f}%  {k}")
    print("self ms by file:")
    for k, v in by_file.most_common(12):
        print(f"  {v:9.1f}  {100 * v / max(total, 1e-9):5.1f}%  {k}")


if __name__ == "__main__":
    main()
