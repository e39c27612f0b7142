"""The optimal score of coco-analyze's "score" fix (../DIAGNOSIS.md section 8).

Each prediction starts at its best OKS with a non-ignored GT of the area range (0 without one),
then a soft-NMS decays it per image: repeatedly, the remaining predictions are stably re-sorted by
their current score (ties keep the previous order, first the internal order), the first one M is
final, and every other Q is multiplied by ``exp(-o^2 / 0.5)``, where ``o`` is the mean over the
part's keypoints of ``exp(-d^2 / (2 sigma)^2 / (0.5 (a_M + a_Q) + eps) / 2)`` with ``a`` the area
of the keypoints' extent.  coco-analyze decays with the keypoints corrected for the *last* area
range it analysed (quirk 12.4); halpe-eval uses each range's own corrections.

Vectorised over images: step k settles the k-th prediction of every image at once.  A pair whose
boxes are so far apart that every keypoint's exponent exceeds FAR (``o`` below 3e-9) is skipped:
its factor ``exp(-o^2 / 0.5)`` rounds to exactly 1.0, so the scores are bit-identical.
Shapes: N kept predictions, Kp keypoints, P pairs.
"""
from __future__ import annotations

import numpy as np

from ..match import run_heads
from ..oks import EPS, keypoint_boxes
from .scene import Scene

FAR = 20.0  # exponent above which exp(-(exp(-FAR))^2 / 0.5) == 1.0 in float64 (needs > 19.06)


def best_oks(scene: Scene, oks: np.ndarray, ignored_gt: np.ndarray) -> np.ndarray:
    """(N,) each prediction's best OKS with a GT not ignored (``ignored_gt`` (G,)), 0 without one."""
    value = np.where(ignored_gt[scene.pair_gt], 0.0, oks)
    out = np.zeros(len(scene.dt))
    has = np.flatnonzero(np.bincount(scene.pair_dt, minlength=len(scene.dt)))
    if len(has):
        out[has] = np.maximum.reduceat(value, scene.pair_start[has])
    return out


def soft_nms(scene: Scene, xy: np.ndarray, start: np.ndarray) -> np.ndarray:
    """(N,) coco-analyze's optimal scores from ``start`` (N,) and the keypoints ``xy`` (N, Kp, 2)."""
    x = np.ascontiguousarray(xy[:, :, 0], dtype=np.float64)
    y = np.ascontiguousarray(xy[:, :, 1], dtype=np.float64)
    variances = (scene.sigmas * 2) ** 2
    box = keypoint_boxes(xy)
    low, high = box[:, :2], box[:, 2:]
    area = (high[:, 0] - low[:, 0]) * (high[:, 1] - low[:, 1])
    score = start.astype(np.float64).copy()
    final = np.zeros(len(score))
    position = scene.rank.copy()
    remaining = np.ones(len(score), dtype=bool)
    while remaining.any():
        idx = np.flatnonzero(remaining)
        order = idx[np.lexsort((position[idx], -score[idx], scene.group[idx]))]
        first, head = run_heads(scene.group[order])
        position[order] = np.arange(len(order)) - head
        chosen = order[first]
        final[chosen] = score[chosen]
        remaining[chosen] = False
        decaying = ~first & (score[order] != 0)  # a zero score stays zero
        q, m = order[decaying], order[head[decaying]]
        gap = np.maximum(np.maximum(low[q] - high[m], low[m] - high[q]), 0)  # every keypoint is this far apart
        bound = (gap[:, 0] ** 2 + gap[:, 1] ** 2) / variances.max() / (0.5 * (area[m] + area[q]) + EPS) / 2
        near = bound <= FAR
        q, m = q[near], m[near]
        if not len(q):
            continue
        dx, dy = x[q] - x[m], y[q] - y[m]
        np.square(dx, out=dx)
        np.square(dy, out=dy)
        e = np.add(dx, dy, out=dx)  # (dx^2 + dy^2) / variances / (mean area + eps) / 2, in place
        np.divide(e, variances, out=e)
        np.divide(e, (0.5 * (area[m] + area[q]))[:, None] + EPS, out=e)
        np.divide(e, 2, out=e)
        np.negative(e, out=e)
        o = np.sum(np.exp(e, out=e), axis=1) / e.shape[1]
        score[q] = score[q] * np.exp(-(o**2) / 0.5)
    return final


__all__ = ["best_oks", "soft_nms"]
