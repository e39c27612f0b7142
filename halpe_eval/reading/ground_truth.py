"""Ground truth: a COCO keypoint annotation file, validated strictly, as arrays.

Conventions of the COCO API's ``COCO``: images are ordered by id
(``sorted(getImgIds())``), annotations keep file order.  Every problem raises
:class:`InputError` naming the file, the record and what is wrong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError
from ..protocol import BOX_AREA_SHARE, Protocol, detect_protocol, load_protocol
from .fast_ground_truth import Tables, fast_tables
from .formats import flat_keypoints
from .jsonio import first_element_of, parse_json, read_bytes
from .messages import is_int, is_number, kind, show, show_json
from .records import distinct, index_in, keypoints_problem, to_array


@dataclass(frozen=True)
class GroundTruth:
    """COCO keypoint ground truth as arrays; G annotations over I images."""

    source: str
    protocol: Protocol  # the skeleton the keypoints were read with
    image_ids: np.ndarray  # (I,) int64, sorted
    file_names: tuple[str, ...]  # (I,) images[].file_name, '' when absent
    category_ids: np.ndarray  # (C,) int64, sorted
    ann_ids: np.ndarray  # (G,) int64
    image_index: np.ndarray  # (G,) index into image_ids
    category_index: np.ndarray  # (G,) index into category_ids
    keypoints: np.ndarray  # (G, K, 3) float64: x, y, visibility
    area: np.ndarray  # (G,) float64, the annotation's 'area' field (box w*h*0.53 where the protocol's use_area is off)
    bbox: np.ndarray  # (G, 4) float64
    iscrowd: np.ndarray  # (G,) bool
    ignore: np.ndarray  # (G,) bool, the optional 'ignore' field
    num_keypoints: np.ndarray  # (G,) int64, -1 where the field is absent
    warnings: tuple[str, ...] = ()
    image_records: tuple[dict, ...] = field(default=(), repr=False, compare=False)  # (I,) images[] records, id order


class _Annotation(NamedTuple):
    """One validated annotation record."""

    id: int
    image_id: int
    category_id: int
    area: float
    bbox: list
    keypoints: list
    iscrowd: bool
    ignore: bool
    num_keypoints: int  # -1: absent, or unusable where the protocol does not read it


def peek_protocol(path: Any) -> Protocol | None:
    """The protocol of a GT file judged from its first annotation, before the file is parsed (or None)."""
    first = first_element_of(path, "annotations")
    if not isinstance(first, dict):
        return None
    try:
        return detect_protocol(first)
    except InputError:
        return None


def ground_truth_protocol(data: Any, protocol: Any, name: str) -> Protocol:
    """Check the top level of a parsed COCO annotation file; the protocol given, or detected."""
    if not isinstance(data, dict):
        hint = ""
        if isinstance(data, list) and data and isinstance(data[0], dict) and "image_id" in data[0]:
            hint = "; it looks like a results file: the ground truth comes first (halpe-eval GT.json PRED.json)"
        raise InputError(f"{name}: top level is a JSON {kind(data)}, expected a COCO annotation object{hint}")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise InputError(f"{name}: no '{key}' list: not a COCO annotation file")
        if not isinstance(data[key], list):
            raise InputError(f"{name}: '{key}' is a JSON {kind(data[key])}, expected a list")
    if protocol is not None:
        return load_protocol(protocol)
    at = next((i for i, a in enumerate(data["annotations"]) if isinstance(a, dict)), None)
    if at is None:
        raise InputError(f"{name}: no annotations to detect the protocol from; choose one with --protocol")
    first = data["annotations"][at]
    try:
        return detect_protocol(first)
    except InputError as exc:
        raise InputError(f"{name}: annotation #{at} (id {show(first.get('id'))}) {exc}") from None


def load_ground_truth(source: Any, protocol: Any = None, name: str | None = None) -> GroundTruth:
    """A :class:`GroundTruth` from a path or an already parsed COCO dict (``name`` labels messages).

    ``protocol`` (name, file or Protocol) is detected from the first annotation when None.  A file is read
    by the compiled path when it can (:mod:`.fast_ground_truth`), else by the precise path below.
    """
    if isinstance(source, (str, Path)):
        raw, name = read_bytes(source)
        tables = fast_tables(raw, protocol)
        if tables is not None:
            return _from_tables(tables, name)
        data = parse_json(raw, name)
        del raw
    else:
        data, name = source, name or "<ground truth>"
    protocol = ground_truth_protocol(data, protocol, name)
    warnings: list[str] = []
    image_ids, image_records = _image_table(data, name, warnings)
    category_ids = distinct(np.asarray(_section_ids(data, "categories", name), dtype=np.int64))
    image_set = set(image_ids.tolist())
    rows = []
    first_of_id: dict[int, int] = {}  # annotation id -> index of its first record
    repeated = 0
    for i, ann in enumerate(data["annotations"]):
        row = _checked_annotation(ann, i, name, protocol, image_set)
        if row is None:
            continue
        if row.id in first_of_id:
            _check_same_record(data["annotations"], first_of_id[row.id], i, "annotations", name)
            repeated += 1
        first_of_id.setdefault(row.id, i)
        rows.append(row)
    if repeated:
        warnings.append(f"{name}: {repeated} annotation record(s) repeat an earlier record exactly (same id, same "
                        f"content); {_REPEATED_COPIES[protocol.repeated_annotations]}")
    orphans = len(data["annotations"]) - len(rows)
    if orphans:
        warnings.append(f"{name}: {orphans} annotation(s) refer to images not in 'images'; they are not scored")
    return _arrays(name, protocol, image_ids, image_records, category_ids, warnings,
                   ann_ids=np.array([r.id for r in rows], dtype=np.int64),
                   ann_image_ids=np.array([r.image_id for r in rows], dtype=np.int64),
                   ann_category_ids=np.array([r.category_id for r in rows], dtype=np.int64),
                   area=np.array([r.area for r in rows], dtype=np.float64),
                   bbox=np.array([r.bbox for r in rows], dtype=np.float64).reshape(-1, 4),
                   keypoints=to_array([r.keypoints for r in rows], (len(rows), protocol.num_keypoints, 3), name,
                                      "annotation"),
                   iscrowd=np.array([r.iscrowd for r in rows], dtype=bool),
                   ignore=np.array([r.ignore for r in rows], dtype=bool),
                   num_keypoints=np.array([r.num_keypoints for r in rows], dtype=np.int64))


def _from_tables(tables: Tables, name: str) -> GroundTruth:
    """The compiled path's columns as a GroundTruth (its checks passed: no warning of the precise path's but
    those :func:`_arrays` gives)."""
    image_ids, image_records = _sorted_images(tables.image_ids, tables.image_records)
    return _arrays(name, tables.protocol, image_ids, image_records, distinct(tables.category_ids), [],
                   **tables.annotations._asdict())


def _image_table(data: dict, name: str, warnings: list[str]) -> tuple[np.ndarray, tuple[dict, ...]]:
    """Image ids sorted (as ``sorted(getImgIds())``) and their records in the same order.

    A record repeating an earlier one exactly is counted once, as the COCO API's image index
    does; two records with one id that differ are refused.
    """
    image_ids = _section_ids(data, "images", name)
    first_of_id: dict[int, int] = {}
    keep = []
    for i, image_id in enumerate(image_ids):
        if image_id in first_of_id:
            _check_same_record(data["images"], first_of_id[image_id], i, "images", name)
            continue
        first_of_id[image_id] = i
        keep.append(i)
    if len(keep) < len(image_ids):
        warnings.append(f"{name}: {len(image_ids) - len(keep)} 'images' record(s) repeat an earlier record "
                        "exactly; each image is counted once")
    ids = np.asarray([image_ids[i] for i in keep], dtype=np.int64)
    return _sorted_images(ids, [data["images"][i] for i in keep])


def _sorted_images(ids: np.ndarray, records: list[dict]) -> tuple[np.ndarray, tuple[dict, ...]]:
    """Image ids sorted as ``sorted(getImgIds())`` and their records in the same order."""
    order = np.argsort(ids, kind="stable")
    return ids[order], tuple(records[i] for i in order)


def _check_same_record(records: list, first: int, again: int, section: str, name: str) -> None:
    """Records ``first`` and ``again`` of ``section`` share an id: refuse them unless they are identical."""
    a, b = records[first], records[again]
    if a == b:
        return
    differing = sorted(k for k in set(a) | set(b) if a.get(k, _ABSENT) != b.get(k, _ABSENT))
    raise InputError(f"{name}: {section}[{first}] and {section}[{again}] both have id {a['id']} but differ in "
                     f"{', '.join(repr(k) for k in differing[:5])}; give each record its own id, or drop the copy")


_ABSENT = object()
_REPEATED_COPIES = {  # what happens to repeated records, by Protocol.repeated_annotations
    "separate": "as in the official evaluators, each copy is scored as a separate person",
    "ignored": "as in halpecocotools, every copy is ignored (it absorbs matches but is not counted)",
}


def _section_ids(data: dict, section: str, name: str) -> list[int]:
    """The integer ``id`` of every record of ``images`` or ``categories``."""
    ids = []
    for i, record in enumerate(data[section]):
        if not isinstance(record, dict):
            raise InputError(f"{name}: {section}[{i}] is a JSON {kind(record)}, expected an object")
        if not is_int(record.get("id")):
            raise InputError(f"{name}: {section}[{i}]: 'id' is {show(record.get('id'))}, expected an integer id")
        ids.append(record["id"])
    return ids


def _checked_annotation(ann: Any, i: int, name: str, protocol: Protocol, image_set: set) -> _Annotation | None:
    """Annotation #i validated, or None when its image is not in 'images' (it is not scored)."""
    where = f"{name}: annotation #{i}"
    if not isinstance(ann, dict):
        raise InputError(f"{where} is a JSON {kind(ann)}, expected an object")
    if not is_int(ann.get("id")):
        raise InputError(f"{where}: 'id' is {show(ann.get('id'))}, expected an integer id")
    where = f"{name}: annotation #{i} (id {ann['id']})"
    for key in ("image_id", "category_id"):
        if not is_int(ann.get(key)):
            raise InputError(f"{where}: '{key}' missing or not an integer")
    if ann["image_id"] not in image_set:
        return None
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(b) for b in bbox)):
        raise InputError(f"{where}: 'bbox' is {show(bbox)}, expected [x, y, w, h]")
    if not all(np.isfinite(bbox)) or bbox[2] < 0 or bbox[3] < 0:
        raise InputError(f"{where}: 'bbox' {bbox} has a negative or non-finite value")
    area = _area(ann, bbox, where, protocol)
    keypoints = flat_keypoints(ann, protocol)
    if not isinstance(keypoints, list) or len(keypoints) != 3 * protocol.num_keypoints:
        raise InputError(f"{where}: 'keypoints' is {keypoints_problem(keypoints, protocol)}")
    for flag in ("iscrowd", "ignore"):
        if ann.get(flag, 0) not in (0, 1):  # True/False and 0.0/1.0 compare equal to 1/0
            raise InputError(f"{where}: '{flag}' is {show_json(ann[flag])}, expected 0 or 1")
    return _Annotation(ann["id"], ann["image_id"], ann["category_id"], area, bbox, keypoints,
                       bool(ann.get("iscrowd", 0)), bool(ann.get("ignore", 0)),
                       _num_keypoints(ann, where, protocol))


