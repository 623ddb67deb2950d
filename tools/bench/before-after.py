#!/usr/bin/env python3
"""Two builds of tributary-bench measured back to back, alternating, on the same machine: before and after.

  tools/bench/before-after.py BEFORE AFTER [--cases ring,summaries,learn,codec,aggregate] [--passes 3] [--runs 7]

BEFORE and AFTER are tributary-bench executables (e.g. a worktree of the old commit's .build/release/ and this
one's). Each pass runs every case with each build in turn (--impl tributary: our code only, no peers), so load
and heat fall on both alike; a measurement's figure is the median, over passes, of the per-run medians the bench
reports. Prints a table with after ÷ before (above 1 is better for 'higher' figures, below 1 for 'lower' ones)
and writes the JSON with --json. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path


def measure(binary: str, case: str, runs: int) -> list[dict]:
    out = subprocess.run([binary, case, "--json", "--runs", str(runs), "--impl", "tributary"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"[before-after] {binary} {case} failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--cases", default="ring,summaries,learn,codec,aggregate")
    ap.add_argument("--passes", type=int, default=3, help="alternations of the two builds")
    ap.add_argument("--runs", type=int, default=7, help="runs per measurement within one invocation")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    values: dict[tuple[str, str], dict[str, list[float]]] = {}
    meta: dict[tuple[str, str], dict] = {}
    for p in range(args.passes):
        for case in args.cases.split(","):
            # Alternate which goes first, so neither always runs on a warmer machine.
            order = [("before", args.before), ("after", args.after)]
            for label, binary in order if p % 2 == 0 else reversed(order):
                print(f"[before-after] pass {p + 1}/{args.passes}: {case} ({label})", file=sys.stderr, flush=True)
                for line in measure(binary, case, args.runs):
                    if line["impl"] != "tributary":
                        continue  # a peer some cases measure anyway, or a reference figure
                    key = (line["case"], line["name"])
                    values.setdefault(key, {"before": [], "after": []})[label].append(line["value"])
                    meta[key] = {"unit": line["unit"], "better": line["better"]}

    rows = []
    for key, v in values.items():
        if not v["before"] or not v["after"]:
            continue
        before, after = statistics.median(v["before"]), statistics.median(v["after"])
        ratio = after / before if before else None
        better = meta[key]["better"]
        verdict = "-" if ratio is None else (
            "same" if 0.95 <= ratio <= 1.05 else
            ("better" if (ratio > 1) == (better == "higher") else "worse"))
        rows.append({"case": key[0], "name": key[1], "unit": meta[key]["unit"], "better": better,
                     "before": before, "after": after, "after_over_before": ratio, "verdict": verdict,
                     "before_all": v["before"], "after_all": v["after"]})
    width = max((len(f"{r['case']}: {r['name']}") for r in rows), default=10)
    print(f"{'measurement':<{width}}  {'before':>12}  {'after':>12}  {'after/before':>12}  verdict")
    for r in rows:
        q = f"{r['after_over_before']:.3f}" if r["after_over_before"] is not None else "-"
        print(f"{r['case'] + ': ' + r['name']:<{width}}  {r['before']:>12.4g}  {r['after']:>12.4g}  {q:>12}  "
              f"{r['verdict']} ({r['better']} is better)")
    if args.json:
        args.json.write_text(json.dumps({"passes": args.passes, "runs": args.runs, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
