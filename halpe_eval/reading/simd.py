"""The compiled read path: JSON text to record columns with simdjson, no Python object per number.

pysimdjson parses a document in C++; :func:`gather` then walks its records once
in Python, taking their scalar fields as Python values and their keypoint (and
box) arrays with ``Array.as_buffer(of_type="d")``, which copies a numeric array
into doubles in C.  The values are those of the precise path (orjson, then
numpy): simdjson parses decimal text correctly rounded, and converts integers to
doubles round-to-nearest as ``float(int)`` does (tests/test_fast_read.py checks
both paths agree bit for bit).  The choice of parser is measured in
benchmarks/results/read.md.

This path never explains anything: whatever it does not read exactly as the
precise path would, it refuses (returns None) and the caller reads the same
bytes the precise way, which accepts them or words the error.  Refused:

- text simdjson does not parse (it refuses numbers beyond 64-bit integers or
  beyond float64, which orjson reads as floats or refuses with its message);
- an array inside a keypoint or box array: ``as_buffer`` would flatten
  ``[[1], 2]`` (found on the bytes, :func:`_nested_in`; nested arrays elsewhere,
  such as segmentation polygons, are fine);
- an object with a repeated key (simdjson's lookup finds the first, orjson
  keeps the last);
- a record that is not an object, a keypoint field that is not a flat
  all-number array of its length, a format whose keypoints are not flat fields.

Without pysimdjson (no wheel for the platform) :data:`AVAILABLE` is False and
every read takes the precise path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..protocol import Protocol
from .formats import FieldLayout, registered

try:
    import simdjson
except ImportError:  # pragma: no cover - pysimdjson ships wheels for the CPython versions we support
    simdjson = None  # type: ignore[assignment]

AVAILABLE = simdjson is not None
BOX = "bbox"  # the box field, read with as_buffer as keypoints are
MISSING = object()  # a field the record does not have (a JSON null reads None)

_OPEN, _CLOSE, _COLON, _QUOTE = (ord(c) for c in '[]:"')
_SPACE = np.zeros(256, dtype=bool)
_SPACE[list(b" \t\r\n")] = True


def parse(raw: Any, arrays: frozenset[str]) -> Any:
    """The simdjson document of ``raw`` (bytes, bytearray or a memoryview of one) whose fields ``arrays`` will
    be read with ``as_buffer``; None when refused (or when :data:`AVAILABLE` is False)."""
    if not AVAILABLE or _nested_in(raw, frozenset(field.encode() for field in arrays)):
        return None
    try:
        return simdjson.Parser().parse(raw)
    except (ValueError, RuntimeError):  # simdjson's parse errors (numbers beyond 64 bits: RuntimeError)
        return None


def array_fields(protocol: Protocol) -> frozenset[str]:
    """Every field :func:`gather` may read with ``as_buffer``: each format's keypoint fields, and ``bbox``."""
    return frozenset(field for f in registered() for field, _ in f.fields(protocol)) | {BOX}


def is_array(value: Any) -> bool:
    return simdjson is not None and type(value) is simdjson.Array


def is_object(value: Any) -> bool:
    return simdjson is not None and type(value) is simdjson.Object


def _nested_in(raw: Any, fields: frozenset[bytes]) -> bool:
    """Whether an array under one of ``fields`` may hold an array (``as_buffer`` would flatten it).

    An array holds another when the next bracket after its '[' is a '[' (the arrays read with
    ``as_buffer`` hold only numbers, so no bracket in a string can hide this; brackets in other
    strings only add suspects). Each such array that is a field's value (':' before it) is looked
    at: refused if its key is one of ``fields`` or is written with an escape. An array nested
    deeper is inside such a field's array, which holds an array too.
    """
    text = np.frombuffer(raw, dtype=np.uint8)
    brackets = np.flatnonzero((text == _OPEN) | (text == _CLOSE))
    opens = text[brackets] == _OPEN
    holders = brackets[:-1][opens[:-1] & opens[1:]]
    colons = _back_over_spaces(text, holders - 1)
    colons = colons[(colons > 0) & (text[np.maximum(colons, 0)] == _COLON)]
    quotes = _back_over_spaces(text, colons - 1)
    for end in quotes[(quotes >= 0) & (text[np.maximum(quotes, 0)] == _QUOTE)].tolist():
        head = bytes(text[max(end - 128, 0) : end])
        start = head.rfind(b'"')
        if start < 0 or b"\\" in head[start:] or head[start + 1 :] in fields:
            return True
    return False


