"""Prediction records to column arrays, one chunk of records at a time.

Conventions of the COCO API's ``loadRes``:

- a prediction's area is its ``bbox`` w*h when the FIRST result of the file
  carries a non-empty ``bbox`` (then every result must), else the extent of its
  keypoints, unlabelled ones included (:func:`area_from_bbox` decides);
- keypoint scores are only used to drop all-zero predictions, so only the
  "some score > 0" flags per part are kept, with x and y in the protocol's
  coordinate dtype.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..oks import keypoint_boxes, keypoint_extent, prunes
from ..protocol import Protocol, builtin_names, load_protocol
from .formats import MissingField, RecordShape, registered
from .messages import is_int, is_number, kind, show
from .simd import int64_column

Where = Callable[[int], str]  # names record i of a chunk in messages


def area_from_bbox(first_record: Any) -> bool:
    """loadRes' rule: areas come from ``bbox`` when the file's first result has a non-empty one."""
    return isinstance(first_record, dict) and isinstance(first_record.get("bbox"), list) and first_record["bbox"] != []


@dataclass
class Columns:
    """One chunk of predictions as arrays (image ids still as JSON values)."""

    image_ids: list | np.ndarray  # int64 when every id is an integer that fits, else the JSON values
    category_ids: np.ndarray
    score: np.ndarray
    keypoints: np.ndarray  # (D, K, 2)
    area: np.ndarray
    positive: dict[str, np.ndarray]  # part -> any keypoint score > 0 in the part ('*': whole skeleton)
    part_scores: dict[str, np.ndarray]
    bbox_area: bool
    formats: tuple[str, ...]  # keys of the record formats used, by priority
    boxes: np.ndarray | None = None  # (D, 4) oks.keypoint_boxes of ``keypoints`` where the protocol prunes

    @staticmethod
    def concatenate(chunks: list[Columns]) -> Columns:
        if len(chunks) == 1:
            return chunks[0]
        chunks = [c for c in chunks if len(c.score)] or chunks[:1]

        def joined(attr: str) -> np.ndarray:
            return np.concatenate([getattr(c, attr) for c in chunks])

        return Columns(
            image_ids=_joined_image_ids([c.image_ids for c in chunks]),
            category_ids=joined("category_ids"),
            score=joined("score"),
            keypoints=_joined_keypoints(chunks),
            area=joined("area"),
            positive={k: np.concatenate([c.positive[k] for c in chunks]) for k in chunks[0].positive},
            part_scores=joined_part_scores([(c.part_scores, len(c.score)) for c in chunks]),
            bbox_area=chunks[0].bbox_area,
            formats=tuple(sorted({f for c in chunks for f in c.formats})),
            boxes=joined("boxes") if all(c.boxes is not None for c in chunks) else None,
        )


def joined_part_scores(pieces: list[tuple[dict[str, np.ndarray], int]]) -> dict[str, np.ndarray]:
    """Part scores of consecutive pieces ({part: (n,)}, n) joined; a piece without a part's field reads NaN."""
    parts = {part for scores, _ in pieces for part in scores}
    return {part: np.concatenate([scores.get(part, np.full(n, np.nan)) for scores, n in pieces]) for part in parts}


def _joined_image_ids(pieces: list[list | np.ndarray]) -> list | np.ndarray:
    """The image ids of consecutive chunks: one array when each chunk's are, else one list of JSON values."""
    if all(isinstance(ids, np.ndarray) for ids in pieces):
        return np.concatenate(pieces)
    return [v for ids in pieces for v in (ids.tolist() if isinstance(ids, np.ndarray) else ids)]


def _joined_keypoints(chunks: list[Columns]) -> np.ndarray:
    """The keypoints are most of the memory: copy them into place chunk by chunk, freeing as we go."""
    keypoints = np.empty((sum(len(c.score) for c in chunks),) + chunks[0].keypoints.shape[1:],
                         dtype=chunks[0].keypoints.dtype)
    at = 0
    for c in chunks:
        keypoints[at : at + len(c.score)] = c.keypoints
        at += len(c.score)
        c.keypoints = np.empty((0,) + keypoints.shape[1:], dtype=keypoints.dtype)
    return keypoints


def chunk_columns(records: list, offset: int, protocol: Protocol, name: str, bbox_area: bool) -> Columns:
    """Validate and convert consecutive records; ``offset`` is the first record's index in the file."""
    for i, item in enumerate(records):
        if not isinstance(item, dict):
            raise InputError(f"{name}: prediction #{offset + i} is a JSON {kind(item)}, expected an object")

    def where(i: int) -> str:
        return f"{name}: prediction #{offset + i} (image_id {show(records[i].get('image_id'))})"

    image_ids = _image_id_column(records, where)
    categories = _category_column(records, where)
    score = number_column(records, "score", where)
    keypoints, formats = _keypoint_block(records, protocol, name, offset, where)
    area = _bbox_area(records, where) if bbox_area else keypoint_area(keypoints, protocol)
    part_scores = {
        part: number_column(records, key, where, required=False)
        for part, key in protocol.part_score_keys.items()
        if any(key in item for item in records)
    }
    return finished_columns(image_ids, categories, score, keypoints, area, part_scores, bbox_area, formats, protocol)


