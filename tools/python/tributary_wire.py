#!/usr/bin/env python3
"""Independent reader for Tributary's binary wire formats (docs/wire-format.md).

Decodes
  * sensor frame batches (magic "TSFB", message type 0x10) with ``decode_sensor_batch``;
  * updates and models (magic "TUPD", message types 0x20 / 0x30 / 0x31), their metrics trailer (flag bit 2)
    included, with ``decode_update``; ``apply_model_delta`` applies a sparse model delta as a device does;
  * either of them, chosen by the magic, with ``decode``.

Every payload is validated the way the specification asks before anything is returned (checksum, magic,
version, type, flags, counts, lengths, indices, finite values, decompressed size). A rejection raises
``WireError`` whose ``code`` is one of the specification's reason names (``truncated``, ``bad_checksum``, ...).

This module is written from the specification only; it is meant to cross-check the Swift codecs.

Command line::

    python3 tools/python/tributary_wire.py FILE [--json] [--max-bytes N] [--max-dimension N]

Exit status 0 on success, 1 (with ``code: message`` on stderr) when the input is rejected or unreadable.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import struct
import sys
from typing import Any, Callable, Optional

import numpy as np

__all__ = [
    "WireError",
    "REASONS",
    "crc32c",
    "model_hash",
    "decode",
    "decode_sensor_batch",
    "decode_update",
    "dense",
    "apply_model_delta",
    "BaseMismatch",
    "METRIC_HOLDOUT_ACCURACY",
    "METRIC_NAMES",
    "quantize_values",
    "encode_indices",
    "encode_update",
    "SensorBatch",
    "UpdateMessage",
    "to_jsonable",
]

# --------------------------------------------------------------------------------------------------------------
# Errors

#: The reason names of the specification (``WireError.Code``).
REASONS = frozenset(
    {
        "truncated",
        "bad_magic",
        "unsupported_version",
        "wrong_message_type",
        "bad_checksum",
        "length_mismatch",
        "count_out_of_range",
        "index_out_of_range",
        "unsorted",
        "duplicate",
        "non_finite",
        "value_out_of_range",
        "malformed",
        "too_large",
        "mismatch",
        "decompression",
    }
)


class WireError(Exception):
    """A rejected payload: ``code`` is a reason name from the specification, ``message`` says what exactly."""

    def __init__(self, code: str, message: str, offset: Optional[int] = None):
        if code not in REASONS:
            raise ValueError(f"unknown wire error code {code!r}")
        self.code = code
        self.message = message
        self.offset = offset
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" (at byte {self.offset})" if self.offset is not None else ""
        return f"{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"WireError({self.code!r}, {self.message!r}, offset={self.offset!r})"


# --------------------------------------------------------------------------------------------------------------
# CRC32C (Castagnoli), table driven, reflected polynomial 0x82F63B78, init and final XOR 0xFFFFFFFF.

_CRC_POLY = 0x82F63B78


def _make_crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _CRC_POLY if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc32c(data: bytes | bytearray | memoryview, previous: int = 0) -> int:
    """CRC32C of ``data``; ``previous`` is the CRC of bytes before it (0 to start), to continue a checksum."""
    table = _CRC_TABLE
    crc = (previous ^ 0xFFFFFFFF) & 0xFFFFFFFF
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283, "CRC32C self-test"


def model_hash(parameters: Any) -> int:
    """The specification's model hash of float32 parameters:
    ``CRC32C(floats) << 32 | (CRC32C(floats, continuing from 0x5EED1234) ^ n)``."""
    floats = np.ascontiguousarray(np.asarray(parameters, dtype="<f4"))
    raw = floats.tobytes()
    n = floats.size
    high = crc32c(raw)
    low = (crc32c(raw, 0x5EED1234) ^ n) & 0xFFFFFFFF
    return (high << 32) | low


# --------------------------------------------------------------------------------------------------------------
# Little-endian reader over untrusted bytes: every read checks the length first.


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start: int = 0, end: Optional[int] = None):
        self.data = data
        self.pos = start
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def need(self, count: int, what: str) -> None:
        if count < 0 or count > self.remaining:
            raise WireError("truncated", f"need {count} bytes for {what}, {self.remaining} left", self.pos)

    def take(self, count: int, what: str) -> bytes:
        self.need(count, what)
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, what: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size, what)
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def u8(self, what: str) -> int:
        return self.unpack("<B", what)

    def u16(self, what: str) -> int:
        return self.unpack("<H", what)

    def u32(self, what: str) -> int:
        return self.unpack("<I", what)

    def u64(self, what: str) -> int:
        return self.unpack("<Q", what)

    def i64(self, what: str) -> int:
        return self.unpack("<q", what)

    def f32(self, what: str) -> np.float32:
        self.need(4, what)
        value = np.frombuffer(self.data, dtype="<f4", count=1, offset=self.pos)[0]
        self.pos += 4
        return np.float32(value)

    def varint(self, what: str) -> int:
        """Unsigned LEB128: at most 10 bytes, value at most 2**64 - 1, else ``malformed``."""
        start = self.pos
        result = 0
        for i in range(10):
            self.need(1, what)
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if result > 0xFFFFFFFFFFFFFFFF:
                    raise WireError("malformed", f"{what} overflows 64 bits", start)
                return result
        raise WireError("malformed", f"{what} is longer than 10 bytes", start)

    def expect_end(self, what: str) -> None:
        if self.remaining != 0:
            raise WireError("length_mismatch", f"{self.remaining} unexpected bytes after {what}", self.pos)


def _as_bytes(data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected bytes, got {type(data).__name__}")


def _check_frame(data: bytes, magic: bytes, minimum: int, name: str) -> None:
    """Magic, version and checksum, common to every format (in that order), before anything else is read."""
    if len(data) < 4:
        raise WireError("truncated", f"{len(data)} bytes is shorter than a magic")
    if data[:4] != magic:
        raise WireError("bad_magic", f"magic {data[:4].hex()} is not {magic.decode()} ({name})", 0)
    if len(data) < minimum:
        raise WireError("truncated", f"{len(data)} bytes is shorter than the smallest {name} ({minimum})")
    if data[4] != 1:
        raise WireError("unsupported_version", f"{name} version {data[4]}", 4)
    (stored,) = struct.unpack_from("<I", data, len(data) - 4)
    computed = crc32c(memoryview(data)[:-4])
    if computed != stored:
        raise WireError(
            "bad_checksum", f"{name} checksum {stored:08x}, computed {computed:08x}", len(data) - 4
        )


_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# --------------------------------------------------------------------------------------------------------------
# Sensor frame batch

SENSOR_MAGIC = b"TSFB"
SENSOR_TYPE = 0x10
SENSOR_MAX_CHANNELS = 256
_SENSOR_HEADER = 24  # up to the timing field
_SENSOR_MINIMUM = _SENSOR_HEADER + 4  # the fixed header and the CRC


class SensorBatch(dict):
    """A decoded sensor frame batch: a dict of header fields plus ``timestamps`` (int64, N) and ``values``
    (float32, N × C); ``raw`` (int16, N × C) and ``scales`` (float32, C) for the int16 format."""

    kind = "sensor_batch"


def decode_sensor_batch(
    data: bytes | bytearray | memoryview,
    *,
    max_bytes: Optional[int] = None,
    expected_channels: Optional[int] = None,
) -> SensorBatch:
    """Decodes and validates a sensor frame batch (magic TSFB).

    ``max_bytes`` caps the payload (``too_large``); ``expected_channels`` is the stream's channel count
    (``mismatch`` if it differs).
    """
    data = _as_bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise WireError("too_large", f"batch of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    _check_frame(data, SENSOR_MAGIC, _SENSOR_MINIMUM, "sensor frame batch")
    r = _Reader(data, 5, len(data) - 4)
    type_code = r.u8("message type")
    if type_code != SENSOR_TYPE:
        raise WireError("wrong_message_type", f"message type 0x{type_code:02x} is not a sensor batch", 5)
    flags = r.u8("flags")
    if flags & 0xFE:
        raise WireError("malformed", f"reserved flag bits set: 0x{flags:02x}", 6)
    fmt = r.u8("sample format")
    if fmt > 1:
        raise WireError("malformed", f"unknown sample format {fmt}", 7)
    sequence = r.u32("sequence")
    channels = r.u16("channel count")
    if not 1 <= channels <= SENSOR_MAX_CHANNELS:
        raise WireError("count_out_of_range", f"{channels} channels (1...{SENSOR_MAX_CHANNELS} allowed)", 12)
    frames = r.u16("frame count")
    if frames < 1:
        raise WireError("count_out_of_range", "a batch needs at least one frame", 14)
    base = r.i64("base time stamp")

    timing_offset = r.pos
    period: Optional[int] = None
    if flags & 1:
        period = r.u32("period")
        if period == 0:
            raise WireError("value_out_of_range", "the period must be positive", timing_offset)
        last = base + (frames - 1) * period
        if last > _INT64_MAX:
            raise WireError("value_out_of_range", "time stamps overflow 64 bits", timing_offset)
        timestamps = base + np.arange(frames, dtype=np.int64) * np.int64(period)
    else:
        stamps = []
        t = base
        for i in range(frames):
            delta = r.varint(f"time delta {i}")
            t += delta  # deltas are unsigned, so time stamps never decrease
            if t > _INT64_MAX:
                raise WireError("value_out_of_range", f"time stamp {i} overflows 64 bits", r.pos)
            stamps.append(t)
        timestamps = np.array(stamps, dtype=np.int64)

    scales = None
    if fmt == 1:
        scales_offset = r.pos
        scales = np.frombuffer(r.take(4 * channels, "scales"), dtype="<f4").astype(np.float32)
        for c, s in enumerate(scales):
            if not np.isfinite(s):
                raise WireError("non_finite", f"scale of channel {c} is {s}", scales_offset + 4 * c)
            if s == 0:
                raise WireError("value_out_of_range", f"scale of channel {c} is zero", scales_offset + 4 * c)

    bytes_per_sample = 4 if fmt == 0 else 2
    samples_offset = r.pos
    expected = frames * channels * bytes_per_sample
    if r.remaining != expected:
        raise WireError(
            "length_mismatch",
            f"{r.remaining} bytes of samples, {frames} × {channels} × {bytes_per_sample} = {expected} expected",
            samples_offset,
        )
    block = r.take(expected, "samples")
    raw = None
    if fmt == 0:
        values = np.frombuffer(block, dtype="<f4").astype(np.float32).reshape(frames, channels)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            i = int(bad[0])
            raise WireError("non_finite", f"sample {i} is {values.flat[i]}", samples_offset + 4 * i)
    else:
        raw = np.frombuffer(block, dtype="<i2").astype(np.int16).reshape(frames, channels)
        with np.errstate(over="ignore"):
            values = raw.astype(np.float32) * scales[np.newaxis, :]
        values = values.astype(np.float32)
    r.expect_end("samples")

    if expected_channels is not None and channels != expected_channels:
        raise WireError("mismatch", f"batch has {channels} channels, the stream has {expected_channels}")

    out = SensorBatch(
        magic="TSFB",
        version=1,
        type="sensorBatch",
        type_code=SENSOR_TYPE,
        flags=flags,
        fixed_period=bool(flags & 1),
        format="float32" if fmt == 0 else "int16",
        sequence=sequence,
        channels=channels,
        frames=frames,
        base=base,
        period=period,
        byte_count=len(data),
        crc=struct.unpack_from("<I", data, len(data) - 4)[0],
    )
    if scales is not None:
        out["scales"] = scales
        out["raw"] = raw
    out["timestamps"] = timestamps
    out["values"] = values
    return out


# --------------------------------------------------------------------------------------------------------------
# Updates and models

UPDATE_MAGIC = b"TUPD"
MESSAGE_TYPES = {0x20: "update", 0x30: "denseModel", 0x31: "sparseModelDelta"}
VALUE_ENCODINGS = {0: "float32", 1: "float16", 2: "int8", 3: "ternary"}
INDEX_ENCODINGS = {0: "deltaVarint", 1: "bitmap", 2: "dense", 3: "raw32"}
INT8_BLOCK = 256
MAX_IDENTIFIER = 64
#: Most entries a metrics trailer (flag bit 2) holds.
MAX_METRICS = 16
#: Metric id 1: hold-out accuracy, on the device's held-out windows, of the global model the update was trained from.
METRIC_HOLDOUT_ACCURACY = 1
#: The metric ids the specification assigns (others are kept as read, by number).
METRIC_NAMES = {METRIC_HOLDOUT_ACCURACY: "holdout_accuracy"}
DEFAULT_MAX_DIMENSION = 100_000_000
# magic 4, version, type, flags, value encoding, index encoding, task (1 + at least 1), round 4, device length 1,
# weight 4, n 4, k 4, hash 8, body lengths 4 + 4, CRC 4.
_UPDATE_MINIMUM = 4 + 5 + 2 + 4 + 1 + 4 + 4 + 4 + 8 + 4 + 4 + 4


class UpdateMessage(dict):
    """A decoded update or model: a dict of header fields (``metrics``: {id: float32} from the metrics trailer,
    empty without one) plus ``indices`` (uint32, k) and ``values`` (float32, k). ``dense()`` expands it to a
    float32 vector of the message's dimension (see ``dense``)."""

    kind = "update"

    def dense(self, base: Any = None) -> np.ndarray:
        return dense(self, base)


