"""cocoeval's ``params`` to the engine, and the engine's arrays back in cocoeval's shapes.

What ``evaluate()`` reads from ``params`` (cocoeval's conventions, pycocotools 2.0 ``evaluate``,
``_prepare`` and ``accumulate``):

- ``imgIds``: only annotations and results on these images are scored;
- ``catIds``: one precision/recall column per category of ``catIds`` (``useCats`` 0 is refused
  by ``COCOeval.evaluate``: see there);
- ``iouThrs``: a match needs OKS >= min(threshold, 1 - 1e-10);
- ``areaRng``: the area ranges, bounds inclusive;
- ``maxDets``: the top-scored results per image; each entry is one slice of the last axis
  (matching the top ``maxDets[-1]`` and keeping the first ``m`` gives the matches of the top
  ``m``, since a result's match depends only on higher-ranked results);
- ``recThrs`` (read by ``accumulate()``): the recall thresholds.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..match import MATCH_CEILING
from ..pipeline import score_rows
from ..protocol import EvalParams, Protocol
from ..reading.ground_truth import GroundTruth
from ..reading.predictions import Predictions

# An evaluated part as cocoeval holds it: precision [T x R x K x A x M], recall [T x K x A x M], scores as precision.
CocoArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class Selection:
    """What ``evaluate()`` fixed for ``accumulate()``: the records selected, the protocol with this
    evaluation's sigmas, the parts scored, and the evaluated parameters."""

    gt: GroundTruth
    preds: Predictions
    protocol: Protocol
    parts: tuple[str, ...]
    params: Any  # a deep copy of the COCOeval's params at evaluate() (cocoeval's _paramsEval)


def selected(gt: GroundTruth, preds: Predictions, img_ids: Sequence,
             cat_ids: Sequence) -> tuple[GroundTruth, Predictions]:
    """The annotations and results cocoeval scores for ``imgIds`` and ``catIds`` (one column per category of
    ``cat_ids``, in that order)."""
    slot = {int(category): i for i, category in enumerate(cat_ids)}
    gt_slot = np.array([slot.get(int(c), -1) for c in gt.category_ids], dtype=np.int64)
    on_image = np.isin(gt.image_ids, np.asarray(list(img_ids), dtype=np.int64))
    gt_category, pred_category = gt_slot[gt.category_index], gt_slot[preds.category_index]
    gt_keep = np.flatnonzero(on_image[gt.image_index] & (gt_category >= 0))
    pred_keep = np.flatnonzero(on_image[preds.image_index] & (pred_category >= 0))
    category_ids = np.asarray([int(c) for c in cat_ids], dtype=np.int64)
    if len(gt_keep) == len(gt_category) and len(pred_keep) == len(pred_category) and \
            np.array_equal(category_ids, gt.category_ids):
        return gt, preds
    return (_gt_rows(gt, gt_keep, gt_category[gt_keep], category_ids),
            _pred_rows(preds, pred_keep, pred_category[pred_keep]))


def _gt_rows(gt: GroundTruth, rows: np.ndarray, category_index: np.ndarray, category_ids: np.ndarray) -> GroundTruth:
    return dataclasses.replace(
        gt, category_ids=category_ids, ann_ids=gt.ann_ids[rows], image_index=gt.image_index[rows],
        category_index=category_index, keypoints=gt.keypoints[rows], area=gt.area[rows], bbox=gt.bbox[rows],
        iscrowd=gt.iscrowd[rows], ignore=gt.ignore[rows], num_keypoints=gt.num_keypoints[rows])


def _pred_rows(preds: Predictions, rows: np.ndarray, category_index: np.ndarray) -> Predictions:
    return dataclasses.replace(
        preds, image_index=preds.image_index[rows], category_index=category_index, keypoints=preds.keypoints[rows],
        score=preds.score[rows], area=preds.area[rows], positive={k: v[rows] for k, v in preds.positive.items()},
        part_scores={k: v[rows] for k, v in preds.part_scores.items()},
        keypoint_boxes=None if preds.keypoint_boxes is None else preds.keypoint_boxes[rows])


def engine_params(params: Any, recall_thresholds: Sequence[float], max_detections: int) -> EvalParams:
    """cocoeval's ``params`` as the engine's; statistics are summarize()'s business, not the engine's."""
    return EvalParams(
        area_ranges=tuple((f"area range {i}", float(lo), float(hi)) for i, (lo, hi) in enumerate(params.areaRng)),
        oks_thresholds=tuple(min(float(t), MATCH_CEILING) for t in params.iouThrs),
        recall_thresholds=tuple(float(r) for r in recall_thresholds),
        max_detections=int(max_detections),
        statistics=(),
    )


def accumulated(selection: Selection, recall_thresholds: Sequence[float]) -> dict[str, CocoArrays]:
    """Each part's cocoeval arrays: the engine run once per ``maxDets`` entry, stacked on the last axis."""
    runs = []
    for max_detections in selection.params.maxDets:
        protocol = dataclasses.replace(selection.protocol,
                                       params=engine_params(selection.params, recall_thresholds, max_detections))
        runs.append(score_rows(selection.gt, selection.preds, protocol, selection.parts))
    return {part: (np.stack([run[part].precision for run in runs], axis=-1),
                   np.stack([run[part].recall for run in runs], axis=-1),
                   np.stack([run[part].scores for run in runs], axis=-1))
            for part in selection.parts}


__all__ = ["CocoArrays", "Selection", "accumulated", "engine_params", "selected"]
