"""Stage 1: read ground truth and predictions into numpy arrays, strictly.

Every problem raises :class:`InputError` with the file, the record and what is
wrong.  Conventions follow the COCO API's ``COCO`` and ``loadRes``:

- images are ordered by id (``sorted(getImgIds())``), annotations keep file order;
- a prediction's area is its ``bbox`` w*h when the FIRST result carries a
  non-empty ``bbox`` (then every result must), else the extent of its keypoints,
  unlabelled ones included (``loadRes``).
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InputError
from .jsonio import display_name, first_element_of, iter_array_chunks, iter_range_chunks, read_json, split_point
from .protocol import Protocol, detect_protocol, load_protocol


@dataclass(frozen=True)
class GroundTruth:
    """COCO keypoint ground truth as arrays; G annotations over I images."""

    source: str
    protocol: Protocol  # the skeleton the keypoints were read with
    image_ids: np.ndarray  # (I,) int64, sorted
    file_names: Tuple[str, ...]  # (I,) images[].file_name, '' when absent
    category_ids: np.ndarray  # (C,) int64, sorted
    ann_ids: np.ndarray  # (G,) int64
    image_index: np.ndarray  # (G,) index into image_ids
    category_index: np.ndarray  # (G,) index into category_ids
    keypoints: np.ndarray  # (G, K, 3) float64: x, y, visibility
    area: np.ndarray  # (G,) float64, the annotation's 'area' field
    bbox: np.ndarray  # (G, 4) float64
    iscrowd: np.ndarray  # (G,) bool
    ignore: np.ndarray  # (G,) bool, the optional 'ignore' field
    num_keypoints: np.ndarray  # (G,) int64, -1 where the field is absent
    warnings: Tuple[str, ...] = ()

    @property
    def num_keypoint_types(self) -> int:
        return self.keypoints.shape[1]


@dataclass(frozen=True)
class Predictions:
    """COCO keypoint results as arrays; D predictions in file order."""

    source: str
    format: str  # which accepted input format the file was in
    image_index: np.ndarray  # (D,) index into GroundTruth.image_ids
    category_index: np.ndarray  # (D,)
    keypoints: np.ndarray  # (D, K, 2) x, y in the protocol's coordinate dtype (scores live on in ``positive``)
    score: np.ndarray  # (D,) float64
    area: np.ndarray  # (D,) float64, per loadRes (computed in float64 before any cast)
    positive: Dict[str, np.ndarray]  # part -> some keypoint score > 0 in it ('*': whole skeleton)
    part_scores: Dict[str, np.ndarray] = field(default_factory=dict)  # NaN where absent
    warnings: Tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.score)


# ---------------------------------------------------------------- ground truth


def peek_protocol(path) -> Optional[Protocol]:
    """The protocol of a GT file judged from its first annotation, before the file is parsed (or None)."""
    first = first_element_of(path, "annotations")
    if not isinstance(first, dict):
        return None
    try:
        return detect_protocol(first)
    except InputError:
        return None


def ground_truth_protocol(data, protocol, name: str) -> Protocol:
    """Check the top level of a parsed COCO annotation file; the protocol given, or detected."""
    if not isinstance(data, dict):
        raise InputError(f"{name}: top level is a JSON {_kind(data)}, expected a COCO annotation object")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise InputError(f"{name}: no '{key}' list: not a COCO annotation file")
        if not isinstance(data[key], list):
            raise InputError(f"{name}: '{key}' is a JSON {_kind(data[key])}, expected a list")
    if protocol is not None:
        return load_protocol(protocol)
    at = next((i for i, a in enumerate(data["annotations"]) if isinstance(a, dict)), None)
    if at is None:
        raise InputError(f"{name}: no annotations to detect the protocol from; choose one with --protocol")
    first = data["annotations"][at]
    try:
        return detect_protocol(first)
    except InputError as exc:
        raise InputError(f"{name}: annotation #{at} (id {_show(first.get('id'))}) {exc}") from None


def load_ground_truth(source, protocol=None, name: Optional[str] = None) -> GroundTruth:
    """A :class:`GroundTruth` from a path or an already parsed COCO dict (``name`` labels messages).

    ``protocol`` (name, file or Protocol) is detected from the first annotation when None.
    """
    data, name = _data_and_name(source, name or "<ground truth>")
    protocol = ground_truth_protocol(data, protocol, name)

    image_ids = _section_ids(data, "images", name)
    file_names = [str(img.get("file_name", "")) for img in data["images"]]
    if len(set(image_ids)) != len(image_ids):
        dup = _first_duplicate(image_ids)
        raise InputError(f"{name}: image id {dup} appears more than once in 'images'")
    order = np.argsort(np.asarray(image_ids, dtype=np.int64), kind="stable")
    image_ids_sorted = np.asarray(image_ids, dtype=np.int64)[order]
    file_names = tuple(file_names[i] for i in order)

    category_ids = np.unique(np.asarray(_section_ids(data, "categories", name), dtype=np.int64))

    anns = data["annotations"]
    num_keypoints = protocol.num_keypoints
    warnings: List[str] = []
    rows = []  # (ann_id, image_id, category_id, area, iscrowd, ignore, num_keypoints)
    kps, boxes = [], []
    orphans = 0
    image_set = set(image_ids)
    for i, ann in enumerate(anns):
        where = f"{name}: annotation #{i}"
        if not isinstance(ann, dict):
            raise InputError(f"{where} is a JSON {_kind(ann)}, expected an object")
        if not _is_int(ann.get("id")):
            raise InputError(f"{where}: 'id' is {_show(ann.get('id'))}, expected an integer id")
        where = f"{name}: annotation #{i} (id {ann['id']})"
        for key in ("image_id", "category_id"):
            if not _is_int(ann.get(key)):
                raise InputError(f"{where}: '{key}' missing or not an integer")
        if ann["image_id"] not in image_set:
            orphans += 1
            continue
        area = ann.get("area")
        if not _is_number(area) or not np.isfinite(area) or area < 0:
            raise InputError(f"{where}: 'area' is {_show(area)}, expected a number >= 0")
        bbox = ann.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(_is_number(b) for b in bbox)):
            raise InputError(f"{where}: 'bbox' is {_show(bbox)}, expected [x, y, w, h]")
        if not all(np.isfinite(bbox)) or bbox[2] < 0 or bbox[3] < 0:
            raise InputError(f"{where}: 'bbox' {bbox} has a negative or non-finite value")
        k = _keypoints_field(ann, protocol)
        if not isinstance(k, list) or len(k) != 3 * num_keypoints:
            raise InputError(f"{where}: 'keypoints' is {_describe(k)}, expected {_expected(protocol)}")
        for flag in ("iscrowd", "ignore"):
            if ann.get(flag, 0) not in (0, 1):  # True/False and 0.0/1.0 compare equal to 1/0
                raise InputError(f"{where}: '{flag}' is {_show_json(ann[flag])}, expected 0 or 1")
        nk = ann.get("num_keypoints", -1)
        if not (_is_int(nk) and nk >= 0):
            if "num_keypoints" in ann and protocol.no_keypoints_rule == "num_keypoints":
                raise InputError(f"{where}: 'num_keypoints' is {_show_json(nk)}, expected a count >= 0 "
                                 "(or no such field: the labelled keypoints are counted)")
            nk = -1  # absent, or unusable where the protocol does not read it
        rows.append(
            (ann["id"], ann["image_id"], ann["category_id"], area,
             bool(ann.get("iscrowd", 0)), bool(ann.get("ignore", 0)), nk)
        )
        kps.append(k)
        boxes.append(bbox)
    if orphans:
        warnings.append(f"{name}: {orphans} annotation(s) refer to images not in 'images'; they are not scored")
    if not rows:
        warnings.append(f"{name}: no annotation to score; every AP and AR is undefined")
    ann_ids = np.array([r[0] for r in rows], dtype=np.int64)
    if len(np.unique(ann_ids)) != len(ann_ids):
        raise InputError(f"{name}: annotation id {_first_duplicate(ann_ids.tolist())} appears more than once")
    keypoints = _to_array(kps, (len(kps), num_keypoints, 3), name, "annotation")
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        raise InputError(f"{name}: annotation id {ann_ids[bad[0]]}: 'keypoints' holds NaN, infinity or null")
    cats = np.array([r[2] for r in rows], dtype=np.int64)
    category_index, known = _index_in(category_ids, cats)
    if not known.all():
        j = int(np.flatnonzero(~known)[0])
        raise InputError(f"{name}: annotation id {ann_ids[j]}: category_id {cats[j]} is not in 'categories'")
    labelled = (keypoints[:, :, 2] > 0).sum(axis=1)
    num_kp = np.array([r[6] for r in rows], dtype=np.int64)
    disagree = int(((num_kp >= 0) & (num_kp != labelled)).sum())
    if disagree:
        warnings.append(
            f"{name}: {disagree} annotation(s) have 'num_keypoints' different from their labelled keypoints"
        )
    return GroundTruth(
        source=name,
        protocol=protocol,
        image_ids=image_ids_sorted,
        file_names=file_names,
        category_ids=category_ids,
        ann_ids=ann_ids,
        image_index=np.searchsorted(image_ids_sorted, np.array([r[1] for r in rows], dtype=np.int64)),
        category_index=category_index.astype(np.int64),
        keypoints=keypoints,
        area=np.array([r[3] for r in rows], dtype=np.float64),
        bbox=np.array(boxes, dtype=np.float64).reshape(-1, 4),
        iscrowd=np.array([r[4] for r in rows], dtype=bool),
        ignore=np.array([r[5] for r in rows], dtype=bool),
        num_keypoints=num_kp,
        warnings=tuple(warnings),
    )


def _section_ids(data: dict, section: str, name: str) -> List[int]:
    """The integer ``id`` of every record of ``images`` or ``categories``."""
    ids = []
    for i, record in enumerate(data[section]):
        if not isinstance(record, dict):
            raise InputError(f"{name}: {section}[{i}] is a JSON {_kind(record)}, expected an object")
        if not _is_int(record.get("id")):
            raise InputError(f"{name}: {section}[{i}]: 'id' is {_show(record.get('id'))}, expected an integer id")
        ids.append(record["id"])
    return ids


# ---------------------------------------------------------------- predictions

PREDICTION_FORMATS = {
    "coco": "COCO results",
    "alphapose": "AlphaPose results (image_id by file name)",
    "nested": "COCO-WholeBody results (nested fields)",
}


def load_predictions(
    source, gt: GroundTruth, name: Optional[str] = None, allow_unknown_images: bool = False
) -> Predictions:
    """A :class:`Predictions` from a path or a parsed results list, checked against ``gt``.

    Files are read in chunks (:func:`iter_array_chunks`): each chunk's records
    become arrays and are dropped before the next chunk is parsed.  Accepted:
    COCO results, AlphaPose results (``image_id`` is a file name), and the
    protocol's nested per-part fields; gzip and '-' (stdin) for files.
    """
    reader = PredictionReader(source, name)
    try:
        reader.start(gt.protocol)
        return reader.load(gt, allow_unknown_images)
    finally:
        reader.close()


PARALLEL_MIN_BYTES = 32 << 20  # below this, worker processes cost more than they save
RANGE_BYTES = 24 << 20  # bytes of prediction file per worker task


class PredictionReader:
    """Reads predictions, in worker processes when that pays, while the caller does other work.

    Make it first, then ``start(protocol)``, then ``load(gt)``; ``close()`` in any case.
    For a large plain file two workers are forked at once, while this process is
    still small: forked later, they would share the parsed GT's pages and, once
    this process frees them, own a copy.  ``start`` cuts the file between
    records into ranges of ~RANGE_BYTES, one task each.  Any problem in a
    worker (an invalid record, a cut that does not parse) falls back to the
    serial reader, which also words the error exactly.
    """

    def __init__(self, source, name: Optional[str] = None, workers: Optional[int] = None):
        self.source = source
        self.name = display_name(source) if isinstance(source, (str, Path)) else (name or "<predictions>")
        self.protocol: Optional[Protocol] = None
        self._pool, self._futures = None, None
        workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        if workers > 1 and isinstance(source, (str, Path)) and _parallel_ok(source):
            try:
                context = multiprocessing.get_context("fork")
            except ValueError:  # no fork on this platform: read serially
                return
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            self._pool.submit(_ready)  # a fork-context pool forks all its workers on the first submit

    def start(self, protocol: Protocol) -> None:
        """Hand the workers the file; again with another protocol discards the first start's work."""
        if self.protocol == protocol:
            return
        if self._futures is not None:
            for future in self._futures:
                future.cancel()
        self.protocol = protocol
        if self._pool is not None:
            self._futures = _submit_ranges(self._pool, str(self.source), protocol)

    def load(self, gt: GroundTruth, allow_unknown_images: bool = False) -> Predictions:
        cols = None
        if self._futures is not None:
            try:
                cols = _Columns.concatenate([c for f in self._futures for c in f.result()])
            except Exception:  # noqa: BLE001 - the serial reader re-reads and reports precisely
                cols = None
            self.close()
        if cols is None:
            chunks = iter_array_chunks(self.source) if isinstance(self.source, (str, Path)) else iter([self.source])
            cols = _Columns.concatenate(_columns_of_chunks(chunks, self.protocol or gt.protocol, self.name))
        return _finish_predictions(cols, gt, self.name, allow_unknown_images)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._futures = None, None


