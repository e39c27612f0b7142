"""Stage 3: choose the predictions that are scored and match them greedily to GT.

Conventions of cocoeval.evaluateImg, vectorised over area ranges, OKS
thresholds and images at once:

- per (image, category) predictions are ranked by score, highest first, ties in
  file order (stable mergesort), and only the first ``max_detections`` count;
- in rank order each prediction takes the free GT with the highest OKS >= the
  threshold, preferring non-ignored GT; among equal OKS the GT listed last in
  the file wins (the oracle's ``<`` comparison); a crowd GT stays free after a
  match, any other GT is taken;
- a prediction matched to an ignored GT is ignored;
- a threshold above ``1 - 1e-10`` matches at ``1 - 1e-10`` (cocoeval's ``min([t, 1 - 1e-10])``), so
  a threshold of 1.0 still matches a near-perfect prediction.

Matches are kept as GT indices, so an annotation with id 0 is matched like any
other (pycocotools and halpecocotools store ids and read 0 as "unmatched").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .accumulate import group_score_order, ranking_order

MATCH_CEILING = 1 - 1e-10  # cocoeval matches at OKS >= min(threshold, 1 - 1e-10)


@dataclass(frozen=True)
class Candidates:
    """Predictions scored in one part and their (prediction, GT) pairs."""

    dt: np.ndarray  # (N,) indices into Predictions: grouped by (category, image), best first, or in ranking order
    rank: np.ndarray  # (N,) rank within its (category, image)
    pair_dt: np.ndarray  # (P,) index into ``dt``
    pair_gt: np.ndarray  # (P,) index into GroundTruth, file order within each prediction


def run_heads(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For a sorted (N,) group array: whether each entry starts its group's run, and the position of its
    run's first entry (so ``arange(N) - head`` is the rank within the group)."""
    first = np.r_[True, groups[1:] != groups[:-1]] if len(groups) else np.zeros(0, bool)
    return first, np.maximum.accumulate(np.where(first, np.arange(len(groups)), 0))


def select_candidates(
    dt_group: np.ndarray,
    dt_score: np.ndarray,
    keep: np.ndarray,
    max_detections: int,
    gt_group: np.ndarray,
) -> Candidates:
    """Top-``max_detections`` predictions per group and every pair with a GT of the same group.

    ``dt_group`` / ``gt_group`` number the (category, image) of each prediction / GT.
    """
    idx = np.flatnonzero(keep)
    order = group_score_order(dt_group[idx], dt_score[idx])  # group, score desc, file order
    idx = idx[order]
    groups = dt_group[idx]
    rank = np.arange(len(idx)) - run_heads(groups)[1]
    top = rank < max_detections
    idx, rank, groups = idx[top], rank[top], groups[top]

    gt_order = np.argsort(gt_group, kind="stable")
    sorted_groups = gt_group[gt_order]
    lo = np.searchsorted(sorted_groups, groups, side="left")
    hi = np.searchsorted(sorted_groups, groups, side="right")
    counts = hi - lo
    pair_dt = np.repeat(np.arange(len(idx)), counts)
    within = np.arange(len(pair_dt)) - np.repeat(np.cumsum(counts) - counts, counts)
    pair_gt = gt_order[np.repeat(lo, counts) + within]
    return Candidates(dt=idx, rank=rank, pair_dt=pair_dt, pair_gt=pair_gt)


def in_ranking_order(cand: Candidates, score: np.ndarray, category: np.ndarray) -> Candidates:
    """The same candidates renumbered in accumulation's order: category, score descending, then
    their current (image, rank) order, so that matching writes its arrays in the order precision
    and recall are accumulated in, and accumulation sorts nothing.  ``score`` / ``category`` are (D,).
    """
    order = ranking_order(score[cand.dt], category[cand.dt])
    if order is None:
        return cand
    new_index = np.empty_like(order)
    new_index[order] = np.arange(len(order))
    return Candidates(dt=cand.dt[order], rank=cand.rank[order], pair_dt=new_index[cand.pair_dt], pair_gt=cand.pair_gt)