def _area(ann: dict, bbox: list, where: str, protocol: Protocol) -> float:
    """The GT area: the ``area`` field, or with ``use_area`` off the box's ``w * h * 0.53`` (xtcocotools)."""
    if not protocol.use_area:
        return float(bbox[2] * bbox[3] * BOX_AREA_SHARE)
    area: Any = ann.get("area")
    if not (is_number(area) and np.isfinite(area) and area >= 0):
        hint = ("; or take the area from the box with a protocol file saying \"use_area\": false (xtcocotools' "
                "use_area=False, as the built-in crowdpose does)") if "area" not in ann else ""
        raise InputError(f"{where}: 'area' is {show(area)}, expected a number >= 0{hint}")
    return float(area)


def _num_keypoints(ann: dict, where: str, protocol: Protocol) -> int:
    """The ``num_keypoints`` field, -1 when absent (or unusable where the protocol does not read it)."""
    count = ann.get("num_keypoints", -1)
    if is_int(count) and count >= 0:
        return int(count)
    if "num_keypoints" in ann and protocol.no_keypoints_rule == "num_keypoints":
        raise InputError(f"{where}: 'num_keypoints' is {show_json(count)}, expected a count >= 0 "
                         "(or no such field: the labelled keypoints are counted)")
    return -1