def dense(message: dict, base: Any = None) -> np.ndarray:
    """Expands a decoded update or model to a dense float32 vector of its dimension: zeros with the carried values
    written in. With ``base`` (parameters of the message's dimension), an update or a sparse model delta is added
    to a copy of it instead (what the aggregator's scatter-add and a device applying a model delta do)."""
    n = int(message["dimension"])
    indices = np.asarray(message["indices"], dtype=np.int64)
    values = np.asarray(message["values"], dtype=np.float32)
    if base is None:
        out = np.zeros(n, dtype=np.float32)
        out[indices] = values
        return out
    if message.get("type") == "denseModel":
        raise ValueError("a dense model replaces its base: call dense(message) without one")
    out = np.array(base, dtype=np.float32, copy=True).reshape(-1)
    if out.size != n:
        raise ValueError(f"base has {out.size} parameters, the message's dimension is {n}")
    out[indices] += values
    return out


class BaseMismatch(ValueError):
    """A sparse model delta whose base (its model hash) is not the parameters it was offered: take the full
    model instead. ``expected`` is the delta's base hash, ``actual`` the parameters' hash."""

    def __init__(self, expected: int, actual: int):
        self.expected = expected
        self.actual = actual
        super().__init__(f"the delta is for model {expected:016x}, the parameters are {actual:016x}")


