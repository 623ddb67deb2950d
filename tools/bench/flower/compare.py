#!/usr/bin/env python3
"""Flower vs. Tributary on the seglearn smartwatch task: runs both (one after the other) and compares them.

  tools/bench/flower/compare.py [--rounds R] [--json FILE] [--flower FILE] [--tributary FILE]

Runs `tools/bench/flower/run --json` and `tools/demo.py --json` (needs the release binaries in .build/release)
with the same number of rounds, then prints final accuracy, median wire bytes per node per round (up and down),
median round time and client resident memory side by side, the ratios Flower/Tributary, and the goals:
at least 200x fewer uplink and 20x fewer downlink bytes at no loss of accuracy against Flower, rounds at least
50x shorter, agent RSS at most 16 MiB. --flower/--tributary take an existing result file instead of running that system.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent


def run(name: str, command: list[str], out: Path) -> dict:
    print(f"[compare] {name}: {' '.join(command)}", flush=True)
    code = subprocess.run(command, cwd=ROOT).returncode
    if code != 0 or not out.is_file():
        sys.exit(f"[compare] {name} failed (exit {code})")
    return json.loads(out.read_text())


def summary(result: dict) -> dict:
    """The compared numbers of one system's result file."""
    rounds = [r for r in result["rounds"] if r.get("up_wire_bytes") is not None]
    # Per node: divided by every node of the run, not only the round's participants.
    nodes = result.get("devices") or max(r["devices"] for r in result["rounds"])
    # Both are peaks: Flower's of each SuperNode's process tree, ours of each agent process (VmHWM).
    prefix = "client" if result["system"] == "flower" else "agent_peak"
    return {
        "final_accuracy": result["final_accuracy"],
        "up_bytes_per_node_round": statistics.median(r["up_wire_bytes"] / nodes for r in rounds),
        "down_bytes_per_node_round": statistics.median(r["down_wire_bytes"] / nodes for r in rounds),
        "round_s": statistics.median(r["round_s"] for r in rounds),
        "rss_mib_median": result[f"{prefix}_rss_mib_median"],
        "rss_mib_max": result[f"{prefix}_rss_mib_max"],
        "rounds": len(result["rounds"]),
        # Everything over the run (connection, specification, first model, telemetry) ÷ rounds, where known.
        "up_bytes_per_node_round_all": result.get("up_wire_bytes_per_device_round"),
        "down_bytes_per_node_round_all": result.get("down_wire_bytes_per_device_round"),
    }


def compare(flower: dict, tributary: dict) -> dict:
    f, t = summary(flower), summary(tributary)
    ratio = {k: (f[k] / t[k] if t[k] else None) for k in
             ("up_bytes_per_node_round", "down_bytes_per_node_round", "round_s", "rss_mib_median", "rss_mib_max")}
    pp = 100 * (t["final_accuracy"] - f["final_accuracy"])  # Tributary minus Flower, percentage points
    goals = {
        "uplink_200x": bool(ratio["up_bytes_per_node_round"] and ratio["up_bytes_per_node_round"] >= 200),
        "downlink_20x": bool(ratio["down_bytes_per_node_round"] and ratio["down_bytes_per_node_round"] >= 20),
        "accuracy_not_lower": pp >= 0,
        "rounds_50x_shorter": bool(ratio["round_s"] and ratio["round_s"] >= 50),
        "agent_rss_at_most_16_mib": t["rss_mib_max"] is not None and t["rss_mib_max"] <= 16,
    }
    return {"summary": {"flower": f, "tributary": t}, "ratio_flower_over_tributary": ratio,
            "accuracy_difference_pp": pp, "goals": goals}


def print_table(c: dict) -> None:
    f, t, r = c["summary"]["flower"], c["summary"]["tributary"], c["ratio_flower_over_tributary"]

    def ratio(key: str) -> str:
        return f"{r[key]:.1f}x" if r[key] is not None else "-"

    rows = [
        ("final accuracy", f"{f['final_accuracy']:.4f}", f"{t['final_accuracy']:.4f}",
         f"{c['accuracy_difference_pp']:+.2f} pp"),
        ("uplink B/node/round (median)", f"{f['up_bytes_per_node_round']:.0f}",
         f"{t['up_bytes_per_node_round']:.0f}", ratio("up_bytes_per_node_round")),
        ("downlink B/node/round (median)", f"{f['down_bytes_per_node_round']:.0f}",
         f"{t['down_bytes_per_node_round']:.0f}", ratio("down_bytes_per_node_round")),
        ("round time s (median)", f"{f['round_s']:.2f}", f"{t['round_s']:.3f}", ratio("round_s")),
        ("client RSS MiB (median)", f"{f['rss_mib_median']:.1f}", f"{t['rss_mib_median']:.1f}",
         ratio("rss_mib_median")),
        ("client RSS MiB (max)", f"{f['rss_mib_max']:.1f}", f"{t['rss_mib_max']:.1f}", ratio("rss_mib_max")),
    ]
    print()
    print(f"{'':<32}  {'Flower':>10}  {'Tributary':>10}  {'Flower/Tributary':>16}")
    for name, a, b, q in rows:
        print(f"{name:<32}  {a:>10}  {b:>10}  {q:>16}")
    print(f"(rounds: Flower {f['rounds']}, Tributary {t['rounds']}; accuracy difference is Tributary - Flower; "
          "Flower's RSS is the peak of each SuperNode's process tree, Tributary's the peak of each agent, VmHWM)")
    print()
    labels = {"uplink_200x": ">=200x fewer uplink bytes per node per round",
              "downlink_20x": ">=20x fewer downlink bytes per node per round",
              "accuracy_not_lower": "final accuracy not lower than Flower's",
              "rounds_50x_shorter": "rounds >=50x shorter",
              "agent_rss_at_most_16_mib": "agent peak RSS <=16 MiB (max over agents)"}
    for key, ok in c["goals"].items():
        print(f"  [{'met' if ok else 'NOT met'}] {labels[key]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--json", type=Path, help="write both results, the compared numbers and the goals here")
    ap.add_argument("--flower", type=Path, help="use this Flower result (run --json) instead of running Flower")
    ap.add_argument("--tributary", type=Path, help="use this Tributary result (demo.py --json) instead of "
                                                   "running the demo")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="compare-") as tmp:
        # One after the other: run side by side they would compete for the same cores.
        out = Path(tmp) / "flower.json"
        flower = json.loads(args.flower.read_text()) if args.flower else run(
            "Flower", [str(HERE / "run"), "--rounds", str(args.rounds), "--json", str(out)], out)
        out = Path(tmp) / "tributary.json"
        tributary = json.loads(args.tributary.read_text()) if args.tributary else run(
            "Tributary", [sys.executable, str(ROOT / "tools/demo.py"), "--rounds", str(args.rounds),
                          "--json", str(out)], out)
    c = compare(flower, tributary)
    print_table(c)
    if args.json:
        args.json.write_text(json.dumps({"results": {"flower": flower, "tributary": tributary}, **c}, indent=1)
                             + "\n")
        print(f"[compare] wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
