"""Stage 4: precision/recall arrays and the ten COCO keypoint statistics.

Conventions of cocoeval.accumulate/summarize: predictions of all images are
sorted by score (stable; ties keep image-id order, then rank within the image);
precision is made monotone from the right and sampled at 101 recall
thresholds (``searchsorted`` left, 0 past the last recall reached); recall is
the last cumulative recall.  A (category, area range) without non-ignored GT
has precision and recall -1, and a statistic is the mean over entries > -1,
or -1 (reported as undefined) when there are none.

Computed from the true positives alone, for every category, area range and
threshold at once: recall only rises at a true positive, and precision only
rises there too (a false positive lowers it), so the precision envelope at any
position equals the envelope at the next true positive, and every recall
threshold above 0 is first reached at a true positive.  The threshold 0 is
reached at the first prediction of the category, whatever it is.  The values
are the oracle's: the same integer counts divided in the same float64 order.
Shapes: A area ranges, T OKS thresholds, N predictions, K categories, R recall thresholds.
"""
from __future__ import annotations

import numpy as np

from .protocol import EvalParams
from .results import Stats

EPS = np.spacing(1)


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
    """PR arrays of one part, every category at once (cocoeval.accumulate).

    ``score`` and ``category`` are (N,) per candidate in matching order (the pipeline's is already
    the ranking order; any other is sorted): that position breaks score ties.  ``true_pos`` and
    ``dt_ignored`` are [A x T x N], ``gt_ignored`` [A x G] with ``gt_category`` (G,).  Returns precision
    [T x R x K x A], recall [T x K x A] and the score at each recall threshold [T x R x K x A].
    Candidates already in ranking order (category, score descending) are not re-sorted.
    """
    n_area, n_thr, _ = true_pos.shape
    n_rec = len(recall_thresholds)
    precision = -np.ones((n_thr, n_rec, n_categories, n_area))
    score_at = -np.ones((n_thr, n_rec, n_categories, n_area))
    recall = -np.ones((n_thr, n_categories, n_area))
    order = ranking_order(score, category)
    if order is not None:
        score, category = score[order], category[order]
        true_pos, dt_ignored = true_pos[:, :, order], dt_ignored[:, :, order]
    counted = ~dt_ignored
    n_counted = np.cumsum(counted, axis=2, dtype=np.int32)  # counted predictions up to each position (N < 2**31)
    bounds = np.searchsorted(category, np.arange(n_categories + 1))  # category k holds [bounds[k], bounds[k+1])
    n_positive = np.stack([np.bincount(gt_category[~ignored], minlength=n_categories) for ignored in gt_ignored])

    n = true_pos.shape[2]
    flat = np.flatnonzero(true_pos & counted)  # sorted by (area, threshold, position)
    row, pos = np.divmod(flat, n)  # row: area * n_thr + threshold (one flat search beats np.nonzero's three)
    cat = category[pos]
    group = row * n_categories + cat
    group_starts = np.searchsorted(group, np.arange(n_area * n_thr * n_categories + 1))
    tp = np.arange(1, len(pos) + 1) - group_starts[group]  # true positives so far, in the group
    before = bounds[cat] - 1  # the category's counted predictions start after this position
    counted_upto = n_counted.reshape(-1)  # flat, as ``flat`` indexes it
    counted_before = np.where(before >= 0, counted_upto[row * n + np.maximum(before, 0)], 0)
    fp = counted_upto[flat] - counted_before - tp
    with np.errstate(divide="ignore", invalid="ignore"):
        rc = tp / n_positive[row // n_thr, cat]
    pr = tp / (fp + tp + EPS)

    starts_at_zero = recall_thresholds <= 0
    for a in range(n_area):
        for k in range(n_categories):
            first, stop = bounds[k], bounds[k + 1]
            if n_positive[a, k] == 0:
                continue
            for t in range(n_thr):
                g = (a * n_thr + t) * n_categories + k
                seg = slice(group_starts[g], group_starts[g + 1])
                seg_rc, seg_pr, seg_pos = rc[seg], pr[seg], pos[seg]
                if not len(seg_rc):  # no true positive: recall and precision 0; recall 0 is reached
                    recall[t, k, a] = precision[t, :, k, a] = 0.0  # at the first prediction, if any
                    score_at[t, :, k, a] = np.where(starts_at_zero, score[first] if stop > first else 0.0, 0.0)
                    continue
                recall[t, k, a] = seg_rc[-1]
                envelope = np.maximum.accumulate(seg_pr[::-1])[::-1]
                at = np.searchsorted(seg_rc, recall_thresholds, side="left")
                reached = at < len(seg_rc)
                at = np.minimum(at, len(seg_rc) - 1)
                prec = np.where(reached, envelope[at], 0.0)
                sc = np.where(reached, score[seg_pos[at]], 0.0)
                # Recall 0 is reached at the category's first prediction, TP or not.
                prec[starts_at_zero] = envelope[0]
                sc[starts_at_zero] = score[first]
                precision[t, :, k, a], score_at[t, :, k, a] = prec, sc
    return precision, recall, score_at


def ranking_order(score: np.ndarray, category: np.ndarray) -> np.ndarray | None:
    """The order (category, score descending, position), or None when the input is in it already."""
    if len(score) < 2:
        return None
    same_category = category[1:] == category[:-1]
    in_order = (category[1:] >= category[:-1]) & (~same_category | (score[1:] <= score[:-1]))
    if in_order.all():
        return None
    return group_score_order(category, score)


def group_score_order(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """The positions sorted by group ascending, score descending, then position: ``np.lexsort((arange(N), -score,
    group))``, computed as one stable sort of the scores and one sort of unique integer keys (twice as fast)."""
    n = len(score)
    by_score = np.argsort(-score, kind="stable")
    if n < 2 or group.min() == group.max():
        return by_score
    if group.min() < 0 or int(group.max()) >= np.iinfo(np.int64).max // n:
        return np.lexsort((np.arange(n), -score, group))
    score_rank = np.empty(n, dtype=np.int64)
    score_rank[by_score] = np.arange(n)
    return np.argsort(group.astype(np.int64) * n + score_rank)  # keys are unique: any sort gives this order


def mean_defined(values: np.ndarray) -> float | None:
    """The mean of the entries > -1 (cocoeval's ``_summarize``), None (cocoeval's -1) when there are none."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else None


def summarize(precision: np.ndarray, recall: np.ndarray, params: EvalParams) -> Stats:
    """The protocol's statistics from precision [T x R x K x A] and recall [T x K x A].

    Each is the mean over the entries > -1 of its area range, at one OKS threshold or over all
    (cocoeval's ``_summarize``); None (cocoeval's -1) when no entry is defined.
    """

    stats: Stats = {}
    for stat in params.statistics:
        values = precision if stat.measure == "AP" else recall
        if stat.oks is not None:
            values = values[[params.threshold_index(stat.oks)]]  # a list keeps the axis, as cocoeval's selection
        stats[stat.name] = mean_defined(values[..., params.area_names.index(stat.area)])
    return stats
