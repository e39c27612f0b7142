"""The compiled read path for a ground-truth file: simdjson columns, validated as whole arrays.

:func:`fast_tables` reads the images, categories and annotations of a COCO
annotation file's bytes (:mod:`.simd`) and checks, column by column, what
:mod:`.ground_truth`'s precise path checks record by record.  It accepts only
the plain case: every record valid, no repeated ids, no annotation on an image
outside 'images'.  Anything else (an error to word, a warning to give, a value
the precise path reads its own way, such as a missing 'area') returns None and
the precise path reads the file.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import InputError
from ..protocol import BOX_AREA_SHARE, Protocol, builtin_names, detect_protocol, load_protocol
from . import simd
from .records import distinct, index_in

_ANNOTATION_FIELDS = ("id", "image_id", "category_id", "area", "iscrowd", "ignore", "num_keypoints")


class Annotations(NamedTuple):
    """G validated annotations in file order (the arguments of ground_truth._arrays)."""

    ann_ids: np.ndarray  # (G,) int64, distinct
    ann_image_ids: np.ndarray  # (G,) int64, each in image_ids
    ann_category_ids: np.ndarray  # (G,) int64
    area: np.ndarray  # (G,) float64 >= 0
    bbox: np.ndarray  # (G, 4) float64, w and h >= 0
    keypoints: np.ndarray  # (G, K, 3) float64
    iscrowd: np.ndarray  # (G,) bool
    ignore: np.ndarray  # (G,) bool
    num_keypoints: np.ndarray  # (G,) int64, -1 where absent


class Tables(NamedTuple):
    """A GT file's validated columns; images and categories in file order."""

    protocol: Protocol
    image_ids: np.ndarray  # (I,) int64, file order, distinct
    image_records: list[dict]  # (I,) the images[] records, file order
    category_ids: np.ndarray  # (C,) int64, file order
    annotations: Annotations


def fast_tables(raw: bytes, protocol: Any) -> Tables | None:
    """The validated columns of a GT file's bytes, read with ``protocol`` (None: detected); None when refused."""
    try:  # the fields read with as_buffer: those of the protocol given, or of any it may be detected as
        readers = [load_protocol(name) for name in ([protocol] if protocol is not None else builtin_names())]
    except InputError:
        return None
    document = simd.parse(raw)
    if not simd.is_object(document) or len(document) != len(set(document.keys())):
        return None
    if not all(simd.is_array(document.get(key)) for key in ("images", "annotations", "categories")):
        return None
    proto = _protocol(document["annotations"], protocol)
    if proto is None:
        return None
    images = simd.gather(document["images"], None, ("id", "file_name"))
    categories = simd.gather(document["categories"], None, ("id",))
    annotations = simd.gather(document["annotations"], proto, _ANNOTATION_FIELDS)
    if images is None or categories is None or annotations is None:
        return None
    fields = frozenset().union(*map(simd.array_fields, readers))
    containers = 3 + simd.arrays_within(document["categories"])  # the sections, and each category's arrays
    if not simd.flattened_exactly(raw, containers, annotations.flattened, fields):
        return None
    # gather refused repeated keys, so each image reads as the precise path's dict (kept for image slices)
    with simd.collection_paused():
        image_records = [record.as_dict() for record in document["images"]]
    del document
    image_ids, category_ids = simd.int64_column(images.values["id"]), simd.int64_column(categories.values["id"])
    file_names = images.values["file_name"]
    if image_ids is None or category_ids is None or not set(map(type, file_names)) <= {str, type(simd.MISSING)}:
        return None
    known_images = distinct(image_ids)
    if len(known_images) < len(image_ids):
        return None
    columns = _annotation_columns(annotations, known_images, proto)
    if columns is None:
        return None
    return Tables(proto, image_ids, image_records, category_ids, columns)


def _protocol(annotations: Any, protocol: Any) -> Protocol | None:
    """The protocol given, or the one of the first annotation (as ground_truth_protocol); None when in doubt."""
    try:
        if protocol is not None:
            return load_protocol(protocol)
        if not len(annotations) or not simd.is_object(annotations[0]):
            return None
        return detect_protocol(annotations[0].as_dict())
    except InputError:
        return None


def _annotation_columns(got: simd.Gathered, image_ids: np.ndarray, protocol: Protocol) -> Annotations | None:
    """The annotations' columns (``image_ids``: the GT's, sorted); None when a record is not plainly valid."""
    values = got.values
    ann_ids, ann_image_ids, categories = (simd.int64_column(values[key]) for key in ("id", "image_id", "category_id"))
    if ann_ids is None or ann_image_ids is None or categories is None or len(distinct(ann_ids)) < len(ann_ids):
        return None
    if not index_in(image_ids, ann_image_ids)[1].all():  # annotations on unknown images: the precise path warns
        return None
    if got.boxes is None or (got.boxes[:, 2:] < 0).any():
        return None
    # The GT area as ground_truth._area takes it; no usable 'area' field: the precise path rules.
    boxes = got.boxes
    area = simd.float64_column(values["area"]) if protocol.use_area else boxes[:, 2] * boxes[:, 3] * BOX_AREA_SHARE
    if area is None or (area < 0).any():
        return None
    flags = [_flag(values[key]) for key in ("iscrowd", "ignore")]
    num_keypoints = _count(values["num_keypoints"])
    if flags[0] is None or flags[1] is None or num_keypoints is None:
        return None
    return Annotations(ann_ids, ann_image_ids, categories, area, got.boxes, got.keypoints, flags[0], flags[1],
                       num_keypoints)


def _flag(values: list) -> np.ndarray | None:
    """A 0/1 field (absent: 0) as bool; 0, 1, 0.0, 1.0, false and true are read as the precise path reads them."""
    read, missing = _absent_as(values, 0)
    if missing == len(values):  # a field no record has (COCO's 'ignore')
        return np.zeros(len(values), dtype=bool)
    if not set(map(type, read)) <= {int, float, bool} or not set(read) <= {0, 1}:
        return None
    return np.array(read, dtype=np.float64) == 1


def _count(values: list) -> np.ndarray | None:
    """The ``num_keypoints`` field, -1 where absent; None when a present one is not a count >= 0."""
    read, missing = _absent_as(values, -1)
    counts = simd.int64_column(read)
    if counts is None or (counts < 0).sum() != missing:
        return None
    return counts


def _absent_as(values: list, fill: int) -> tuple[list, int]:
    """The column with ``fill`` where a record lacks the field (the column itself when none does), and how many
    lack it."""
    missing = values.count(simd.MISSING)
    return ([fill if v is simd.MISSING else v for v in values] if missing else values), missing
