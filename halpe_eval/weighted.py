"""Stage 4 under image weights: the PR arrays and statistics of the dataset in which image i appears
W[b, i] times, for B weight vectors at once (the bootstrap's resamples), counted again from one part's
kept matching (:class:`~halpe_eval.results.PartMatching`): no OKS, no matching.

The duplicated dataset lists the copies of an image one after another, in image order.  cocoeval
sorts predictions by score, ties in image order then rank (:mod:`.accumulate`; the matching keeps its
candidates in that order), so the copies of a
prediction are consecutive, unless its image holds several predictions of that score (a *tie run*,
which then repeats as a whole, copy after copy).  Its precision at a recall threshold r is the
largest precision of an entry whose recall reaches r (cocoeval makes precision monotone from the
right, then samples it), and few entries can be that largest:

- never a false positive or an ignored prediction: the entry before it has the same recall and at
  least its precision (the first entry has precision 0);
- of the copies of a true positive outside a tie run, only the last: each copy raises both.

So a true positive outside a tie run is one *point*, (TP before it + W[i], FP before it); a true
positive in a tie run is a point per copy c < W[i], (TP before the run + c x the run's TP + its TP
count within the run, FP likewise).  Counts before a point are weighted prefix sums (false
positives: those over the area range's FP candidates, the predictions counted as FP at some
threshold, shared by the thresholds, minus those over the few candidates not FP at this one).  Precision at r
is the largest precision over the points with TP >= m(r), the least count whose recall TP / npos
reaches r in float64, or 0; recall is all TP / npos.  The arithmetic is accumulate's on the same
integers, so weights of ones give its floats (tests check that, and duplicated datasets).

A statistic on an image split (CrowdPose's easy/medium/hard) counts its slice's images alone: their
weights, 0 elsewhere, as :mod:`.slices` re-accumulates that slice.

Shapes: W [B x I]; precision [B x A x T x R x K], recall [B x A x T x K]; statistics [B x S], NaN where
undefined (cocoeval's -1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .protocol import EvalParams, Statistic
from .results import PartMatching
from .slices import SliceMasks, statistic_value


@dataclass(frozen=True)
class Points:
    """The points of one (category, area range, OKS threshold), in the order of their counts: P points, Q
    of them in tie runs."""

    tp_image: np.ndarray  # (n_tp,) image of each counted true positive, in score order
    corrected_image: np.ndarray  # images of the area's FP candidates that are not FP at this threshold
    tp_at: np.ndarray  # (P,) TP count: the prefix sum of tp_image to take (before the run, in a tie run)
    base_before: np.ndarray  # (P,) FP candidates of the area before the run
    corrected_before: np.ndarray  # (P,) corrected entries before the run
    tie: np.ndarray  # (Q,) the points in tie runs, which count copies on top:
    tie_image: np.ndarray  # (Q,)
    tie_copy: np.ndarray  # (Q,) c
    run_tp: np.ndarray  # (Q,) true positives in the run
    run_fp: np.ndarray  # (Q,) counted false positives in the run
    tp_within: np.ndarray  # (Q,) true positives of the run up to the point's, inclusive
    fp_within: np.ndarray  # (Q,) counted false positives of the run before the point


@dataclass(frozen=True)
class CategoryCounts:
    """One category of one part: per area range, the images of the FP candidates (predictions counted as
    false positives at some threshold) and the points of each threshold; non-ignored GT per image."""

    base_image: tuple[np.ndarray, ...]  # [A] images of the FP candidates, in score order
    points: tuple[tuple[Points, ...], ...]  # [A][T]
    gt_count: np.ndarray  # (A, I)


@dataclass(frozen=True)
class WeightedPart:
    """One part made ready for :func:`weighted_pr` (by :func:`prepare`)."""

    categories: tuple[CategoryCounts, ...]
    n_areas: int
    n_thresholds: int
    recall_thresholds: np.ndarray  # (R,)


def prepare(inputs: PartMatching, copies: np.ndarray) -> WeightedPart:
    """Points and prefix-sum indices of every (category, area range, threshold); ``copies`` (I,) is the
    largest weight each image will get (tie runs get a point per copy up to it)."""
    n_areas, n_thresholds = inputs.true_pos.shape[:2]
    n_images = inputs.n_images
    categories = []
    for k in range(inputs.n_categories):
        sel = np.flatnonzero(inputs.category == k)
        order = sel[np.lexsort((sel, -inputs.score[sel]))]  # accumulate's order
        image, score = inputs.image[order], inputs.score[order]
        new_run = np.r_[True, (score[1:] != score[:-1]) | (image[1:] != image[:-1])] if len(order) else \
            np.zeros(0, bool)
        runs = _Runs(np.cumsum(new_run) - 1, np.flatnonzero(new_run), len(order))
        hit, counted = inputs.true_pos[:, :, order], ~inputs.dt_ignored[:, :, order]
        tp, fp = hit & counted, ~hit & counted
        gt_here = inputs.gt_category == k
        gt_count = np.stack([np.bincount(inputs.gt_image[gt_here & ~ignored], minlength=n_images)
                             for ignored in inputs.gt_ignored])
        base_images, points = [], []
        for a in range(n_areas):
            base = fp[a].any(axis=0)
            base_at = np.flatnonzero(base)
            base_images.append(image[base_at])
            points.append(tuple(_points(tp[a, t], fp[a, t], base & ~fp[a, t], base_at, image, runs, copies)
                                for t in range(n_thresholds)))
        categories.append(CategoryCounts(tuple(base_images), tuple(points), gt_count))
    return WeightedPart(tuple(categories), n_areas, n_thresholds,
                        np.asarray(inputs.recall_thresholds, dtype=np.float64))


@dataclass(frozen=True)
class _Runs:
    """Entries of equal score on one image, consecutive in score order."""

    of_entry: np.ndarray  # (n,) run of each entry
    start: np.ndarray  # (runs,) first entry of each run
    n: int  # entries

    @property
    def length(self) -> np.ndarray:
        return np.diff(np.r_[self.start, self.n])


def _points(tp: np.ndarray, fp: np.ndarray, corrected: np.ndarray, base_at: np.ndarray, image: np.ndarray,
            runs: _Runs, copies: np.ndarray) -> Points:
    """The points of one threshold from its (n,) true-positive and false-positive flags in score order."""
    tp_at = np.flatnonzero(tp)
    tp_count, fp_count = np.r_[0, np.cumsum(tp)], np.r_[0, np.cumsum(fp)]  # before each entry
    run = runs.of_entry[tp_at]
    start = runs.start[run]
    end = start + runs.length[run]
    alone = runs.length[run] == 1
    n_copies = np.where(alone, 1, copies[image[tp_at]])
    rep = np.repeat(np.arange(len(tp_at)), n_copies)  # a point per copy: 1 outside tie runs
    copy = np.arange(len(rep)) - np.repeat(np.cumsum(n_copies) - n_copies, n_copies)
    order = np.lexsort((tp_at[rep], copy, start[rep]))  # run, copy, rank within the run
    rep, copy = rep[order], copy[order]
    tie = np.flatnonzero(~alone[rep])
    corrected_at = np.flatnonzero(corrected)
    run_start = start[rep]
    tie_of = rep[tie]
    return Points(
        tp_image=image[tp_at],
        corrected_image=image[corrected_at],
        tp_at=tp_count[run_start] + alone[rep],  # alone: the last copy's count, the TP included
        base_before=np.searchsorted(base_at, run_start),
        corrected_before=np.searchsorted(corrected_at, run_start),
        tie=tie,
        tie_image=image[tp_at][tie_of],
        tie_copy=copy[tie],
        run_tp=(tp_count[end] - tp_count[start])[tie_of],
        run_fp=(fp_count[end] - fp_count[start])[tie_of],
        tp_within=(tp_count[tp_at + 1] - tp_count[start])[tie_of],
        fp_within=(fp_count[tp_at] - fp_count[start])[tie_of],
    )


def weighted_pr(part: WeightedPart, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision [B x A x T x R x K] and recall [B x A x T x K] of the duplicated datasets of ``weights``
    [B x I] (image multiplicities), -1 where the (category, area range) has no non-ignored GT.

    Inside, arrays are [entries x B]: gathering an image's weights copies a row, prefix sums add rows."""
    by_image = np.ascontiguousarray(np.asarray(weights, dtype=np.int32).T)  # [I x B]
    n_b, n_rec = by_image.shape[1], len(part.recall_thresholds)
    precision = -np.ones((n_b, part.n_areas, part.n_thresholds, n_rec, len(part.categories)))
    recall = -np.ones((n_b, part.n_areas, part.n_thresholds, len(part.categories)))
    for k, category in enumerate(part.categories):
        n_positive = category.gt_count @ by_image  # (A, B)
        for a in range(part.n_areas):
            base = _prefix_sums(by_image, category.base_image[a])
            least_tp = _least_counts(part.recall_thresholds, n_positive[a])
            for t, points in enumerate(category.points[a]):
                precision[:, a, t, :, k], recall[:, a, t, k] = _curve(points, by_image, base, n_positive[a],
                                                                      least_tp)
    return precision, recall


