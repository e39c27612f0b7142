"""Predictions from arrays, as a training loop holds them: no JSON, no per-number Python objects.

``keypoints`` is [N x K x 3] (x, y, score), ``image_ids`` and ``scores`` are (N,);
anything ``np.asarray`` accepts works, CPU torch tensors included (torch is never
imported here). The conventions are the file path's: a prediction's area is its
box's w*h when boxes are given (loadRes with a ``bbox``), else the extent of its
keypoints (the protocol's ``area_keypoints``), unless ``areas`` are given.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError
from ..protocol import Protocol
from .ground_truth import GroundTruth
from .predictions import Predictions, finish_predictions
from .records import Columns, index_in

ARRAYS_FORMAT = "arrays"


def predictions_from_arrays(gt: GroundTruth, image_ids: Any, keypoints: Any, scores: Any, *,
                            boxes: Any = None, areas: Any = None, part_scores: Mapping[str, Any] | None = None,
                            category_ids: Any = None, protocol: Protocol | None = None,
                            name: str = "<arrays>") -> Predictions:
    """One batch of predictions checked against ``gt``, exactly as a results file with the same values.

    ``category_ids`` (N,) may be left out when the GT has one category; ``part_scores`` maps a part
    to (N,) scores ranking that part's predictions (NaN: none, the prediction's score is used).
    """
    proto = protocol or gt.protocol
    kp = _float_array(keypoints, "keypoints", name)
    n = len(kp)
    if kp.ndim != 3 or kp.shape[1:] != (proto.num_keypoints, 3):
        raise InputError(f"{name}: keypoints have shape {tuple(kp.shape)}, expected (N, {proto.num_keypoints}, 3) "
                         f"for protocol {proto.name} (x, y, score per keypoint)")
    ids = _int_array(image_ids, "image_ids", n, name)
    score = _float_array(scores, "scores", name)
    _check_length(score, n, "scores", name)
    scored = kp[:, :, 2] > 0
    columns = Columns(
        image_ids=_known_images(ids, gt, name),
        category_ids=_categories(category_ids, gt, n, name),
        score=score,
        keypoints=kp[:, :, :2].astype(proto.coordinate_dtype),
        area=_areas(kp, boxes, areas, proto, n, name),
        positive={"*": np.asarray(scored.any(axis=1)), **{part: np.asarray(scored[:, list(idx)].any(axis=1))
                                                          for part, idx in proto.parts.items()}},
        part_scores={part: _part_score(values, part, proto, n, name) for part, values in (part_scores or {}).items()},
        bbox_area=boxes is not None,
        formats=(),
    )
    return dataclasses.replace(finish_predictions(columns, gt, name, False), format=ARRAYS_FORMAT)


def _float_array(values: Any, what: str, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: {what} cannot be read as numbers ({exc}); pass numpy arrays "
                         "(a GPU tensor: .cpu() first)") from None
    if not np.isfinite(array).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise InputError(f"{name}: {what} hold NaN or infinity at index {where}")
    return array


def _check_length(array: np.ndarray, n: int, what: str, name: str) -> None:
    if array.ndim != 1 or len(array) != n:
        raise InputError(f"{name}: {what} have shape {tuple(array.shape)}, expected ({n},): one per prediction")


def _int_array(values: Any, what: str, n: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iu" and not (array.dtype.kind == "f" and np.array_equal(array, np.round(array))):
        raise InputError(f"{name}: {what} must be integer ids, got dtype {array.dtype}")
    array = array.astype(np.int64)
    _check_length(array, n, what, name)
    return array


def _known_images(ids: np.ndarray, gt: GroundTruth, name: str) -> list:
    """The ids as a list (for the shared resolution step), after refusing the first unknown one at once."""
    _, known = index_in(gt.image_ids, ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise InputError(f"{name}: prediction #{i}: image_id {int(ids[i])} is not in the ground truth's 'images'")
    return ids.tolist()


def _categories(category_ids: Any, gt: GroundTruth, n: int, name: str) -> np.ndarray:
    if category_ids is not None:
        return _int_array(category_ids, "category_ids", n, name)
    if len(gt.category_ids) != 1:
        raise InputError(f"{name}: the ground truth has {len(gt.category_ids)} categories: pass category_ids")
    return np.full(n, gt.category_ids[0], dtype=np.int64)


def _areas(kp: np.ndarray, boxes: Any, areas: Any, proto: Protocol, n: int, name: str) -> np.ndarray:
    if areas is not None:
        area = _float_array(areas, "areas", name)
        _check_length(area, n, "areas", name)
        return area
    if boxes is not None:
        box = _float_array(boxes, "boxes", name)
        if box.shape != (n, 4) or (box[:, 2:] < 0).any():
            raise InputError(f"{name}: boxes must be (N, 4) [x, y, w, h] with w, h >= 0, got shape {box.shape}")
        return box[:, 2] * box[:, 3]
    xy = kp[:, list(proto.area_keypoints), :2] if proto.area_keypoints else kp[:, :, :2]
    extent = xy.max(axis=1) - xy.min(axis=1) if n else np.zeros((0, 2))
    return extent[:, 0] * extent[:, 1]


def _part_score(values: Any, part: str, proto: Protocol, n: int, name: str) -> np.ndarray:
    if part not in proto.part_score_keys:
        raise InputError(f"{name}: part_scores names {part!r}, which protocol {proto.name} does not rank by its "
                         f"own score (it does for: {', '.join(proto.part_score_keys) or 'no part'})")
    array = np.asarray(values, dtype=np.float64)
    _check_length(array, n, f"part_scores[{part!r}]", name)
    if np.isinf(array).any():
        raise InputError(f"{name}: part_scores[{part!r}] hold infinity")
    return array
