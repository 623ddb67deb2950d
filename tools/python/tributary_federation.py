#!/usr/bin/env python3
"""Independent implementation of Tributary's round arithmetic (docs/wire-format.md, "Aggregation" and "Rounds").

Written from the specification only, to check its worked examples and to cross-check the Swift aggregator:

  * ``RoundAggregate``: one round's (or one FedBuff buffer's) updates and the server step of every strategy
    (fedavg, fedavgm, fedadam, fedyogi, fedadagrad, median, trimmed_mean), with clipping, staleness weights,
    implicit zeros, and shard partials (``partial`` / ``merge``);
  * ``staleness_factor``, ``trim_count``;
  * ``draw`` / ``selected_devices``: the seeded device selection (SplitMix64 and a partial Fisher–Yates shuffle);
  * ``read_round_announcement`` / ``read_round_metrics``: the JSON messages with absent fields at their defaults,
    and ``holdout_mean`` (the metrics' ``holdout_accuracy``);
  * the sparse model downlink: ``downlink_k``, ``downlink_step`` (the aggregator's side) and ``DownlinkFollower``
    (a device following deltas, with the full model as fallback).

Arithmetic follows the specification: IEEE double everywhere, the model and the optimizer moments stored as
float32 (each stored value rounded from the double result).
"""

from __future__ import annotations

import base64
import json
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

import tributary_wire as tw

__all__ = [
    "STRATEGY_DEFAULTS",
    "MEAN_FAMILY",
    "Update",
    "OptimizerState",
    "RoundAggregate",
    "staleness_factor",
    "trim_count",
    "splitmix64",
    "draw",
    "selected_devices",
    "partial_arrays_base64",
    "ProtocolError",
    "DEFAULT_SELECTION",
    "read_round_announcement",
    "announcement_includes",
    "read_round_metrics",
    "holdout_mean",
    "downlink_k",
    "downlink_step",
    "DownlinkFollower",
]

#: Every strategy setting and its default (the aggregator configuration's `strategy` keys).
STRATEGY_DEFAULTS: dict[str, Any] = {
    "kind": "fedavg",
    "server_learning_rate": 1.0,
    "beta1": 0.9,
    "beta2": 0.99,
    "tau": 1e-3,
    "momentum": 0.9,
    "trim_fraction": 0.1,
    "clip_norm": 100.0,
    "staleness_exponent": 0.5,
    "max_weight": 1_000_000.0,
    "max_abs_value": 1_000.0,
}

MEAN_FAMILY = frozenset({"fedavg", "fedavgm", "fedadam", "fedyogi", "fedadagrad"})
ROBUST = frozenset({"median", "trimmed_mean"})


def _f32(x: float) -> float:
    """x rounded to float32 (nearest, ties to even), back as a Python float."""
    return float(np.float32(x))


def staleness_factor(staleness: int, exponent: float) -> float:
    """σ(s) = (1 + s)^(−a); exactly 1 when s = 0 or a = 0."""
    if staleness == 0 or exponent == 0:
        return 1.0
    return math.pow(1.0 + staleness, -exponent)


