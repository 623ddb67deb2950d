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

Then (unless ``--no-doc``) it checks every worked example of docs/wire-format.md (fenced blocks with the info
string ``example <kind>``, JSON inside) against the independent implementations in tributary_wire.py (CRC32C,
model hash, value quantisers, the update writer and reader) and tributary_federation.py (every aggregation
strategy, shard partials, staleness weights, device selection): bit-level outputs exactly, floating-point outputs
within 1e-6 relative.

Last (unless ``--no-self``), self-checks of what the document specifies without an example block the Swift suite
could check: the metrics trailer (layout, reading back, every rejection), the sparse model downlink (a device
following deltas holds the broadcast model bit for bit, and falls back to the full model), and round
announcements and metrics with their optional fields absent.

Prints one line per vector and per example and a closing ``N passed, N failed`` line; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import re
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

import tributary_federation as tf  # noqa: E402
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
    if "metrics" in spec:
        got = {str(k): float(v) for k, v in msg["metrics"].items()}
        want = {str(k): float(np.float32(v)) for k, v in spec["metrics"].items()}
        field(got, want, "metrics")
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
        metrics = list(msg["metrics"].items())
        if bool(metrics) != bool(msg["flags"] & 4) or len(metrics) > 16:
            raise Mismatch("accepted a metrics trailer that does not match flag bit 2 or holds over 16 entries")
        ids = [metric for metric, _ in metrics]
        if ids != sorted(set(ids)) or not all(np.isfinite(v) for _, v in metrics):
            raise Mismatch("accepted metric ids that do not increase, or a non-finite metric")
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


# --------------------------------------------------------------------------------------------------------------
# The worked examples of docs/wire-format.md: fenced blocks with the info string "example <kind>", holding JSON.