def greedy_match(
    cand: Candidates,
    oks: np.ndarray,
    gt_ignored: np.ndarray,
    gt_crowd: np.ndarray,
    thresholds: np.ndarray,
) -> np.ndarray:
    """Matched GT index (or -1) per (area range, threshold, candidate): shape (A, T, N).

    ``gt_ignored`` is (A, G): a GT's ignore flag in each area range.
    """
    n_area, n_gt = gt_ignored.shape
    n_thr = len(thresholds)
    thresholds = np.minimum(thresholds, MATCH_CEILING)
    matched = np.full((n_area, n_thr, len(cand.dt)), -1, dtype=np.int32 if n_gt < 2**31 else np.int64)
    taken = np.zeros((n_area, n_thr, n_gt), dtype=bool)
    # A pair below the lowest threshold can never match: leave it out (most pairs are strangers).
    useful = np.flatnonzero(oks >= thresholds.min())
    if len(useful) == 0:
        return matched
    # Pairs by rank; within a rank grouped by prediction, GT in file order (a stable sort keeps both).
    pair_rank = cand.rank[cand.pair_dt[useful]]
    useful = useful[np.argsort(pair_rank, kind="stable")]
    pair_dt, pair_gt, oks = cand.pair_dt[useful], cand.pair_gt[useful], oks[useful]
    bounds = np.searchsorted(cand.rank[pair_dt], np.arange(pair_rank.max() + 2))
    segment_start = np.flatnonzero(np.r_[True, pair_dt[1:] != pair_dt[:-1]])  # each prediction's first pair
    key, position_bits = _pair_keys(oks, ~gt_ignored[:, pair_gt], bounds)
    above = oks[None, :] >= thresholds[:, None]  # (T, P)
    crowd = gt_crowd[pair_gt]
    # Each (area range, threshold) is a row; matches are written through flat indices (one index array, not three).
    matched_flat, taken_flat = matched.reshape(-1), taken.reshape(-1)
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        pg = pair_gt[lo:hi]
        starts = segment_start[np.searchsorted(segment_start, lo):np.searchsorted(segment_start, hi)] - lo
        eligible = above[None, :, lo:hi] & ~(taken[:, :, pg] & ~crowd[lo:hi])  # (A, T, P_r)
        best = np.maximum.reduceat(np.where(eligible, key[:, None, lo:hi], -1), starts, axis=2).reshape(-1)
        found = np.flatnonzero(best >= 0)  # (row, prediction) entries with a match, as row * S + s
        row, s = np.divmod(found, len(starts))
        gt_chosen = pg[best[found] & ((1 << position_bits) - 1)]  # the low bits: the pair's position in the block
        matched_flat[row * len(cand.dt) + pair_dt[lo + starts[s]]] = gt_chosen
        taken_flat[row * n_gt + gt_chosen] = True
    return matched


def _pair_keys(oks: np.ndarray, not_ignored: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, int]:
    """(A, P) int64 keys whose maximum over a prediction's pairs is the pair the oracle chooses, and the number
    of low bits holding the pair's position in its rank's block (``bounds``).

    From the high bits: a non-ignored GT before any ignored one (``not_ignored`` is (A, P)), then the higher
    OKS (as its rank among the distinct values: equal OKS, equal rank), then the later position, so that
    among equal OKS the GT listed last wins (the oracle's strict comparison).
    """
    order = np.argsort(oks)
    sorted_oks = oks[order]
    oks_rank = np.empty(len(oks), dtype=np.int64)
    oks_rank[order] = np.cumsum(np.r_[False, sorted_oks[1:] != sorted_oks[:-1]])
    block = np.diff(bounds)
    position = np.arange(len(oks)) - np.repeat(bounds[:-1], block)
    position_bits = max(int(block.max()).bit_length(), 1)
    rank_bits = max(int(oks_rank[order[-1]]).bit_length(), 1)
    if position_bits + rank_bits > 62:  # both are at most the bit length of P: only from 2**31 pairs on
        raise ValueError("too many candidate pairs to match")
    low = (oks_rank << position_bits) + position
    return low[None, :] + not_ignored.astype(np.int64) * (1 << (position_bits + rank_bits)), position_bits


def ignored_predictions(matched: np.ndarray, gt_ignored: np.ndarray, dt_outside: np.ndarray) -> np.ndarray:
    """(A, T, N) ignored predictions: matched to an ignored GT, or unmatched and outside the area range.

    ``matched`` is :func:`greedy_match`'s (A, T, N), ``gt_ignored`` (A, G), ``dt_outside`` (A, N).
    """
    n_area, n_gt = gt_ignored.shape
    if n_gt == 0:
        return np.repeat(dt_outside[:, None, :], matched.shape[1], axis=1)
    flags = np.zeros((n_area, n_gt + 1), dtype=bool)  # the last column, False, is read by unmatched entries (-1)
    flags[:, :n_gt] = gt_ignored
    ignored = np.empty(matched.shape, dtype=bool)
    for area in range(n_area):
        np.take(flags[area], matched[area], out=ignored[area], mode="wrap")  # -1 wraps to the last column
    ignored |= (matched < 0) & dt_outside[:, None, :]
    return ignored


def matched_oks(cand: Candidates, oks: np.ndarray, matched: np.ndarray, n_gt: int) -> np.ndarray:
    """OKS of each (candidate, matched GT) in ``matched`` (T, N); NaN where unmatched."""
    if len(oks) == 0:
        return np.full(matched.shape, np.nan)
    keys = cand.pair_dt * n_gt + cand.pair_gt
    order = np.argsort(keys)
    wanted = np.arange(matched.shape[1])[None, :] * n_gt + np.maximum(matched, 0)
    at = order[np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)]
    return np.where(matched >= 0, oks[at], np.nan)
