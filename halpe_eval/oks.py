"""Stage 2: object keypoint similarity for (prediction, GT) pairs, vectorised in blocks.

COCO's OKS (cocoeval.computeOks): per keypoint ``e = d^2 / (2 sigma)^2 / (area + eps) / 2``
with ``area`` the GT's ``area`` field; OKS is the mean of ``exp(-e)`` over the GT's
labelled keypoints (v > 0).  A GT with no labelled keypoint in the part is
measured to its box doubled on every side, over all keypoints of the part.
With ``float32`` coordinates (halpecocotools casts keypoints with
``dtype=np.float32``) differences are taken in float32, as the oracle does.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

EPS = np.spacing(1)
BLOCK_PAIRS = 4096  # pairs per block: bounds temporaries to a few MB per part
# Narrower parts: the bound costs about what it saves (candidate_oks at val scale, pruned / not: Halpe foot, 6
# keypoints, 11-14 / 12-13 ms; Halpe body, 20, 17-20 / 20-31 ms; COCO-17 15-16 / 17-23 ms).
PRUNED_FROM_KEYPOINTS = 12


def prunes(parts: Mapping[str, Sequence[int]]) -> bool:
    """Whether a part is wide enough (PRUNED_FROM_KEYPOINTS) for its hopeless pairs to be skipped with
    :func:`oks_upper_bound`, which needs each prediction's :func:`keypoint_boxes`."""
    return max(map(len, parts.values()), default=0) >= PRUNED_FROM_KEYPOINTS


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
    # Pairs are visited by the number of labelled keypoints of their GT, so that each block holds few
    # runs of equal counts, each summed in one call (see _sum_labelled).
    by_count = np.argsort(n_labelled[pair_gt], kind="stable")
    whole_rows = isinstance(columns, slice) and columns == slice(0, dt_xy.shape[1]) and dt_xy.flags.c_contiguous
    out = np.empty(len(pair_dt), dtype=np.float64)

    def block(start: int) -> None:
        pairs = by_count[start : start + BLOCK_PAIRS]
        rows, g = pair_dt[pairs], pair_gt[pairs]
        # Gather only the part's columns of each row (a whole skeleton is several times larger); from a
        # contiguous source (the whole skeleton) np.take gathers rows about twice as fast as indexing.
        if whole_rows:
            d = np.take(dt_xy, rows, axis=0)
        else:
            d = dt_xy[rows, columns] if isinstance(columns, slice) else dt_xy[rows[:, None], columns]
        d = d.astype(coord, copy=False)
        counts = n_labelled[g]
        unlabelled = int(np.searchsorted(counts, 1))  # the block's first rows, if any
        oks = np.empty(len(pairs))
        if unlabelled:  # distances to the doubled box
            gu = g[:unlabelled]
            sq_distance = _box_distance(d[:unlabelled, :, 0], low[gu, 0], high[gu, 0])
            sq_distance += _box_distance(d[:unlabelled, :, 1], low[gu, 1], high[gu, 1])
            oks[:unlabelled] = _similarities(sq_distance, variances, gt_area[gu]).mean(axis=1)
        if unlabelled < len(pairs):
            gl = g[unlabelled:]
            diff = d[unlabelled:] - np.take(gt_xy, gl, axis=0)  # in the coordinate dtype, as the oracle
            np.square(diff, out=diff)
            e = _similarities(diff[:, :, 0] + diff[:, :, 1], variances, gt_area[gl])
            oks[unlabelled:] = _sum_labelled(e, labelled, gl, counts[unlabelled:]) / counts[unlabelled:]
        out[pairs] = oks

    starts = range(0, len(pair_dt), BLOCK_PAIRS)
    if len(starts) > 1:
        from concurrent.futures import ThreadPoolExecutor  # here: the reader imports this module before it forks

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(block, starts))
    else:
        for start in starts:
            block(start)
    return out


