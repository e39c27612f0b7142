"""coco-analyze's cumulative "AP after fixing" sequence for one area range (../DIAGNOSIS.md section 9).

Each step is a COCO evaluation of the range on predictions modified cumulatively:
``baseline`` (as given), ``miss``, ``swap``, ``inversion``, ``jitter`` (those keypoints corrected,
in that order), ``score`` (scores replaced by the optimal score), ``background`` (predictions
unmatched at a threshold are ignored at it: background false positives removed) and
``false_negative`` (in addition, at threshold t every GT unmatched at some t' <= t is ignored).
coco-analyze prints the last step's values against the reversed thresholds (bug 12.1); here each
value sits at its true threshold.  Each range is computed on its own (quirk 12.4 not reproduced).

The ranges share their work: a (prediction, GT) match analysed in several ranges is corrected once,
and only the pairs of the matches a step moves get their OKS recomputed; each step's matching is
redone only in the images whose OKS changed.  The steps up to ``jitter`` keep the scores, so a
range's PR arrays of those steps are accumulated in one pass (its predictions ignored and unmatched
at every step left out); its background and false_negative steps share one accumulation, of its
matched predictions alone.
Shapes: N kept predictions, P pairs, G GT, T OKS thresholds, R recall thresholds, K categories,
M analysed matches (of any range), A area ranges.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..accumulate import mean_defined
from ..match import ignored_predictions
from ..oks import pair_oks
from .keypoints import FIXES, GOOD, KeypointErrors, fix_keypoints
from .optimal_score import OptimalScores, best_oks
from .scene import Scene, accumulation_order, match, precision_recall, rank_by, rematch

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


def run_sequences(scene: Scene, oks: np.ndarray, unique: KeypointErrors, members: list[np.ndarray],
                  optimal: OptimalScores) -> tuple[list[RangeSequence], np.ndarray]:
    """The cumulative sequence of every area range, and the baseline's matching (A, T, N).

    ``oks`` (P,) is the OKS of the original keypoints, ``unique`` the analysed matches of every range,
    ``unique[members[a]]`` those of range a; ``optimal`` holds the scene's keypoint rows, then the
    corrected rows of ``unique`` (its first call: the original keypoints).
    """
    n_areas = len(scene.area_names)
    stages = [[oks] * n_areas, *_fixed_oks(scene, oks, unique, members)]  # [step up to jitter][range]
    matched = np.stack(_stage_matchings(scene, stages), axis=1)  # (A, step, T, N)
    steps = []
    order = accumulation_order(scene, scene.score, scene.rank)
    for a in range(n_areas):  # each range's steps in one accumulation, each step a "range" of its own
        ignored_gt = np.repeat(scene.gt_ignored[a : a + 1], len(stages), axis=0)
        outside = np.repeat(scene.outside[a : a + 1], len(stages), axis=0)
        ignored_dt = ignored_predictions(matched[a], ignored_gt, outside)
        precision, recall = precision_recall(scene, scene.score, order, matched[a] >= 0, ignored_dt, ignored_gt)
        steps.append({step: StepCurves(precision[..., i], recall[..., i])
                      for i, step in enumerate(STEPS[: len(stages)])})
    rows = [_corrected_rows(scene, unique, at) for at in members]
    return _rescored(scene, optimal, rows, stages[-1], steps), matched[:, 0]


def _stage_matchings(scene: Scene, stages: list[list[np.ndarray]]) -> list[np.ndarray]:
    """[step] (A, T, N) the matching of every range after each step up to jitter (``stages[step][range]`` the OKS).

    A step moves some predictions, and a range's corrections differ from range 0's in a few matches: each
    matching starts from a close one and matches again only the images whose OKS differ (:func:`rematch`).
    ``reference`` is the step's matching with range 0's OKS under every range's ignore flags.
    """
    ignored = scene.gt_ignored
    reference = match(scene, stages[0][0], scene.rank, ignored)
    out = []
    for i, per_area in enumerate(stages):
        if i:
            reference = rematch(scene, reference, per_area[0], scene.rank, ignored,
                                np.flatnonzero(per_area[0] != stages[i - 1][0]))
        out.append(np.stack([reference[0], *(rematch(scene, reference[a : a + 1], per_area[a], scene.rank,
                                                     ignored[a : a + 1], np.flatnonzero(per_area[a] != per_area[0]))[0]
                                             for a in range(1, len(per_area)))]))
    return out


def _fixed_oks(scene: Scene, oks: np.ndarray, unique: KeypointErrors,
               members: list[np.ndarray]) -> list[list[np.ndarray]]:
    """[fix][range] (P,) the OKS of every pair after each cumulative fix; a match's pairs are recomputed once
    per fix that moves it, whatever the ranges that analyse it."""
    counts = np.bincount(scene.pair_dt, minlength=len(scene.dt))[unique.dt]
    row = np.repeat(np.arange(len(unique.dt)), counts)  # (Q,) the match of each of its pairs ...
    pair = np.repeat(scene.pair_start[unique.dt] - np.cumsum(counts) + counts, counts) + np.arange(len(row))  # ...
    in_area = []  # and which of them each range analyses
    for at in members:
        member = np.zeros(len(unique.dt), dtype=bool)
        member[at] = True
        in_area.append(member[row])
    xy = scene.xy[unique.dt]
    current = oks[pair]
    out = []
    for fix in FIXES:
        moved = np.flatnonzero(fix_keypoints(unique, xy, (fix,))[row])
        current = current.copy()
        current[moved] = pair_oks(xy, scene.gt_part, scene.gt.area, scene.gt.bbox, row[moved],
                                  scene.pair_gt[pair[moved]], slice(None), scene.sigmas, scene.proto.coordinate_dtype)
        per_area = []
        for inside in in_area:
            fixed = oks.copy()
            fixed[pair[inside]] = current[inside]
            per_area.append(fixed)
        out.append(per_area)
    return out


def _corrected_rows(scene: Scene, unique: KeypointErrors, at: np.ndarray) -> np.ndarray:
    """(N,) each prediction's keypoint row after every fix of a range whose matches are ``unique[at]``: its own
    (0..N-1), or N + its match's position in ``unique`` where a fix moves it."""
    rows = np.arange(len(scene.dt))
    moved = at[(unique.classes[at] > GOOD).any(axis=1)]
    rows[unique.dt[moved]] = len(scene.dt) + moved
    return rows