def finished_columns(image_ids: list | np.ndarray, category_ids: np.ndarray, score: np.ndarray, keypoints: np.ndarray,
                     area: np.ndarray, part_scores: dict[str, np.ndarray], bbox_area: bool,
                     formats: tuple[str, ...], protocol: Protocol) -> Columns:
    """Validated columns (keypoints (D, K, 3) float64) as Columns: the scores become flags, x and y are cast, and
    where the protocol prunes OKS pairs the box around each prediction's keypoints is taken here, in the
    reader's processes, rather than by the engine."""
    xy = keypoints[:, :, :2].astype(protocol.coordinate_dtype)  # scores are used up: positive
    return Columns(
        image_ids=image_ids,
        category_ids=category_ids,
        score=score,
        keypoints=xy,
        area=area,
        positive=positive_flags(keypoints, protocol),
        part_scores=part_scores,
        bbox_area=bbox_area,
        formats=formats,
        boxes=keypoint_boxes(xy) if prunes(protocol.parts) else None,
    )


def _image_id_column(records: list, where: Where) -> list | np.ndarray:
    """The image ids: an int64 array when every one is an integer that fits, else the JSON values (file names)."""
    image_ids = [item.get("image_id") for item in records]
    for i, v in enumerate(image_ids):
        if not (is_int(v) or (isinstance(v, str) and v)):
            raise InputError(f"{where(i)}: 'image_id' is {show(v)}, expected an integer id or an image file name")
    ids = int64_column(image_ids)
    return image_ids if ids is None else ids


def _category_column(records: list, where: Where) -> np.ndarray:
    categories = [item.get("category_id") for item in records]
    for i, v in enumerate(categories):
        if not is_int(v):
            raise InputError(f"{where(i)}: 'category_id' is {show(v)}, expected an integer id")
    return np.array(categories, dtype=np.int64)


def _keypoint_block(records: list, protocol: Protocol, name: str, offset: int,
                    where: Where) -> tuple[np.ndarray, tuple[str, ...]]:
    """(D, K, 3) float64 keypoints of the records, each read by its format, and the formats used."""
    k = protocol.num_keypoints
    kps, used = [], set()
    formats = registered()
    for i, item in enumerate(records):
        shape = RecordShape.of(item)
        for record_format in formats:  # the last, the catch-all, claims any record
            if record_format.claims(shape, protocol):
                break
        used.add(record_format.key)
        kp = record_format.keypoints(item, protocol)
        if not isinstance(kp, list) or len(kp) != 3 * k:
            raise InputError(f"{where(i)}: 'keypoints' is {keypoints_problem(kp, protocol)}")
        kps.append(kp)
    keypoints = to_array(kps, (len(kps), k, 3), name, "prediction", offset)
    del kps
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        raise InputError(f"{where(int(bad[0]))}: 'keypoints' holds NaN, infinity or null")
    return keypoints, tuple(sorted(used))


def positive_flags(keypoints: np.ndarray, protocol: Protocol) -> dict[str, np.ndarray]:
    """Part -> whether each prediction has a keypoint score > 0 in it ('*': the whole skeleton), from [D x K x 3]."""
    scored = keypoints[:, :, 2] > 0
    positive = {"*": np.asarray(scored.any(axis=1))}
    positive.update({part: np.asarray(scored[:, list(idx)].any(axis=1)) for part, idx in protocol.parts.items()})
    return positive


def keypoint_area(keypoints: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Area of the box around the protocol's ``area_keypoints`` (all keypoints by default)."""
    chosen = keypoints[:, list(protocol.area_keypoints)] if protocol.area_keypoints else keypoints
    if not len(chosen):
        return np.zeros(0)
    least, greatest = keypoint_extent(chosen)
    with np.errstate(over="ignore"):  # coordinates near the float64 limit: an infinite area, as the oracles get
        return (greatest[:, 0] - least[:, 0]) * (greatest[:, 1] - least[:, 1])


def _bbox_area(records: list, where: Where) -> np.ndarray:
    boxes = []
    for i, item in enumerate(records):
        b = item.get("bbox")
        if not (isinstance(b, list) and len(b) == 4 and all(is_number(v) for v in b)):
            raise InputError(
                f"{where(i)}: 'bbox' is {show(b)}; the first result has a bbox, so every "
                "result needs [x, y, w, h] (its w*h is the area), or drop 'bbox' from all"
            )
        boxes.append(b)
    array = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad):
        raise InputError(f"{where(int(bad[0]))}: 'bbox' holds NaN or infinity")
    bad = np.flatnonzero((array[:, 2:] < 0).any(axis=1))
    if len(bad):  # its area would be negative: outside every area range, silently ignored by cocoeval
        raise InputError(f"{where(int(bad[0]))}: 'bbox' {records[bad[0]]['bbox']} has a negative width or height")
    return array[:, 2] * array[:, 3]