DEFAULT_DOC = REPO / "docs/wire-format.md"
EXAMPLE_FENCE = re.compile(r"^```example[ \t]+([a-z0-9-]+)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
RELATIVE = 1e-6


def doc_examples(text: str) -> list[tuple[str, int, Any]]:
    """(kind, line number, parsed JSON) of every example block of the document, in order."""
    out = []
    for match in EXAMPLE_FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        try:
            out.append((match.group(1), line, json.loads(match.group(2))))
        except json.JSONDecodeError as error:
            out.append((match.group(1), line, error))
    return out


def close(got: float, want: float, what: str) -> None:
    """|got − want| ≤ 10⁻⁶·|want| (and 10⁻¹² absolute, for an expected 0)."""
    got, want = float(got), float(want)
    if not abs(got - want) <= RELATIVE * abs(want) + 1e-12:
        raise Mismatch(f"{what} = {got!r}, expected {want!r}")


def close_all(got: list[float], want: list[float], what: str) -> None:
    if len(got) != len(want):
        raise Mismatch(f"{what}: {len(got)} values, expected {len(want)}")
    for i, (a, b) in enumerate(zip(got, want)):
        close(a, b, f"{what}[{i}]")


def f32_exact(got: Any, want: list[Any], what: str) -> None:
    """Float32 outputs: the same float32 as the expected decimal rounded to float32."""
    f32_equal(np.asarray(got, dtype=np.float32), want, what)


def hex32(value: int) -> str:
    return format(value & 0xFFFFFFFF, "08x")


def check_model_hash(example: dict) -> str:
    check = example["check"]
    ascii_bytes = check["ascii"].encode("ascii")
    field(hex32(tw.crc32c(ascii_bytes)), check["crc32c"], "CRC32C of the check string")
    field(hex32(tw.crc32c(ascii_bytes, 0x5EED1234)), check["crc32c_from_5eed1234"], "seeded CRC32C of the check string")
    raw = np.asarray(np.asarray(example["parameters"], dtype=np.float64), dtype="<f4").tobytes()
    field(raw.hex(), example["bytes"], "parameter bytes")
    field(len(raw) // 4, example["n"], "n")
    field(hex32(0x5EED1234 ^ 0xFFFFFFFF), example["register_start"], "register start")
    field(hex32(tw.crc32c(raw)), example["crc32c"], "CRC32C(P, 0)")
    field(hex32(tw.crc32c(raw, 0x5EED1234)), example["crc32c_from_5eed1234"], "CRC32C(P, 0x5EED1234)")
    field(format(tw.model_hash(example["parameters"]), "016x"), example["hash"], "model hash")
    return f"model hash {example['hash']} of {example['n']} parameters"


def check_values(example: dict) -> str:
    names = []
    for number, case in enumerate(example["cases"]):
        what = f"case {number} ({case['encoding']})"
        section, decoded = tw.quantize_values(case["values"], case["encoding"])
        field(section.hex(), case["section"], f"{what}: section")
        f32_exact(decoded, case["decoded"], f"{what}: encoder's decoded values")
        reader = tw._Reader(section)
        read = tw._read_values(reader, tw.VALUE_CODES[case["encoding"]], len(case["values"]))
        reader.expect_end("value section")
        f32_exact(read, case["decoded"], f"{what}: values read back")
        names.append(case["encoding"])
    return "value sections " + ", ".join(names)


def check_update_messages(example: dict) -> str:
    sizes = []
    for number, spec in enumerate(example["messages"]):
        what = f"message {number} ({spec['type']})"
        data = tw.encode_update(
            task=spec["task"], round=spec["round"], device=spec["device"], sample_weight=spec["sample_weight"],
            dimension=spec["dimension"], indices=spec["indices"], values=spec["values"],
            value_encoding=spec["value_encoding"], model_hash_value=int(spec["model_hash"], 16),
            message_type=spec["type"])
        field(data.hex(), spec["hex"], f"{what}: bytes")
        msg = tw.decode_update(bytes.fromhex(spec["hex"]))
        for key in ("type", "task", "round", "device", "sample_weight", "dimension", "value_encoding",
                    "index_encoding"):
            field(msg[key], spec[key], f"{what}: {key}")
        field(int(msg["base_model_hash"], 16), int(spec["model_hash"], 16), f"{what}: model hash")
        int_equal(msg["indices"], spec["indices"], f"{what}: indices")
        _, decoded = tw.quantize_values(spec["values"], spec["value_encoding"])
        f32_exact(msg["values"], decoded.tolist(), f"{what}: values")
        if spec["type"] == "denseModel":
            field(format(tw.model_hash(msg["values"]), "016x"), spec["model_hash"], f"{what}: own hash")
        sizes.append(f"{spec['type']} {len(data)} B")
    return "messages " + ", ".join(sizes)


def _updates(entries: list[dict]) -> list[tf.Update]:
    return [tf.Update(u["device"], u["indices"], u["values"], u["weight"], u.get("staleness", 0)) for u in entries]


def check_aggregate(example: dict) -> str:
    state = tf.OptimizerState()
    model = [float(np.float32(v)) for v in example["model"]]
    for number, round_ in enumerate(example["rounds"]):
        what = f"round {number + 1}"
        aggregate = tf.RoundAggregate(strategy=example["strategy"], dimension=example["dimension"])
        for update in _updates(round_["updates"]):
            aggregate.add(update)
        model, state, report = aggregate.apply(model, state)
        want = round_["expected"]
        close_all(report["delta"], want["delta"], f"{what}: delta")
        close_all(model, want["model"], f"{what}: model")
        for key in ("m", "v"):
            got = getattr(state, key)
            if key in want:
                if got is None:
                    raise Mismatch(f"{what}: no {key}, expected one")
                close_all(got, want[key], f"{what}: {key}")
            elif got is not None:
                raise Mismatch(f"{what}: the strategy keeps {key}, the example does not list it")
        close(report["total_weight"], want["total_weight"], f"{what}: total_weight")
        close(report["update_norm"], want["update_norm"], f"{what}: update_norm")
        field(report["clipped"], want["clipped"], f"{what}: clipped")
    return f"{example['name']}: {len(example['rounds'])} round(s)"


def check_partial(example: dict) -> str:
    root = tf.RoundAggregate(strategy=example["strategy"], dimension=example["dimension"])
    for shard in sorted(example["shards"], key=lambda s: s["shard"]):
        what = f"shard {shard['shard']}"
        aggregate = tf.RoundAggregate(strategy=example["strategy"], dimension=example["dimension"])
        for update in _updates(shard["updates"]):
            aggregate.add(update)
        partial = aggregate.partial()
        want = shard["expected"]
        int_equal(partial["indices"], want["indices"], f"{what}: indices")
        close_all(partial["sums"], want["sums"], f"{what}: sums")
        close(partial["total_weight"], want["total_weight"], f"{what}: total_weight")
        field(partial["devices"], want["devices"], f"{what}: devices")
        indices64, sums64 = tf.partial_arrays_base64(partial)
        field(indices64, want["indices_base64"], f"{what}: indices base64")
        field(sums64, want["sums_base64"], f"{what}: sums base64")
        # The root merges what the message carries: decode the base64 back.
        raw_indices = base64.b64decode(want["indices_base64"], validate=True)
        raw_sums = base64.b64decode(want["sums_base64"], validate=True)
        root.merge({
            "indices": list(struct.unpack(f"<{len(raw_indices) // 4}I", raw_indices)),
            "sums": list(struct.unpack(f"<{len(raw_sums) // 8}d", raw_sums)),
            "total_weight": want["total_weight"],
            "devices": want["devices"],
        })
    model, _, report = root.apply(example["model"], tf.OptimizerState())
    want = example["expected"]
    field(root.count, want["count"], "root: count")
    close(root.total_weight, want["total_weight"], "root: total_weight")
    close_all(report["delta"], want["delta"], "root: delta")
    close_all(model, want["model"], "root: model")
    return f"{len(example['shards'])} shard partials merged"


def check_selection(example: dict) -> str:
    candidates = sorted(set(example["online"]), key=lambda s: s.encode("utf-8"))
    field(candidates, example["candidates"], "candidates")
    generator = example["splitmix64"]
    state = generator["seed"]
    outputs = []
    for _ in generator["outputs"]:
        state, value = tf.splitmix64(state)
        outputs.append(format(value, "016x"))
    field(outputs, generator["outputs"], "SplitMix64 outputs")
    draws = 0
    for draw in example["draws"]:
        for round_ in draw["rounds"]:
            got = tf.selected_devices(example["online"], draw["mode"], draw["value"], draw["seed"], round_["round"])
            field(got, round_["devices"], f"{draw['mode']} {draw['value']} round {round_['round']}")
            draws += 1
    return f"{draws} selections"


def check_staleness(example: dict) -> str:
    for case in example["cases"]:
        close(tf.staleness_factor(case["staleness"], case["exponent"]), case["factor"],
              f"σ({case['staleness']}) with a = {case['exponent']}")
    return f"{len(example['cases'])} staleness factors"


# --------------------------------------------------------------------------------------------------------------
# Self-checks: what the document specifies without an example block (the Swift suite's example kinds cannot carry a
# metrics trailer, a model delta or an announcement), checked against the Python implementations.

# The document's first update-message example (int8, bitmap), as the base of the metrics trailer checks.
_TRAILER_BASE = dict(task="har", round=7, device="dev-1", sample_weight=120, dimension=20, indices=[2, 3, 11, 19],
                     values=[0.5, -0.25, 0.1, -0.0625], value_encoding="int8", model_hash_value=0x24114A1184ABB8FB)


def _with_trailer(plain: bytes, trailer: bytes, extra_flags: int = 4) -> bytes:
    """`plain` (an encoded message without trailers) with flag bits `extra_flags` set and `trailer` before a new
    CRC."""
    body = bytearray(plain[:-4])
    body[6] |= extra_flags
    return with_crc(bytes(body) + trailer)


def check_metrics_trailer() -> str:
    plain = tw.encode_update(**_TRAILER_BASE)
    trailer = bytes.fromhex("010100 00503f".replace(" ", ""))  # one metric: id 1, 0.8125 (the document's example)
    data = tw.encode_update(**_TRAILER_BASE, metrics={tw.METRIC_HOLDOUT_ACCURACY: 0.8125})
    field(data.hex(), _with_trailer(plain, trailer).hex(), "trailer layout (flag bit 2, before the CRC)")
    msg = tw.decode_update(data)
    field({k: float(v) for k, v in msg["metrics"].items()}, {1: 0.8125}, "metrics read back")
    plain_msg = tw.decode_update(plain)
    field(plain_msg["metrics"], {}, "metrics of a message without a trailer")
    int_equal(msg["indices"], plain_msg["indices"].tolist(), "indices with a trailer")
    f32_exact(msg["values"], plain_msg["values"].tolist(), "values with a trailer")
    # Unknown ids are kept; a signature trailer follows the metrics trailer.
    several = tw.encode_update(**_TRAILER_BASE, metrics={9: -2.5, 1: 0.75, 200: 3.0}, signature=b"\xab\xcd")
    msg = tw.decode_update(several)
    field({k: float(v) for k, v in msg["metrics"].items()}, {1: 0.75, 9: -2.5, 200: 3.0}, "several metrics")
    field(msg["signature"], b"\xab\xcd", "signature after the metrics trailer")
    entry = lambda metric, value: struct.pack("<B", metric) + struct.pack("<f", value)  # noqa: E731
    rejections = [
        ("count 0", b"\x00", "count_out_of_range"),
        ("count 17", bytes([17]) + b"".join(entry(i, 0.5) for i in range(17)), "count_out_of_range"),
        ("ids 2, 1", b"\x02" + entry(2, 0.5) + entry(1, 0.5), "unsorted"),
        ("ids 1, 1", b"\x02" + entry(1, 0.5) + entry(1, 0.5), "unsorted"),
        ("NaN", b"\x01" + entry(1, float("nan")), "non_finite"),
        ("-inf", b"\x01" + entry(1, float("-inf")), "non_finite"),
        ("count 2, one entry", b"\x02" + entry(1, 0.5), "truncated"),
        ("entry cut short", b"\x01" + entry(1, 0.5)[:3], "truncated"),
        ("flag set, no trailer", b"", "truncated"),
        ("a byte after the entry", b"\x01" + entry(1, 0.5) + b"\x00", "length_mismatch"),
    ]
    for name, raw, code in rejections:
        expect_wire_error(_with_trailer(plain, raw), {code}, f"metrics trailer {name}")
    expect_wire_error(_with_trailer(plain, b"", extra_flags=16), {"malformed"}, "flag bit 4")
    # The federation epoch (flag bit 3): 8 bytes after the body, before the metrics trailer.
    epoch = 0x0123456789ABCDEF
    with_epoch = tw.encode_update(**_TRAILER_BASE, epoch=epoch, metrics={tw.METRIC_HOLDOUT_ACCURACY: 0.8125})
    field(
        with_epoch.hex(), _with_trailer(plain, struct.pack("<Q", epoch) + trailer, extra_flags=12).hex(),
        "epoch layout (flag bit 3, before the metrics trailer)")
    field(tw.decode_update(with_epoch)["epoch"], epoch, "epoch read back")
    expect_wire_error(_with_trailer(plain, b"\x01\x02", extra_flags=8), {"truncated"}, "epoch cut short")
    return f"metrics trailer and epoch: layout, read back, unknown ids kept, {len(rejections) + 2} rejections"


def check_downlink() -> str:
    rng = np.random.default_rng(7)
    n, fraction, task = 600, 0.5, "har"
    model = rng.standard_normal(n).astype(np.float32)
    broadcast = model.copy()
    follower = tf.DownlinkFollower(broadcast, round=1)
    late = tf.DownlinkFollower(broadcast, round=1)
    field(tf.downlink_k(n, fraction), 300, "k")
    field((tf.downlink_k(10, 0.25), tf.downlink_k(10, 0.01), tf.downlink_k(3, 0.9)), (3, 1, 3), "k rounding")
    messages = []
    for r in range(1, 6):
        touched = rng.choice(n, size=120, replace=False)
        model[touched] = (model[touched] + rng.standard_normal(120).astype(np.float32) * np.float32(0.1)).astype(
            np.float32)
        base_hash = tw.model_hash(broadcast)
        indices, values, broadcast = tf.downlink_step(model, broadcast, fraction)
        data = tw.encode_update(task=task, round=r + 1, dimension=n, indices=indices, values=values,
                                value_encoding="int8", model_hash_value=base_hash, message_type="sparseModelDelta")
        delta = tw.decode_update(data, expected_task=task, expected_dimension=n)
        messages.append(delta)
        field((delta["type"], delta["device"], delta["sample_weight"], delta["k"]), ("sparseModelDelta", "", 0, 300),
              f"round {r}: delta header")
        field(follower.offer_delta(delta), "applied", f"round {r}: delta")
        if not np.array_equal(follower.parameters.view(np.uint32), broadcast.view(np.uint32)):
            raise Mismatch(f"round {r}: the follower's parameters are not the broadcast model bit for bit")
        field(follower.hash, tw.model_hash(broadcast), f"round {r}: hash")
        field(follower.follows_full_model, True, f"round {r}: still on the full model (never adopted one)")
        if r != 2:  # the late device misses round 2's delta
            verdict = late.offer_delta(delta)
            field(verdict, "applied" if r < 2 else "needs_full_model", f"round {r}: late device")
    field(late.follows_full_model, True, "late device back on the full model")
    full = tw.decode_update(tw.encode_update(task=task, round=7, dimension=n, indices=np.arange(n), values=broadcast,
                                             value_encoding="float32", model_hash_value=tw.model_hash(broadcast),
                                             message_type="denseModel"))
    field(late.offer_model(full), True, "late device adopts the full model")
    field((late.hash, late.follows_full_model), (follower.hash, False), "late device in step, off the full model")
    field(late.offer_delta(messages[-1]), "ignored", "a delta not newer than the model held")
    late.offer_announcement({"model_hash": format(late.hash ^ 1, "016x")})
    field(late.follows_full_model, True, "a round for another model: back on the full model")
    left = float(np.linalg.norm((model - broadcast).astype(np.float64)))
    return (f"sparse downlink: 5 int8 deltas (n {n}, k 300) applied bit for bit, fallback to the full model; "
            f"‖x − b‖ {left:.3g}")


def check_control_messages() -> str:
    minimal = (b'{"deadline_ms":1700000000000,"mode":"sync","model_hash":"24114a1184abb8fb","round":3,'
               b'"spec_hash":"0123456789abcdef","task":"har","training":{"samples":100},"v":1}')
    a = tf.read_round_announcement(minimal)
    field(a["selection"], {"mode": "all", "value": 1, "seed": 1}, "absent selection")
    field(a["devices"], [], "absent devices")
    field((a["training"]["prox_mu"], a["training"]["k_fraction"]), (0.0, None), "absent prox_mu and k_fraction")
    field(tf.announcement_includes(a, "anyone"), True, "an open round")
    full = json.loads(minimal)
    full.update(selection={"mode": "count", "seed": 42, "value": 2}, devices=["d1", "d2"])
    full["training"].update(prox_mu=0.01, k_fraction=0.05)
    a = tf.read_round_announcement(full)
    field((a["selection"]["mode"], a["devices"], a["training"]["prox_mu"], a["training"]["k_fraction"]),
          ("count", ["d1", "d2"], 0.01, 0.05), "fields present")
    field((tf.announcement_includes(a, "d2"), tf.announcement_includes(a, "d3")), (True, False), "a selection")
    for bad, code in ((dict(json.loads(minimal), v=2), "unsupported_version"),
                      ({k: v for k, v in json.loads(minimal).items() if k != "training"}, "malformed")):
        try:
            tf.read_round_announcement(bad)
        except tf.ProtocolError as error:
            field(error.code, code, "refused announcement")
        else:
            raise Mismatch(f"accepted an announcement that should be {code}")
    metrics = tf.read_round_metrics(
        b'{"accepted":["a","b"],"bytes_in":10,"duration_ms":5,"model_hash":"24114a1184abb8fb","model_norm":1.5,'
        b'"rejected":{},"round":3,"status":"aggregated","task":"har","total_weight":2,"update_norm":0.5,"v":1}')
    field((metrics["holdout_accuracy"], metrics["holdout_devices"]), (None, None), "absent hold-out fields")
    field(tf.holdout_mean([0.8125, 0.75, 0.5]), 0.6875, "hold-out mean")
    field(tf.holdout_mean([0.9, 0.8]), 0.85, "hold-out mean of float32 values, 4 decimals")
    field(tf.holdout_mean([]), None, "no hold-out accuracy reported")
    return "announcement defaults (selection, devices, prox_mu), round metrics' hold-out fields"


SELF_CHECKS = {
    "metrics-trailer": check_metrics_trailer,
    "downlink": check_downlink,
    "control-messages": check_control_messages,
}


def run_self_checks() -> tuple[int, int]:
    passed = failed = 0
    for name, check in SELF_CHECKS.items():
        try:
            summary = check()
        except (Mismatch, KeyError, TypeError, ValueError) as error:
            print(f"FAIL self-check {name}: {error}")
            failed += 1
            continue
        print(f"ok   self-check {name}: {summary}")
        passed += 1
    return passed, failed


def check_signatures(example: dict) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(example["seed"]))
    public = key.public_key()
    field(public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex(), example["public_key"], "public key")
    unsigned = bytes.fromhex(example["unsigned"])
    signed = tw.sign_update(unsigned, key)
    field(signed.hex(), example["signed"], "signed update")
    body, signature = tw.signed_update_parts(signed)
    field(len(body), example["signed_bytes"], "signed bytes")
    field(signature.hex(), example["signature"], "signature")
    if not tw.verify_update(signed, Ed25519PublicKey.from_public_bytes(bytes.fromhex(example["public_key"]))):
        raise Mismatch("the signed update does not verify")
    forged = bytearray(signed)
    forged[10] ^= 1  # the round
    forged[-4:] = struct.pack("<I", tw.crc32c(bytes(forged[:-4])))
    if tw.verify_update(bytes(forged), public):
        raise Mismatch("a changed round still verifies")
    if tw.decode_update(signed)["round"] != tw.decode_update(unsigned)["round"]:
        raise Mismatch("the signed update decodes differently")
    sealed = tw.seal_json(example["json"].encode(), key)
    field(sealed.decode(), example["json_signed"], "signed JSON")
    opened, json_signature = tw.open_signed_json(sealed)
    field(opened.decode(), example["json"], "signed JSON body")
    public.verify(json_signature, opened)
    if tw.open_signed_json(example["json"].encode())[1] is not None:
        raise Mismatch("an unsigned JSON message has a signature")
    return f"Ed25519 update trailer and JSON member, {len(signed) - len(unsigned)} bytes added to the update"


EXAMPLE_CHECKS = {
    "signatures": check_signatures,
    "model-hash": check_model_hash,
    "values": check_values,
    "update-message": check_update_messages,
    "aggregate": check_aggregate,
    "partial": check_partial,
    "selection": check_selection,
    "staleness": check_staleness,
}


def check_doc(path: Path) -> tuple[int, int]:
    """Checks every example block of the document; prints one line per block. Returns (passed, failed)."""
    name = os.path.relpath(path, REPO) if path.is_relative_to(REPO) else str(path)
    try:
        examples = doc_examples(path.read_text(encoding="utf-8"))
    except OSError as error:
        print(f"FAIL {name}: {error}")
        return 0, 1
    if not examples:
        print(f"FAIL {name}: no example blocks")
        return 0, 1
    passed = failed = 0
    for kind, line, example in examples:
        where = f"{name}:{line} example {kind}"
        try:
            if isinstance(example, Exception):
                raise Mismatch(f"not JSON: {example}")
            check = EXAMPLE_CHECKS.get(kind)
            if check is None:
                raise Mismatch(f"unknown example kind (known: {', '.join(EXAMPLE_CHECKS)})")
            summary = check(example)
        except (Mismatch, KeyError, TypeError, ValueError) as error:
            detail = f"missing key {error}" if isinstance(error, KeyError) else str(error)
            print(f"FAIL {where}: {detail}")
            failed += 1
            continue
        print(f"ok   {where}: {summary}")
        passed += 1
    return passed, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="*", type=Path, help="fixture directories (default: both test fixture dirs)")
    parser.add_argument("--mutations", type=int, default=500, help="random re-checksummed mutations per vector")
    parser.add_argument("--seed", type=int, default=20240501)
    parser.add_argument("-v", "--verbose", action="store_true", help="print the robustness checks' details")
    parser.add_argument("--doc", type=Path, default=DEFAULT_DOC, help="the specification whose examples to check")
    parser.add_argument("--no-doc", action="store_true", help="skip the document's examples")
    parser.add_argument("--no-self", action="store_true", help="skip the self-checks (trailer, downlink, JSON)")
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

    if not args.no_doc:
        doc_passed, doc_failed = check_doc(args.doc)
        passed += doc_passed
        failed += doc_failed

    if not args.no_self:
        self_passed, self_failed = run_self_checks()
        passed += self_passed
        failed += self_failed

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
