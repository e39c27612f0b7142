"""Stage 1: read ground truth and predictions into numpy arrays, strictly.

Every problem raises :class:`InputError` with the file, the record and what is
wrong.  Conventions follow the COCO API's ``COCO`` and ``loadRes``:

- images are ordered by id (``sorted(getImgIds())``), annotations keep file order;
- a prediction's area is its ``bbox`` w*h when the FIRST result carries a
  non-empty ``bbox`` (then every result must), else the extent of its keypoints,
  unlabelled ones included (``loadRes``).
"""
from __future__ import annotations

import gzip
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import InputError
from .protocol import Protocol, detect_protocol, load_protocol

try:  # orjson parses 3-4x faster than the standard library; see README "Speed".
    import orjson as _json

    _JSONDecodeError = _json.JSONDecodeError
except ImportError:  # pragma: no cover - orjson is a declared dependency
    import json as _json

    _JSONDecodeError = ValueError


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
    image_index: np.ndarray  # (D,) index into GroundTruth.image_ids
    category_index: np.ndarray  # (D,)
    keypoints: np.ndarray  # (D, K, 3) float64: x, y, score
    score: np.ndarray  # (D,) float64
    area: np.ndarray  # (D,) float64, per loadRes
    part_scores: Dict[str, np.ndarray] = field(default_factory=dict)  # NaN where absent
    warnings: Tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.score)


# ---------------------------------------------------------------- reading files


def read_json(path) -> Tuple[Any, str]:
    """Parse a JSON file ('-' is standard input, '.gz' is decompressed); return (data, name)."""
    name = str(path)
    try:
        if name == "-":
            raw = sys.stdin.buffer.read()
            name = "<stdin>"
        else:
            raw = Path(name).read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, expected a JSON file") from None
    except (OSError, EOFError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(f"{name}: cannot read ({reason})") from None
    if not raw.strip():
        raise InputError(f"{name}: file is empty, expected JSON")
    try:
        return _json.loads(raw), name
    except _JSONDecodeError as exc:
        raise InputError(f"{name}: invalid JSON: {exc}") from None
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise InputError(f"{name}: invalid JSON: {exc}") from None


# ---------------------------------------------------------------- ground truth


def load_ground_truth(source, protocol=None, name: Optional[str] = None) -> GroundTruth:
    """A :class:`GroundTruth` from a path or an already parsed COCO dict (``name`` labels messages).

    ``protocol`` (name, file or Protocol) is detected from the first annotation when None.
    """
    data, name = _data_and_name(source, name or "<ground truth>")
    if not isinstance(data, dict):
        raise InputError(f"{name}: top level is a JSON {_kind(data)}, expected a COCO annotation object")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise InputError(f"{name}: no '{key}' list: not a COCO annotation file")
        if not isinstance(data[key], list):
            raise InputError(f"{name}: '{key}' is a JSON {_kind(data[key])}, expected a list")

    image_ids, file_names = [], []
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or not _is_int(img.get("id")):
            raise InputError(f"{name}: images[{i}] has no integer 'id'")
        image_ids.append(img["id"])
        file_names.append(str(img.get("file_name", "")))
    if len(set(image_ids)) != len(image_ids):
        dup = _first_duplicate(image_ids)
        raise InputError(f"{name}: image id {dup} appears more than once in 'images'")
    order = np.argsort(np.asarray(image_ids, dtype=np.int64), kind="stable")
    image_ids_sorted = np.asarray(image_ids, dtype=np.int64)[order]
    file_names = tuple(file_names[i] for i in order)

    category_ids = []
    for i, cat in enumerate(data["categories"]):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            raise InputError(f"{name}: categories[{i}] has no integer 'id'")
        category_ids.append(cat["id"])
    category_ids = np.unique(np.asarray(category_ids, dtype=np.int64))

    anns = data["annotations"]
    if protocol is None:
        first = next((a for a in anns if isinstance(a, dict)), {})
        try:
            protocol = detect_protocol(first)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from None
    protocol = load_protocol(protocol)
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
            raise InputError(f"{where} has no integer 'id'")
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
        nk = ann.get("num_keypoints", -1)
        rows.append(
            (ann["id"], ann["image_id"], ann["category_id"], area,
             bool(ann.get("iscrowd", 0)), bool(ann.get("ignore", 0)), nk if _is_int(nk) else -1)
        )
        kps.append(k)
        boxes.append(bbox)
    if orphans:
        warnings.append(f"{name}: {orphans} annotation(s) refer to images not in 'images'; they are not scored")
    ann_ids = np.array([r[0] for r in rows], dtype=np.int64)
    if len(np.unique(ann_ids)) != len(ann_ids):
        raise InputError(f"{name}: annotation id {_first_duplicate(ann_ids.tolist())} appears more than once")
    keypoints = _to_array(kps, (len(kps), num_keypoints, 3), name, "annotation")
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        raise InputError(f"{name}: annotation #{bad[0]} (id {ann_ids[bad[0]]}): 'keypoints' holds NaN, infinity or null")
    cats = np.array([r[2] for r in rows], dtype=np.int64)
    category_index = np.searchsorted(category_ids, cats)
    unknown = np.flatnonzero((category_index >= len(category_ids)) | (category_ids[np.minimum(category_index, len(category_ids) - 1)] != cats)) if len(cats) else []
    if len(unknown):
        j = unknown[0]
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


# ---------------------------------------------------------------- predictions


def load_predictions(source, gt: GroundTruth, name: Optional[str] = None) -> Predictions:
    """A :class:`Predictions` from a path or a parsed COCO results list, checked against ``gt``."""
    data, name = _data_and_name(source, name or "<predictions>")
    protocol = gt.protocol
    if not isinstance(data, list):
        raise InputError(f"{name}: top level is a JSON {_kind(data)}, expected a list of results")
    k = protocol.num_keypoints
    warnings: List[str] = []
    n = len(data)
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise InputError(f"{name}: prediction #{i} is a JSON {_kind(item)}, expected an object")

    image_index = _lookup_ids(data, "image_id", gt.image_ids, name, "'images'")
    category_index = _lookup_ids(data, "category_id", gt.category_ids, name, "'categories'")
    score = _number_column(data, "score", name)

    kps = [_keypoints_field(item, protocol) for item in data]
    for i, kp in enumerate(kps):
        if not isinstance(kp, list) or len(kp) != 3 * k:
            raise InputError(
                f"{name}: prediction #{i} (image_id {_show(data[i].get('image_id'))}): 'keypoints' is "
                f"{_describe(kp)}, expected {_expected(protocol)}"
            )
    keypoints = _to_array(kps, (n, k, 3), name, "prediction")
    del kps
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        i = bad[0]
        raise InputError(
            f"{name}: prediction #{i} (image_id {_show(data[i].get('image_id'))}): "
            "'keypoints' holds NaN, infinity or null"
        )

    part_scores = {}
    for part, key in protocol.part_score_keys.items():
        if any(key in item for item in data):
            part_scores[part] = _number_column(data, key, name, required=False)

    area = _prediction_area(data, keypoints, protocol, name)
    if n == 0:
        warnings.append(f"{name}: no predictions; every AP and AR is 0")
    return Predictions(
        source=name,
        image_index=image_index,
        category_index=category_index,
        keypoints=keypoints,
        score=score,
        area=area,
        part_scores=part_scores,
        warnings=tuple(warnings),
    )


def _prediction_area(data: list, keypoints: np.ndarray, protocol: Protocol, name: str) -> np.ndarray:
    """loadRes' rule: bbox area if the first result has a non-empty bbox, else keypoint extent."""
    if data and isinstance(data[0].get("bbox"), list) and data[0]["bbox"] != []:
        boxes = []
        for i, item in enumerate(data):
            b = item.get("bbox")
            if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) for v in b)):
                raise InputError(
                    f"{name}: prediction #{i}: 'bbox' is {_show(b)}; the first result has a bbox, so every "
                    "result needs [x, y, w, h] (its w*h is the area), or drop 'bbox' from all"
                )
            boxes.append(b)
        boxes = np.array(boxes, dtype=np.float64)
        if not np.isfinite(boxes).all():
            i = int(np.flatnonzero(~np.isfinite(boxes).all(axis=1))[0])
            raise InputError(f"{name}: prediction #{i}: 'bbox' holds NaN or infinity")
        return boxes[:, 2] * boxes[:, 3]
    xy = keypoints[:, :, :2] if protocol.area_keypoints is None else keypoints[:, list(protocol.area_keypoints), :2]
    if len(xy) == 0:
        return np.zeros(0)
    extent = xy.max(axis=1) - xy.min(axis=1)
    return extent[:, 0] * extent[:, 1]