def _back_over_spaces(text: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Each position moved back past whitespace (-1: the text's start was reached)."""
    positions = positions.copy()
    while True:
        spaces = (positions >= 0) & _SPACE[text[np.maximum(positions, 0)]]
        if not spaces.any():
            return positions
        positions[spaces] -= 1


@dataclass
class Gathered:
    """The fields of N records: scalars as Python values (MISSING where absent), numbers as float64 arrays."""

    values: dict[str, list]  # field -> N values
    keypoints: np.ndarray  # (N, K, 3) float64, the protocol's order (a format's fields joined)
    boxes: np.ndarray | None  # (N, 4) float64; None unless every record has a flat 4-number 'bbox'
    first_box: bool  # the first record has a non-empty 'bbox' array (loadRes' rule for prediction areas)
    formats: set[str]  # keys of the record formats that claimed the records


def gather(array: Any, protocol: Protocol | None, scalars: tuple[str, ...]) -> Gathered | None:
    """The records of a parsed JSON array, their keypoints read by the format that claims each (``protocol``
    None: records without keypoints, such as images); None when refused."""
    if not is_array(array):
        return None
    formats = registered() if protocol is not None else ()
    reader = cast(Protocol, protocol)  # not None whenever there are formats to offer a record to
    layouts = {f.key: f.fields(reader) for f in formats}
    values: list[list] = [[] for _ in scalars]
    keypoints: list[Any] = []
    boxes: list[Any] | None = []
    used: set[str] = set()
    for record in array:
        if type(record) is not simdjson.Object:
            return None
        keys = set(record.keys())  # a lookup of an absent key costs simdjson an exception: look here first
        if len(keys) != len(record):
            return None
        layout: FieldLayout = ()
        for record_format in formats:  # the last, the catch-all, claims any record
            if record_format.claims(record, reader):
                used.add(record_format.key)
                layout = layouts[record_format.key]
                break
        for field, count in layout:
            numbers = record[field] if field in keys else None
            if type(numbers) is not simdjson.Array or len(numbers) != 3 * count:
                return None
            try:
                keypoints.append(numbers.as_buffer(of_type="d"))
            except TypeError:  # a value that is not a number
                return None
        for column, field in zip(values, scalars):
            column.append(record[field] if field in keys else MISSING)
        if boxes is not None:
            boxes = _with_box(boxes, record[BOX] if BOX in keys else None)
    first = array[0].get(BOX) if len(array) else None
    return Gathered(
        values=dict(zip(scalars, values)),
        keypoints=np.frombuffer(bytearray().join(keypoints), dtype=np.float64).reshape(  # writable, as numpy's
            len(array), protocol.num_keypoints if protocol is not None else 0, 3),
        boxes=None if boxes is None else np.frombuffer(bytearray().join(boxes), dtype=np.float64).reshape(-1, 4),
        first_box=type(first) is simdjson.Array and len(first) > 0,
        formats=used,
    )


def int64_column(values: list) -> np.ndarray | None:
    """JSON integers (not booleans) that fit int64, as an array; None otherwise."""
    if not set(map(type, values)) <= {int}:
        return None
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        return None


def float64_column(values: list) -> np.ndarray | None:
    """JSON numbers (not booleans) as float64 (a simdjson number is always finite); None otherwise."""
    if not set(map(type, values)) <= {int, float}:
        return None
    return np.array(values, dtype=np.float64)


def _with_box(boxes: list, value: Any) -> list | None:
    """``boxes`` with this record's flat 4-number box appended, or None when it has none."""
    if type(value) is not simdjson.Array or len(value) != 4:
        return None
    try:
        boxes.append(value.as_buffer(of_type="d"))
    except TypeError:
        return None
    return boxes
