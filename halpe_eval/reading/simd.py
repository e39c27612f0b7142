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
  ``[[1], 2]`` (:func:`flattened_exactly` rules it out on the bytes; nested
  arrays elsewhere, such as segmentation polygons, are fine);
- an object with a repeated key (simdjson's lookup finds the first, orjson
  keeps the last);
- a record that is not an object, a keypoint field that is not a flat
  all-number array of its length, a format whose keypoints are not flat fields.

Without pysimdjson (no wheel for the platform) :data:`AVAILABLE` is False and
every read takes the precise path.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Callable

import numpy as np

from ..protocol import Protocol
from .formats import RecordShape, registered

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


def parse(raw: Any, parser: Any = None) -> Any:
    """The simdjson document of ``raw`` (bytes, bytearray or a memoryview of one); None when simdjson refuses
    it (or when :data:`AVAILABLE` is False).  Arrays read with ``as_buffer`` must then pass
    :func:`flattened_exactly`.  ``parser`` (:func:`thread_parser`) keeps its buffers from one piece to the
    next; the previous document and everything taken from it must be gone."""
    if not AVAILABLE:
        return None
    try:
        return (parser or simdjson.Parser()).parse(raw)
    except (ValueError, RuntimeError):  # simdjson's parse errors (numbers beyond 64 bits: RuntimeError)
        return None


_PARSERS = threading.local()


def thread_parser() -> Any:
    """This thread's simdjson parser, reused for every piece it parses, so that its buffers are allocated (and
    their pages touched) once per process rather than once per piece (None without pysimdjson)."""
    if not AVAILABLE:
        return None
    if not hasattr(_PARSERS, "parser"):
        _PARSERS.parser = simdjson.Parser()
    return _PARSERS.parser


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
    flattened: int  # arrays read with as_buffer (for :func:`flattened_exactly`)


class _Shape:
    """What records with one sequence of distinct field names share: ``fetch`` takes all their values in
    one C call (a KeyError when a name is missing); per type of their image_id, the format that claims
    them and the positions of its keypoint fields (None: some field missing)."""

    def __init__(self, names: tuple[str, ...]):
        self.names = names
        self.fetch: Callable[[Any], tuple] = (
            itemgetter(*names) if len(names) > 1 else lambda record: tuple(record[field] for field in names))
        self.position = {field: i for i, field in enumerate(names)}
        self.box = self.position.get(BOX)
        self.image_id = self.position.get("image_id")
        self.claimed: dict[type, tuple[str, tuple[tuple[int, int], ...]] | None] = {}

    def claim(self, image_id_type: type, protocol: Protocol) -> tuple[str, tuple[tuple[int, int], ...]] | None:
        shape = RecordShape(frozenset(self.names), image_id_type)
        record_format = next(f for f in registered() if f.claims(shape, protocol))
        layout = record_format.fields(protocol)
        claimed = None
        if all(field in self.position for field, _ in layout):
            claimed = (record_format.key, tuple((self.position[field], 3 * count) for field, count in layout))
        self.claimed[image_id_type] = claimed
        return claimed


_NO_SHAPE = _Shape(())  # before the first record


