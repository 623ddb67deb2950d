#!/usr/bin/env python3
"""Differential check: the Swift decoders (through the fuzz binaries) against the independent Python reader.

Runs .build/fuzz/bin/fuzz-TARGET over every input of a corpus with TRIBUTARY_FUZZ_PRINT=1, which makes the harness
print, for each input with its checksum fixed, `verdict CODE HEX` (CODE = ok or the WireError reason). The same
bytes go through tools/python/tributary_wire.py, and the two verdicts are tabulated. Inputs: the corpus, the
committed test vectors and the saved findings in tools/fuzz/crashes/TARGET-*. Build the binaries first
(tools/fuzz/run TARGET 0).

    tools/.venv-tools/bin/python tools/fuzz/differential.py [sensor-batch] [update] [--corpus DIR] [--examples N]

Exit status 1 if one side accepts what the other rejects; differing reason codes are only reported (the
specification does not name the code for every rule; see tools/python/README.md).
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "tools/python"))

import tributary_wire as tw  # noqa: E402

# What each harness calls, and the same limits on the Python side.
PYTHON_DECODERS = {
    "sensor-batch": lambda data: tw.decode_sensor_batch(data),
    "update": lambda data: tw.decode_update(data, max_dimension=1 << 22),
}
FIXTURES = {
    "sensor-batch": ROOT / "Tests/SensorFramesTests/Fixtures",
    "update": ROOT / "Tests/UpdateCodecTests/Fixtures",
}


def swift_verdicts(target: str, files: list[Path]) -> list[tuple[str, bytes]]:
    binary = ROOT / f".build/fuzz/bin/fuzz-{target}"
    if not binary.exists():
        sys.exit(f"{binary} is missing: run tools/fuzz/run {target} 0 first")
    env = dict(os.environ, TRIBUTARY_FUZZ_PRINT="1", SWIFT_BACKTRACE="enable=no")
    verdicts = []
    for start in range(0, len(files), 500):
        batch = [str(f) for f in files[start : start + 500]]
        result = subprocess.run(
            [str(binary), *batch], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-3000:])
            sys.exit(f"fuzz-{target} exited {result.returncode} (a crash: see tools/fuzz/run)")
        for line in result.stdout.splitlines():
            if line.startswith("verdict "):
                _, code, *rest = line.split(" ")
                verdicts.append((code, bytes.fromhex(rest[0] if rest else "")))
    return verdicts


def python_verdict(target: str, data: bytes) -> str:
    try:
        PYTHON_DECODERS[target](data)
        return "ok"
    except tw.WireError as error:
        return error.code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help="sensor-batch and/or update (default both)")
    parser.add_argument("--corpus", type=Path, help="corpus directory (default .build/fuzz/corpus/TARGET)")
    parser.add_argument("--examples", type=int, default=2, help="examples printed per disagreement")
    args = parser.parse_args()
    for target in args.targets:
        if target not in PYTHON_DECODERS:
            parser.error(f"unknown target {target!r} (sensor-batch, update)")
    args.targets = args.targets or ["sensor-batch", "update"]

    disagreements = 0
    for target in args.targets:
        corpus = args.corpus or ROOT / f".build/fuzz/corpus/{target}"
        files = sorted(p for p in corpus.glob("*") if p.is_file()) + sorted(FIXTURES[target].glob("*.bin"))
        files += sorted((ROOT / "tools/fuzz/crashes").glob(f"{target}-*"))  # saved findings
        verdicts = swift_verdicts(target, files)
        table: collections.Counter[tuple[str, str]] = collections.Counter()
        examples: dict[tuple[str, str], list[bytes]] = collections.defaultdict(list)
        for swift, data in verdicts:
            python = python_verdict(target, data)
            table[(swift, python)] += 1
            if swift != python and len(examples[(swift, python)]) < args.examples:
                examples[(swift, python)].append(data)
        same = sum(n for (s, p), n in table.items() if s == p)
        print(f"{target}: {len(verdicts)} inputs, {same} with the same verdict")
        for (swift, python), n in sorted(table.items(), key=lambda kv: -kv[1]):
            if swift == python:
                continue
            kind = "ACCEPT/REJECT" if "ok" in (swift, python) else "code"
            if kind == "ACCEPT/REJECT":
                disagreements += n
            print(f"  {kind:13} swift {swift:20} python {python:20} {n:6}")
            for data in examples[(swift, python)]:
                print(f"      {data.hex()[:200]}{'…' if len(data) > 100 else ''} ({len(data)} bytes)")
    print(f"{disagreements} accept/reject disagreements")
    return 1 if disagreements else 0


if __name__ == "__main__":
    sys.exit(main())
