"""coco-analyze's cumulative "AP after fixing" sequence for one area range (../DIAGNOSIS.md section 9).

Each step is a COCO evaluation of the range on predictions modified cumulatively:
``baseline`` (as given), ``miss``, ``swap``, ``inversion``, ``jitter`` (those keypoints corrected,
in that order), ``score`` (scores replaced by the optimal score), ``background`` (predictions
unmatched at a threshold are ignored at it: background false positives removed) and
``false_negative`` (in addition, at threshold t every GT unmatched at some t' <= t is ignored).
coco-analyze prints the last step's values against the reversed thresholds (bug 12.1); here each
value sits at its true threshold.  Each range is computed on its own (quirk 12.4 not reproduced).

Only the pairs of the predictions a step moves get their OKS recomputed.
Shapes: N kept predictions, P pairs, G GT, T OKS thresholds, R recall thresholds, K categories.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..accumulate import mean_defined
from .keypoints import FIXES, KeypointErrors, fix_keypoints
from .optimal_score import OptimalScores, best_oks
from .scene import Scene, dt_ignored, match, pairs_of, precision_recall, rank_by, similarity

STEPS = ("baseline", *FIXES, "score", "background", "false_negative")


@dataclass(frozen=True)
class StepCurves:
    """One step's PR arrays in one area range: precision [T x R x K], recall [T x K] (-1: undefined)."""

    precision: np.ndarray
    recall: np.ndarray

    def ap_at(self) -> np.ndarray:
        """(T,) AP at each threshold: mean of the defined precision entries, -1 where none is defined."""
        means = [mean_defined(p) for p in self.precision]
        return np.array([-1.0 if m is None else m for m in means])


@dataclass(frozen=True)
class BackgroundCounts:
    """Section 10: after every fix, at each threshold (T,): predictions and GT left unmatched."""

    false_pos: np.ndarray  # kept predictions unmatched
    false_pos_in_range: np.ndarray  # ... whose area is inside the range
    false_neg: np.ndarray  # every GT annotation unmatched (crowd, no keypoints, outside the range included)
    false_neg_not_ignored: np.ndarray  # GT not ignored in the range and unmatched (the meaningful count)
    false_pos_every_oks: int  # unmatched at every threshold
    false_neg_every_oks: int
    false_neg_not_ignored_every_oks: int


def unmatched_counts(scene: Scene, matched: np.ndarray, area: int) -> BackgroundCounts:
    """The background counts of ``matched`` (T, N) in area range ``area``."""
    unmatched_dt = matched < 0
    gt_hit = np.zeros((len(matched), len(scene.gt.ann_ids)), dtype=bool)
    t_idx, n_idx = np.nonzero(matched >= 0)
    gt_hit[t_idx, matched[t_idx, n_idx]] = True
    counted = ~scene.gt_ignored[area]
    inside = ~scene.outside[area]
    return BackgroundCounts(
        false_pos=unmatched_dt.sum(axis=1), false_pos_in_range=(unmatched_dt & inside).sum(axis=1),
        false_neg=(~gt_hit).sum(axis=1), false_neg_not_ignored=(~gt_hit & counted).sum(axis=1),
        false_pos_every_oks=int(unmatched_dt.all(axis=0).sum()), false_neg_every_oks=int((~gt_hit).all(axis=0).sum()),
        false_neg_not_ignored_every_oks=int(((~gt_hit).all(axis=0) & counted).sum()),
    )


@dataclass(frozen=True)
class RangeSequence:
    """The sequence's PR arrays per step, the optimal scores and the background counts of one range."""

    steps: dict[str, StepCurves]
    optimal_score: np.ndarray  # (N,)
    background: BackgroundCounts