@contextmanager
def collection_paused() -> Iterator[None]:
    """The cyclic garbage collector paused (as it was, after).  Reading creates a tuple or dict per record, none
    in a reference cycle: the collections their number sets off find nothing, and cost ~8% of reading a
    prediction piece (the drop-in loadRes of a 39,446-result list: 1.3-1.8 s with them, 0.9 s without)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def gather(array: Any, protocol: Protocol | None, scalars: tuple[str, ...]) -> Gathered | None:
    """The records of a parsed JSON array, their keypoints read by the format that claims each (``protocol``
    None: records without keypoints, such as images); None when refused.

    A record is read by its field names (:class:`_Shape`; records mostly share the previous record's):
    repeated keys are refused, and the format that claims it is found once per shape and type of image_id.
    """
    if not is_array(array):
        return None
    with collection_paused():
        return _gathered(array, protocol, scalars)


def _gathered(array: Any, protocol: Protocol | None, scalars: tuple[str, ...]) -> Gathered | None:
    """:func:`gather`'s walk over the records of ``array``."""
    shapes: dict[tuple[str, ...], _Shape] = {}
    runs: list[tuple[int, _Shape]] = []  # (first row, shape) wherever the shape changes
    rows: list[tuple] = []
    keypoints: list[Any] = []
    boxes: list[Any] | None = []
    box_reads = 0
    # The current shape's lookups, kept in locals: records mostly repeat the previous record's shape and image_id type.
    shape = _NO_SHAPE
    fetch, n_names, id_at, id_type = shape.fetch, -1, None, None  # n_names -1: the first record finds its shape
    fields: tuple[tuple[int, int], ...] = ()  # the keypoint fields of the shape for records with this id_type
    add_row, object_type = rows.append, simdjson.Object
    for record in array:
        if type(record) is not object_type:
            return None
        try:
            if len(record) != n_names:
                raise KeyError
            row = fetch(record)  # every name of the previous record's, and no other
        except KeyError:
            found = _fetched_anew(record, shapes)
            if found is None:
                return None
            shape, row = found
            fetch, n_names, id_at, id_type = shape.fetch, len(shape.names), shape.image_id, None
            runs.append((len(rows), shape))
        add_row(row)
        if protocol is not None:
            row_id_type = type(row[id_at]) if id_at is not None else type(None)
            if row_id_type is not id_type:
                claimed = shape.claimed[row_id_type] if row_id_type in shape.claimed else shape.claim(row_id_type,
                                                                                                        protocol)
                if claimed is None:
                    return None
                id_type, fields = row_id_type, claimed[1]
            if not _read_keypoints(row, fields, keypoints):
                return None
        if boxes is not None:
            box = row[shape.box] if shape.box is not None else None
            boxes = _with_box(boxes, box)
            box_reads += type(box) is simdjson.Array
    formats = {claimed[0] for shape in shapes.values() for claimed in shape.claimed.values() if claimed}
    first = array[0].get(BOX) if len(array) else None
    return _joined(rows, runs, scalars, protocol.num_keypoints if protocol is not None else 0, keypoints, boxes,
                   formats, type(first) is simdjson.Array and len(first) > 0, len(keypoints) + box_reads)


def _joined(rows: list[tuple], runs: list[tuple[int, _Shape]], scalars: tuple[str, ...], k: int, keypoints: list,
            boxes: list | None, formats: set[str], first_box: bool, flattened: int) -> Gathered | None:
    """:func:`gather`'s pieces as one :class:`Gathered`; None when an array was flattened (the lengths say so)."""
    joined = bytearray().join(keypoints)  # writable, as numpy's arrays are
    joined_boxes = None if boxes is None else bytearray().join(boxes)
    if len(joined) != 8 * 3 * k * len(rows) or (joined_boxes is not None and len(joined_boxes) != 8 * 4 * len(rows)):
        return None  # an array inside a keypoint or box array, flattened by as_buffer
    return Gathered(
        values=_columns(rows, runs, scalars),
        keypoints=np.frombuffer(joined, dtype=np.float64).reshape(len(rows), k, 3),
        boxes=None if joined_boxes is None else np.frombuffer(joined_boxes, dtype=np.float64).reshape(-1, 4),
        first_box=first_box,
        formats=formats,
        flattened=flattened,
    )


def _fetched_anew(record: Any, shapes: dict[tuple[str, ...], _Shape]) -> tuple[_Shape, tuple] | None:
    """A record whose shape is not the previous record's: its shape and fields; None if refused."""
    shape = _shape_of(record, shapes)
    if shape is None:
        return None
    try:
        return shape, shape.fetch(record)
    except KeyError:  # a key written with an escape: simdjson's lookup does not find it by its name
        return None


def _read_keypoints(row: tuple, fields: tuple[tuple[int, int], ...], keypoints: list) -> bool:
    """Append the keypoint arrays at ``fields`` (position in ``row``, length) as doubles; False if one is not a
    flat all-number array of its length."""
    for position, length in fields:
        numbers = row[position]
        if type(numbers) is not simdjson.Array or len(numbers) != length:
            return False
        try:
            keypoints.append(numbers.as_buffer(of_type="d"))
        except TypeError:  # a value that is not a number
            return False
    return True


def _shape_of(record: Any, shapes: dict[tuple[str, ...], _Shape]) -> _Shape | None:
    """The shape of a record's field names; None for a repeated key (simdjson's lookup finds the first,
    orjson keeps the last)."""
    names = tuple(record.keys())
    if len(set(names)) != len(names):
        return None
    return shapes.get(names) or shapes.setdefault(names, _Shape(names))


def _columns(rows: list[tuple], runs: list[tuple[int, _Shape]], scalars: tuple[str, ...]) -> dict[str, list]:
    """Each scalar's values over the records (MISSING where a record does not have it); ``runs`` gives the
    shape of the records from each index on."""
    if len({id(shape) for _, shape in runs}) == 1:
        names = runs[0][1].names
        columns = {name: list(values) for name, values in zip(names, zip(*rows)) if name in scalars}
        return {field: columns.get(field, [MISSING] * len(rows)) for field in scalars}
    ends = [start for start, _ in runs[1:]] + [len(rows)]
    spread = [[row[shape.position[field]] if field in shape.position else MISSING for field in scalars]
              for (start, shape), end in zip(runs, ends) for row in rows[start:end]]
    return {field: list(values) for field, values in zip(scalars, zip(*spread))} if rows else {
        field: [] for field in scalars}


def arrays_within(value: Any) -> int:
    """The arrays inside a parsed array or object, at any depth (not the value itself); converts it to Python
    values, so for small parts of a document, such as a GT's categories (their keypoint names and skeleton)."""
    return _lists_within(value.as_list() if is_array(value) else value.as_dict() if is_object(value) else None)


def _lists_within(value: Any) -> int:
    items = value if isinstance(value, list) else value.values() if isinstance(value, dict) else ()
    return sum(isinstance(item, list) + _lists_within(item) for item in items)


def flattened_exactly(raw: Any, containers: int, flattened: int, fields: frozenset[str]) -> bool:
    """Whether ``as_buffer`` read each array under ``fields`` as written: none holds an array.

    Every JSON array starts with a '[' byte, so a text with no more of them than the arrays known to be
    in it (``containers``, and the ``flattened`` ones read with as_buffer) has no other array; otherwise
    the text is searched (:func:`_nested_in`).
    """
    known = containers + flattened
    return _count_opening_brackets(raw) <= known or not _nested_in(raw, frozenset(f.encode() for f in fields))


def _count_opening_brackets(raw: Any, block: int = 1 << 18) -> int:
    """The '[' bytes of ``raw``, counted a block at a time in one small buffer (a whole piece's comparison would
    be a temporary as large as the piece, fresh pages every time: ~2.5x slower)."""
    text = np.frombuffer(raw, dtype=np.uint8)
    found = np.empty(min(block, len(text)), dtype=bool)
    count = 0
    for start in range(0, len(text), block):
        part = text[start : start + block]
        np.equal(part, _OPEN, out=found[: len(part)])
        count += int(np.count_nonzero(found[: len(part)]))
    return count


def int64_column(values: Sequence) -> np.ndarray | None:
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
