"""Stage 4: precision/recall arrays and the ten COCO keypoint statistics.

Conventions of cocoeval.accumulate/summarize: predictions of all images are
sorted by score (stable; ties keep image-id order, then rank within the image);
precision is made monotone from the right and sampled at 101 recall
thresholds (``searchsorted`` left, 0 past the last recall reached); recall is
the last cumulative recall.  A (category, area range) without non-ignored GT
has precision and recall -1, and a statistic is the mean over entries > -1,
or -1 (reported as undefined) when there are none.
"""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
AREA_RANGES = {"all": (0.0, 1e5**2), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e5**2)}
STAT_NAMES = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")


def threshold_index(threshold: float) -> int:
    """Position of an OKS threshold in IOU_THRESHOLDS (which holds 0.5, 0.55, ..., 0.95)."""
    hits = np.flatnonzero(np.isclose(IOU_THRESHOLDS, threshold))
    if not len(hits):
        raise ValueError(f"OKS threshold {threshold} is not one of {IOU_THRESHOLDS.round(2).tolist()}")
    return int(hits[0])


def precision_recall(
    scores: np.ndarray,
    sort_key: np.ndarray,
    true_pos: np.ndarray,
    ignored: np.ndarray,
    n_positive: np.ndarray,
):
    """PR for one category.

    ``scores`` (N,) and ``sort_key`` (N,) order the predictions (score desc, then key);
    ``true_pos`` / ``ignored`` are (A, T, N); ``n_positive`` (A,) counts non-ignored GT.
    Returns precision (T, R, A), recall (T, A), score at each recall threshold (T, R, A).
    """
    n_area, n_thr, n = true_pos.shape
    n_rec = len(RECALL_THRESHOLDS)
    precision = -np.ones((n_thr, n_rec, n_area))
    recall = -np.ones((n_thr, n_area))
    score_at = -np.ones((n_thr, n_rec, n_area))
    order = np.lexsort((sort_key, -scores))
    sorted_scores = scores[order]
    counted = ~ignored[:, :, order]
    hit = true_pos[:, :, order]
    # Integer running counts (exact, like the oracle's float cumsum of booleans), divided in float64 below.
    tp_sum = np.cumsum(hit & counted, axis=2, dtype=np.int32)
    fp_sum = np.cumsum(~hit & counted, axis=2, dtype=np.int32)
    for a in range(n_area):
        if n_positive[a] == 0:
            continue
        rc = tp_sum[a] / n_positive[a]
        pr = tp_sum[a] / (fp_sum[a] + tp_sum[a] + np.spacing(1))
        recall[:, a] = rc[:, -1] if n else 0.0
        if n == 0:
            precision[:, :, a] = 0.0
            score_at[:, :, a] = 0.0
            continue
        pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
        for t in range(n_thr):
            at = np.searchsorted(rc[t], RECALL_THRESHOLDS, side="left")
            reached = at < n
            precision[t, :, a] = np.where(reached, pr[t, np.minimum(at, n - 1)], 0.0)
            score_at[t, :, a] = np.where(reached, sorted_scores[np.minimum(at, n - 1)], 0.0)
    return precision, recall, score_at


def summarize(precision: np.ndarray, recall: np.ndarray) -> Dict[str, Optional[float]]:
    """The ten keypoint statistics from precision (T, R, K, A) and recall (T, K, A).

    Area columns follow AREA_RANGES' order: all, medium, large.
    """

    def mean(values: np.ndarray) -> Optional[float]:
        defined = values[values > -1]
        return float(np.mean(defined)) if defined.size else None

    t50 = [threshold_index(0.5)]  # a list keeps the threshold axis, as cocoeval's selection does
    t75 = [threshold_index(0.75)]
    return {
        "AP": mean(precision[:, :, :, 0]),
        "AP50": mean(precision[t50][:, :, :, 0]),
        "AP75": mean(precision[t75][:, :, :, 0]),
        "APm": mean(precision[:, :, :, 1]),
        "APl": mean(precision[:, :, :, 2]),
        "AR": mean(recall[:, :, 0]),
        "AR50": mean(recall[t50][:, :, 0]),
        "AR75": mean(recall[t75][:, :, 0]),
        "ARm": mean(recall[:, :, 1]),
        "ARl": mean(recall[:, :, 2]),
    }