def trim_count(fraction: float, n: int) -> int:
    """t = 0 if f·N < 1, else ⌊min(f·N, ⌊(N − 1)/2⌋)⌋."""
    raw = fraction * n
    if not raw >= 1:
        return 0
    return int(math.floor(min(raw, float((n - 1) // 2))))


@dataclass
class Update:
    """One accepted update: sparse float32 values at strictly increasing indices, samples n, staleness s."""

    device: str
    indices: list[int]
    values: list[float]
    weight: float
    staleness: int = 0

    def __post_init__(self) -> None:
        self.values = [_f32(v) for v in self.values]
        self.indices = [int(i) for i in self.indices]


@dataclass
class OptimizerState:
    """Server optimizer state between rounds: float32 moments (None until a strategy first needs them)."""

    m: Optional[list[float]] = None
    v: Optional[list[float]] = None
    step: int = 0


@dataclass
class RoundAggregate:
    """The updates of one round, as the specification aggregates them."""

    strategy: dict[str, Any]
    dimension: int
    count: int = 0
    total_weight: float = 0.0
    devices: list[str] = field(default_factory=list)
    clipped: int = 0
    # Mean family: S_j (Σ w·c·u, or Σ c·u while the total weight is 0) at touched coordinates.
    sums: dict[int, float] = field(default_factory=dict)
    # Median / trimmed mean: (coordinate, c·u) of every update.
    entries: list[tuple[int, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.strategy = {**STRATEGY_DEFAULTS, **self.strategy}

    @property
    def kind(self) -> str:
        return self.strategy["kind"]

    def violation(self, update: Update) -> str | None:
        """The bound `update` breaks (`weight_too_large`, `value_out_of_range`), else None."""
        if not update.weight <= self.strategy["max_weight"]:
            return "weight_too_large"
        bound = self.strategy["max_abs_value"]
        if any(not abs(v) <= bound for v in update.values):
            return "value_out_of_range"
        return None

    def add(self, update: Update) -> None:
        """Folds one update in; an update outside the bounds raises ValueError naming the bound."""
        broken = self.violation(update)
        if broken is not None:
            raise ValueError(f"{update.device}: {broken}")
        norm_squares = 0.0
        for v in update.values:
            norm_squares += v * v
        norm = math.sqrt(norm_squares)
        clip = self.strategy["clip_norm"]
        c = clip / norm if clip is not None and norm > clip else 1.0
        w = update.weight * staleness_factor(update.staleness, self.strategy["staleness_exponent"])
        new_total = self.total_weight + w
        if self.kind in MEAN_FAMILY:
            if new_total > 0:
                if self.total_weight == 0:  # the first weighted update: weightless sums stop counting
                    self.sums = {j: 0.0 for j in self.sums}
                scale = w * c
            else:
                scale = c
            for j, v in zip(update.indices, update.values):
                self.sums[j] = self.sums.get(j, 0.0) + scale * v
        else:
            self.entries.extend((j, c * v) for j, v in zip(update.indices, update.values))
        self.count += 1
        self.total_weight = new_total
        self.devices.append(update.device)
        if c < 1:
            self.clipped += 1

    # -- shards ------------------------------------------------------------------------------------------------

    def partial(self) -> dict[str, Any]:
        """A shard's partial: touched indices ascending, their sums, Σ w, the devices."""
        if self.kind not in MEAN_FAMILY:
            raise ValueError(f"{self.kind} cannot be split into partials")
        indices = sorted(self.sums)
        return {
            "indices": indices,
            "sums": [self.sums[j] for j in indices],
            "total_weight": self.total_weight,
            "devices": list(self.devices),
        }

    def merge(self, partial: dict[str, Any]) -> None:
        """Adds a shard's partial (the root's merge)."""
        if self.kind not in MEAN_FAMILY:
            raise ValueError(f"{self.kind} cannot merge partials")
        weight = float(partial["total_weight"])
        if weight > 0:
            if self.total_weight == 0:
                self.sums = {j: 0.0 for j in self.sums}
            for j, s in zip(partial["indices"], partial["sums"]):
                self.sums[j] = self.sums.get(j, 0.0) + s
        else:
            for j, s in zip(partial["indices"], partial["sums"]):
                # Unweighted sums count only while no side has weight; the coordinate is touched either way.
                self.sums[j] = self.sums.get(j, 0.0) + (s if self.total_weight == 0 else 0.0)
        self.count += len(partial["devices"])
        self.total_weight += weight
        self.devices.extend(partial["devices"])

    # -- the server step ---------------------------------------------------------------------------------------

    def delta(self) -> dict[int, float]:
        """Δ_j at every touched coordinate."""
        if self.kind in MEAN_FAMILY:
            denominator = self.total_weight if self.total_weight > 0 else float(self.count)
            return {j: s / denominator for j, s in sorted(self.sums.items())}
        groups: dict[int, list[float]] = {}
        for j, v in self.entries:
            groups.setdefault(j, []).append(v)
        n = self.count
        t = trim_count(self.strategy["trim_fraction"], n)
        out = {}
        for j in sorted(groups):
            explicit = sorted(groups[j])
            zeros = max(0, n - len(explicit))
            negatives = [x for x in explicit if x < 0]
            rest = [x for x in explicit if not x < 0]
            full = negatives + [0.0] * zeros + rest  # ascending, implicit zeros included
            if self.kind == "median":
                out[j] = full[n // 2] if n % 2 == 1 else (full[n // 2 - 1] + full[n // 2]) / 2
            else:
                tt = max(0, min(t, (n - 1) // 2))
                kept = full[tt : n - tt]
                total = 0.0
                for x in kept:
                    total += x
                out[j] = total / len(kept)
        return out

    def apply(self, model: list[float], state: OptimizerState) -> tuple[list[float], OptimizerState, dict]:
        """The new float32 model and optimizer state, and the report (update_norm, applied_norm, ...)."""
        if self.count == 0:
            raise ValueError("nothing to aggregate")
        s = self.strategy
        eta = s["server_learning_rate"]
        x = [_f32(v) for v in model]
        old = list(x)
        delta = self.delta()
        kind = self.kind
        m = list(state.m) if state.m is not None else None
        v = list(state.v) if state.v is not None else None
        if kind in ("fedavg", "median", "trimmed_mean"):
            for j, d in delta.items():
                x[j] = _f32(x[j] + eta * d)
        else:
            if m is None:
                m = [0.0] * self.dimension
            if kind != "fedavgm" and v is None:
                v = [0.0] * self.dimension
            for j in range(self.dimension):
                d = delta.get(j, 0.0)
                if kind == "fedavgm":
                    new_m = s["momentum"] * m[j] + d
                    m[j] = _f32(new_m)
                    step = eta * new_m
                else:
                    new_m = s["beta1"] * m[j] + (1 - s["beta1"]) * d
                    square = d * d
                    if kind == "fedadam":
                        new_v = s["beta2"] * v[j] + (1 - s["beta2"]) * square
                    elif kind == "fedyogi":
                        diff = v[j] - square
                        sign = 1.0 if diff > 0 else -1.0 if diff < 0 else 0.0
                        new_v = v[j] - (1 - s["beta2"]) * square * sign
                    else:  # fedadagrad
                        new_v = v[j] + square
                    m[j] = _f32(new_m)
                    v[j] = _f32(new_v)
                    step = eta * new_m / (math.sqrt(new_v) + s["tau"])
                x[j] = _f32(x[j] + step)
        update_squares = 0.0
        for d in delta.values():
            update_squares += d * d
        applied_squares = 0.0
        model_squares = 0.0
        for a, b in zip(x, old):
            applied_squares += (a - b) * (a - b)
            model_squares += a * a
        report = {
            "participants": self.count,
            "total_weight": self.total_weight,
            "clipped": self.clipped,
            "update_norm": math.sqrt(update_squares),
            "applied_norm": math.sqrt(applied_squares),
            "model_norm": math.sqrt(model_squares),
            "delta": [delta.get(j, 0.0) for j in range(self.dimension)],
        }
        return x, OptimizerState(m=m, v=v, step=state.step + 1), report


def partial_arrays_base64(partial: dict[str, Any]) -> tuple[str, str]:
    """The shard partial's `indices` (u32 little-endian) and `sums` (f64 little-endian) as padded base64."""
    indices = b"".join(struct.pack("<I", i) for i in partial["indices"])
    sums = b"".join(struct.pack("<d", s) for s in partial["sums"])
    return base64.b64encode(indices).decode(), base64.b64encode(sums).decode()


# ------------------------------------------------------------------------------------------------------------
# Selection

_MASK = (1 << 64) - 1


def splitmix64(state: int) -> tuple[int, int]:
    """One SplitMix64 step: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & _MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return state, z ^ (z >> 31)


def draw(candidates: list[str], count: int, seed: int) -> list[str]:
    """`count` of the (sorted) candidates: a partial Fisher–Yates shuffle driven by SplitMix64(seed), sorted."""
    pool = list(candidates)
    state = seed & _MASK
    for i in range(count):
        state, r = splitmix64(state)
        j = i + r % (len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    return sorted(pool[:count], key=lambda s: s.encode("utf-8"))


def selected_devices(online: list[str], mode: str, value: float, seed: int, round_: int) -> Optional[list[str]]:
    """The `devices` a synchronous round `round_` announces (None: the round waits; [] is open to all).

    `min_participants` is not applied here: a fraction/count round also waits while fewer devices than it are
    online."""
    if mode == "all":
        return []
    candidates = sorted(set(online), key=lambda s: s.encode("utf-8"))
    wanted = int(value) if mode == "count" else int(math.ceil(len(candidates) * value))
    if wanted < 1:
        return None
    return draw(candidates, min(wanted, len(candidates)), (seed ^ round_) & _MASK)



# ------------------------------------------------------------------------------------------------------------
# Control messages (JSON): what this module reads of them

#: The `selection` an announcement leaves out (only this exact value is left out).
DEFAULT_SELECTION: dict[str, Any] = {"mode": "all", "value": 1, "seed": 1}


class ProtocolError(Exception):
    """A JSON control message refused: ``code`` is ``malformed`` or ``unsupported_version`` (this reader checks
    the shape and the version, not every range)."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def _json_object(message: Any, what: str) -> dict[str, Any]:
    if isinstance(message, (bytes, bytearray, memoryview)):
        message = bytes(message).decode("utf-8", errors="strict")
    if isinstance(message, str):
        try:
            message = json.loads(message)
        except json.JSONDecodeError as error:
            raise ProtocolError("malformed", f"{what}: {error}") from None
    if not isinstance(message, dict):
        raise ProtocolError("malformed", f"{what} is not a JSON object")
    return message


def _require(obj: dict[str, Any], keys: tuple[str, ...], what: str) -> None:
    for key in keys:
        if key not in obj or obj[key] is None:
            raise ProtocolError("malformed", f"{what}: missing key {key!r}")


def _check_version(obj: dict[str, Any], what: str) -> None:
    if obj.get("v") != 1:
        raise ProtocolError("unsupported_version", f"{what} version {obj.get('v')!r}")


def read_round_announcement(message: Any) -> dict[str, Any]:
    """A round announcement (bytes, text or a parsed object) with every field present: a missing `selection` is
    {all, 1, 1}, missing `devices` is [] (open to all), a missing `training.prox_mu` is 0 and a missing
    `training.k_fraction` is None (the specification's `codec.k_fraction`)."""
    obj = _json_object(message, "round announcement")
    _require(obj, ("v", "task", "round", "spec_hash", "model_hash", "mode", "deadline_ms", "training"),
             "round announcement")
    training = obj["training"]
    if not isinstance(training, dict):
        raise ProtocolError("malformed", "round announcement: training is not an object")
    _require(training, ("samples",), "round announcement training")
    _check_version(obj, "round announcement")
    out = dict(obj)
    out["selection"] = dict(obj["selection"]) if obj.get("selection") is not None else dict(DEFAULT_SELECTION)
    out["devices"] = list(obj["devices"]) if obj.get("devices") is not None else []
    out["training"] = {
        **training,
        "prox_mu": training.get("prox_mu") if training.get("prox_mu") is not None else 0.0,
        "k_fraction": training.get("k_fraction"),
    }
    return out


def announcement_includes(announcement: dict[str, Any], device: str) -> bool:
    """Whether `device` takes part: `devices` empty (or absent) or listing it."""
    devices = announcement.get("devices") or []
    return not devices or device in devices


def read_round_metrics(message: Any) -> dict[str, Any]:
    """Round metrics with the optional fields present: `reason`, `evaluation`, `holdout_accuracy` and
    `holdout_devices` are None when absent."""
    obj = _json_object(message, "round metrics")
    _require(obj, ("v", "task", "round", "status", "accepted", "rejected", "total_weight", "model_hash",
                   "update_norm", "model_norm", "duration_ms", "bytes_in"), "round metrics")
    _check_version(obj, "round metrics")
    out = dict(obj)
    for key in ("reason", "evaluation", "holdout_accuracy", "holdout_devices"):
        out.setdefault(key, None)
    return out


def _round_half_away(x: float) -> float:
    a = abs(x)
    q = math.floor(a)
    if a - q >= 0.5:
        q += 1
    return math.copysign(q, x)


def holdout_mean(accuracies: list[float]) -> Optional[float]:
    """The metrics' `holdout_accuracy` from the metric-1 values of the aggregated updates, in the order of
    `accepted`: each float32 widened to double, summed in order, divided by their number, rounded to 4 decimals
    (halves away from zero). None when there are none (the field is then absent)."""
    if not accuracies:
        return None
    total = 0.0
    for a in accuracies:
        total += float(np.float32(a))
    return _round_half_away(total / len(accuracies) * 10_000) / 10_000


# ------------------------------------------------------------------------------------------------------------
# The sparse model downlink (codec.downlink_k_fraction < 1)


def downlink_k(dimension: int, fraction: float) -> int:
    """k = max(1, min(n, round(n·f))), halves away from zero."""
    return max(1, min(dimension, int(_round_half_away(dimension * fraction))))


def downlink_step(model: Any, broadcast: Any, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One aggregation's downlink: from the aggregator's own model x and the broadcast model b, the k indices of
    largest |x − b| (float32 difference; ties to the lower index), ascending, the values to send there (x − b,
    to be int8-quantised by the encoder), and the new broadcast model b + decoded values (float32 additions)."""
    x = np.asarray(model, dtype=np.float32).reshape(-1)
    b = np.array(broadcast, dtype=np.float32, copy=True).reshape(-1)
    if x.size != b.size:
        raise ValueError("the model and the broadcast model differ in size")
    d = (x - b).astype(np.float32)
    k = downlink_k(d.size, fraction)
    magnitudes = np.abs(d).astype(np.float64)
    order = np.lexsort((np.arange(d.size), -magnitudes))  # largest first, lower index first among equals
    indices = np.sort(order[:k]).astype(np.uint32)
    values = d[indices]
    _, decoded = tw.quantize_values(values, "int8")
    b[indices.astype(np.int64)] += decoded
    return indices, values, b


@dataclass
class DownlinkFollower:
    """A device's model: the parameters it holds, their round and hash, and whether it listens to the retained
    full model (it stops once it holds the full model and the task's downlink is sparse)."""

    parameters: np.ndarray
    round: int = 0
    sparse_downlink: bool = True
    follows_full_model: bool = True
    hash: int = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = np.array(self.parameters, dtype=np.float32, copy=True).reshape(-1)
        self.hash = tw.model_hash(self.parameters)

    def _hold(self, parameters: np.ndarray, round_: int, hash_: int) -> bool:
        if hash_ == self.hash:
            return False
        self.parameters, self.round, self.hash = parameters, round_, hash_
        return True

    def offer_model(self, message: dict) -> bool:
        """A decoded dense model (`{p}/fl/{task}/model`); adopted when its hash is its content's and differs from
        the one held. Returns whether it was adopted."""
        if message.get("type") != "denseModel":
            raise ValueError("not a dense model")
        parameters = np.asarray(message["values"], dtype=np.float32).copy()
        hash_ = int(message["base_model_hash"], 16)
        if tw.model_hash(parameters) != hash_:
            raise ValueError("a model whose content is not its hash")
        adopted = self._hold(parameters, int(message["round"]), hash_)
        if self.sparse_downlink and self.hash == hash_:
            self.follows_full_model = False
        return adopted

    def offer_delta(self, message: dict) -> str:
        """A decoded sparse model delta (`{p}/fl/{task}/model/delta`): ``applied``; ``ignored`` (its round is not
        above the one held, unless the held round is 0); or ``needs_full_model`` (its base is not the model held:
        the device listens to the full model again)."""
        if message.get("type") != "sparseModelDelta":
            raise ValueError("not a sparse model delta")
        round_ = int(message["round"])
        if self.round != 0 and round_ <= self.round:
            return "ignored"
        try:
            parameters = tw.apply_model_delta(self.parameters, message)
        except tw.BaseMismatch:
            self.follows_full_model = True
            return "needs_full_model"
        self._hold(parameters, round_, tw.model_hash(parameters))
        return "applied"

    def offer_announcement(self, announcement: dict[str, Any]) -> None:
        """A round for a model this device does not hold: listen to the full model again."""
        if int(announcement["model_hash"], 16) != self.hash:
            self.follows_full_model = True
