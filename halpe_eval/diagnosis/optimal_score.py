"""The optimal score of coco-analyze's "score" fix (../DIAGNOSIS.md section 8).

Each prediction starts at its best OKS with a non-ignored GT of the area range (0 without one),
then a soft-NMS decays it per image: repeatedly, the remaining predictions are stably re-sorted by
their current score (ties keep the previous order, first the internal order), the first one M is
final, and every other Q is multiplied by ``exp(-o^2 / 0.5)``, where ``o`` is the mean over the
part's keypoints of ``exp(-d^2 / (2 sigma)^2 / (0.5 (a_M + a_Q) + eps) / 2)`` with ``a`` the area
of the keypoints' extent.  coco-analyze decays with the keypoints corrected for the *last* area
range it analysed (quirk 12.4); halpe-eval uses each range's own corrections.

The factor of a pair depends on the two predictions' keypoints alone (and is symmetric), so it is
computed once per pair of keypoint sets: :class:`OptimalScores` is called with each keypoint
configuration (a row of a keypoint table per prediction: as given, or as corrected in a range) and
recomputes only the pairs whose rows changed since the previous call.  A pair with a zero score
never needs its factor (a zero score stays zero; a zero-scored M only leads predictions at zero),
nor does a pair whose boxes are so far apart that every keypoint's exponent exceeds FAR (``o``
below 3e-9): its factor ``exp(-o^2 / 0.5)`` rounds to exactly 1.0.  The decay runs over all images
at once on an (image, slot) table, one settled prediction per image and step.
Shapes: N kept predictions, R keypoint rows, Kp keypoints, Q pairs of predictions in one image.
"""
from __future__ import annotations

import numpy as np

from ..oks import EPS, exp_in_place, keypoint_boxes
from .scene import Scene

FAR = 20.0  # exponent above which exp(-(exp(-FAR))^2 / 0.5) == 1.0 in float64 (needs > 19.06)
BLOCK_PAIRS = 4096  # pairs per block of factors: bounds the (pairs, Kp) temporaries


def best_oks(scene: Scene, oks: np.ndarray, ignored_gt: np.ndarray) -> np.ndarray:
    """(N,) each prediction's best OKS with a GT not ignored (``ignored_gt`` (G,)), 0 without one."""
    value = np.where(ignored_gt[scene.pair_gt], 0.0, oks)
    out = np.zeros(len(scene.dt))
    has = np.flatnonzero(np.bincount(scene.pair_dt, minlength=len(scene.dt)))
    if len(has):
        out[has] = np.maximum.reduceat(value, scene.pair_start[has])
    return out


