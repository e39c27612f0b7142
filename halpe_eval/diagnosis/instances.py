"""Instance-level errors: which people are missed, which predictions are background, score ranking.

Computed as coco-analyze's report does (backgroundFalsePos/NegErrors, scoringErrors, the
occlusion/crowding and size benchmarks), on the original keypoints and scores in the range 'all':

- false negatives: GT not ignored in 'all' and unmatched at every OKS threshold, broken down by
  size (the GT's ``area``: coco-analyze's medium (32^2, 64^2], large (64^2, 96^2], xlarge
  (96^2, 128^2], xxlarge > 128^2), by the number of keypoints labelled in the part (four equal
  bins over 1..Kp; for COCO-17: 1-5, 6-10, 11-15, 16-17) and by crowding (other GT of the image
  whose box IoU is above 0.1: 0, 1-2, 3+); each bin with the number of GT in it;
- false positives: kept predictions unmatched at every threshold, by size (their area, with
  small < 32^2) and by the people in their image (0, 1, 2-4, 5-8, 9+ or a crowd region);
- scoring errors (../DIAGNOSIS.md 11): images whose ranking by score differs from the ranking
  by optimal score, and, at OKS >= 0.5, GT whose best-OKS prediction is not the best-scored one
  among the free candidates, under the original and the optimal score.

Shapes: N kept predictions, T thresholds, G GT.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..match import run_heads
from .scene import Scene, image_rows, rank_by

SIZE_BINS = (("small", -1.0, 32.0**2), ("medium", 32.0**2, 64.0**2), ("large", 64.0**2, 96.0**2),
             ("xlarge", 96.0**2, 128.0**2), ("xxlarge", 128.0**2, np.inf))  # (lo, hi]
OVERLAP_IOU = 0.1
OVERLAP_BINS = (("0", 0, 0), ("1-2", 1, 2), ("3+", 3, np.inf))
PEOPLE_BINS = (("none", 0, 0), ("one", 1, 1), ("2-4", 2, 4), ("5-8", 5, 8), ("9+ or crowd", 9, np.inf))
MATCH_OKS = 0.5  # scoringErrors' min_match_oks


def _binned(values: np.ndarray, bins: tuple, closed_low: bool = True) -> list[np.ndarray]:
    """One mask per (name, lo, hi) bin: lo <= v <= hi, or lo < v <= hi with ``closed_low`` False."""
    return [((values >= lo) if closed_low else (values > lo)) & (values <= hi) for _, lo, hi in bins]


def _sizes(values: np.ndarray, bins: tuple) -> list[np.ndarray]:
    return _binned(values, bins, closed_low=False)


def keypoint_bins(n_kpt: int) -> tuple[tuple[str, int, int], ...]:
    """Four equal bins of labelled-keypoint counts over 1..n_kpt (coco-analyze's 1-5 ... 16-17 for 17)."""
    width = -(-n_kpt // 4)
    return tuple((f"{lo}-{min(lo + width - 1, n_kpt)}", lo, min(lo + width - 1, n_kpt))
                 for lo in range(1, n_kpt + 1, width))


def box_overlaps(scene: Scene) -> np.ndarray:
    """(G,) other GT of the same image (any) whose box IoU with the GT is above OVERLAP_IOU."""
    gt = scene.gt
    rows, other = image_rows(gt, np.arange(len(gt.ann_ids)))
    a, b = gt.bbox[rows], gt.bbox[other]
    iw = np.maximum(0, np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]))
    ih = np.maximum(0, np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]))
    inter = iw * ih
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return np.bincount(rows[(iou > OVERLAP_IOU) & (rows != other)], minlength=len(gt.ann_ids))


def false_negatives(scene: Scene, matched: np.ndarray) -> dict[str, Any]:
    """Breakdown of the GT missed at every threshold; ``matched`` (T, N) from range 'all'."""
    hit = np.zeros(len(scene.gt.ann_ids), dtype=bool)
    hit[matched[matched >= 0]] = True  # matched at some threshold
    counted = ~scene.gt_ignored[0]
    missed = ~hit & counted
    labelled = (scene.gt_part[:, :, 2] > 0).sum(axis=1)
    overlaps = box_overlaps(scene)
    return {
        "count": int(missed.sum()),
        "by_size": _table(missed, counted, SIZE_BINS[1:], _sizes(scene.gt.area, SIZE_BINS[1:])),
        "by_labelled_keypoints": _table(missed, counted, keypoint_bins(len(scene.columns)),
                                        _binned(labelled, keypoint_bins(len(scene.columns)))),
        "by_overlapping_people": _table(missed, counted, OVERLAP_BINS, _binned(overlaps, OVERLAP_BINS)),
    }


