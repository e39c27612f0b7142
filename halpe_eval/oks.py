"""Stage 2: object keypoint similarity for (prediction, GT) pairs, vectorised in blocks.

COCO's OKS (cocoeval.computeOks): per keypoint ``e = d^2 / (2 sigma)^2 / (area + eps) / 2``
with ``area`` the GT's ``area`` field; OKS is the mean of ``exp(-e)`` over the GT's
labelled keypoints (v > 0).  A GT with no labelled keypoint in the part is
measured to its box doubled on every side, over all keypoints of the part.
With ``float32`` coordinates (halpecocotools casts keypoints with
``dtype=np.float32``) differences are taken in float32, as the oracle does.
"""
from __future__ import annotations

import numpy as np

EPS = np.spacing(1)
BLOCK_PAIRS = 8192  # pairs per block: bounds temporaries to a few MB per part


def pair_oks(
    dt_keypoints: np.ndarray,
    gt_keypoints: np.ndarray,
    gt_area: np.ndarray,
    gt_bbox: np.ndarray,
    pair_dt: np.ndarray,
    pair_gt: np.ndarray,
    keypoint_index: np.ndarray,
    sigmas: np.ndarray,
    dtype: str = "float64",
) -> np.ndarray:
    """OKS of each pair ``(pair_dt[i], pair_gt[i])`` over the keypoints ``keypoint_index``."""
    out = np.empty(len(pair_dt), dtype=np.float64)
    variances = (np.asarray(sigmas, dtype=np.float64)[keypoint_index] * 2) ** 2
    coord = np.dtype(dtype)
    cols = np.asarray(keypoint_index)[None, :]
    for start in range(0, len(pair_dt), BLOCK_PAIRS):
        sl = slice(start, start + BLOCK_PAIRS)
        d_rows, g_rows = pair_dt[sl, None], pair_gt[sl]
        d = dt_keypoints[d_rows, cols, :2].astype(coord, copy=False)
        g = gt_keypoints[g_rows[:, None], cols].astype(coord, copy=False)
        out[sl] = _block_oks(d, g, gt_area[g_rows], gt_bbox[g_rows], variances, coord)
    return out


def _block_oks(d, g, area, bbox, variances, coord) -> np.ndarray:
    labelled = g[:, :, 2] > 0
    n_labelled = labelled.sum(axis=1)
    scale = (area + EPS)[:, None]
    oks = np.empty(len(d), dtype=np.float64)

    lab = n_labelled > 0
    if lab.any():
        diff = d[lab] - g[lab, :, :2]  # in the coordinate dtype, as the oracle
        sq = diff[:, :, 0] ** 2 + diff[:, :, 1] ** 2
        e = sq / variances / scale[lab] / 2
        oks[lab] = np.where(labelled[lab], np.exp(-e), 0.0).sum(axis=1) / n_labelled[lab]

    unl = ~lab
    if unl.any():
        b = bbox[unl]
        # Box doubled on each side: [x - w, x + 2w] x [y - h, y + 2h], taken in the coordinate dtype.
        low = (b[:, :2] - b[:, 2:]).astype(coord)[:, None, :]
        high = (b[:, :2] + b[:, 2:] * 2).astype(coord)[:, None, :]
        p = d[unl]
        dist = np.maximum(low - p, 0).astype(np.float64) + np.maximum(p - high, 0).astype(np.float64)
        sq = dist[:, :, 0] ** 2 + dist[:, :, 1] ** 2
        e = sq / variances / scale[unl] / 2
        oks[unl] = np.exp(-e).mean(axis=1)
    return oks
