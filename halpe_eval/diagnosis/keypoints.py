"""Keypoint errors of matched predictions: good, jitter, inversion, swap, miss; and their corrections.

coco-analyze's taxonomy (../DIAGNOSIS.md section 6) for a prediction P matched (at OKS 0.1) to a GT
g of image I: every keypoint j of P is compared, by keypoint similarity
``KS = exp(-d^2 / (2 sigma_j)^2 / (area + eps) / 2)``, with keypoint j of every GT of I as is and
left/right mirrored (the mirrored copy's keypoint j is the annotation's keypoint ``flip[j]``, the
protocol's ``flip_pairs``), each with its own area; an unlabelled keypoint scores -1.  With ``m`` the
best KS and the first row reaching it (order: g, the others in file order, mirrored g, the
others mirrored), a keypoint labelled in g is

- good: m > 0.85 on g;  jitter: 0.5 <= m < 0.85 on g;
- inversion: m >= 0.5 on mirrored g;  swap: m >= 0.5 on another person (as is or mirrored);
- miss: m < 0.5.  (m exactly 0.85 on g is in no class, as in coco-analyze.)

Corrections (section 7): the keypoint moves to g's point shifted along +x by
``sqrt(-ln(t) * 2 * area_g * sigma^2)``, t = 0.85 (jitter), 0.5 (miss) or m (inversion, swap;
minus eps when m is 1).  That distance uses sigma^2 where KS uses (2 sigma)^2, so a corrected
point lands at KS t^(1/4) (quirk 12.2, kept: it is what coco-analyze's numbers mean).

Shapes: M matches, Kp keypoints of the part, Q (match, GT of the same image) rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..oks import EPS, as_view_index, exp_in_place, keypoint_boxes, labelled_boxes, oks_upper_bound, similarity_exponent
from .scene import Scene, image_rows

ERROR_TYPES = ("good", "jitter", "inversion", "swap", "miss")  # class codes 0..4; -1: no class
GOOD, JITTER, INVERSION, SWAP, MISS = range(5)
FIXES = ("miss", "swap", "inversion", "jitter")  # coco-analyze's correction order
KS_LOW, KS_HIGH = 0.5, 0.85  # jitter band of keypoint similarity
BLOCK_ROWS = 8192  # (match, GT) rows per block: bounds the temporaries


@dataclass(frozen=True)
class KeypointErrors:
    """The class of every keypoint of M matched predictions and where a fix would put it."""

    dt: np.ndarray  # (M,) index into the scene's kept predictions
    gt: np.ndarray  # (M,) index into GroundTruth
    classes: np.ndarray  # (M, Kp) int8 class code (ERROR_TYPES), -1 where unlabelled in g
    best: np.ndarray  # (M, Kp) best keypoint similarity m (0 where no GT labels the keypoint; below KS_LOW, over
    # the rows classify keeps)
    corrected: np.ndarray  # (M, Kp, 2) corrected x, y (the prediction's own where nothing is fixed)

    def subset(self, at: np.ndarray) -> KeypointErrors:
        """The matches at positions ``at``."""
        return KeypointErrors(self.dt[at], self.gt[at], self.classes[at], self.best[at], self.corrected[at])

    def counts(self) -> np.ndarray:
        """(5, Kp) number of keypoints of each class, per keypoint."""
        return np.stack([(self.classes == c).sum(axis=0) for c in range(len(ERROR_TYPES))])


def classify(scene: Scene, dt: np.ndarray, gt: np.ndarray, flip: np.ndarray) -> KeypointErrors:
    """Classify the keypoints of the matches (``dt[i]``, ``gt[i]``); ``flip`` (K,) is the protocol's mirror map.

    Another person's row (as is or mirrored) whose keypoints provably all score below KS_LOW
    (:func:`~halpe_eval.oks.oks_upper_bound` of the boxes, which bounds every keypoint's similarity) is
    left out: it can hold the best similarity only where that is below KS_LOW, a miss wherever it lies.
    """
    n_kpt = len(scene.columns)
    rows_match, rows_gt = image_rows(scene.gt, gt)
    own = rows_gt == gt[rows_match]
    xy = scene.xy[dt].astype(np.float64)
    box = keypoint_boxes(xy)[rows_match]
    sides = [scene.columns.tolist(), flip[scene.columns].tolist()]  # as is, then mirrored
    boxes = labelled_boxes(scene.gt.keypoints, sides[0])
    best_sides, on_sides = [], []
    for columns in sides:
        if sorted(columns) != sorted(sides[0]):  # a mirror onto other keypoints (a left hand's is the right hand)
            boxes = labelled_boxes(scene.gt.keypoints, columns)
        near = own | (oks_upper_bound(box, boxes[rows_gt], scene.sigmas, scene.gt.area[rows_gt]) >= KS_LOW)
        best, on_own = _best_rows(scene, xy, gt, rows_match[near], rows_gt[near], np.asarray(columns))
        best_sides.append(best)
        on_sides.append(on_own)
    (best_direct, best_mirror), (on_self, on_mirror) = best_sides, on_sides
    best = np.maximum(np.maximum(best_direct, best_mirror), 0.0)
    labelled = scene.gt_part[gt, :, 2] != 0
    at_self = on_self == best  # row 0 wins every tie
    inverted = ~at_self & (best_direct < best) & (on_mirror == best)
    classes = np.full((len(dt), n_kpt), -1, dtype=np.int8)
    high = best >= KS_LOW
    classes[labelled & (best > KS_HIGH) & at_self] = GOOD
    classes[labelled & high & (best < KS_HIGH) & at_self] = JITTER
    classes[labelled & high & inverted] = INVERSION
    classes[labelled & high & ~at_self & ~inverted] = SWAP
    classes[labelled & ~high] = MISS
    return KeypointErrors(dt, gt, classes, best, _corrected(scene, xy, gt, classes, best))


def _best_rows(scene: Scene, xy: np.ndarray, gt: np.ndarray, rows_match: np.ndarray, rows_gt: np.ndarray,
               columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, Kp) the best similarity of each match's keypoints (``xy`` (M, Kp, 2)) over its rows (grouped by
    match, each match's own GT among them) with keypoints ``columns`` of the rows' GT, and that on its own GT."""
    best = np.empty(xy.shape[:2])
    on_own = np.empty(xy.shape[:2])
    starts = np.searchsorted(rows_match, np.arange(len(xy) + 1))
    step = max(1, BLOCK_ROWS // max(1, int(np.diff(starts).max(initial=1))))  # matches per block
    view = as_view_index(columns)
    for lo in range(0, len(xy), step):
        hi = min(len(xy), lo + step)
        sl = slice(starts[lo], starts[hi])
        r_match, r_gt = rows_match[sl], rows_gt[sl]
        kpts = scene.gt.keypoints[r_gt, view] if isinstance(view, slice) else scene.gt.keypoints[r_gt[:, None], view]
        ks = _similarity(xy[r_match], kpts, scene.gt.area[r_gt], scene.sigmas)
        best[lo:hi] = np.maximum.reduceat(ks, starts[lo:hi] - starts[lo], axis=0)
        mine = np.flatnonzero(r_gt == gt[r_match])  # the matched GT's own row, one per match
        on_own[r_match[mine]] = ks[mine]
    return best, on_own


def _similarity(xy: np.ndarray, gt_kpts: np.ndarray, area: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(Q, Kp) keypoint similarity of each row's prediction with its GT keypoints, -1 where unlabelled."""
    dx = gt_kpts[:, :, 0] - xy[:, :, 0]
    dy = gt_kpts[:, :, 1] - xy[:, :, 1]
    ks = exp_in_place(-similarity_exponent(dx**2 + dy**2, (sigmas * 2) ** 2, area[:, None]))
    return np.where(gt_kpts[:, :, 2] > 0, ks, -1.0)


def shift(t: np.ndarray, area: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """coco-analyze's distance "at similarity t" along x: ``sqrt(-ln(t) * 2 * area * sigma^2)`` (quirk 12.2)."""
    return np.sqrt(-np.log(t) * 2 * area * (sigmas**2))


def _corrected(scene: Scene, xy: np.ndarray, gt: np.ndarray, classes: np.ndarray, best: np.ndarray) -> np.ndarray:
    """(M, Kp, 2) the keypoints coco-analyze's fixes put in place (section 7); unfixed ones unchanged (``xy``, the
    matches' own keypoints in float64)."""
    area = scene.gt.area[gt][:, None]
    rounded = best + EPS * (best == 0) - EPS * (best == 1)
    target = np.where(classes == JITTER, KS_HIGH, np.where(classes == MISS, KS_LOW, rounded))
    gx = scene.gt_part[gt, :, 0]
    fixed = np.stack([gx + shift(target, area, scene.sigmas), scene.gt_part[gt, :, 1]], axis=-1)
    moved = classes > GOOD
    out = xy.copy()
    out[moved] = fixed[moved]
    return out


def fix_keypoints(errors: KeypointErrors, xy: np.ndarray, kinds: tuple[str, ...]) -> np.ndarray:
    """Move, in ``xy`` (M, Kp, 2) itself (the keypoints of the M matches), the keypoints of the classes
    ``kinds`` to their corrections; the matches moved, as an (M,) mask."""
    mask = np.isin(errors.classes, [ERROR_TYPES.index(k) for k in kinds])
    xy[mask] = errors.corrected[mask].astype(xy.dtype)
    return np.asarray(mask.any(axis=1))


__all__ = ["ERROR_TYPES", "FIXES", "KeypointErrors", "classify", "fix_keypoints", "shift"]