def _prefix_sums(by_image: np.ndarray, images: np.ndarray) -> np.ndarray:
    """(n + 1, B): the sums of the first 0..n rows of ``by_image[images]``, gathered into place."""
    out = np.empty((len(images) + 1, by_image.shape[1]), dtype=np.int32)
    out[0] = 0
    np.take(by_image, images, axis=0, out=out[1:])
    np.cumsum(out[1:], axis=0, out=out[1:])
    return out


def _least_counts(thresholds: np.ndarray, n_positive: np.ndarray) -> np.ndarray:
    """(B, R): the least TP count m with m / npos >= r in float64 (the comparison cocoeval's searchsorted
    makes on recall); rows with npos 0 are left at 0."""
    npos = np.maximum(n_positive, 1)[:, None].astype(np.float64)
    least = np.ceil(thresholds[None, :] * npos).astype(np.int64)
    while True:  # ceil(r npos) is off by at most one either way, where r npos rounds
        lower = (least > 0) & ((least - 1) / npos >= thresholds)
        higher = least / npos < thresholds
        if not (lower.any() or higher.any()):
            return least
        least = least - lower + higher


def _curve(points: Points, by_image: np.ndarray, base: np.ndarray, n_positive: np.ndarray,
           least_tp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Precision (B, R) and recall (B,) of one (category, area range, threshold).

    A point whose copy is missing (weight 0 outside tie runs, c >= W in one) takes the counts at the end
    of its run: those of an entry of the duplicated dataset (or 0, 0), so it adds no precision that is not
    there, and the counts stay in order."""
    n_b, n_rec = least_tp.shape
    tp_prefix = _prefix_sums(by_image, points.tp_image)
    recall = tp_prefix[-1] / np.maximum(n_positive, 1)
    precision = np.zeros((n_b, n_rec))
    n_points = len(points.tp_at)
    if n_points:
        tp = tp_prefix[points.tp_at]  # (P, B)
        fp = base[points.base_before]
        if len(points.corrected_image):
            fp -= _prefix_sums(by_image, points.corrected_image)[points.corrected_before]
        if len(points.tie):
            weight = by_image[points.tie_image]
            copy = points.tie_copy[:, None]
            there, whole_runs = copy < weight, np.minimum(copy, weight)
            tp[points.tie] += whole_runs * points.run_tp[:, None] + there * points.tp_within[:, None]
            fp[points.tie] += whole_runs * points.run_fp[:, None] + there * points.fp_within[:, None]
        # accumulate's tp / (fp + tp + eps), built last point first so that the running maximum from the end
        # runs over contiguous rows, in place (a third faster than over a reversed view)
        pr = np.add(fp[::-1], tp[::-1], dtype=np.float64)
        pr += np.spacing(1)
        np.divide(tp[::-1], pr, out=pr)
        best_after = np.maximum.accumulate(pr, axis=0, out=pr)[::-1]
        span = int(max(tp[-1].max(), least_tp.max())) + 1  # rows apart in one sorted key array
        rows = np.arange(n_b)[:, None]
        key_type = np.int32 if n_b * span < 2**31 else np.int64
        keys = tp.T.astype(key_type)
        keys += (rows * span).astype(key_type)
        queries = (least_tp + rows * span).astype(key_type)
        at = np.searchsorted(keys.ravel(), queries.ravel()).reshape(n_b, n_rec) - rows * n_points
        precision = np.where(at < n_points, best_after[np.minimum(at, n_points - 1), rows], 0.0)
    undefined = n_positive == 0
    precision[undefined] = -1.0
    recall[undefined] = -1.0
    return precision, recall


def weighted_stats(part: WeightedPart, weights: np.ndarray, params: EvalParams,
                   splits: dict[str, SliceMasks]) -> np.ndarray:
    """[B x S] the protocol's statistics on the duplicated datasets of ``weights`` [B x I], NaN where
    undefined.  ``splits`` holds the protocol's image splits (:func:`~halpe_eval.slices.protocol_splits`):
    a statistic on one counts its slice's images alone (weights 0 elsewhere)."""
    out = np.full((len(weights), len(params.statistics)), np.nan)
    arrays: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    for j, stat in enumerate(params.statistics):
        key = (stat.split, stat.slice)
        if key not in arrays:
            kept = weights
            if stat.split:
                kept = weights * splits[stat.split].get(stat.slice, np.zeros(weights.shape[1], dtype=bool))
            arrays[key] = weighted_pr(part, kept)
        out[:, j] = (_plain_statistic if stat.plain else _statistic)(stat, *arrays[key], params)
    return out


def _plain_statistic(stat: Statistic, precision: np.ndarray, recall: np.ndarray, params: EvalParams) -> np.ndarray:
    """(B,) summarize's mean over the entries > -1, summed in its order, every resample at once."""
    area = params.area_names.index(stat.area)
    values = (precision if stat.measure == "AP" else recall)[:, area]
    if stat.oks is not None:
        values = values[:, [params.threshold_index(stat.oks)]]
    flat = np.ascontiguousarray(values).reshape(len(values), -1)
    defined = flat > -1
    count = defined.sum(axis=1)
    total = np.where(defined, flat, 0.0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _statistic(stat: Statistic, precision: np.ndarray, recall: np.ndarray, params: EvalParams) -> np.ndarray:
    """(B,) a statistic that is not summarize's (averaged over every entry, rounded): :func:`statistic_value`
    itself on each resample's arrays, laid out as cocoeval's [T x R x K x A] and [T x K x A]."""
    by_resample = zip(np.moveaxis(precision, 1, -1), np.moveaxis(recall, 1, -1))
    values = [statistic_value(stat, np.ascontiguousarray(p), np.ascontiguousarray(r), params) for p, r in by_resample]
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
