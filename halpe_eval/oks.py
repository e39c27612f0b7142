"""Stage 2: object keypoint similarity for (prediction, GT) pairs, vectorised in blocks.

COCO's OKS (cocoeval.computeOks): per keypoint ``e = d^2 / (2 sigma)^2 / (area + eps) / 2``
with ``area`` the GT's ``area`` field; OKS is the mean of ``exp(-e)`` over the GT's
labelled keypoints (v > 0).  A GT with no labelled keypoint in the part is
measured to its box doubled on every side, over all keypoints of the part.
With ``float32`` coordinates (halpecocotools casts keypoints with
``dtype=np.float32``) differences are taken in float32, as the oracle does.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

EPS = np.spacing(1)
BLOCK_PAIRS = 4096  # pairs per block: bounds temporaries to a few MB per part


def similarity_exponent(sq_distance: np.ndarray, variances: np.ndarray, area: np.ndarray) -> np.ndarray:
    """COCO's per-keypoint ``e``, in cocoeval's order of operations: the similarity is ``exp(-e)``."""
    return sq_distance / variances / (area + EPS) / 2


def pair_oks(
    dt_xy: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_area: np.ndarray,
    gt_bbox: np.ndarray,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    columns: slice | Sequence[int] | np.ndarray,
    sigmas: np.ndarray,
    dtype: str = "float64",
) -> np.ndarray:
    """OKS of each pair ``(pair_dt[i], pair_gt[i])`` over the keypoints ``columns`` (a slice or indices).

    ``dt_xy`` (D, K, 2) and ``gt_keypoints`` (G, K, 3) hold whole skeletons; each block of
    pairs gathers only its rows and the part's columns, so memory stays bounded.  ``sigmas``
    are the part's.  Blocks run on two threads (numpy releases the GIL in the arithmetic).
    """
    coord = np.dtype(dtype)
    columns = as_view_index(columns)
    part_gt = gt_keypoints[:, columns]
    gt_xy = part_gt[:, :, :2].astype(coord)
    labelled = part_gt[:, :, 2] > 0
    n_labelled = labelled.sum(axis=1)
    variances = (np.asarray(sigmas, dtype=np.float64) * 2) ** 2
    # Box doubled on each side, [x - w, x + 2w] x [y - h, y + 2h], in the coordinate dtype (as the oracle).
    low = (gt_bbox[:, :2] - gt_bbox[:, 2:]).astype(coord)
    high = (gt_bbox[:, :2] + gt_bbox[:, 2:] * 2).astype(coord)
    out = np.empty(len(pair_dt), dtype=np.float64)

    def block(start: int) -> None:
        sl = slice(start, start + BLOCK_PAIRS)
        rows = pair_dt[sl]
        # Gather only the part's columns of each row (a whole skeleton is several times larger).
        d = (dt_xy[rows, columns] if isinstance(columns, slice) else dt_xy[rows[:, None], columns])
        d = d.astype(coord, copy=False)
        g = pair_gt[sl]
        oks = out[sl]
        lab = n_labelled[g] > 0
        if lab.any():
            gl = g[lab]
            diff = d[lab] - gt_xy[gl]  # in the coordinate dtype, as the oracle
            sq = diff[:, :, 0] ** 2 + diff[:, :, 1] ** 2
            e = similarity_exponent(sq, variances, gt_area[gl, None])
            oks[lab] = _mean_of_labelled(np.exp(-e), labelled[gl], n_labelled[gl])
        if not lab.all():
            gu = g[~lab]
            p = d[~lab]
            dist = np.maximum(low[gu, None, :] - p, 0).astype(np.float64)
            dist += np.maximum(p - high[gu, None, :], 0)
            sq = dist[:, :, 0] ** 2 + dist[:, :, 1] ** 2
            e = similarity_exponent(sq, variances, gt_area[gu, None])
            oks[~lab] = np.exp(-e).mean(axis=1)

    starts = range(0, len(pair_dt), BLOCK_PAIRS)
    if len(starts) > 1:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(block, starts))
    else:
        for start in starts:
            block(start)
    return out


def as_view_index(columns: slice | Sequence[int] | np.ndarray) -> slice | np.ndarray:
    """A slice for a run of consecutive indices (numpy then takes a view, not a copy), else the indices."""
    if isinstance(columns, slice):
        return columns
    idx = np.asarray(columns)
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


def _mean_of_labelled(values: np.ndarray, labelled: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row means of ``values`` over its ``labelled`` entries, summed as the oracle sums them.

    cocoeval keeps the labelled entries (``e[vg > 0]``) and calls ``np.sum`` on them.  Summing
    the full row with zeros in between would group numpy's pairwise sum differently and can
    move the OKS by an ulp, enough to break an exact tie between two GT the other way; so the
    labelled entries are packed, rows with the same count together, and summed row by row.
    """
    out = np.empty(len(values))
    for n in np.unique(counts):
        rows = np.flatnonzero(counts == n)
        out[rows] = values[rows][labelled[rows]].reshape(len(rows), n).sum(axis=1) / n
    return out