def _ready() -> None:
    """Nothing: submitted once so that the pool forks its workers now."""


def _parallel_ok(path) -> bool:
    try:
        if os.path.getsize(path) < PARALLEL_MIN_BYTES:
            return False
        with open(path, "rb") as f:
            return f.read(2) != b"\x1f\x8b"  # gzip streams cannot be split
    except OSError:
        return False


def _submit_ranges(pool, path: str, protocol: Protocol):
    """One task per ~RANGE_BYTES of the file, cut between records; None if a cut cannot be found.

    Small tasks keep each worker's memory to one range's arrays, and results stream back in order.
    """
    size = os.path.getsize(path)
    cuts = [0]
    for near in range(RANGE_BYTES, size - RANGE_BYTES // 2, RANGE_BYTES):
        cut = split_point(path, near)
        if cut is None or cut <= cuts[-1]:
            return None
        cuts.append(cut)
    first = _first_record(path)
    if first is None:
        return None
    bbox_area = isinstance(first.get("bbox"), list) and first["bbox"] != []  # loadRes: the first result decides
    ranges = [(a if a == 0 else a + 1, b) for a, b in zip(cuts, cuts[1:] + [size])]
    return [pool.submit(_read_range, path, a, b, protocol, bbox_area) for a, b in ranges]


def _read_range(path: str, start: int, stop: int, protocol: Protocol, bbox_area: bool) -> List["_Columns"]:
    return _columns_of_chunks(iter_range_chunks(path, start, stop), protocol, path, bbox_area)


def _first_record(path: str) -> Optional[dict]:
    for chunk in iter_range_chunks(path, 0, os.path.getsize(path), chunk_bytes=1 << 16):
        return chunk[0] if isinstance(chunk, list) and chunk and isinstance(chunk[0], dict) else None
    return None


def _columns_of_chunks(chunks, protocol: Protocol, name: str, bbox_area: Optional[bool] = None) -> List["_Columns"]:
    columns: List[_Columns] = []
    offset = 0
    for chunk in chunks:
        if not isinstance(chunk, list):
            raise InputError(f"{name}: top level is a JSON {_kind(chunk)}, expected a list of results")
        columns.append(_chunk_columns(chunk, offset, protocol, name, bbox_area))
        bbox_area = columns[0].bbox_area
        offset += len(chunk)
        del chunk
    return columns


@dataclass
class _Columns:
    """One chunk of predictions as arrays (image ids still as JSON values)."""

    image_ids: list
    category_ids: np.ndarray
    score: np.ndarray
    keypoints: np.ndarray
    area: np.ndarray
    positive: Dict[str, np.ndarray]  # part -> any keypoint score > 0 in the part ('*': whole skeleton)
    part_scores: Dict[str, np.ndarray]
    bbox_area: bool
    nested: bool

    @staticmethod
    def concatenate(chunks: List["_Columns"]) -> "_Columns":
        if len(chunks) == 1:
            return chunks[0]
        chunks = [c for c in chunks if len(c.score)] or chunks[:1]
        cat = lambda attr: np.concatenate([getattr(c, attr) for c in chunks])  # noqa: E731
        keys = lambda attr: {k for c in chunks for k in getattr(c, attr)}  # noqa: E731
        # The keypoints are most of the memory: copy them into place chunk by chunk, freeing as we go.
        keypoints = np.empty((sum(len(c.score) for c in chunks),) + chunks[0].keypoints.shape[1:],
                             dtype=chunks[0].keypoints.dtype)
        at = 0
        for c in chunks:
            keypoints[at : at + len(c.score)] = c.keypoints
            at += len(c.score)
            c.keypoints = None
        return _Columns(
            image_ids=[i for c in chunks for i in c.image_ids],
            category_ids=cat("category_ids"),
            score=cat("score"),
            keypoints=keypoints,
            area=cat("area"),
            positive={k: np.concatenate([c.positive[k] for c in chunks]) for k in chunks[0].positive},
            part_scores={
                k: np.concatenate([c.part_scores.get(k, np.full(len(c.score), np.nan)) for c in chunks])
                for k in keys("part_scores")
            },
            bbox_area=chunks[0].bbox_area,
            nested=any(c.nested for c in chunks),
        )


def _chunk_columns(records: list, offset: int, protocol: Protocol, name: str, bbox_area) -> _Columns:
    """Validate and convert consecutive records; ``offset`` is the first record's index in the file."""
    k = protocol.num_keypoints
    for i, item in enumerate(records):
        if not isinstance(item, dict):
            raise InputError(f"{name}: prediction #{offset + i} is a JSON {_kind(item)}, expected an object")

    def where(i: int) -> str:
        return f"{name}: prediction #{offset + i} (image_id {_show(records[i].get('image_id'))})"

    image_ids = [item.get("image_id") for item in records]
    for i, v in enumerate(image_ids):
        if not (_is_int(v) or (isinstance(v, str) and v)):
            raise InputError(f"{where(i)}: 'image_id' is {_show(v)}, expected an integer id or an image file name")
    categories = [item.get("category_id") for item in records]
    for i, v in enumerate(categories):
        if not _is_int(v):
            raise InputError(f"{where(i)}: 'category_id' is {_show(v)}, expected an integer id")
    score = _number_column(records, "score", where)
    kps = [_keypoints_field(item, protocol) for item in records]
    for i, kp in enumerate(kps):
        if not isinstance(kp, list) or len(kp) != 3 * k:
            raise InputError(f"{where(i)}: 'keypoints' is {_describe(kp)}, expected {_expected(protocol)}")
    keypoints = _to_array(kps, (len(kps), k, 3), name, "prediction", offset)
    del kps
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        raise InputError(f"{where(bad[0])}: 'keypoints' holds NaN, infinity or null")

    if bbox_area is None:  # loadRes decides by the first result of the file
        bbox_area = bool(records) and isinstance(records[0].get("bbox"), list) and records[0]["bbox"] != []
    if bbox_area:
        area = _bbox_area(records, where)
    else:
        xy = keypoints[:, list(protocol.area_keypoints), :2] if protocol.area_keypoints else keypoints[:, :, :2]
        extent = xy.max(axis=1) - xy.min(axis=1) if len(xy) else np.zeros((0, 2))
        area = extent[:, 0] * extent[:, 1]
    positive_scores = keypoints[:, :, 2] > 0
    positive = {"*": positive_scores.any(axis=1)}
    positive.update({part: positive_scores[:, list(idx)].any(axis=1) for part, idx in protocol.parts.items()})
    part_scores = {}
    for part, key in protocol.part_score_keys.items():
        if any(key in item for item in records):
            part_scores[part] = _number_column(records, key, where, required=False)
    nested = bool(protocol.nested_fields) and any(protocol.nested_fields[1][0] in item for item in records)
    return _Columns(
        image_ids=image_ids,
        category_ids=np.array(categories, dtype=np.int64),
        score=score,
        keypoints=keypoints[:, :, :2].astype(protocol.coordinate_dtype),  # scores are used up: positive
        area=area,
        positive=positive,
        part_scores=part_scores,
        bbox_area=bbox_area,
        nested=nested,
    )


def _bbox_area(records: list, where) -> np.ndarray:
    boxes = []
    for i, item in enumerate(records):
        b = item.get("bbox")
        if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b)):
            raise InputError(
                f"{where(i)}: 'bbox' is {_show(b)}; the first result has a bbox, so every "
                "result needs [x, y, w, h] (its w*h is the area), or drop 'bbox' from all"
            )
        boxes.append(b)
    boxes = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    bad = np.flatnonzero(~np.isfinite(boxes).all(axis=1))
    if len(bad):
        raise InputError(f"{where(bad[0])}: 'bbox' holds NaN or infinity")
    bad = np.flatnonzero((boxes[:, 2:] < 0).any(axis=1))
    if len(bad):  # its area would be negative: outside every area range, silently ignored by cocoeval
        raise InputError(f"{where(bad[0])}: 'bbox' {records[bad[0]]['bbox']} has a negative width or height")
    return boxes[:, 2] * boxes[:, 3]


