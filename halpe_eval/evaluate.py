"""The pipeline: load -> OKS -> match -> accumulate, per part, with no hidden state."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .accumulate import precision_recall, summarize
from .errors import InputError
from .load import (GroundTruth, PredictionReader, Predictions, ground_truth_protocol, load_ground_truth,
                   peek_protocol, read_json)
from .match import select_candidates, greedy_match
from .oks import pair_oks
from .protocol import Protocol, load_protocol
from .results import EvalResult, Matches, PartResult, mean_part


GroundTruthLike = Union[GroundTruth, dict, str]
PredictionsLike = Union[Predictions, list, str]


def evaluate(
    gt: GroundTruthLike,
    preds: PredictionsLike,
    protocol: Union[Protocol, str, None] = None,
    *,
    split_hands: bool = False,
    sigmas: Union[Sequence[float], str, Path, None] = None,
    allow_unknown_images: bool = False,
    progress: Optional[Callable[[str, float], None]] = None,
    keep_matches: bool = False,
) -> EvalResult:
    """Score ``preds`` against ``gt`` per part of ``protocol`` (detected from the GT when None).

    ``gt`` is a path, a parsed COCO dict or a GroundTruth; ``preds`` a path, a
    parsed results list or a Predictions.  ``sigmas`` (a list, or a JSON file's path)
    overrides the protocol's table.  ``allow_unknown_images`` drops predictions on
    images the GT does not have (with a warning) instead of refusing them.
    ``progress(stage, fraction_done)`` is called after loading and after each part.
    ``keep_matches`` keeps each part's matching (:class:`Matches`) for the breakdowns.
    """
    timings: Dict[str, float] = {}
    tic = time.perf_counter()
    reader = None if isinstance(preds, Predictions) else PredictionReader(preds)  # forks early, see there
    try:
        if reader is not None and isinstance(gt, (str, Path)):  # start parsing predictions right away
            early = load_protocol(protocol) if protocol is not None else peek_protocol(gt)
            if early is not None:
                reader.start(early)
        if not isinstance(gt, GroundTruth):
            gt_data, gt_name = read_json(gt) if isinstance(gt, (str, Path)) else (gt, None)
            gt_proto = ground_truth_protocol(gt_data, protocol, gt_name or "<ground truth>")
            if reader is not None:
                reader.start(gt_proto)  # a no-op when the early guess was right
            gt = load_ground_truth(gt_data, gt_proto, name=gt_name)
            del gt_data  # the parsed JSON is several times the size of the arrays
        elif protocol is not None and load_protocol(protocol).num_keypoints != gt.protocol.num_keypoints:
            raise InputError(f"{gt.source}: read with protocol {gt.protocol.name}, not {load_protocol(protocol).name}")
        elif reader is not None:
            reader.start(gt.protocol)
        proto = gt.protocol if protocol is None else load_protocol(protocol)
        if sigmas is not None:
            proto = proto.with_sigmas(*(read_json(sigmas) if isinstance(sigmas, (str, Path)) else (sigmas,)))
        timings["load_gt"] = time.perf_counter() - tic
        tic = time.perf_counter()
        if reader is not None:
            preds = reader.load(gt, allow_unknown_images)
        timings["load_predictions"] = time.perf_counter() - tic
    finally:
        if reader is not None:
            reader.close()

    rows = proto.part_names(split_hands)
    needed = list(dict.fromkeys(p for row in rows for p in proto.mean_parts.get(row, (row,))))
    report = progress or (lambda stage, fraction: None)
    report("loaded", 1 / (len(needed) + 1))
    scored = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # parts are independent; numpy releases the GIL
        futures = {name: pool.submit(_evaluate_part, gt, preds, proto, name, keep_matches) for name in needed}
        for i, name in enumerate(needed):
            scored[name], part_timings = futures[name].result()
            for stage, seconds in part_timings.items():  # summed over parts (CPU-side view)
                timings[stage] = timings.get(stage, 0.0) + seconds
            report(name, (i + 2) / (len(needed) + 1))
    parts = {row: scored[row] if row in scored else mean_part(row, [scored[p] for p in proto.mean_parts[row]])
             for row in rows}
    return EvalResult.of(proto, parts, gt, preds, timings)


def _evaluate_part(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str,
                   keep_matches: bool) -> Tuple[PartResult, Dict[str, float]]:
    """One part: candidates -> OKS -> matching -> PR arrays; also the seconds spent in each stage."""
    timings: Dict[str, float] = {}
    tic = time.perf_counter()
    idx = np.asarray(proto.parts[part])
    n_images = len(gt.image_ids)
    dt_group = preds.category_index * n_images + preds.image_index
    gt_group = gt.category_index * n_images + gt.image_index

    if proto.drop_zero_score == "skeleton":
        keep = preds.positive["*"]
    elif proto.drop_zero_score == "part":
        keep = preds.positive[part]
    else:
        keep = np.ones(len(preds), dtype=bool)
    score = preds.score
    if part in preds.part_scores:
        part_score = preds.part_scores[part]
        score = np.where(np.isnan(part_score), score, part_score)

    cand = select_candidates(dt_group, score, keep, proto.max_detections, gt_group)
    oks = pair_oks(
        preds.keypoints, gt.keypoints, gt.area, gt.bbox, cand.dt[cand.pair_dt], cand.pair_gt,
        _as_slice(idx), np.asarray(proto.sigmas)[idx], proto.coordinate_dtype,
    )
    timings["oks"] = time.perf_counter() - tic
    tic = time.perf_counter()

    no_keypoints = ~(gt.keypoints[:, idx, 2] > 0).any(axis=1)
    if proto.no_keypoints_rule == "num_keypoints":  # pycocotools reads the field where it is present
        no_keypoints = np.where(gt.num_keypoints >= 0, gt.num_keypoints == 0, no_keypoints)
    base_ignored = (gt.ignore & proto.ignore_field) | no_keypoints | (gt.iscrowd & proto.crowd_ignored)
    params = proto.params
    ranges = params.area_bounds()
    gt_out = (gt.area[None, :] < ranges[:, :1]) | (gt.area[None, :] > ranges[:, 1:])
    dt_area = preds.area[cand.dt]
    dt_out = (dt_area[None, :] < ranges[:, :1]) | (dt_area[None, :] > ranges[:, 1:])
    gt_ignored = base_ignored[None, :] | gt_out  # (A, G)

    matched = greedy_match(cand, oks, gt_ignored, gt.iscrowd, np.asarray(params.oks_thresholds))
    true_pos = matched >= 0
    area_axis = np.arange(len(ranges))[:, None, None]
    if gt_ignored.shape[1]:
        matched_ignored = gt_ignored[area_axis, np.maximum(matched, 0)]
    else:  # no GT at all: nothing is matched
        matched_ignored = np.zeros(matched.shape, dtype=bool)
    dt_ignored = np.where(true_pos, matched_ignored, dt_out[:, None, :])
    timings["match"] = time.perf_counter() - tic
    tic = time.perf_counter()

    n_cat = len(gt.category_ids)
    shape = (len(params.oks_thresholds), len(params.recall_thresholds), n_cat, len(ranges))
    precision, scores = -np.ones(shape), -np.ones(shape)
    recall = -np.ones((len(params.oks_thresholds), n_cat, len(ranges)))
    cand_cat = preds.category_index[cand.dt]
    for k in range(n_cat):
        sel = np.flatnonzero(cand_cat == k)
        n_positive = (~gt_ignored[:, gt.category_index == k]).sum(axis=1)
        # Candidates are grouped by image id then rank, so their position breaks score ties.
        precision[:, :, k], recall[:, k], scores[:, :, k] = precision_recall(
            score[cand.dt[sel]], sel, true_pos[:, :, sel], dt_ignored[:, :, sel], n_positive,
            np.asarray(params.recall_thresholds),
        )
    timings["accumulate"] = time.perf_counter() - tic
    matches = None
    if keep_matches:
        matches = Matches(cand.dt, matched[0], _oks_of(cand, oks, matched[0], len(gt.ann_ids)), dt_ignored[0],
                          gt_ignored[0])
    return PartResult(part, summarize(precision, recall, params), precision, recall, scores, matches), timings


def _oks_of(cand, oks: np.ndarray, matched: np.ndarray, n_gt: int) -> np.ndarray:
    """OKS of each (candidate, matched GT) in ``matched`` (T, N); NaN where unmatched."""
    if len(oks) == 0:
        return np.full(matched.shape, np.nan)
    keys = cand.pair_dt * n_gt + cand.pair_gt
    order = np.argsort(keys)
    wanted = np.arange(matched.shape[1])[None, :] * n_gt + np.maximum(matched, 0)
    at = order[np.minimum(np.searchsorted(keys[order], wanted), len(keys) - 1)]
    return np.where(matched >= 0, oks[at], np.nan)


def _as_slice(idx: np.ndarray):
    """A slice for a run of consecutive indices (a view instead of a copy), else the indices."""
    if len(idx) and np.array_equal(idx, np.arange(idx[0], idx[0] + len(idx))):
        return slice(int(idx[0]), int(idx[0]) + len(idx))
    return idx


__all__ = ["evaluate"]