def _lookup_ids(data: list, key: str, known: np.ndarray, name: str, table: str) -> np.ndarray:
    values = [item.get(key) for item in data]
    bad = [i for i, v in enumerate(values) if not _is_int(v)]
    if bad:
        i = bad[0]
        raise InputError(f"{name}: prediction #{i}: '{key}' is {_show(values[i])}, expected an integer id")
    ids = np.array(values, dtype=np.int64)
    idx = np.searchsorted(known, ids)
    found = idx < len(known)
    found[found] = known[idx[found]] == ids[found]
    if not found.all():
        missing = np.unique(ids[~found])
        first = int(np.flatnonzero(~found)[0])
        shown = ", ".join(str(m) for m in missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise InputError(
            f"{name}: prediction #{first}: {key} {ids[first]} is not in the ground truth's {table} "
            f"({len(missing)} unknown: {shown})"
        )
    return idx.astype(np.int64)


def _number_column(data: list, key: str, name: str, required: bool = True) -> np.ndarray:
    out = np.full(len(data), np.nan)
    for i, item in enumerate(data):
        v = item.get(key)
        if v is None and not required:
            continue
        if not _is_number(v) or not np.isfinite(v):
            raise InputError(
                f"{name}: prediction #{i} (image_id {_show(item.get('image_id'))}): '{key}' is {_show(v)}, "
                "expected a finite number"
            )
        out[i] = v
    return out


# ---------------------------------------------------------------- helpers


def _keypoints_field(record: dict, protocol: Protocol):
    """The flat keypoint list of a record; nested per-part fields are concatenated when all are present."""
    if protocol.nested_fields and all(f in record for f, _ in protocol.nested_fields[1:]):
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


def _to_array(rows: Sequence, shape: Tuple[int, ...], name: str, what: str) -> np.ndarray:
    """Rows of equal-length number lists -> float64 array; a bad row is named."""
    try:
        return np.array(rows, dtype=np.float64).reshape(shape)
    except (ValueError, TypeError, OverflowError):
        pass
    for i, row in enumerate(rows):
        try:
            np.array(row, dtype=np.float64).reshape(shape[1:])
        except (ValueError, TypeError, OverflowError):
            raise InputError(f"{name}: {what} #{i}: 'keypoints' holds a value that is not a number") from None
    raise InputError(f"{name}: 'keypoints' lists differ in length")  # pragma: no cover


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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


def _first_duplicate(values: list):
    seen = set()
    for v in values:
        if v in seen:
            return v
        seen.add(v)
    return None