def _arrays(name: str, protocol: Protocol, image_ids: np.ndarray, image_records: tuple[dict, ...],
            category_ids: np.ndarray, warnings: list[str], *, ann_ids: np.ndarray, ann_image_ids: np.ndarray,
            ann_category_ids: np.ndarray, area: np.ndarray, bbox: np.ndarray, keypoints: np.ndarray,
            iscrowd: np.ndarray, ignore: np.ndarray, num_keypoints: np.ndarray) -> GroundTruth:
    """The validated annotation columns (G records) as a GroundTruth; checks that need all records (NaN,
    categories) and the warnings they call for."""
    if not len(ann_ids):
        warnings.append(f"{name}: no annotation to score; every AP and AR is undefined")
    bad = np.flatnonzero(~np.isfinite(keypoints).all(axis=(1, 2)))
    if len(bad):
        raise InputError(f"{name}: annotation id {ann_ids[bad[0]]}: 'keypoints' holds NaN, infinity or null")
    category_index, known = index_in(category_ids, ann_category_ids)
    if not known.all():
        j = int(np.flatnonzero(~known)[0])
        raise InputError(f"{name}: annotation id {ann_ids[j]}: category_id {ann_category_ids[j]} is not in "
                         "'categories'")
    labelled = (keypoints[:, list(protocol.num_keypoints_counts), 2] > 0).sum(axis=1)
    disagree = int(((num_keypoints >= 0) & (num_keypoints != labelled)).sum())
    if disagree:
        counted = ("" if len(protocol.num_keypoints_counts) == protocol.num_keypoints
                   else f" among the {len(protocol.num_keypoints_counts)} keypoints {protocol.name} counts there")
        warnings.append(f"{name}: {disagree} annotation(s) have 'num_keypoints' different from their labelled "
                        f"keypoints{counted}")
    return GroundTruth(
        source=name,
        protocol=protocol,
        image_ids=image_ids,
        file_names=tuple(str(record.get("file_name", "")) for record in image_records),
        category_ids=category_ids,
        ann_ids=ann_ids,
        image_index=np.searchsorted(image_ids, ann_image_ids),
        category_index=category_index.astype(np.int64),
        keypoints=keypoints,
        area=area,
        bbox=bbox,
        iscrowd=iscrowd,
        ignore=ignore,
        num_keypoints=num_keypoints,
        warnings=tuple(warnings),
        image_records=image_records,
    )