def _finish_predictions(cols: _Columns, gt: GroundTruth, name: str, allow_unknown_images: bool) -> Predictions:
    warnings: List[str] = []
    image_index, by_name = _image_index(cols.image_ids, gt, name, allow_unknown_images)
    category_index, known_cat = _index_in(gt.category_ids, cols.category_ids)
    if not known_cat.all():
        i = int(np.flatnonzero(~known_cat)[0])
        unknown = np.unique(cols.category_ids[~known_cat])
        raise InputError(
            f"{name}: prediction #{i}: category_id {cols.category_ids[i]} is not in the ground truth's "
            f"'categories' ({_listing(unknown)})"
        )
    keep = image_index >= 0
    if not keep.all():
        dropped = list(dict.fromkeys(v for v, k in zip(cols.image_ids, keep) if not k))
        warnings.append(
            f"{name}: {int((~keep).sum())} prediction(s) on {len(dropped)} image(s) not in the ground truth were "
            f"dropped (--allow-unknown-images): {_listing(dropped)}"
        )
    n = len(cols.score)
    if n == 0:
        warnings.append(f"{name}: no predictions; every AP and AR is 0")
    zero = int((~cols.positive["*"][keep]).sum())
    if zero:
        warnings.append(f"{name}: {zero} prediction(s) have every keypoint score 0")
    gt_images = np.zeros(len(gt.image_ids), dtype=bool)
    gt_images[gt.image_index] = True
    no_gt = np.unique(image_index[keep][~gt_images[image_index[keep]]])
    if len(no_gt):
        warnings.append(f"{name}: {len(no_gt)} image(s) have predictions but no GT annotation (all false positives)")
    fmt = "nested" if cols.nested else "alphapose" if by_name else "coco"
    kept = (lambda a: a) if keep.all() else (lambda a: a[keep])  # no copies in the usual case
    return Predictions(
        source=name,
        format=PREDICTION_FORMATS[fmt],
        image_index=kept(image_index),
        category_index=kept(category_index).astype(np.int64, copy=False),
        keypoints=kept(cols.keypoints),
        score=kept(cols.score),
        area=kept(cols.area),
        positive={k: kept(v) for k, v in cols.positive.items()},
        part_scores={k: kept(v) for k, v in cols.part_scores.items()},
        warnings=tuple(warnings),
    )


