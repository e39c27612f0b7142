"""Breakdowns of one evaluation: per keypoint and per image, from the kept matches.

Both use the matching of area range 'all'.  A pair counts when the prediction
is a true positive at the threshold (matched to a GT that is not ignored).
Keypoints are ranked by similarity only over enough pairs (``MIN_PAIRS_TO_RANK``).
"""
from __future__ import annotations

import numpy as np

from .oks import EPS, exp_in_place, similarity_exponent
from .results import EvalResult

# A keypoint's mean similarity over n pairs has a standard error of about (spread of one pair) / sqrt(n):
# below about 10 pairs it is too wide to rank keypoints, so fewer pairs are never called weak.
MIN_PAIRS_TO_RANK = 10


def keypoint_owner(protocol) -> list[str]:
    """For each keypoint, the first part (other than the whole skeleton) holding it."""
    whole = protocol.whole_part
    owner = [whole] * protocol.num_keypoints
    names = [p for p in protocol.parts if p != whole]
    for name in reversed(names):
        for i in protocol.parts[name]:
            owner[i] = name
    return owner


def per_keypoint(result: EvalResult, part: str | None = None, threshold: float = 0.5) -> list[dict]:
    """Per keypoint of ``part`` (default: the protocol's whole skeleton), over true-positive pairs at OKS ``threshold``:

    - ``similarity``: mean keypoint similarity exp(-d^2 / (2 (2 sigma)^2 area)) over pairs where the
      GT keypoint is labelled (the OKS term of that keypoint);
    - ``frac_50`` / ``frac_75``: share of those pairs with similarity >= 0.5 / >= 0.75;
    - ``distance``: mean distance divided by sqrt(GT area);
    - ``pairs``: how many pairs (labelled keypoint in a matched pair).
    Rows are sorted by part (protocol order) then keypoint index.
    """
    proto, gt, preds = result.protocol, result.ground_truth, result.predictions
    if part is None:  # the whole skeleton, or the largest part scored
        scored = [name for name, r in result.parts.items() if not r.components]
        part = proto.whole_part if proto.whole_part in scored else max(scored, key=lambda n: len(proto.parts[n]))
    matches = result.parts[part].matches
    if matches is None or gt is None or preds is None:
        raise ValueError(f"part {part!r} has no kept matches: evaluate(..., keep_matches=True), native backend")
    t = proto.params.threshold_index(threshold)
    tp = matches.true_positive(t)
    dts, gts = matches.dt[tp], matches.gt[t][tp]
    idx = np.asarray(proto.parts[part])
    coord = np.dtype(proto.coordinate_dtype)  # differences taken as the OKS takes them
    d = preds.keypoints[dts][:, idx].astype(coord) - gt.keypoints[gts][:, idx, :2].astype(coord)
    dist2 = (d.astype(np.float64) ** 2).sum(axis=2)
    area = gt.area[gts][:, None]
    variances = (np.asarray(proto.sigmas)[idx] * 2) ** 2
    similarity = exp_in_place(-similarity_exponent(dist2, variances, area))
    normalized = np.sqrt(dist2) / np.sqrt(area + EPS)
    labelled = gt.keypoints[gts][:, idx, 2] > 0
    pairs = labelled.sum(axis=0)

    def mean(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, (values * labelled).sum(axis=0) / pairs, np.nan)

    owner = keypoint_owner(proto)
    order = {name: i for i, name in enumerate(proto.parts)}
    rows = [
        {
            "index": int(k),
            "name": proto.keypoints[k],
            "part": owner[k],
            "similarity": _float(s),
            "frac_50": _float(f50),
            "frac_75": _float(f75),
            "distance": _float(nd),
            "pairs": int(n),
        }
        for k, s, f50, f75, nd, n in zip(
            idx, mean(similarity), mean(similarity >= 0.5), mean(similarity >= 0.75), mean(normalized), pairs
        )
    ]
    return sorted(rows, key=lambda r: (order.get(r["part"], len(order)), r["index"]))


def can_rank(row: dict) -> bool:
    """Whether a :func:`per_keypoint` row has a similarity over enough pairs to be ranked against others."""
    return row["similarity"] is not None and row["pairs"] >= MIN_PAIRS_TO_RANK


def weakest_first(rows: list[dict]) -> list[dict]:
    """:func:`per_keypoint` rows by similarity ascending: those that can be ranked (:func:`can_rank`) first,
    then those with fewer pairs, then those without a similarity; ties in keypoint order."""
    return sorted(rows, key=lambda r: (not can_rank(r), r["similarity"] is None, r["similarity"] or 0.0, r["index"]))


def per_image(result: EvalResult) -> list[dict]:
    """One row per image and scored part: GT (not ignored), predictions scored, true positives at
    OKS 0.5 and 0.75, and the mean OKS of the true positives at 0.5 (None without any)."""
    gt, preds = result.ground_truth, result.predictions
    scored = {c.name: c for part in result.parts.values() for c in (part.components or (part,))}
    if gt is None or preds is None or all(c.matches is None for c in scored.values()):
        raise ValueError("per-image results need evaluate(..., keep_matches=True) on the native backend")
    params = result.protocol.params
    t50, t75 = params.threshold_index(0.5), params.threshold_index(0.75)
    n_img = len(gt.image_ids)
    rows = []
    for part, part_result in scored.items():
        matches = part_result.matches
        if matches is None:
            continue
        count = lambda idx, w=None: np.bincount(idx, weights=w, minlength=n_img)  # noqa: E731
        n_gt = count(gt.image_index[~matches.gt_ignored])
        dt_image = preds.image_index[matches.dt]
        n_dt = count(dt_image)
        tp50, tp75 = matches.true_positive(t50), matches.true_positive(t75)
        m50, m75 = count(dt_image[tp50]), count(dt_image[tp75])
        oks_sum = count(dt_image[tp50], matches.oks[t50][tp50])
        for i in np.flatnonzero((n_gt > 0) | (n_dt > 0)):
            rows.append({
                "image_id": int(gt.image_ids[i]),
                "file_name": gt.file_names[i],
                "part": part,
                "gt": int(n_gt[i]),
                "predictions": int(n_dt[i]),
                "matched_50": int(m50[i]),
                "matched_75": int(m75[i]),
                "mean_oks_50": float(oks_sum[i] / m50[i]) if m50[i] else None,
            })
    return rows


def _float(value) -> float | None:
    return None if np.isnan(value) else float(value)