def false_positives(scene: Scene, matched: np.ndarray) -> dict[str, Any]:
    """Breakdown of the kept predictions unmatched at every threshold; ``matched`` (T, N)."""
    background = np.asarray((matched < 0).all(axis=0))
    gt = scene.gt
    image = scene.dt_image
    people = np.bincount(gt.image_index, minlength=len(gt.image_ids))
    people = np.where(np.bincount(gt.image_index, weights=gt.iscrowd, minlength=len(gt.image_ids)) > 0, np.inf,
                      people)[image]
    everyone = np.ones(len(background), dtype=bool)
    return {
        "count": int(background.sum()),
        "by_size": _table(background, everyone, SIZE_BINS, _sizes(scene.dt_area, SIZE_BINS)),
        "by_people_in_image": _table(background, everyone, PEOPLE_BINS, _binned(people, PEOPLE_BINS)),
    }


def _table(selected: np.ndarray, population: np.ndarray, bins: tuple, masks: list[np.ndarray]) -> dict[str, Any]:
    """{bin: {"count": selected in bin, "of": population in bin}}."""
    return {name: {"count": int((selected & m).sum()), "of": int((population & m).sum())}
            for (name, _, _), m in zip(bins, masks)}


def scoring_errors(scene: Scene, oks: np.ndarray, optimal: np.ndarray) -> dict[str, Any]:
    """Ranking errors in range 'all' with the original keypoints; ``oks`` (P,), ``optimal`` (N,) scores."""
    reordered = np.zeros(len(scene.gt.image_ids), dtype=bool)
    optimal_rank = rank_by(scene, optimal)
    reordered[scene.dt_image[optimal_rank != scene.rank]] = True
    with_predictions = len(np.unique(scene.dt_image))
    return {
        "images_reordered": int(reordered.sum()), "images_with_predictions": with_predictions,
        "original_score": _ranking_errors(scene, oks, scene.rank),
        "optimal_score": _ranking_errors(scene, oks, optimal_rank),
    }


def _ranking_errors(scene: Scene, oks: np.ndarray, rank: np.ndarray) -> int:
    """coco-analyze's scoring errors: per image, GT by descending best OKS (ties: file order); each takes its
    best free candidate (OKS >= 0.5; ties: the best-ranked), the image stopping at the first GT left with
    none; an error when that candidate is not the best-ranked one among at least two.

    All images at once: round r serves the r-th GT of every image still going.
    """
    counted = ~scene.gt_ignored[0][scene.pair_gt]
    good = counted & (oks >= MATCH_OKS)
    per_gt = np.bincount(scene.pair_gt[good], minlength=len(scene.gt.ann_ids))
    images = np.zeros(len(scene.gt.image_ids), dtype=bool)
    images[scene.gt.image_index[per_gt >= 2]] = True  # only there can a GT have two candidates
    sel = np.flatnonzero(counted & images[scene.dt_image[scene.pair_dt]])
    dt, gt, value = scene.pair_dt[sel], scene.pair_gt[sel], oks[sel]
    # The GT of each image in serving order: descending best OKS over the image's counted pairs, file order.
    gts, inverse = np.unique(gt, return_inverse=True)
    best = np.zeros(len(gts))
    np.maximum.at(best, inverse.reshape(-1), value)
    image = scene.gt.image_index[gts]
    queue = np.lexsort((gts, -best, image))
    head, start = run_heads(image[queue])
    turn = np.empty(len(gts), dtype=np.int64)
    turn[queue] = np.arange(len(queue)) - start  # the round in which each GT is served
    # Each GT's candidates (OKS >= 0.5) in ranking order (rank, then index), as runs of (candidate) rows.
    cand = np.flatnonzero(value >= MATCH_OKS)
    cand = cand[np.lexsort((dt[cand], rank[dt[cand]], inverse.reshape(-1)[cand]))]
    owner = inverse.reshape(-1)[cand]
    used = np.zeros(len(scene.dt), dtype=bool)
    going = np.ones(len(scene.gt.image_ids), dtype=bool)
    errors = 0
    for r in range(int(turn.max(initial=-1)) + 1):
        served = np.flatnonzero((turn == r) & going[image])  # one GT per image still going
        rows = cand[np.isin(owner, served)]
        rows = rows[~used[dt[rows]]]  # free candidates, grouped by GT, in ranking order
        who = inverse.reshape(-1)[rows]
        first, _ = run_heads(who)
        starts = np.flatnonzero(first)
        top = np.maximum.reduceat(value[rows], starts) if len(rows) else np.zeros(0)
        seg = np.cumsum(first) - 1
        hits = np.flatnonzero(value[rows] == top[seg])
        chosen = hits[run_heads(seg[hits])[0]]  # the first free candidate reaching the best OKS
        used[dt[rows[chosen]]] = True
        count = np.diff(np.r_[starts, len(rows)])
        errors += int(((count > 1) & (chosen != starts)).sum())
        going[image[served]] = False
        going[image[who[starts]]] = True  # an image stops at a GT left without a free candidate
    return errors


__all__ = ["false_negatives", "false_positives", "keypoint_bins", "scoring_errors"]