def _image_index(values: list, gt: GroundTruth, name: str, allow_unknown: bool):
    """GT image index per prediction (-1: unknown, allowed), and whether file names were used."""
    by_id = {int(v): i for i, v in enumerate(gt.image_ids)}
    out = np.empty(len(values), dtype=np.int64)
    names = None
    for i, v in enumerate(values):
        if isinstance(v, str):
            names = names or _file_name_index(gt)
            out[i] = next((names[k] for k in (v, _basename(v), _stem(v)) if k in names), -1)
            if out[i] == -2:
                raise InputError(
                    f"{name}: prediction #{i}: image_id {v!r} matches several GT images by file name; "
                    "use numeric image ids"
                )
        else:
            out[i] = by_id.get(v, -1)
    unknown = out < 0
    if unknown.any() and not allow_unknown:
        missing = list(dict.fromkeys(values[i] for i in np.flatnonzero(unknown)))  # in file order
        i = int(np.flatnonzero(unknown)[0])
        if isinstance(values[i], str) and not any(gt.file_names):
            raise InputError(f"{name}: prediction #{i}: image_id {values[i]!r} is a file name, but the ground "
                             "truth's images have no 'file_name' to match it; use numeric image ids")
        raise InputError(
            f"{name}: prediction #{i}: image_id {values[i]!r} is not in the ground truth's 'images' "
            f"({len(missing)} unknown: {_listing(missing)}); check the GT file, or pass --allow-unknown-images "
            "to drop them"
        )
    return out, names is not None