class OptimalScores:
    """coco-analyze's optimal scores of one scene under several keypoint configurations.

    The keypoint rows a configuration may give a prediction are the scene's own (rows 0..N-1), then
    ``extra`` (R - N, Kp, 2) (corrected ones); a call names each prediction's row.
    """

    def __init__(self, scene: Scene, extra: np.ndarray):
        self.own, self.extra = scene.xy, extra
        self.variances = (scene.sigmas * 2) ** 2
        box = np.concatenate([keypoint_boxes(scene.xy), keypoint_boxes(extra)])
        self.low, self.high = box[:, :2], box[:, 2:]
        self.area = (self.high[:, 0] - self.low[:, 0]) * (self.high[:, 1] - self.low[:, 1])
        # Groups with predictions, largest first, so that the groups still deciding at step k are a prefix.
        groups, group_row, size = np.unique(scene.group, return_inverse=True, return_counts=True)
        by_size = np.argsort(-size, kind="stable")
        self.size = size[by_size]
        row_of = np.empty(len(groups), dtype=np.int64)
        row_of[by_size] = np.arange(len(groups))
        self.group_row = row_of[group_row.reshape(-1)]
        self.slot = scene.rank  # 0..size-1 within the group
        self.at_slot = np.zeros((len(groups), int(self.size.max(initial=0))), dtype=np.int64)
        self.at_slot[self.group_row, self.slot] = np.arange(len(scene.dt))
        # Each group's size x size table of factors, flattened; one more entry (1.0) for empty slots.
        self.base = np.cumsum(self.size**2) - self.size**2
        self.first, self.second = self._pairs()
        g, a, b = self.group_row[self.first], self.slot[self.first], self.slot[self.second]
        self.at = self.base[g] + a * self.size[g] + b
        self.at_transposed = self.base[g] + b * self.size[g] + a
        self._row: np.ndarray | None = None  # the previous call's rows, factors and pairs known
        self._factor = np.ones(len(self.first))
        self._known = np.zeros(len(self.first), dtype=bool)

    def _pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(Q,) every pair of predictions of the same group, the first one at the lower slot."""
        size = self.size[self.group_row]
        partners = size - 1 - self.slot
        first = np.repeat(np.arange(len(self.slot)), partners)
        within = np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
        second = self.at_slot[self.group_row[first], self.slot[first] + 1 + within]
        return first, second

    def __call__(self, row: np.ndarray, start: np.ndarray) -> np.ndarray:
        """(N,) optimal scores from ``start`` (N,) with the keypoint rows ``row`` (N,)."""
        ri, rj = row[self.first], row[self.second]
        needed = (start[self.first] != 0) & (start[self.second] != 0)
        reused = self._known.copy()
        if self._row is not None:
            reused &= (self._row[self.first] == ri) & (self._row[self.second] == rj)
        else:
            reused[:] = False
        factor = np.where(reused, self._factor, 1.0)
        todo = np.flatnonzero(needed & ~reused)
        todo = todo[self._near(ri[todo], rj[todo])]
        for lo in range(0, len(todo), BLOCK_PAIRS):
            block = todo[lo : lo + BLOCK_PAIRS]
            factor[block] = self._factors(ri[block], rj[block])
        self._row, self._factor, self._known = row, factor, needed | reused
        table = np.ones(int(self.base[-1] + self.size[-1] ** 2) + 1 if len(self.size) else 1)
        table[self.at] = factor
        table[self.at_transposed] = factor
        decaying = np.unique(self.group_row[self.first[factor != 1.0]])  # the others keep their scores
        return self._decay(start, table, decaying)

    def _near(self, ri: np.ndarray, rj: np.ndarray) -> np.ndarray:
        """Whether a pair's factor can differ from 1.0 (see FAR)."""
        low, high, area = self.low, self.high, self.area
        gap = np.maximum(np.maximum(low[ri] - high[rj], low[rj] - high[ri]), 0)  # every keypoint is this far apart
        bound = (gap[:, 0] ** 2 + gap[:, 1] ** 2) / self.variances.max() / (0.5 * (area[rj] + area[ri]) + EPS) / 2
        return bound <= FAR

    def _factors(self, ri: np.ndarray, rj: np.ndarray) -> np.ndarray:
        """``exp(-o^2 / 0.5)`` of each pair of keypoint rows, in coco-analyze's order of operations."""
        a, b = self._keypoints(ri), self._keypoints(rj)
        dx = a[:, :, 0].astype(np.float64) - b[:, :, 0]
        dy = a[:, :, 1].astype(np.float64) - b[:, :, 1]
        np.square(dx, out=dx)
        np.square(dy, out=dy)
        e = np.add(dx, dy, out=dx)  # (dx^2 + dy^2) / variances / (mean area + eps) / 2, in place
        np.divide(e, self.variances, out=e)
        np.divide(e, (0.5 * (self.area[rj] + self.area[ri]))[:, None] + EPS, out=e)
        np.divide(e, 2, out=e)
        np.negative(e, out=e)
        o = np.sum(exp_in_place(e), axis=1) / e.shape[1]
        return np.exp(-(o**2) / 0.5)

    def _keypoints(self, rows: np.ndarray) -> np.ndarray:
        """(n, Kp, 2) the keypoint rows ``rows``."""
        out = np.empty((len(rows), *self.own.shape[1:]), dtype=self.own.dtype)
        own = rows < len(self.own)
        out[own] = self.own[rows[own]]
        out[~own] = self.extra[rows[~own] - len(self.own)]
        return out

    def _decay(self, start: np.ndarray, table: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """The soft-NMS of the groups ``groups`` (rows, ascending) on a (group, slot) table: at step k each group's
        k-th prediction is settled.  Every other prediction keeps its start."""
        size, base, at_slot = self.size[groups], self.base[groups], self.at_slot[groups]
        width = int(size.max(initial=0))
        sub = np.full(len(self.size), -1)
        sub[groups] = np.arange(len(groups))
        sub = sub[self.group_row]
        inside = sub >= 0
        score = np.full((len(groups), width), -np.inf)  # empty slots sort last and stay -inf
        score[sub[inside], self.slot[inside]] = start[inside]
        slot = np.broadcast_to(np.arange(width), (len(groups), width)).copy()  # current order of the slots
        final = start.astype(np.float64)
        empty = len(table) - 1
        for k in range(width):
            active = int(np.searchsorted(-size, -k, side="left"))  # groups with more than k predictions
            rest = np.argsort(-score[:active, k:], axis=1, kind="stable")  # ties keep the previous order
            score[:active, k:] = np.take_along_axis(score[:active, k:], rest, axis=1)
            slot[:active, k:] = np.take_along_axis(slot[:active, k:], rest, axis=1)
            chosen = slot[:active, k]
            final[at_slot[np.arange(active), chosen]] = score[:active, k]
            n = size[:active, None]
            others = slot[:active, k + 1 :]
            at = np.where(others < n, base[:active, None] + chosen[:, None] * n + others, empty)
            score[:active, k + 1 :] *= table[at]
        return final


__all__ = ["OptimalScores", "best_oks"]