def _box_distance(coordinate: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """(P, K) squared distance along one axis from each point to its pair's [low, high]: the differences in the
    coordinate dtype, their sum and square in float64, as the oracle (one axis at a time keeps numpy's inner
    loops K long, not 2)."""
    below = np.subtract(low[:, None], coordinate)
    np.maximum(below, 0, out=below)
    above = np.subtract(coordinate, high[:, None])
    np.maximum(above, 0, out=above)
    distance = np.add(below, above, dtype=np.float64)
    return np.square(distance, out=distance)


def _similarities(sq_distance: np.ndarray, variances: np.ndarray, area: np.ndarray) -> np.ndarray:
    """``exp(-e)`` of :func:`similarity_exponent` for (P, K) squared distances and (P,) areas, computed in
    place in the same order of operations."""
    e = np.divide(sq_distance, variances)
    np.divide(e, area[:, None] + EPS, out=e)
    np.divide(e, 2, out=e)
    np.negative(e, out=e)
    return exp_in_place(e)


# exp(x) is +0.0 for every x at or below this: the least subnormal is exp(-744.44), and exp(-760) is 2e-7 of it,
# so an exp with any error below 0.9999998 ulp returns 0 there (numpy's and glibc's stay within about 0.5 ulp).
EXP_UNDERFLOW = -760.0


def exp_in_place(x: np.ndarray) -> np.ndarray:
    """``np.exp(x, out=x)``, bit for bit, without numpy's slow route for arguments whose exp underflows to 0.

    numpy's exp slows down when arguments underflow (measured with numpy 2.4 on AVX-512: ~1 ns per value
    in [-5, 0], ~10 ns when half of them are below -1000, as distant keypoints make about half of every
    part's here; see tests/test_stages.py for the bit-for-bit check).  Such lanes are multiplied by 0
    first (exp(-0.0) is 1, cheap) and their result by 0 after, giving the +0.0 numpy gives; -inf is first
    raised to EXP_UNDERFLOW, so that no lane multiplies an infinity by 0.  NaN stays NaN.
    """
    np.maximum(x, EXP_UNDERFLOW, out=x)
    kept = x > EXP_UNDERFLOW
    if kept.all():
        return np.exp(x, out=x)
    np.multiply(x, kept, out=x)
    np.exp(x, out=x)
    return np.multiply(x, kept, out=x)


EXTENT_BLOCK = 1 << 15  # keypoints per block of rows in keypoint_extent: its (2, K, rows) copy stays in cache


def keypoint_extent(xy: np.ndarray, labelled: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) least and (N, 2) greatest x and y over the keypoints of each row of ``xy`` (N, K, 2 or more);
    with ``labelled`` (N, K) over the labelled ones only (NaN where a row has none).

    numpy reduces a short axis of a large array slowly (a loop per row) and a long one fast, so each block of
    rows is copied as (2, K, rows) and reduced over K, with rows innermost (COCO-17 pieces of 2,200 rows:
    ~4x faster than ``xy[:, :, 0].min(axis=1)``).  Minima and maxima are exact in any order.
    """
    lower, upper = (np.minimum, np.maximum) if labelled is None else (np.fmin, np.fmax)  # fmin, fmax skip NaN
    n, k = xy.shape[:2]
    least, greatest = np.empty((n, 2), dtype=xy.dtype), np.empty((n, 2), dtype=xy.dtype)
    step = max(EXTENT_BLOCK // max(k, 1), 1)
    for start in range(0, n, step):
        rows = slice(start, start + step)
        block = np.ascontiguousarray(xy[rows, :, :2].transpose(2, 1, 0))
        if labelled is not None:
            np.copyto(block, np.nan, where=~labelled[rows].T)
        with np.errstate(invalid="ignore"):  # a row with nothing labelled stays NaN
            lower.reduce(block, axis=1, out=least[rows].T)
            upper.reduce(block, axis=1, out=greatest[rows].T)
    return least, greatest


def keypoint_boxes(xy: np.ndarray) -> np.ndarray:
    """(N, 4) float64 box [x0, y0, x1, y1] around every keypoint of each row of ``xy`` (N, K, 2)."""
    return np.concatenate(keypoint_extent(xy), axis=1).astype(np.float64, copy=False)


def labelled_boxes(gt_keypoints: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """(G, 4) box around each GT's labelled keypoints among ``columns``; NaN where none is labelled."""
    view = as_view_index(columns)
    part = gt_keypoints[:, view] if isinstance(view, slice) else np.take(gt_keypoints, view, axis=1)
    return np.concatenate(keypoint_extent(part, labelled=part[:, :, 2] > 0), axis=1)


def gt_part_boxes(gt_keypoints: np.ndarray, gt_bbox: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """(G, 4) what the OKS measures each GT's part to: the box around its labelled keypoints among ``columns``,
    or, where none is labelled, its bbox doubled on each side, [x - w, y - h, x + 2w, y + 2h] (every
    predicted keypoint's distance is then its distance to that box)."""
    boxes = labelled_boxes(gt_keypoints, columns)
    unlabelled = np.isnan(boxes[:, 0])
    x, y, w, h = gt_bbox[unlabelled].T
    boxes[unlabelled] = np.stack([x - w, y - h, x + 2 * w, y + 2 * h], axis=1)
    return boxes


def oks_upper_bound(dt_box: np.ndarray, gt_box: np.ndarray, sigmas: np.ndarray, area: np.ndarray) -> np.ndarray:
    """(P,) an upper bound of each pair's OKS, from the gap between the pair's boxes (:func:`keypoint_boxes`
    of the prediction, :func:`gt_part_boxes` or :func:`labelled_boxes` of the GT); 1 where the GT box is NaN.

    Every labelled GT keypoint lies in its box (a GT with none is measured to its box) and every predicted
    keypoint in the other, so each distance is at least the gap and each ``exp(-e)`` at most
    ``exp(-gap^2 / (2 max sigma)^2 / (area + eps) / 2)``; so is their mean.  The gap is first shortened by
    1e-6 of the coordinates' magnitude, more than the rounding of float32 coordinates and of the
    differences can take away from a distance.
    """
    gap_x = np.maximum(gt_box[:, 0] - dt_box[:, 2], dt_box[:, 0] - gt_box[:, 2])
    gap_y = np.maximum(gt_box[:, 1] - dt_box[:, 3], dt_box[:, 1] - gt_box[:, 3])
    slack = 1e-6 * np.maximum(_magnitude(dt_box), _magnitude(gt_box))
    gap_x, gap_y = np.maximum(gap_x - slack, 0), np.maximum(gap_y - slack, 0)
    bound = exp_in_place(-similarity_exponent(gap_x**2 + gap_y**2, (2 * np.max(sigmas)) ** 2, area))
    return np.where(np.isnan(bound), 1.0, bound)


def _magnitude(box: np.ndarray) -> np.ndarray:
    """(P,) the largest absolute coordinate of each (P, 4) box [x0, y0, x1, y1] (NaN where one is NaN): with x0 <=
    x1 and y0 <= y1 it is max(x1, y1, -x0, -y0), taken column by column (numpy reduces across a row of 4 slowly)."""
    return np.maximum(np.maximum(box[:, 2], box[:, 3]), -np.minimum(box[:, 0], box[:, 1]))


def as_view_index(columns: slice | Sequence[int] | np.ndarray) -> slice | np.ndarray:
    """A slice for a run of consecutive indices (numpy then takes a view, not a copy), else the indices."""
    if isinstance(columns, slice):
        return columns
    idx = np.asarray(columns)
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


def _sum_labelled(values: np.ndarray, labelled: np.ndarray, gt: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Row sums of ``values`` over the labelled entries of each row's GT, summed as the oracle sums them.

    cocoeval keeps the labelled entries (``e[vg > 0]``) and calls ``np.sum`` on them.  Summing
    the full row with zeros in between would group numpy's pairwise sum differently and can
    move the OKS by an ulp, enough to break an exact tie between two GT the other way; so each
    run of rows with the same count ``n`` (``counts`` is sorted) packs its labelled entries into
    an (m, n) array and sums its rows.  A run whose rows are fully labelled is summed as it is.
    """
    out = np.empty(len(values))
    n_columns = values.shape[1]
    edges = np.flatnonzero(np.diff(counts)) + 1
    for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(counts)]):
        n = int(counts[lo])
        run = values[lo:hi]
        packed = run if n == n_columns else run[labelled[gt[lo:hi]]].reshape(hi - lo, n)
        out[lo:hi] = packed.sum(axis=1)
    return out