def apply_model_delta(parameters: Any, message: dict) -> np.ndarray:
    """A device applying a decoded sparse model delta (``0x31``) to the parameters it holds: checks that the
    hash of ``parameters`` is the delta's model hash (``BaseMismatch`` otherwise), then adds each value at its
    index with one float32 addition. Returns the new parameters (a copy); their hash is the broadcast model's,
    which the next round announcement names. ``ValueError`` for another message type or dimension."""
    if message.get("type") != "sparseModelDelta":
        raise ValueError(f"a {message.get('type')} message is not a sparse model delta")
    held = np.array(parameters, dtype=np.float32, copy=True).reshape(-1)
    if held.size != int(message["dimension"]):
        raise ValueError(f"{held.size} parameters, the delta's dimension is {message['dimension']}")
    expected = int(message["base_model_hash"], 16)
    actual = model_hash(held)
    if actual != expected:
        raise BaseMismatch(expected, actual)
    indices = np.asarray(message["indices"], dtype=np.int64)
    held[indices] += np.asarray(message["values"], dtype=np.float32)  # float32 + float32, rounded to float32
    return held


def _body_limit(n: int, k: int, value_encoding: int) -> int:
    return max(10 * k, (n + 7) // 8, 4 * k) + _value_bytes(value_encoding, k)


def _value_bytes(value_encoding: int, k: int) -> int:
    if value_encoding == 0:
        return 4 * k
    if value_encoding == 1:
        return 2 * k
    if value_encoding == 2:
        return 4 * ((k + INT8_BLOCK - 1) // INT8_BLOCK) + k
    return 4 + (k + 7) // 8


def _identifier(r: _Reader, what: str, allow_empty: bool) -> str:
    at = r.pos
    length = r.u8(f"{what} length")
    if length > MAX_IDENTIFIER or (length == 0 and not allow_empty):
        lo = 0 if allow_empty else 1
        raise WireError("count_out_of_range", f"{what} of {length} bytes ({lo}...{MAX_IDENTIFIER} allowed)", at)
    raw = r.take(length, what)
    try:
        return raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as error:
        raise WireError("malformed", f"{what} is not UTF-8 ({error.reason})", at + 1) from None


def _decompress(body: bytes, size: int) -> bytes:
    """Decompresses exactly one zstd frame that must yield exactly ``size`` bytes, never producing much more
    than that (the frame is fed in small pieces, so a decompression bomb stops early)."""
    try:
        import zstandard
    except ImportError as error:  # pragma: no cover - an environment problem, not a wire problem
        raise RuntimeError(
            "the 'zstandard' package is needed for compressed bodies: python3 -m venv tools/.venv-tools && "
            "tools/.venv-tools/bin/pip install -r tools/python/requirements.txt"
        ) from error
    if not body:
        raise WireError("decompression", "the compressed body is empty")
    try:
        declared = zstandard.frame_content_size(body)
    except zstandard.ZstdError as error:
        raise WireError("decompression", f"zstd frame header: {error}") from None
    if declared >= 0 and declared != size:
        raise WireError("length_mismatch", f"zstd frame holds {declared} bytes, header says {size}")
    d = zstandard.ZstdDecompressor().decompressobj()
    chunks = []
    produced = 0
    fed = 0
    step = 512
    try:
        while fed < len(body) and not d.eof:
            piece = body[fed : fed + step]
            fed += len(piece)
            chunk = d.decompress(piece)
            produced += len(chunk)
            if produced > size:
                raise WireError("length_mismatch", f"body decompresses to more than the {size} bytes declared")
            chunks.append(chunk)
    except zstandard.ZstdError as error:
        raise WireError("decompression", f"zstd: {error}") from None
    if not d.eof:
        raise WireError("decompression", "the zstd frame is incomplete")
    if fed < len(body) or d.unused_data:
        raise WireError("decompression", "bytes follow the zstd frame")
    if produced != size:
        raise WireError("length_mismatch", f"body decompressed to {produced} bytes, header says {size}")
    return b"".join(chunks)


def _read_indices(r: _Reader, encoding: int, k: int, n: int) -> np.ndarray:
    if encoding == 2:  # dense
        if k != n:
            raise WireError("count_out_of_range", f"dense indices need k = n, got k {k}, n {n}")
        return np.arange(n, dtype=np.uint32)
    if encoding == 0:  # varint gaps
        out = np.empty(k, dtype=np.uint32)
        index = -1
        for position in range(k):
            at = r.pos
            gap = r.varint("index gap")
            index = gap if position == 0 else index + 1 + gap
            if index >= n:
                raise WireError("index_out_of_range", f"index {index} ≥ dimension {n}", at)
            out[position] = index
        return out
    if encoding == 1:  # bitmap
        at = r.pos
        bits = np.unpackbits(np.frombuffer(r.take((n + 7) // 8, "index bitmap"), dtype=np.uint8), bitorder="little")
        set_bits = np.flatnonzero(bits)
        if set_bits.size and set_bits[-1] >= n:
            raise WireError("index_out_of_range", f"bitmap sets bit {int(set_bits[-1])} ≥ dimension {n}", at)
        if set_bits.size != k:
            raise WireError("count_out_of_range", f"bitmap has {set_bits.size} bits set, k is {k}", at)
        return set_bits.astype(np.uint32)
    # raw u32
    at = r.pos
    out = np.frombuffer(r.take(4 * k, "raw u32 indices"), dtype="<u4").astype(np.uint32)
    previous = -1
    for position, value in enumerate(out.tolist()):
        if value >= n:
            raise WireError("index_out_of_range", f"index {value} ≥ dimension {n}", at + 4 * position)
        if value == previous:
            raise WireError("duplicate", f"index {value} repeats", at + 4 * position)
        if value < previous:
            raise WireError("unsorted", f"index {value} after {previous}", at + 4 * position)
        previous = value
    return out


def _first_bad(mask: np.ndarray) -> Optional[int]:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if bad.size else None


def _read_values(r: _Reader, encoding: int, k: int) -> np.ndarray:
    at = r.pos
    if encoding == 0:  # float32
        values = np.frombuffer(r.take(4 * k, "float32 values"), dtype="<f4").astype(np.float32)
        i = _first_bad(~np.isfinite(values))
        if i is not None:
            raise WireError("non_finite", f"value {i} is {values[i]}", at + 4 * i)
        return values
    if encoding == 1:  # float16
        halves = np.frombuffer(r.take(2 * k, "float16 values"), dtype="<f2")
        i = _first_bad(~np.isfinite(halves))
        if i is not None:
            raise WireError("non_finite", f"value {i} is {halves[i]}", at + 2 * i)
        return halves.astype(np.float32)
    if encoding == 2:  # int8 with block scales
        blocks = (k + INT8_BLOCK - 1) // INT8_BLOCK
        scales = np.frombuffer(r.take(4 * blocks, "int8 block scales"), dtype="<f4").astype(np.float32)
        codes_at = r.pos
        codes = np.frombuffer(r.take(k, "int8 codes"), dtype=np.int8)
        i = _first_bad(~np.isfinite(scales))
        if i is not None:
            raise WireError("non_finite", f"int8 block scale {i} is {scales[i]}", at + 4 * i)
        i = _first_bad(scales <= 0)
        if i is not None:
            raise WireError("value_out_of_range", f"int8 block scale {i} is {scales[i]}, must be > 0", at + 4 * i)
        i = _first_bad(codes == -128)
        if i is not None:
            raise WireError("value_out_of_range", f"int8 code {i} is -128 (allowed: -127...127)", codes_at + i)
        per_value = np.repeat(scales, INT8_BLOCK)[:k]
        with np.errstate(over="ignore"):
            values = (codes.astype(np.float32) * per_value).astype(np.float32)
        # A code times a finite scale can still overflow float32; the values must be finite.
        i = _first_bad(~np.isfinite(values))
        if i is not None:
            raise WireError("non_finite", f"int8 value {i} overflows float32", codes_at + i)
        return values
    # ternary
    magnitude = r.f32("ternary magnitude")
    if not np.isfinite(magnitude):
        raise WireError("non_finite", f"ternary magnitude is {magnitude}", at)
    if magnitude < 0:
        raise WireError("value_out_of_range", f"ternary magnitude {magnitude} is negative", at)
    signs = np.unpackbits(np.frombuffer(r.take((k + 7) // 8, "ternary signs"), dtype=np.uint8), bitorder="little")
    negative = signs[:k].astype(bool)
    return np.where(negative, -magnitude, magnitude).astype(np.float32)


def decode_update(
    data: bytes | bytearray | memoryview,
    *,
    max_dimension: Optional[int] = DEFAULT_MAX_DIMENSION,
    expected_task: Optional[str] = None,
    expected_dimension: Optional[int] = None,
    max_bytes: Optional[int] = None,
) -> UpdateMessage:
    """Decodes and validates an update or model message (magic TUPD).

    ``max_dimension`` is the receiver's limit on n (``count_out_of_range`` above it; ``None`` for no limit);
    ``expected_task`` / ``expected_dimension`` give ``mismatch`` when they differ; ``max_bytes`` caps the
    payload (``too_large``).
    """
    data = _as_bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise WireError("too_large", f"message of {len(data)} bytes exceeds the {max_bytes}-byte limit")
    _check_frame(data, UPDATE_MAGIC, _UPDATE_MINIMUM, "update or model message")
    r = _Reader(data, 5, len(data) - 4)
    type_code = r.u8("message type")
    if type_code not in MESSAGE_TYPES:
        raise WireError("wrong_message_type", f"message type 0x{type_code:02x} is not an update or model", 5)
    flags = r.u8("flags")
    if flags & 0xF0:
        raise WireError("malformed", f"reserved flag bits set: 0x{flags:02x}", 6)
    value_code = r.u8("value encoding")
    if value_code not in VALUE_ENCODINGS:
        raise WireError("malformed", f"unknown value encoding {value_code}", 7)
    index_code = r.u8("index encoding")
    if index_code not in INDEX_ENCODINGS:
        raise WireError("malformed", f"unknown index encoding {index_code}", 8)
    task = _identifier(r, "task id", allow_empty=False)
    round_ = r.u32("round")
    device = _identifier(r, "device id", allow_empty=True)
    weight = r.u32("sample weight")
    n_at = r.pos
    n = r.u32("dimension")
    if n < 1 or (max_dimension is not None and n > max_dimension):
        limit = "" if max_dimension is None else f"...{max_dimension}"
        raise WireError("count_out_of_range", f"dimension {n} outside 1{limit}", n_at)
    k_at = r.pos
    k = r.u32("k")
    if k > n:
        raise WireError("count_out_of_range", f"k {k} exceeds the dimension {n}", k_at)
    if type_code == 0x30:
        if k != n:
            raise WireError("count_out_of_range", f"a dense model carries every parameter: k {k}, n {n}", k_at)
        if index_code != 2:
            raise WireError("malformed", f"a dense model uses dense indices, not {INDEX_ENCODINGS[index_code]}", 8)
    model_hash_value = r.u64("model hash")
    body_length = r.u32("body length")
    plain_length = r.u32("uncompressed body length")
    body_offset = r.pos
    body = r.take(body_length, "body")
    epoch = r.u64("epoch") if flags & 8 else None
    metrics: dict[int, np.float32] = {}
    if flags & 4:
        count_at = r.pos
        count = r.u8("metric count")
        if not 1 <= count <= MAX_METRICS:
            raise WireError("count_out_of_range", f"{count} metrics (1...{MAX_METRICS} allowed)", count_at)
        previous = -1
        for _ in range(count):
            at = r.pos
            metric = r.u8("metric id")
            if metric <= previous:
                raise WireError("unsorted", f"metric id {metric} after {previous}: ids must increase", at)
            value = r.f32("metric value")
            if not np.isfinite(value):
                raise WireError("non_finite", f"metric {metric} is {value}", at + 1)
            metrics[metric] = value
            previous = metric
    signature = None
    if flags & 2:
        length = r.u16("signature length")
        signature = r.take(length, "signature")
    r.expect_end("update message")

    compressed = bool(flags & 1)
    limit = _body_limit(n, k, value_code)
    if plain_length > limit:
        raise WireError(
            "length_mismatch", f"body claims {plain_length} bytes; k = {k} of n = {n} needs at most {limit}"
        )
    if not compressed and plain_length != body_length:
        raise WireError("length_mismatch", f"uncompressed body sent as {body_length} bytes, header says {plain_length}")

    if expected_task is not None and task != expected_task:
        raise WireError("mismatch", f"message for task {task!r}, expected {expected_task!r}")
    if expected_dimension is not None and n != expected_dimension:
        raise WireError("mismatch", f"dimension {n}, the task's model has {expected_dimension}")

    plain = _decompress(body, plain_length) if compressed else body
    br = _Reader(plain)
    try:
        indices = _read_indices(br, index_code, k, n)
        values = _read_values(br, value_code, k)
        br.expect_end("update body")
    except WireError as error:
        if error.offset is not None:
            if compressed:
                error.message += f" (byte {error.offset} of the decompressed body)"
                error.offset = None
            else:
                error.offset += body_offset
        raise

    return UpdateMessage(
        magic="TUPD",
        version=1,
        type=MESSAGE_TYPES[type_code],
        type_code=type_code,
        flags=flags,
        task=task,
        round=round_,
        device=device,
        sample_weight=weight,
        dimension=n,
        k=k,
        value_encoding=VALUE_ENCODINGS[value_code],
        index_encoding=INDEX_ENCODINGS[index_code],
        compressed=compressed,
        base_model_hash=format(model_hash_value, "x"),
        signature=signature,
        metrics=metrics,
        epoch=epoch,
        body_offset=body_offset,
        body_length=body_length,
        uncompressed_body_length=plain_length,
        byte_count=len(data),
        crc=struct.unpack_from("<I", data, len(data) - 4)[0],
        indices=indices,
        values=values,
    )


# --------------------------------------------------------------------------------------------------------------
# Encoding: the value quantisers and an uncompressed update / model writer (the specification's encoder rules)

INDEX_CODES = {name: code for code, name in INDEX_ENCODINGS.items()}
VALUE_CODES = {name: code for code, name in VALUE_ENCODINGS.items()}
FLOAT16_MAX = 65504.0


def _round_half_away(x: float) -> float:
    """Round to the nearest integer, halves away from zero (exact for float32 inputs widened to float)."""
    a = abs(x)
    q = math.floor(a)
    if a - q >= 0.5:
        q += 1
    return math.copysign(q, x) if q != 0 else 0.0


def quantize_values(values: Any, encoding: str) -> tuple[bytes, np.ndarray]:
    """The value section for ``values`` (float32) in ``encoding``, and the float32 values a receiver decodes.

    float32: as is. float16: clamped to ±65504, then rounded to the nearest half, ties to even. int8: blocks of
    256 values; scale s = max|v| / 127 in float32 (1 for an all-zero block); code = v / s in float32, rounded
    half away from zero, clamped to −127…127; decoded code × s in float32. ternary: μ = float32(Σ|v| / k) with
    the sum in double precision in order; sign bit i (bit i & 7 of byte i >> 3) set iff v < 0; decoded ±μ.
    """
    v = np.ascontiguousarray(np.asarray(values, dtype=np.float64).astype(np.float32)).reshape(-1)
    k = v.size
    if encoding == "float32":
        return v.astype("<f4").tobytes(), v.copy()
    if encoding == "float16":
        out = bytearray()
        decoded = np.empty(k, dtype=np.float32)
        for i, x in enumerate(v.tolist()):
            clamped = max(-FLOAT16_MAX, min(FLOAT16_MAX, x))
            half = struct.pack("<e", clamped)  # IEEE binary16, round half to even
            out += half
            decoded[i] = np.float32(struct.unpack("<e", half)[0])
        return bytes(out), decoded
    if encoding == "int8":
        scales = bytearray()
        codes = bytearray()
        decoded = np.empty(k, dtype=np.float32)
        for start in range(0, k, INT8_BLOCK):
            block = v[start : start + INT8_BLOCK]
            largest = np.float32(np.max(np.abs(block))) if block.size else np.float32(0)
            scale = np.float32(largest / np.float32(127)) if largest > 0 else np.float32(1)
            scales += struct.pack("<f", float(scale))
            for offset, x in enumerate(block):
                ratio = float(np.float32(x / scale))  # float32 division
                code = int(max(-127.0, min(127.0, _round_half_away(ratio))))
                codes += struct.pack("<b", code)
                decoded[start + offset] = np.float32(np.float32(code) * scale)
        return bytes(scales) + bytes(codes), decoded
    if encoding == "ternary":
        total = 0.0
        for x in v.tolist():
            total += abs(x)
        magnitude = np.float32(total / k) if k else np.float32(0)
        signs = bytearray((k + 7) // 8)
        for i, x in enumerate(v.tolist()):
            if x < 0:
                signs[i >> 3] |= 1 << (i & 7)
        decoded = np.where(v < 0, -magnitude, magnitude).astype(np.float32)
        return struct.pack("<f", float(magnitude)) + bytes(signs), decoded
    raise ValueError(f"unknown value encoding {encoding!r}")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_indices(indices: Any, dimension: int, encoding: Optional[str] = None) -> tuple[str, bytes]:
    """The index section of strictly increasing ``indices`` below ``dimension``: (encoding name, bytes).

    Without ``encoding``, the specification's choice: ``dense`` when k = n, else ``bitmap`` when ⌈n/8⌉ is
    smaller than the varint gaps, else ``deltaVarint``."""
    idx = [int(i) for i in np.asarray(indices, dtype=np.int64).reshape(-1).tolist()]
    gaps = b"".join(_varint(i if p == 0 else i - idx[p - 1] - 1) for p, i in enumerate(idx))
    if encoding is None:
        if len(idx) == dimension:
            encoding = "dense"
        else:
            encoding = "bitmap" if (dimension + 7) // 8 < len(gaps) else "deltaVarint"
    if encoding == "dense":
        if idx != list(range(dimension)):
            raise ValueError("dense indices are 0…n−1")
        return encoding, b""
    if encoding == "deltaVarint":
        return encoding, gaps
    if encoding == "bitmap":
        bits = bytearray((dimension + 7) // 8)
        for i in idx:
            bits[i >> 3] |= 1 << (i & 7)
        return encoding, bytes(bits)
    if encoding == "raw32":
        return encoding, b"".join(struct.pack("<I", i) for i in idx)
    raise ValueError(f"unknown index encoding {encoding!r}")


def encode_update(
    *,
    task: str,
    round: int,
    dimension: int,
    indices: Any,
    values: Any,
    value_encoding: str,
    model_hash_value: int,
    device: str = "",
    sample_weight: int = 0,
    message_type: str = "update",
    index_encoding: Optional[str] = None,
    signature: Optional[bytes] = None,
    metrics: Optional[dict[int, float]] = None,
    epoch: Optional[int] = None,
) -> bytes:
    """An uncompressed update or model message (flags bit 0 clear), laid out as the specification's table.

    ``metrics`` ({id: value}, at most 16, finite; values rounded to float32) becomes the metrics trailer (flag
    bit 2), written in ascending id order; ``epoch`` (u64) the federation epoch field (flag bit 3) before it.
    ``signature`` is written as given after it (flag bit 1); a real
    signature would cover every byte before the trailer, with flag bit 1 already set."""
    type_code = {name: code for code, name in MESSAGE_TYPES.items()}[message_type]
    index_name, index_bytes = encode_indices(indices, dimension, index_encoding)
    value_bytes, _ = quantize_values(values, value_encoding)
    body = index_bytes + value_bytes
    task_bytes = task.encode("utf-8")
    device_bytes = device.encode("utf-8")
    k = len(np.asarray(indices).reshape(-1))
    trailer = b""
    if metrics:
        if len(metrics) > MAX_METRICS:
            raise ValueError(f"{len(metrics)} metrics, at most {MAX_METRICS}")
        trailer = struct.pack("<B", len(metrics))
        for metric in sorted(metrics):
            value = np.float32(metrics[metric])
            if not 0 <= int(metric) <= 255 or not np.isfinite(value):
                raise ValueError(f"metric {metric}: ids are 0...255, values finite")
            trailer += struct.pack("<B", int(metric)) + value.astype("<f4").tobytes()
    flags = (2 if signature is not None else 0) | (4 if trailer else 0) | (8 if epoch is not None else 0)
    out = bytearray(UPDATE_MAGIC)
    out += struct.pack("<BBBBB", 1, type_code, flags, VALUE_CODES[value_encoding], INDEX_CODES[index_name])
    out += struct.pack("<B", len(task_bytes)) + task_bytes
    out += struct.pack("<I", round)
    out += struct.pack("<B", len(device_bytes)) + device_bytes
    out += struct.pack("<IIIQII", sample_weight, dimension, k, model_hash_value, len(body), len(body))
    out += body
    if epoch is not None:
        out += struct.pack("<Q", epoch)
    out += trailer
    if signature is not None:
        out += struct.pack("<H", len(signature)) + signature
    out += struct.pack("<I", crc32c(out))
    return bytes(out)


# --------------------------------------------------------------------------------------------------------------
# Dispatch

_DECODERS: dict[bytes, Callable[..., dict]] = {SENSOR_MAGIC: decode_sensor_batch, UPDATE_MAGIC: decode_update}


# --- Signatures (docs/wire-format.md, "Signatures"): Ed25519 through the cryptography package ------------------

ED25519 = 1
_JSON_SIG = b',"sig":"'


class SignatureError(Exception):
    """A message whose signature cannot be checked: ``code`` is ``unsigned`` or ``malformed_signature``."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def signed_update_parts(data: bytes) -> tuple[bytes, bytes]:
    """(signed bytes, 64-byte signature) of a signed update or model message, found from the end; raises
    SignatureError("unsigned" / "malformed_signature") as the document says."""
    data = bytes(data)
    if len(data) <= 7 or not data[6] & 2:
        raise SignatureError("unsigned", "no signature trailer")
    end = len(data) - 4
    if crc32c(data[:end]) != struct.unpack_from("<I", data, end)[0]:
        raise SignatureError("malformed_signature", "checksum")
    start = end - 64
    if start - 3 <= 7 or data[start - 3:start] != bytes([65, 0, ED25519]):
        raise SignatureError("malformed_signature", "no Ed25519 trailer at the end")
    return data[:start - 3], data[start:end]


def sign_update(data: bytes, private_key: Any) -> bytes:
    """An unsigned update or model message with flag bit 1 set, the trailer signed by ``private_key`` (an
    Ed25519PrivateKey) and a new CRC32C."""
    body = bytearray(data[:-4])
    if body[6] & 2:
        raise ValueError("already signed")
    body[6] |= 2
    signature = private_key.sign(bytes(body))
    out = bytes(body) + struct.pack("<HB", 65, ED25519) + signature
    return out + struct.pack("<I", crc32c(out))


def verify_update(data: bytes, public_key: Any) -> bool:
    """Whether a signed update or model message verifies with ``public_key`` (an Ed25519PublicKey)."""
    from cryptography.exceptions import InvalidSignature

    signed, signature = signed_update_parts(data)
    try:
        public_key.verify(signature, signed)
        return True
    except InvalidSignature:
        return False


def open_signed_json(message: bytes) -> tuple[bytes, Optional[bytes]]:
    """(the signed body, the 64-byte signature or None) of a JSON control message: the ``sig`` member is looked
    for only as the last member, 88 base64 characters long."""
    import base64

    message = bytes(message)
    start = len(message) - 2 - 88 - len(_JSON_SIG)
    if start < 1 or not message.endswith(b'"}') or message[start:start + len(_JSON_SIG)] != _JSON_SIG:
        return message, None
    try:
        raw = base64.b64decode(message[start + len(_JSON_SIG):-2], validate=True)
    except ValueError:
        return message, None
    if len(raw) != 65 or raw[0] != ED25519:
        return message, None
    return message[:start] + b"}", raw[1:]


def seal_json(message: bytes, private_key: Any) -> bytes:
    """A JSON object with the ``sig`` member of ``private_key`` appended."""
    import base64

    signature = private_key.sign(bytes(message))
    return bytes(message[:-1]) + _JSON_SIG + base64.b64encode(bytes([ED25519]) + signature) + b'"}'


def decode(data: bytes | bytearray | memoryview, **options: Any) -> dict:
    """Decodes a sensor frame batch or an update/model message, whichever the magic says.

    Keyword options are passed to the decoder that applies (``max_bytes`` to both; ``expected_channels`` to
    sensor batches; ``max_dimension``, ``expected_task``, ``expected_dimension`` to updates)."""
    data = _as_bytes(data)
    if len(data) < 4:
        raise WireError("truncated", f"{len(data)} bytes is shorter than a magic")
    decoder = _DECODERS.get(data[:4])
    if decoder is None:
        raise WireError("bad_magic", f"magic {data[:4].hex()} is neither TSFB nor TUPD", 0)
    sensor_only = {"expected_channels"}
    update_only = {"max_dimension", "expected_task", "expected_dimension"}
    drop = update_only if decoder is decode_sensor_batch else sensor_only
    return decoder(data, **{key: value for key, value in options.items() if key not in drop})


# --------------------------------------------------------------------------------------------------------------
# JSON and text output


def _json_float(x: Any) -> Optional[float]:
    x = float(x)
    return x if math.isfinite(x) else None  # the project's JSON writes non-finite numbers as null


def to_jsonable(message: dict) -> dict:
    """Header fields and arrays as plain JSON types: ``timestamps`` / ``indices`` as int lists, ``values`` as a
    flat float list (frame after frame for sensor batches), ``raw`` likewise, ``signature`` as hex."""
    out: dict[str, Any] = {}
    for key, value in message.items():
        if isinstance(value, np.ndarray):
            flat = value.reshape(-1)
            if np.issubdtype(value.dtype, np.floating):
                out[key] = [_json_float(v) for v in flat.tolist()]
            else:
                out[key] = [int(v) for v in flat.tolist()]
        elif isinstance(value, bytes):
            out[key] = value.hex()
        elif isinstance(value, dict):  # metrics: {id: float32}, ids as JSON keys
            out[key] = {str(k): _json_float(v) for k, v in value.items()}
        elif isinstance(value, (np.floating,)):
            out[key] = _json_float(value)
        elif isinstance(value, (np.integer,)):
            out[key] = int(value)
        else:
            out[key] = value
    out = {"kind": getattr(message, "kind", None), **out}
    return out


def _format_text(message: dict) -> str:
    lines = [f"kind: {getattr(message, 'kind', '?')}"]
    arrays = []
    for key, value in message.items():
        if isinstance(value, np.ndarray):
            arrays.append((key, value))
        elif isinstance(value, bytes):
            lines.append(f"{key}: {value.hex()} ({len(value)} bytes)")
        elif isinstance(value, dict):
            shown = ", ".join(f"{k} ({METRIC_NAMES.get(k, 'unassigned')}): {float(v)!r}" for k, v in value.items())
            lines.append(f"{key}: {shown or 'none'}")
        elif key == "crc":
            lines.append(f"{key}: 0x{value:08x}")
        elif key == "flags":
            lines.append(f"{key}: 0x{value:02x}")
        elif key == "type_code":
            lines.append(f"{key}: 0x{value:02x}")
        else:
            lines.append(f"{key}: {value}")
    with np.printoptions(threshold=64, edgeitems=8, linewidth=110):
        for key, value in arrays:
            lines.append(f"{key} ({value.dtype}, shape {value.shape}):")
            lines.append("  " + np.array2string(value, separator=", ").replace("\n", "\n  "))
    return "\n".join(lines)


def _reexec_in_venv_if_needed() -> None:
    """Without zstandard (compressed bodies need it), rerun the CLI with the tools venv's Python if it exists."""
    try:
        import zstandard  # noqa: F401
    except ImportError:
        venv = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".venv-tools"))
        venv_python = os.path.join(venv, "bin", "python")
        running_in_venv = os.path.realpath(sys.prefix) == os.path.realpath(venv)
        if os.path.exists(venv_python) and not running_in_venv and not os.environ.get("TRIBUTARY_WIRE_REEXEC"):
            os.environ["TRIBUTARY_WIRE_REEXEC"] = "1"
            os.execv(venv_python, [venv_python, os.path.abspath(__file__), *sys.argv[1:]])


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description="Decode a Tributary sensor frame batch (TSFB) or update/model message (TUPD)."
    )
    parser.add_argument("file", help="the payload file ('-' for standard input)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--max-bytes", type=int, default=None, help="reject larger payloads (too_large)")
    parser.add_argument(
        "--max-dimension", type=int, default=DEFAULT_MAX_DIMENSION, help="largest model dimension accepted"
    )
    args = parser.parse_args(argv)
    try:
        if args.file == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as handle:
                data = handle.read()
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        message = decode(data, max_bytes=args.max_bytes, max_dimension=args.max_dimension)
    except WireError as error:
        print(str(error), file=sys.stderr)
        return 1
    text = json.dumps(to_jsonable(message), allow_nan=False) if args.json else _format_text(message)
    try:
        print(text)
        sys.stdout.flush()
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    _reexec_in_venv_if_needed()
    sys.exit(main())