def _file_name_index(gt: GroundTruth) -> Dict[str, int]:
    """file name -> image index: by full name, else by base name or stem (-2 where a name is ambiguous)."""
    exact: Dict[str, int] = {}
    loose: Dict[str, int] = {}
    for i, file_name in enumerate(gt.file_names):
        if not file_name:
            continue
        _add_name(exact, file_name, i)
        for key in {_basename(file_name), _stem(file_name)} - {file_name}:
            _add_name(loose, key, i)
    return {**loose, **exact}


def _add_name(index: Dict[str, int], key: str, i: int) -> None:
    index[key] = -2 if key in index and index[key] != i else i


def _basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def _stem(path: str) -> str:
    base = _basename(path)
    return base.rsplit(".", 1)[0] if "." in base else base


def _index_in(sorted_ids: np.ndarray, values: np.ndarray):
    """(position of each value in ``sorted_ids``, whether it is there at all)."""
    index = np.searchsorted(sorted_ids, values)
    found = index < len(sorted_ids)
    found[found] = sorted_ids[index[found]] == values[found]
    return index, found


def _listing(values) -> str:
    """A short list for messages; strings are repr'd so control characters cannot break the line."""
    values = [repr(v) if isinstance(v, str) else str(v) for v in values]
    return ", ".join(values[:5]) + (f", ... ({len(values)} in all)" if len(values) > 5 else "")