def number_column(records: list, key: str, where: Where, required: bool = True) -> np.ndarray:
    """A float column; ``where(i)`` names record i in messages.  Absent optional values are NaN."""
    values = [item.get(key) for item in records]
    present = values if required else [v for v in values if v is not None]
    try:
        if all(type(v) in (int, float) for v in present) and np.isfinite(np.array(present, dtype=np.float64)).all():
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:
        pass
    for i, v in enumerate(values):
        if (v is not None or required) and not (is_number(v) and np.isfinite(v)):
            raise InputError(f"{where(i)}: '{key}' is {show(v)}, expected a finite number")
    raise AssertionError("unreachable")  # pragma: no cover


def distinct(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values, as ``np.unique`` gives them without its masked-array check (which imports
    numpy.ma, ~9 ms of a small run)."""
    ordered = np.sort(values)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))] if len(ordered) else ordered


LOOKUP_SPAN_PER_VALUE = 32  # index_in looks values up in a table of ids when it has at most this many slots per value


def index_in(sorted_ids: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int64 position of each value in the distinct ``sorted_ids``, whether it is there at all); the position
    of a value that is not there means nothing.

    Where the ids are small non-negative integers (at most LOOKUP_SPAN_PER_VALUE table slots per value, as image
    ids are), each value is looked up in a table indexed by id: a binary search of 39k unsorted image ids among
    5k costs ~3.6 ms, the table ~0.5 ms.
    """
    top = int(sorted_ids[-1]) if len(sorted_ids) else -1
    small = len(sorted_ids) and sorted_ids[0] >= 0 and top < LOOKUP_SPAN_PER_VALUE * len(values)
    if small and values.dtype.kind in "iu":
        table = np.full(top + 1, -1, dtype=np.int32 if len(sorted_ids) < 2**31 else np.int64)
        table[sorted_ids] = np.arange(len(sorted_ids))
        inside = (values >= 0) & (values <= top)
        looked_up = table[np.where(inside, values, 0)]
        return np.maximum(looked_up, 0).astype(np.int64), inside & (looked_up >= 0)
    index = np.searchsorted(sorted_ids, values)
    found = index < len(sorted_ids)
    found[found] = sorted_ids[index[found]] == values[found]
    return index, found


def keypoints_problem(kp: Any, protocol: Protocol) -> str:
    """'<what the keypoints field holds>, expected <what the protocol reads>', and the likely fix when one shows."""
    return f"{describe_keypoints(kp)}, expected {expected_keypoints(protocol)}{_keypoints_hint(kp, protocol)}"


def describe_keypoints(kp: Any) -> str:
    """What a record's keypoints field holds, for a message."""
    if isinstance(kp, MissingField):
        return f"incomplete: '{kp.field}' is missing or has the wrong length"
    if isinstance(kp, list) and kp and all(isinstance(v, list) for v in kp):
        return f"a list of {len(kp)} lists"
    if isinstance(kp, list):
        return f"{len(kp)} numbers"
    return "missing" if kp is None else f"a JSON {kind(kp)}"


def _keypoints_hint(kp: Any, protocol: Protocol) -> str:
    """Triples to flatten, or a keypoint count that is another built-in protocol's."""
    if not isinstance(kp, list):
        return ""
    if kp and all(isinstance(v, list) and len(v) == 3 for v in kp):
        return "; write the [x, y, s] triples as one flat list: [x1, y1, s1, x2, y2, s2, ...]"
    count, rest = divmod(len(kp), 3)
    if rest or count == protocol.num_keypoints:
        return ""
    others = [name for name in builtin_names() if load_protocol(name).num_keypoints == count]
    if not others:
        return ""
    return (f"; {count} keypoints is the skeleton of {' and '.join(others)}, not of {protocol.name}: check that "
            "the ground truth and the predictions come from the same dataset (or choose --protocol)")


def expected_keypoints(protocol: Protocol) -> str:
    k = protocol.num_keypoints
    text = f"{3 * k} ({k} keypoints x 3)"
    if protocol.nested_fields:
        text += " or the fields " + ", ".join(f"{f} ({3 * c})" for f, c in protocol.nested_fields)
    return text


def to_array(rows: Sequence, shape: tuple[int, ...], name: str, what: str, offset: int = 0) -> np.ndarray:
    """Rows of equal-length number lists -> float64 array; a bad row is named.

    The element type is inferred first: given ``dtype=float`` numpy would turn the string
    "12.5" into a number, where every official evaluator fails.
    """
    try:
        array = np.array(rows)
        if array.dtype.kind in "biuf":
            return array.astype(np.float64, copy=False).reshape(shape)
    except (ValueError, TypeError, OverflowError):
        pass
    for i, row in enumerate(rows):
        try:
            ok = np.array(row).dtype.kind in "biuf"
        except (ValueError, TypeError, OverflowError):
            ok = False
        if not ok:
            raise InputError(f"{name}: {what} #{offset + i}: 'keypoints' holds a value that is not a number")
    raise InputError(f"{name}: 'keypoints' lists differ in length")  # pragma: no cover

