"""Predictions from arrays, as a training loop holds them: no JSON, no per-number Python objects.

``keypoints`` is [N x K x 3] (x, y, score), ``image_ids`` and ``scores`` are (N,);
anything ``np.asarray`` accepts works, CPU torch tensors included (torch is never
imported here). The conventions are the file path's: a prediction's area is its
box's w*h when boxes are given (loadRes with a ``bbox``), else the extent of its
keypoints (the protocol's ``area_keypoints``), unless ``areas`` are given.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..errors import InputError
from ..protocol import Protocol
from .ground_truth import GroundTruth
from .predictions import Predictions, category_indices, scored_warnings
from .records import index_in, keypoint_area, positive_flags

ARRAYS_FORMAT = "arrays"


def predictions_from_arrays(gt: GroundTruth, image_ids: Any, keypoints: Any, scores: Any, *,
                            boxes: Any = None, areas: Any = None, part_scores: Mapping[str, Any] | None = None,
                            category_ids: Any = None, protocol: Protocol | None = None,
                            name: str = "<arrays>", warn: bool = True) -> Predictions:
    """One batch of predictions checked against ``gt``, exactly as a results file with the same values.

    ``category_ids`` (N,) may be left out when the GT has one category; ``part_scores`` maps a part
    to (N,) scores ranking that part's predictions (NaN: none, the prediction's score is used).
    ``warn=False`` leaves the warnings to the caller (the streaming evaluator says them once).
    """
    proto = protocol or gt.protocol
    kp = _float_array(keypoints, "keypoints", name)
    if kp.ndim != 3 or kp.shape[1:] != (proto.num_keypoints, 3):
        raise InputError(f"{name}: keypoints have shape {tuple(kp.shape)}, expected (N, {proto.num_keypoints}, 3) "
                         f"for protocol {proto.name} (x, y, score per keypoint)")
    n = len(kp)
    image_index = _image_index(_int_array(image_ids, "image_ids", n, name), gt, name)
    score = _float_array(scores, "scores", name)
    _check_length(score, n, "scores", name)
    positive = positive_flags(kp, proto)
    return Predictions(
        source=name,
        format=ARRAYS_FORMAT,
        image_index=image_index,
        category_index=_category_index(category_ids, gt, n, name),
        keypoints=kp[:, :, :2].astype(proto.coordinate_dtype),
        score=score,
        area=_areas(kp, boxes, areas, proto, n, name),
        positive=positive,
        part_scores={part: _part_score(values, part, proto, n, name) for part, values in (part_scores or {}).items()},
        warnings=tuple(scored_warnings(gt, image_index, positive["*"], name)) if warn else (),
    )


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


def _image_index(ids: np.ndarray, gt: GroundTruth, name: str) -> np.ndarray:
    """Each prediction's GT image index; an unknown image id is refused."""
    index, known = index_in(gt.image_ids, ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise InputError(f"{name}: prediction #{i}: image_id {int(ids[i])} is not in the ground truth's 'images'")
    return index


def _category_index(category_ids: Any, gt: GroundTruth, n: int, name: str) -> np.ndarray:
    """Each prediction's GT category index (default: the GT's only category); an unknown id is refused."""
    if category_ids is None:
        if len(gt.category_ids) != 1:
            raise InputError(f"{name}: the ground truth has {len(gt.category_ids)} categories: pass category_ids")
        return np.zeros(n, dtype=np.int64)
    return category_indices(gt, _int_array(category_ids, "category_ids", n, name), name)


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
    return keypoint_area(kp, proto)


def _part_score(values: Any, part: str, proto: Protocol, n: int, name: str) -> np.ndarray:
    if part not in proto.part_score_keys:
        raise InputError(f"{name}: part_scores names {part!r}, which protocol {proto.name} does not rank by its "
                         f"own score (it does for: {', '.join(proto.part_score_keys) or 'no part'})")
    array = np.asarray(values, dtype=np.float64)
    _check_length(array, n, f"part_scores[{part!r}]", name)
    if np.isinf(array).any():
        raise InputError(f"{name}: part_scores[{part!r}] hold infinity")
    return array