def _number_column(records: list, key: str, where, required: bool = True) -> np.ndarray:
    """A float column; ``where(i)`` names record i in messages.  Absent optional values are NaN."""
    values = [item.get(key) for item in records]
    present = [v for v in values if v is not None] if not required else values
    try:
        if all(type(v) in (int, float) for v in present) and np.isfinite(np.array(present, dtype=np.float64)).all():
            return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except OverflowError:
        pass
    for i, v in enumerate(values):
        if (v is not None or required) and not (_is_number(v) and np.isfinite(v)):
            raise InputError(f"{where(i)}: '{key}' is {_show(v)}, expected a finite number")
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- helpers


def _keypoints_field(record: dict, protocol: Protocol):
    """The flat keypoint list of a record; nested per-part fields, when any is present, are concatenated."""
    if protocol.nested_fields and any(f in record for f, _ in protocol.nested_fields[1:]):
        parts = [record.get(f) for f, _ in protocol.nested_fields]
        if all(isinstance(p, list) and len(p) == 3 * c for p, (_, c) in zip(parts, protocol.nested_fields)):
            return [v for p in parts for v in p]
        bad = next(f for p, (f, c) in zip(parts, protocol.nested_fields) if not (isinstance(p, list) and len(p) == 3 * c))
        return {"nested_field": bad}
    return record.get("keypoints")