def run_sequences(scene: Scene, oks: np.ndarray, errors: list[KeypointErrors], baseline: list[StepCurves],
                  optimal: OptimalScores, rows: list[np.ndarray]) -> list[RangeSequence]:
    """The cumulative sequence of every area range; ``oks`` (P,) of the original keypoints, ``errors[a]`` the
    classified matches of range a, ``baseline[a]`` its standard evaluation, ``rows[a]`` the predictions'
    keypoint rows in ``optimal`` after every fix of range a.  The fixes keep the scores, so each fix is
    accumulated for every range in one pass."""
    n_areas = len(scene.area_names)
    steps: list[dict[str, StepCurves]] = [{"baseline": b} for b in baseline]
    xys = [scene.xy.copy() for _ in range(n_areas)]
    okss = [oks.copy() for _ in range(n_areas)]
    for fix in FIXES:
        for a in range(n_areas):
            pairs = pairs_of(scene, fix_keypoints(errors[a], xys[a], (fix,)))
            okss[a][pairs] = similarity(scene, xys[a], pairs)
        matched = np.concatenate([match(scene, okss[a], scene.rank, scene.gt_ignored[a : a + 1])
                                  for a in range(n_areas)])
        precision, recall = precision_recall(scene, scene.score, scene.rank, matched >= 0,
                                             dt_ignored(scene, matched, slice(None)), scene.gt_ignored)
        for a in range(n_areas):
            steps[a][fix] = StepCurves(precision[..., a], recall[..., a])
    return [_rescored(scene, a, optimal, rows[a], okss[a], steps[a]) for a in range(n_areas)]


def _rescored(scene: Scene, area: int, scores: OptimalScores, rows: np.ndarray, oks: np.ndarray,
              steps: dict[str, StepCurves]) -> RangeSequence:
    """The steps after the keypoint fixes in one range: optimal scores, background FP removed, FN removed."""
    sl = slice(area, area + 1)
    ignored_gt = scene.gt_ignored[sl]
    optimal = scores(rows, best_oks(scene, oks, ignored_gt[0]))
    rank = rank_by(scene, optimal)
    matched = match(scene, oks, rank, ignored_gt)
    ignored_dt = dt_ignored(scene, matched, sl)
    background = ignored_dt | (matched < 0)  # background false positives: unmatched at the threshold
    both = np.concatenate([matched, matched])  # score and background, as two "ranges" of one accumulation
    precision, recall = precision_recall(scene, optimal, rank, both >= 0, np.concatenate([ignored_dt, background]),
                                         np.concatenate([ignored_gt, ignored_gt]))
    steps["score"] = StepCurves(precision[..., 0], recall[..., 0])
    steps["background"] = StepCurves(precision[..., 1], recall[..., 1])
    steps["false_negative"] = _false_negative_curves(scene, optimal, rank, matched[0], background[0], ignored_gt[0])
    return RangeSequence(steps, optimal, unmatched_counts(scene, matched[0], area))


def _false_negative_curves(scene: Scene, score: np.ndarray, rank: np.ndarray, matched: np.ndarray,
                           ignored_dt: np.ndarray, ignored_gt: np.ndarray) -> StepCurves:
    """At threshold t, GT unmatched at any t' <= t are ignored too; matched predictions keep their status.

    The thresholds become the area axis of one accumulation, each with its own GT ignore flags.
    """
    hit = np.zeros((len(matched), len(ignored_gt)), dtype=bool)
    t_idx, n_idx = np.nonzero(matched >= 0)
    hit[t_idx, matched[t_idx, n_idx]] = True
    missed = np.logical_or.accumulate(~hit, axis=0)  # thresholds ascending
    precision, recall = precision_recall(scene, score, rank, (matched >= 0)[:, None, :], ignored_dt[:, None, :],
                                         ignored_gt[None, :] | missed)
    # precision [1 x R x K x T] -> [T x R x K]; recall [1 x K x T] -> [T x K]
    return StepCurves(np.moveaxis(precision[0], -1, 0), np.moveaxis(recall[0], -1, 0))


__all__ = ["STEPS", "BackgroundCounts", "RangeSequence", "StepCurves", "run_sequences", "unmatched_counts"]
