#!/usr/bin/env python3
"""Checks the committed wire-format test vectors with the independent Python reader (tributary_wire.py).

For every ``*.bin`` in the given fixture directories (default: Tests/SensorFramesTests/Fixtures and
Tests/UpdateCodecTests/Fixtures of the repository this script lives in) it

  1. decodes the file and compares every field with the ``*.json`` beside it (indices and time stamps exactly,
     values and scales as float32);
  2. flips every bit of the file, one at a time, and expects a WireError: ``bad_checksum`` for any bit after the
     magic and version (``bad_magic`` / ``unsupported_version`` there);
  3. truncates the file at every length and appends a byte, expecting a WireError;
  4. mutates the file randomly (``--mutations`` per vector, fixed seed), re-computes the CRC so the mutation
     reaches the field checks, and expects either a WireError or a message that satisfies the format's
     invariants -- never another exception.

Prints one line per vector and a closing ``N passed, N failed`` line; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import struct
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

try:  # compressed vectors need zstandard: rerun with the tools venv's Python if this one lacks it
    import zstandard  # noqa: F401
except ImportError:
    _venv = REPO / "tools/.venv-tools"
    if (_venv / "bin/python").exists() and Path(sys.prefix).resolve() != _venv.resolve():
        os.execv(str(_venv / "bin/python"), [str(_venv / "bin/python"), str(Path(__file__).resolve()), *sys.argv[1:]])

import numpy as np  # noqa: E402

import tributary_wire as tw  # noqa: E402

DEFAULT_DIRS = [REPO / "Tests/SensorFramesTests/Fixtures", REPO / "Tests/UpdateCodecTests/Fixtures"]


class Mismatch(Exception):
    pass


def f32_equal(decoded: np.ndarray, expected: list[Any], what: str) -> None:
    want = np.array(expected, dtype=np.float64).astype(np.float32)
    got = np.asarray(decoded, dtype=np.float32).reshape(-1)
    if got.shape != want.shape:
        raise Mismatch(f"{what}: {got.size} values, expected {want.size}")
    # Compare the float32 bit patterns (so -0.0 differs from 0.0 only if the JSON says so).
    if not np.array_equal(got, want):
        i = int(np.flatnonzero(got != want)[0])
        raise Mismatch(f"{what}[{i}] = {got[i]!r}, expected {want[i]!r}")


def int_equal(decoded: np.ndarray, expected: list[int], what: str) -> None:
    got = [int(x) for x in np.asarray(decoded).reshape(-1).tolist()]
    want = [int(x) for x in expected]
    if got != want:
        if len(got) != len(want):
            raise Mismatch(f"{what}: {len(got)} entries, expected {len(want)}")
        i = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        raise Mismatch(f"{what}[{i}] = {got[i]}, expected {want[i]}")


def field(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise Mismatch(f"{what} = {got!r}, expected {want!r}")


def compare_sensor(msg: dict, spec: dict, data: bytes) -> str:
    field(msg["sequence"], spec["sequence"], "sequence")
    field(msg["channels"], spec["channels"], "channels")
    field(msg["frames"], spec["frames"], "frames")
    field(msg["base"], spec["base"], "base")
    field(msg["period"], spec.get("period"), "period")
    field(msg["format"], spec["format"], "format")
    if "scales" in spec:
        f32_equal(msg["scales"], spec["scales"], "scales")
    if "raw" in spec:
        int_equal(msg["raw"], spec["raw"], "raw")
    int_equal(msg["timestamps"], spec["timestamps"], "timestamps")
    f32_equal(msg["values"], spec["values"], "values")
    if "bytes" in spec:
        field(len(data), spec["bytes"], "byte count")
    if "hex" in spec:
        field(data.hex(), spec["hex"].lower(), "hex")
    timing = f"period {msg['period']}" if msg["period"] is not None else "deltas"
    return f"TSFB {msg['format']} C={msg['channels']} N={msg['frames']} {timing}"


def compare_update(msg: dict, spec: dict, data: bytes) -> str:
    field(msg["type"], spec["type"], "type")
    field(msg["task"], spec["task"], "task")
    field(msg["round"], spec["round"], "round")
    field(msg["device"], spec["device"], "device")
    field(msg["sample_weight"], spec["sampleWeight"], "sampleWeight")
    field(msg["dimension"], spec["dimension"], "dimension")
    field(msg["k"], spec["k"], "k")
    field(msg["value_encoding"], spec["valueEncoding"], "valueEncoding")
    field(msg["index_encoding"], spec["indexEncoding"], "indexEncoding")
    field(msg["compressed"], spec["compressed"], "compressed")
    field(int(msg["base_model_hash"], 16), int(spec["baseModelHash"], 16), "baseModelHash")
    if "signature" in spec:
        want = spec["signature"]
        got = msg["signature"].hex() if msg["signature"] is not None else None
        field(got, want, "signature")
    int_equal(msg["indices"], spec["indices"], "indices")
    f32_equal(msg["values"], spec["values"], "values")
    extra = ""
    if msg["type"] == "denseModel":
        # A model's hash is of its own parameters.
        field(format(tw.model_hash(msg["values"]), "x"), msg["base_model_hash"], "model hash of the parameters")
        extra = ", own hash ok"
    z = "zstd" if msg["compressed"] else "plain"
    return (
        f"TUPD {msg['type']} {msg['value_encoding']}/{msg['index_encoding']}/{z} "
        f"n={msg['dimension']} k={msg['k']}{extra}"
    )


def expect_wire_error(data: bytes, codes: set[str] | None, what: str) -> str:
    try:
        tw.decode(data)
    except tw.WireError as error:
        if codes is not None and error.code not in codes:
            raise Mismatch(f"{what}: {error.code}, expected {sorted(codes)}") from None
        return error.code
    except Exception as error:  # noqa: BLE001 - anything else is a reader bug
        raise Mismatch(f"{what}: {type(error).__name__}: {error}") from None
    raise Mismatch(f"{what}: accepted")


def corruption_checks(data: bytes) -> str:
    flips = 0
    for i in range(len(data)):
        expected = {"bad_magic"} if i < 4 else {"unsupported_version"} if i == 4 else {"bad_checksum"}
        for bit in range(8):
            corrupted = bytearray(data)
            corrupted[i] ^= 1 << bit
            expect_wire_error(bytes(corrupted), expected, f"bit {bit} of byte {i} flipped")
            flips += 1
    for length in range(len(data)):
        expect_wire_error(data[:length], None, f"truncated to {length} bytes")
    expect_wire_error(data + b"\x00", None, "one byte appended")
    return f"{flips} bit flips -> bad_checksum/bad_magic/unsupported_version, {len(data)} truncations rejected"


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", tw.crc32c(body))


def check_invariants(msg: dict) -> None:
    if msg.kind == "update":
        idx = np.asarray(msg["indices"], dtype=np.int64)
        if idx.size != msg["k"] or np.asarray(msg["values"]).size != msg["k"]:
            raise Mismatch("accepted a message whose arrays are not k long")
        if idx.size and (idx[0] < 0 or idx[-1] >= msg["dimension"] or np.any(np.diff(idx) <= 0)):
            raise Mismatch("accepted indices that are not strictly increasing below n")
        if not np.all(np.isfinite(msg["values"])):
            raise Mismatch("accepted a non-finite value")
        msg.dense()
    else:
        values = msg["values"]
        if values.shape != (msg["frames"], msg["channels"]):
            raise Mismatch("accepted a batch whose values have the wrong shape")
        if msg["format"] == "float32" and not np.all(np.isfinite(values)):
            raise Mismatch("accepted a non-finite float32 sample")
        if np.any(np.diff(msg["timestamps"]) < 0):
            raise Mismatch("accepted decreasing time stamps")


def mutation_checks(data: bytes, count: int, rng: random.Random) -> str:
    accepted = 0
    codes: dict[str, int] = {}
    body = data[:-4]
    for n in range(count):
        mutated = bytearray(body)
        for _ in range(rng.randint(1, 4)):
            choice = rng.random()
            if choice < 0.6 and mutated:
                i = rng.randrange(5, len(mutated)) if len(mutated) > 5 else 0
                mutated[i] = rng.choice([rng.randrange(256), 0, 0xFF, 0x7F, 0x80, mutated[i] ^ (1 << rng.randrange(8))])
            elif choice < 0.8 and len(mutated) > 5:
                del mutated[rng.randrange(5, len(mutated))]
            else:
                mutated.insert(rng.randrange(5, len(mutated) + 1), rng.randrange(256))
        candidate = with_crc(bytes(mutated))
        try:
            msg = tw.decode(candidate)
        except tw.WireError as error:
            codes[error.code] = codes.get(error.code, 0) + 1
            continue
        except Exception as error:  # noqa: BLE001
            raise Mismatch(
                f"mutation {n}: {type(error).__name__}: {error} on input {candidate.hex()}"
            ) from None
        check_invariants(msg)
        accepted += 1
    top = ", ".join(f"{code} {num}" for code, num in sorted(codes.items(), key=lambda kv: -kv[1]))
    return f"{count} re-checksummed mutations: {accepted} accepted, rejected as {top}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="fixture directories (default: both test fixture dirs)")
    parser.add_argument("--mutations", type=int, default=500, help="random re-checksummed mutations per vector")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("-v", "--verbose", action="store_true", help="print the robustness checks' details")
    args = parser.parse_args(argv)
    dirs = args.dirs or DEFAULT_DIRS
    rng = random.Random(args.seed)

    passed = failed = 0
    bins = []
    for directory in dirs:
        if not directory.is_dir():
            print(f"FAIL {directory}: not a directory")
            failed += 1
            continue
        found = sorted(directory.glob("*.bin"))
        if not found:
            print(f"FAIL {directory}: no .bin vectors")
            failed += 1
        bins.extend(found)

    for path in bins:
        name = os.path.relpath(path, REPO) if path.is_relative_to(REPO) else str(path)
        try:
            spec_path = path.with_suffix(".json")
            if not spec_path.exists():
                raise Mismatch(f"no {spec_path.name} beside it")
            spec = json.loads(spec_path.read_text())
            data = path.read_bytes()
            try:
                msg = tw.decode(data)
            except tw.WireError as error:
                raise Mismatch(f"rejected: {error}") from None
            summary = compare_sensor(msg, spec, data) if msg.kind == "sensor_batch" else compare_update(msg, spec, data)
            corruption = corruption_checks(data)
            mutations = mutation_checks(data, args.mutations, rng) if args.mutations > 0 else "no mutations"
        except Mismatch as error:
            print(f"FAIL {name}: {error}")
            failed += 1
            continue
        print(f"ok   {name}: {summary}; {len(data)} bytes")
        if args.verbose:
            print(f"       {corruption}")
            print(f"       {mutations}")
        passed += 1

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
