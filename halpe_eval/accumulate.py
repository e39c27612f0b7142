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

import numpy as np

from .protocol import EvalParams
from .results import Stats


def accumulate(
    score: np.ndarray,
    category: np.ndarray,
    true_pos: np.ndarray,
    dt_ignored: np.ndarray,
    gt_ignored: np.ndarray,
    gt_category: np.ndarray,
    n_categories: int,
    recall_thresholds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PR arrays of one part, category by category (cocoeval.accumulate).

    ``score`` and ``category`` are (N,) per candidate, in matching order (grouped by image, then
    rank): that position breaks score ties.  ``true_pos`` and ``dt_ignored`` are [A x T x N],
    ``gt_ignored`` [A x G] with ``gt_category`` (G,).  Returns precision [T x R x K x A],
    recall [T x K x A] and the score at each recall threshold [T x R x K x A].
    """
    n_thr, n_area = true_pos.shape[1], true_pos.shape[0]
    shape = (n_thr, len(recall_thresholds), n_categories, n_area)
    precision, scores = -np.ones(shape), -np.ones(shape)
    recall = -np.ones((n_thr, n_categories, n_area))
    for k in range(n_categories):
        sel = np.flatnonzero(category == k)
        n_positive = (~gt_ignored[:, gt_category == k]).sum(axis=1)
        precision[:, :, k], recall[:, k], scores[:, :, k] = precision_recall(
            score[sel], sel, true_pos[:, :, sel], dt_ignored[:, :, sel], n_positive, recall_thresholds
        )
    return precision, recall, scores


def precision_recall(
    scores: np.ndarray,
    sort_key: np.ndarray,
    true_pos: np.ndarray,
    ignored: np.ndarray,
    n_positive: np.ndarray,
    recall_thresholds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PR for one category.

    ``scores`` (N,) and ``sort_key`` (N,) order the predictions (score desc, then key);
    ``true_pos`` / ``ignored`` are [A x T x N]; ``n_positive`` (A,) counts non-ignored GT.
    Returns precision [T x R x A], recall [T x A], score at each recall threshold [T x R x A].
    """
    n_area, n_thr, n = true_pos.shape
    n_rec = len(recall_thresholds)
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
            at = np.searchsorted(rc[t], recall_thresholds, side="left")
            reached = at < n
            precision[t, :, a] = np.where(reached, pr[t, np.minimum(at, n - 1)], 0.0)
            score_at[t, :, a] = np.where(reached, sorted_scores[np.minimum(at, n - 1)], 0.0)
    return precision, recall, score_at


def summarize(precision: np.ndarray, recall: np.ndarray, params: EvalParams) -> Stats:
    """The protocol's statistics from precision [T x R x K x A] and recall [T x K x A].

    Each is the mean over the entries > -1 of its area range, at one OKS threshold or over all
    (cocoeval's ``_summarize``); None (cocoeval's -1) when no entry is defined.
    """

    def mean(values: np.ndarray) -> float | None:
        defined = values[values > -1]
        return float(np.mean(defined)) if defined.size else None

    stats: Stats = {}
    for stat in params.statistics:
        values = precision if stat.measure == "AP" else recall
        if stat.oks is not None:
            values = values[[params.threshold_index(stat.oks)]]  # a list keeps the axis, as cocoeval's selection
        stats[stat.name] = mean(values[..., params.area_names.index(stat.area)])
    return stats
