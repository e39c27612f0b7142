"""What one part's diagnosis works on, and one COCO evaluation of (modified) predictions.

coco-analyze (matteorr/coco-analyze, ../DIAGNOSIS.md sections 1-4) first keeps, per image, the
``max_detections`` best-scored predictions (stable sort: equal scores keep file order; this
*internal order* breaks every later tie), then evaluates them as cocoeval does in its own area
ranges, where 'all' is [32^2, 1e5^2] (quirk 12.3: small persons are ignored in 'all').

Shapes: N kept predictions (grouped by (category, image), best first), Kp keypoints of the part,
P (prediction, GT) pairs of the same image (grouped by prediction, GT in file order), G GT,
A area ranges, T OKS thresholds, R recall thresholds, K categories.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..accumulate import accumulate
from ..match import Candidates, greedy_match, run_heads, select_candidates
from ..oks import as_view_index, pair_oks
from ..protocol import Protocol
from ..reading.ground_truth import GroundTruth
from ..reading.predictions import Predictions
from ..rules import gt_ignored, kept_predictions, outside_area, ranking_score

# coco-analyze's area ranges (both ends inclusive); 'all' leaves out persons below 32^2 (quirk 12.3).
AREA_RANGES = (("all", 32.0**2, 1e5**2), ("medium", 32.0**2, 96.0**2), ("large", 96.0**2, 1e5**2))
AREA_NOTE = "area range 'all' is coco-analyze's [32^2, 1e5^2]: persons smaller than 32^2 are ignored"


@dataclass(frozen=True)
class Scene:
    """The kept predictions of one part, their pairs with the GT of their image, and the GT rules."""

    proto: Protocol  # the scoring protocol with coco-analyze's area ranges
    part: str
    columns: np.ndarray  # (Kp,) keypoint indices of the part
    sigmas: np.ndarray  # (Kp,)
    dt: np.ndarray  # (N,) indices into Predictions
    group: np.ndarray  # (N,) (category, image) number
    category: np.ndarray  # (N,) category index
    rank: np.ndarray  # (N,) internal order within its image
    score: np.ndarray  # (N,) ranking score
    xy: np.ndarray  # (N, Kp, 2) in the protocol's coordinate dtype, C-contiguous
    dt_image: np.ndarray  # (N,) image index
    dt_area: np.ndarray  # (N,) prediction area (loadRes' rule)
    outside: np.ndarray  # (A, N) prediction area outside each range
    pair_dt: np.ndarray  # (P,) index into the N kept predictions
    pair_gt: np.ndarray  # (P,) index into GroundTruth
    pair_start: np.ndarray  # (N,) first pair of each prediction (pairs are grouped by prediction)
    gt: GroundTruth
    gt_part: np.ndarray  # (G, Kp, 3) the part's GT keypoints
    gt_ignored: np.ndarray  # (A, G)
    analysable: np.ndarray  # (G,) the GT has keypoints in the part (a match to it is classified)

    @property
    def area_names(self) -> tuple[str, ...]:
        return self.proto.params.area_names

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray(self.proto.params.oks_thresholds)


def diagnosis_protocol(proto: Protocol) -> Protocol:
    """``proto`` with coco-analyze's area ranges in place of its own (the rest of its rules kept)."""
    return dataclasses.replace(proto, params=dataclasses.replace(proto.params, area_ranges=AREA_RANGES))


def build_scene(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str) -> Scene:
    """coco-analyze's preprocessing for ``part``: the protocol's kept predictions, the best
    ``max_detections`` of each image, every pair with a GT of the same image."""
    proto = diagnosis_protocol(proto)
    columns = np.asarray(proto.parts[part])
    n_images = len(gt.image_ids)
    score = ranking_score(preds, part)
    group = preds.category_index * n_images + preds.image_index
    cand = select_candidates(group, score, kept_predictions(preds, proto, part), proto.params.max_detections,
                             gt.category_index * n_images + gt.image_index)
    counts = np.bincount(cand.pair_dt, minlength=len(cand.dt))
    view = as_view_index(columns)  # a run of keypoints is gathered as a slice: contiguous and fast
    gt_part = np.ascontiguousarray(gt.keypoints[:, view])
    xy = preds.keypoints[cand.dt, view] if isinstance(view, slice) else preds.keypoints[cand.dt[:, None], view]
    labelled = np.asarray((gt_part[:, :, 2] > 0).any(axis=1))
    if proto.no_keypoints_rule == "num_keypoints":  # coco-analyze skips matches to num_keypoints == 0
        labelled = np.where(gt.num_keypoints >= 0, gt.num_keypoints != 0, labelled)
    return Scene(
        proto=proto, part=part, columns=columns, sigmas=np.asarray(proto.sigmas)[columns], dt=cand.dt,
        group=group[cand.dt], category=preds.category_index[cand.dt], rank=cand.rank, score=score[cand.dt],
        xy=xy, dt_image=preds.image_index[cand.dt], dt_area=preds.area[cand.dt],
        outside=outside_area(preds.area[cand.dt], proto),
        pair_dt=cand.pair_dt, pair_gt=cand.pair_gt, pair_start=np.cumsum(counts) - counts, gt=gt,
        gt_part=gt_part, gt_ignored=gt_ignored(gt, proto, part), analysable=labelled,
    )


