#!/usr/bin/env python3
"""Independent implementation of Tributary's round arithmetic (docs/wire-format.md, "Aggregation" and "Rounds").

Written from the specification only, to check its worked examples and to cross-check the Swift aggregator:

  * ``RoundAggregate``: one round's (or one FedBuff buffer's) updates and the server step of every strategy
    (fedavg, fedavgm, fedadam, fedyogi, fedadagrad, median, trimmed_mean), with clipping, staleness weights,
    implicit zeros, and shard partials (``partial`` / ``merge``);
  * ``staleness_factor``, ``trim_count``;
  * ``draw`` / ``selected_devices``: the seeded device selection (SplitMix64 and a partial Fisher–Yates shuffle).

Arithmetic follows the specification: IEEE double everywhere, the model and the optimizer moments stored as
float32 (each stored value rounded from the double result).
"""

from __future__ import annotations

import base64
import math
import struct
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

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
    "clip_norm": None,
    "staleness_exponent": 0.5,
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

    def add(self, update: Update) -> None:
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