def _rescored(scene: Scene, scores: OptimalScores, rows: list[np.ndarray], oks: list[np.ndarray],
              steps: list[dict[str, StepCurves]]) -> list[RangeSequence]:
    """The steps after the keypoint fixes in every range (``oks[a]``, ``rows[a]``: its keypoints after them):
    optimal scores, background FP removed, FN removed."""
    optimal = [scores(rows[a], best_oks(scene, oks[a], scene.gt_ignored[a])) for a in range(len(rows))]
    ranks = [rank_by(scene, score) for score in optimal]
    matched = np.concatenate([match(scene, oks[a], ranks[a], scene.gt_ignored[a : a + 1]) for a in range(len(rows))])
    ignored_dt = ignored_predictions(matched, scene.gt_ignored, scene.outside)
    out = []
    for a, (score, rank) in enumerate(zip(optimal, ranks)):
        order = accumulation_order(scene, score, rank)
        background = ignored_dt[a] | (matched[a] < 0)  # background false positives: unmatched at the threshold
        hit = np.zeros((len(matched[a]), len(scene.gt.ann_ids)), dtype=bool)
        t_idx, n_idx = np.nonzero(matched[a] >= 0)
        hit[t_idx, matched[a][t_idx, n_idx]] = True
        missed = np.logical_or.accumulate(~hit, axis=0)  # thresholds ascending: unmatched at some t' <= t
        precision, recall = precision_recall(scene, score, order, (matched[a] >= 0)[None], ignored_dt[a][None],
                                             scene.gt_ignored[a][None])
        steps[a]["score"] = StepCurves(precision[..., 0], recall[..., 0])
        # Background and false_negative in one accumulation, each threshold a "range" of its own with its own
        # ignore flags (the GT missed so far ignored too for false_negative); only matches count in either.
        ignored_gt = np.concatenate([np.tile(scene.gt_ignored[a], (len(hit), 1)), scene.gt_ignored[a] | missed])
        true_pos = np.tile(matched[a] >= 0, (2, 1))[:, None, :]
        precision, recall = precision_recall(scene, score, order, true_pos,
                                             np.concatenate([background, background])[:, None, :], ignored_gt)
        # precision [1 x R x K x 2T] -> [2T x R x K]; recall [1 x K x 2T] -> [2T x K]
        precision, recall = np.moveaxis(precision[0], -1, 0), np.moveaxis(recall[0], -1, 0)
        for i, step in enumerate(("background", "false_negative")):
            at = slice(i * len(hit), (i + 1) * len(hit))
            steps[a][step] = StepCurves(precision[at], recall[at])
        out.append(RangeSequence(steps[a], score, unmatched_counts(scene, matched[a], a)))
    return out


__all__ = ["STEPS", "BackgroundCounts", "RangeSequence", "StepCurves", "run_sequences", "unmatched_counts"]