def _describe(kp) -> str:
    if isinstance(kp, dict) and "nested_field" in kp:
        return f"incomplete: '{kp['nested_field']}' is missing or has the wrong length"
    if isinstance(kp, list):
        return f"{len(kp)} numbers"
    return "missing" if kp is None else f"a JSON {_kind(kp)}"


def _expected(protocol: Protocol) -> str:
    k = protocol.num_keypoints
    text = f"{3 * k} ({k} keypoints x 3)"
    if protocol.nested_fields:
        text += " or the fields " + ", ".join(f"{f} ({3 * c})" for f, c in protocol.nested_fields)
    return text


def _data_and_name(source, name: str):
    if isinstance(source, (str, Path)):
        return read_json(source)
    return source, name


def _to_array(rows: Sequence, shape: Tuple[int, ...], name: str, what: str, offset: int = 0) -> np.ndarray:
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


INT64 = (-(2**63), 2**63 - 1)


def _is_int(v) -> bool:
    """A JSON integer usable as an id (it fits int64, as COCO ids do)."""
    return isinstance(v, int) and not isinstance(v, bool) and INT64[0] <= v <= INT64[1]


def _is_number(v) -> bool:
    """A JSON number that fits a float64 (huge integers do not)."""
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        float(v)
    except OverflowError:
        return False
    return True


def _kind(v) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(v), "number"
    )


def _show(v) -> str:
    if v is None:
        return "missing"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _show_json(v) -> str:
    """A value of a field that is present, as JSON spells it (null, true, false)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return _show(v)


def _first_duplicate(values: list):
    seen = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None
