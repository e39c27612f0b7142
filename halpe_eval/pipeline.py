"""The pipeline: read -> rules -> OKS -> match -> accumulate, per part, with no hidden state.

Each stage is a function over arrays in its own module (:mod:`.reading`,
:mod:`.rules`, :mod:`.oks`, :mod:`.match`, :mod:`.accumulate`); this module
only runs them and times them.  Parts are scored on two threads (numpy
releases the GIL); a mean row (COCO-WholeBody's hands) averages its parts.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Union

import numpy as np

from .accumulate import accumulate
from .errors import InputError
from .match import Candidates, greedy_match, ignored_predictions, in_ranking_order, matched_oks, select_candidates
from .oks import gt_part_boxes, keypoint_boxes, oks_upper_bound, pair_oks, prunes
from .protocol import ImageSplit, Protocol, builtin_names, load_protocol
from .reading.ground_truth import GroundTruth, load_ground_truth, peek_protocol
from .reading.jsonio import display_name, file_size, read_json
from .reading.parallel import PredictionReader
from .reading.predictions import Predictions
from .results import EvalResult, Matches, PartMatching, PartResult, mean_part
from .rules import candidate_key, gt_ignored, kept_predictions, outside_area, ranking_score
from .slices import SliceMasks, image_slices, parse_slice_by, part_and_slice_statistics

GroundTruthLike = Union[GroundTruth, dict, str, Path]
PredictionsLike = Union[Predictions, list, str, Path]
Progress = Callable[[str, float], None]
READ_SHARE = 0.7  # of a run's time spent reading the two files (about 0.6-0.7 at val scale, --profile)
Timings = dict[str, float]


def evaluate(
    gt: GroundTruthLike,
    preds: PredictionsLike,
    protocol: Protocol | str | None = None,
    *,
    split_hands: bool = False,
    sigmas: Sequence[float] | str | Path | None = None,
    allow_unknown_images: bool = False,
    progress: Progress | None = None,
    keep_matches: bool = False,
    workers: int | None = None,
    slice_by: ImageSplit | str | None = None,
) -> EvalResult:
    """Score ``preds`` against ``gt`` per part of ``protocol`` (detected from the GT when None).

    ``gt`` is a path, a parsed COCO dict or a GroundTruth; ``preds`` a path, a
    parsed results list or a Predictions.  ``sigmas`` (a list, or a JSON file's path)
    overrides the protocol's table.  ``allow_unknown_images`` drops predictions on
    images the GT does not have (with a warning) instead of refusing them.
    ``progress(stage, fraction_done)`` follows the run: reading weighted by the bytes parsed
    (READ_SHARE of the run), then each part scored.
    ``keep_matches`` keeps each part's matching (:class:`Matches`) for the breakdowns, and
    what stage 4 counted in every area range (:class:`PartMatching`) for the bootstrap.
    ``workers``: processes that parse a large prediction file (default 2 where there are
    two cores; 1 reads serially).
    ``slice_by`` (an :class:`ImageSplit`, or ``FIELD[=EDGES]`` as ``--slice-by`` takes it) adds every
    statistic on each slice of the images by that ``images[]`` field (``EvalResult.slices()``).
    """
    timings: Timings = {}
    report = progress or _silent
    gt, preds, proto = _read(gt, preds, protocol, sigmas, allow_unknown_images, workers, timings, report)
    report("loaded", READ_SHARE)
    split = parse_slice_by(slice_by) if isinstance(slice_by, str) else slice_by
    slices = image_slices(gt, split, f"--slice-by {split}") if split is not None else None
    parts = score_rows(gt, preds, proto, proto.part_names(split_hands), keep_matches, timings,
                       lambda stage, done: report(stage, READ_SHARE + (1 - READ_SHARE) * done), slices)
    options = chosen_options(proto, protocol, split_hands, sigmas, allow_unknown_images)
    if split is not None:
        options["slice_by"] = str(split)
    return EvalResult.of(proto, parts, gt, preds, timings, options)


def score_rows(gt: GroundTruth, preds: Predictions, proto: Protocol, rows: Sequence[str], keep_matches: bool = False,
               timings: Timings | None = None, progress: Progress | None = None,
               slices: SliceMasks | None = None) -> dict[str, PartResult]:
    """Stages 2-4 for every row: each part it needs scored once (two at a time), mean rows averaged.

    ``timings`` adds up each stage's seconds over the parts; ``progress(part, share of parts done)``;
    ``slices`` (name -> image mask) adds each part's statistics on each slice.
    """
    timings = {} if timings is None else timings
    report = progress or _silent
    needed = list(dict.fromkeys(p for row in rows for p in proto.components(row)))
    scored: dict[str, PartResult] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # parts are independent; numpy releases the GIL
        # Parts that keep the same predictions under the same score share one candidate set; every
        # candidate task is queued before any part, so a part never waits on a task not yet started.
        keys = {name: candidate_key(preds, proto, name) for name in needed}
        shared: dict[tuple, Future] = {}
        for name in needed:
            if keys[name] not in shared:
                shared[keys[name]] = pool.submit(ranked_candidates, gt, preds, proto, name)
        # The widest parts first (longest first balances the two threads best); results in row order.
        futures = {name: pool.submit(score_part, gt, preds, proto, name, keep_matches, shared[keys[name]], slices)
                   for name in sorted(needed, key=lambda part: -len(proto.parts[part]))}
        for i, name in enumerate(needed):
            scored[name], part_timings = futures[name].result()
            for stage, seconds in part_timings.items():  # summed over parts (CPU-side view)
                timings[stage] = timings.get(stage, 0.0) + seconds
            report(name, (i + 1) / len(needed))
    for future in shared.values():
        timings["match"] = timings.get("match", 0.0) + future.result().seconds
    return {row: scored[row] if row in scored else mean_part(row, [scored[p] for p in proto.components(row)])
            for row in rows}


def _silent(stage: str, fraction: float) -> None:
    """No progress report."""


def chosen_options(proto: Protocol, protocol: Protocol | str | None, split_hands: bool,
                   sigmas: Sequence[float] | str | Path | None, allow_unknown_images: bool) -> dict[str, Any]:
    """The choices that change what a run scores, when not the default, for the record (header, JSON):
    a protocol file, ``split_hands``, a sigma table (its source and the sha256 of its values), unknown
    images allowed."""
    options: dict[str, Any] = {}
    if isinstance(protocol, (str, Path)) and str(protocol) not in builtin_names():
        options["protocol_file"] = str(protocol)
    if split_hands:
        options["split_hands"] = True
    if sigmas is not None:
        source = display_name(sigmas) if isinstance(sigmas, (str, Path)) else "<list>"
        import hashlib

        values = json.dumps(list(proto.sigmas)).encode()
        options["sigmas"] = {"source": source, "sha256": hashlib.sha256(values).hexdigest()}
    if allow_unknown_images:
        options["allow_unknown_images"] = True
    return options


def _read(gt: GroundTruthLike, preds: PredictionsLike, protocol: Protocol | str | None,
          sigmas: Sequence[float] | str | Path | None, allow_unknown_images: bool, workers: int | None,
          timings: Timings, report: Progress) -> tuple[GroundTruth, Predictions, Protocol]:
    """Stage 1 for both inputs; a prediction file starts parsing before the GT does.

    Progress is the share of the two files' bytes parsed, times READ_SHARE.
    """
    tic = time.perf_counter()
    gt_bytes = file_size(gt) if isinstance(gt, (str, Path)) else 0
    pred_bytes = file_size(preds) if isinstance(preds, (str, Path)) else 0
    total = max(gt_bytes + pred_bytes, 1)
    reader = None if isinstance(preds, Predictions) else PredictionReader(preds, workers=workers)  # forks early
    try:
        report("reading ground truth", 0.0)
        ground_truth = _ground_truth(gt, protocol, reader)
        report("reading predictions", READ_SHARE * gt_bytes / total)
        proto = scoring_protocol(ground_truth, protocol, sigmas)
        timings["load_gt"] = time.perf_counter() - tic
        tic = time.perf_counter()
        if reader is not None:
            preds = reader.load(ground_truth, allow_unknown_images, lambda done: report(
                "reading predictions", READ_SHARE * (gt_bytes + done * pred_bytes) / total))
        timings["load_predictions"] = time.perf_counter() - tic
    finally:
        if reader is not None:
            reader.close()
    assert isinstance(preds, Predictions)
    return ground_truth, preds, proto


def scoring_protocol(gt: GroundTruth, protocol: Protocol | str | None,
                     sigmas: Sequence[float] | str | Path | None) -> Protocol:
    """The protocol that scores ``gt``: the one given (with as many keypoints as the GT was read with) or the
    GT's, with ``sigmas`` (a list, or a JSON file's path) in place of its table."""
    proto = gt.protocol if protocol is None else load_protocol(protocol)
    if proto.num_keypoints != gt.protocol.num_keypoints:
        raise InputError(f"{gt.source}: read with protocol {gt.protocol.name}, not {proto.name}")
    if sigmas is not None:
        table = read_json(sigmas) if isinstance(sigmas, (str, Path)) else (sigmas, "sigmas")
        proto = proto.with_sigmas(*table)
    return proto


def _ground_truth(gt: GroundTruthLike, protocol: Protocol | str | None,
                  reader: PredictionReader | None) -> GroundTruth:
    """The GT as arrays; ``reader`` is started with its protocol as early as that is known."""
    if isinstance(gt, GroundTruth):
        scoring_protocol(gt, protocol, None)  # refuses a protocol of another skeleton before reading on
        if reader is not None:
            reader.start(gt.protocol if protocol is None else load_protocol(protocol))  # the scoring protocol
        return gt
    if reader is not None and isinstance(gt, (str, Path)):  # start parsing predictions right away
        early = load_protocol(protocol) if protocol is not None else peek_protocol(gt)
        if early is not None:
            reader.start(early)
    ground_truth = load_ground_truth(gt, protocol)  # a file: the compiled read path when it can
    if reader is not None:
        reader.start(ground_truth.protocol)  # a no-op when the early guess was right
    return ground_truth


@dataclass(frozen=True)
class Ranked:
    """What parts selecting the same candidates share: the ranking score (D,), the candidates (in ranking
    order), the box around each candidate's keypoints (N, 4; None when no part is wide enough to prune),
    and the seconds spent."""

    score: np.ndarray
    candidates: Candidates
    boxes: np.ndarray | None
    seconds: float


def ranked_candidates(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str) -> Ranked:
    """The candidates ``part`` selects (:func:`~halpe_eval.rules.candidate_key` says which parts share them)."""
    tic = time.perf_counter()
    score = ranking_score(preds, part)
    n_images = len(gt.image_ids)
    cand = select_candidates(preds.category_index * n_images + preds.image_index, score,
                             kept_predictions(preds, proto, part), proto.params.max_detections,
                             gt.category_index * n_images + gt.image_index)
    cand = in_ranking_order(cand, score, preds.category_index)
    boxes = None
    if prunes(proto.parts):  # the reader computes them while it reads a file; arrays and batches get them here
        boxes = (preds.keypoint_boxes if preds.keypoint_boxes is not None else keypoint_boxes(preds.keypoints))[cand.dt]
    return Ranked(score, cand, boxes, time.perf_counter() - tic)


def candidate_oks(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str, ranked: Ranked) -> np.ndarray:
    """OKS of every candidate pair in ``part``.  In a part wide enough (:func:`~halpe_eval.oks.prunes`), a pair
    whose OKS is provably below the lowest threshold (:func:`~halpe_eval.oks.oks_upper_bound`, with a margin)
    is not computed and gets 0: it can never match."""
    cand, idx = ranked.candidates, list(proto.parts[part])
    sigmas = np.asarray(proto.sigmas)[idx]
    pairs = np.arange(len(cand.pair_gt))
    if prunes({part: idx}) and ranked.boxes is not None:
        gt_boxes = gt_part_boxes(gt.keypoints, gt.bbox, idx)
        bound = oks_upper_bound(ranked.boxes[cand.pair_dt], gt_boxes[cand.pair_gt], sigmas, gt.area[cand.pair_gt])
        pairs = np.flatnonzero(bound >= min(proto.params.oks_thresholds) * (1 - 1e-3))
    oks = np.zeros(len(cand.pair_gt))
    oks[pairs] = pair_oks(preds.keypoints, gt.keypoints, gt.area, gt.bbox, cand.dt[cand.pair_dt[pairs]],
                          cand.pair_gt[pairs], idx, sigmas, proto.coordinate_dtype)
    return oks


def score_part(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str, keep_matches: bool = False,
               candidates: Future | None = None, slices: SliceMasks | None = None) -> tuple[PartResult, Timings]:
    """One part: rules -> candidates -> OKS -> matching -> PR arrays -> statistics (those on image slices
    re-accumulated from the same matching, :mod:`.slices`); also the seconds spent in each stage.

    ``candidates`` is a future of :func:`ranked_candidates` for this part, shared with other parts.
    """
    timings: Timings = {}
    params = proto.params
    ranked = ranked_candidates(gt, preds, proto, part) if candidates is None else candidates.result()
    if candidates is None:
        timings["match"] = ranked.seconds
    score, cand = ranked.score, ranked.candidates
    tic = time.perf_counter()
    oks = candidate_oks(gt, preds, proto, part, ranked)
    timings["oks"] = time.perf_counter() - tic
    tic = time.perf_counter()

    ignored_gt = gt_ignored(gt, proto, part)
    thresholds = np.asarray(params.oks_thresholds)
    matched = greedy_match(cand, oks, ignored_gt, gt.iscrowd, thresholds)
    ignored_dt = ignored_predictions(matched, ignored_gt, outside_area(preds.area[cand.dt], proto))
    timings["match"] = timings.get("match", 0.0) + time.perf_counter() - tic
    tic = time.perf_counter()

    matching = PartMatching(score[cand.dt], preds.category_index[cand.dt], preds.image_index[cand.dt], matched >= 0,
                            ignored_dt, ignored_gt, gt.category_index, gt.image_index, len(gt.category_ids),
                            len(gt.image_ids), np.asarray(params.recall_thresholds))
    precision, recall, scores = accumulate(matching.score, matching.category, matching.true_pos, matching.dt_ignored,
                                           matching.gt_ignored, matching.gt_category, matching.n_categories,
                                           matching.recall_thresholds)
    stats, sliced = part_and_slice_statistics(matching, precision, recall, gt, proto, slices)
    timings["accumulate"] = time.perf_counter() - tic
    matches = None
    if keep_matches:  # the reference area range (the first)
        matches = Matches(cand.dt, matched[0], matched_oks(cand, oks, matched[0], len(gt.ann_ids)), ignored_dt[0],
                          ignored_gt[0])
    return PartResult(part, stats, precision, recall, scores, matches, slices=sliced,
                      matching=matching if keep_matches else None), timings


__all__ = ["evaluate", "score_part", "score_rows"]