def image_rows(gt: GroundTruth, of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(Q,) position in ``of`` and GT index of every annotation (any category, file order) in the image of
    each GT ``of[i]``: the rows coco-analyze compares a matched prediction with."""
    image = gt.image_index
    order = np.argsort(image, kind="stable")
    first = np.searchsorted(image[order], np.arange(len(gt.image_ids) + 1))
    img = image[of]
    counts = first[img + 1] - first[img]
    rows = np.repeat(np.arange(len(of)), counts)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, order[np.repeat(first[img], counts) + within]


def similarity(scene: Scene, xy: np.ndarray, pairs: np.ndarray | None = None) -> np.ndarray:
    """OKS of the pairs (all, or the indices ``pairs``) with the predictions' keypoints ``xy`` (N, Kp, 2)."""
    pair_dt = scene.pair_dt if pairs is None else scene.pair_dt[pairs]
    pair_gt = scene.pair_gt if pairs is None else scene.pair_gt[pairs]
    return pair_oks(xy, scene.gt_part, scene.gt.area, scene.gt.bbox, pair_dt, pair_gt, slice(None), scene.sigmas,
                    scene.proto.coordinate_dtype)


def rank_by(scene: Scene, score: np.ndarray) -> np.ndarray:
    """(N,) rank within the image by ``score`` (descending), ties in internal order."""
    order = np.lexsort((scene.rank, -score, scene.group))
    _, start = run_heads(scene.group[order])
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - start
    return rank


def match(scene: Scene, oks: np.ndarray, rank: np.ndarray, ignored: np.ndarray,
          thresholds: np.ndarray | None = None) -> np.ndarray:
    """(A', T, N) matched GT (-1: none) with cocoeval's greedy matching, predictions in ``rank`` order;
    ``ignored`` (A', G) are the GT ignore flags of the area ranges evaluated."""
    cand = Candidates(dt=scene.dt, rank=rank, pair_dt=scene.pair_dt, pair_gt=scene.pair_gt)
    return greedy_match(cand, oks, ignored, scene.gt.iscrowd, scene.thresholds if thresholds is None else thresholds)


def rematch(scene: Scene, matched: np.ndarray, oks: np.ndarray, rank: np.ndarray, ignored: np.ndarray,
            changed: np.ndarray) -> np.ndarray:
    """``matched`` (A', T, N) with the groups (images) of the pairs ``changed`` (indices) matched again under
    ``oks``, ``rank`` and the GT ignore flags ``ignored`` (A', G).  Matching is per group (a prediction only
    pairs with GT of its own), so every other group keeps its matches."""
    out = matched.copy()
    if not len(changed):
        return out
    flagged = np.zeros(int(scene.group.max()) + 1, dtype=bool)
    flagged[scene.group[scene.pair_dt[changed]]] = True
    redo = flagged[scene.group]
    dts = np.flatnonzero(redo)
    pairs = np.flatnonzero(redo[scene.pair_dt])
    renumbered = np.cumsum(redo) - 1
    cand = Candidates(dt=scene.dt[dts], rank=rank[dts], pair_dt=renumbered[scene.pair_dt[pairs]],
                      pair_gt=scene.pair_gt[pairs])
    out[:, :, dts] = greedy_match(cand, oks[pairs], ignored, scene.gt.iscrowd, scene.thresholds)
    return out


def accumulation_order(scene: Scene, score: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """(N,) the predictions in cocoeval.accumulate's order under ``score``: category, score descending,
    then image (ascending id) and ``rank``, as cocoeval concatenates its per-image lists."""
    return np.lexsort((rank, scene.group, -score, scene.category))


def precision_recall(scene: Scene, score: np.ndarray, order: np.ndarray, true_pos: np.ndarray,
                     ignored_dt: np.ndarray, ignored_gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cocoeval.accumulate on the kept predictions: precision [T x R x K x A'], recall [T x K x A'].

    ``true_pos`` and ``ignored_dt`` are [A' x T x N], ``ignored_gt`` [A' x G]; ``order`` is
    :func:`accumulation_order` under ``score``.  A prediction ignored and unmatched in every [A' x T]
    entry counts nowhere (neither as a true nor as a false positive, and precision and recall do not
    depend on where a category's list starts), so it is left out.
    """
    order = order[(true_pos | ~ignored_dt).any(axis=(0, 1))[order]]
    precision, recall, _ = accumulate(score[order], scene.category[order], true_pos[:, :, order],
                                      ignored_dt[:, :, order], ignored_gt, scene.gt.category_index,
                                      len(scene.gt.category_ids), np.asarray(scene.proto.params.recall_thresholds))
    return precision, recall


__all__ = ["AREA_NOTE", "AREA_RANGES", "Scene", "accumulation_order", "build_scene", "diagnosis_protocol", "match",
           "precision_recall", "rank_by", "rematch", "similarity"]
