"""The optimal score of coco-analyze's "score" fix (../DIAGNOSIS.md section 8).

Each prediction starts at its best OKS with a non-ignored GT of the area range (0 without one),
then a soft-NMS decays it per image: repeatedly, the remaining predictions are stably re-sorted by
their current score (ties keep the previous order, first the internal order), the first one M is
final, and every other Q is multiplied by ``exp(-o^2 / 0.5)``, where ``o`` is the mean over the
part's keypoints of ``exp(-d^2 / (2 sigma)^2 / (0.5 (a_M + a_Q) + eps) / 2)`` with ``a`` the area
of the keypoints' extent.  coco-analyze decays with the keypoints corrected for the *last* area
range it analysed (quirk 12.4); halpe-eval uses each range's own corrections.

Vectorised over images: step k settles the k-th prediction of every image at once.
Shapes: N kept predictions, Kp keypoints, P pairs.
"""
from __future__ import annotations

import numpy as np

from ..oks import EPS
from .scene import Scene


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
    area = (x.max(axis=1) - x.min(axis=1)) * (y.max(axis=1) - y.min(axis=1)) if x.size else np.zeros(len(x))
    score = start.astype(np.float64).copy()
    final = np.zeros(len(score))
    position = scene.rank.copy()
    remaining = np.ones(len(score), dtype=bool)
    while remaining.any():
        idx = np.flatnonzero(remaining)
        order = idx[np.lexsort((position[idx], -score[idx], scene.group[idx]))]
        groups = scene.group[order]
        first = np.r_[True, groups[1:] != groups[:-1]]
        head = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        position[order] = np.arange(len(order)) - head
        chosen = order[first]
        final[chosen] = score[chosen]
        remaining[chosen] = False
        decaying = ~first & (score[order] != 0)  # a zero score stays zero
        q, m = order[decaying], order[head[decaying]]
        if not len(q):
            continue
        dx, dy = x[q] - x[m], y[q] - y[m]
        e = (dx**2 + dy**2) / variances / ((0.5 * (area[m] + area[q]))[:, None] + EPS) / 2
        o = np.sum(np.exp(-e), axis=1) / e.shape[1]
        score[q] = score[q] * np.exp(-(o**2) / 0.5)
    return final


__all__ = ["best_oks", "soft_nms"]
