"""One part's diagnosis: localization matching, keypoint errors, the fix sequence per area range,
instance-level errors, and (for the whole skeleton) errors of whole parts.

Localization (../DIAGNOSIS.md section 5): cocoeval's matching at the single OKS threshold 0.1 in
each area range; a prediction that gets a GT is analysed unless that GT has no keypoint in the
part (coco-analyze: ``num_keypoints == 0``).  Keypoint counts are those of the range 'all'
(coco-analyze's [32^2, 1e5^2]; predictions matched to smaller people are still analysed).

Whole parts (whole-body): in the whole skeleton's matching, a part of a matched prediction is
*mirrored* when more than half of its keypoints labelled in the GT are inversions (a left hand on
the right hand, a face mirrored) and *taken from another person* when more than half are swaps.

Shapes: N kept predictions, Kp keypoints, A area ranges, T thresholds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import Protocol
from ..reading.ground_truth import GroundTruth
from ..reading.predictions import Predictions
from .instances import false_negatives, false_positives, scoring_errors
from .keypoints import ERROR_TYPES, INVERSION, SWAP, KeypointErrors, classify
from .optimal_score import OptimalScores, best_oks
from .scene import Scene, build_scene, match, similarity
from .sequence import BackgroundCounts, RangeSequence, run_sequences, unmatched_counts

LOCALIZATION_OKS = 0.1


@dataclass(frozen=True)
class PartDiagnosis:
    """Everything ``--diagnose`` reports for one part."""

    part: str
    keypoints: tuple[str, ...]  # the part's keypoint names
    thresholds: tuple[float, ...]  # OKS thresholds (ascending)
    error_counts: np.ndarray  # (5, Kp) keypoints of each class (ERROR_TYPES) in the range 'all'
    analysed: int  # matched predictions analysed in 'all'
    ranges: dict[str, RangeSequence]  # area range -> its fix sequence
    background: BackgroundCounts  # range 'all', original keypoints and scores (coco-analyze's report)
    instances: dict[str, Any]  # false negatives, false positives, scoring errors
    whole_parts: dict[str, dict[str, int]] = field(default_factory=dict)  # part -> mirrored / from another person


def diagnose_part(gt: GroundTruth, preds: Predictions, proto: Protocol, part: str,
                  whole_parts: bool = False) -> PartDiagnosis:
    """Diagnose ``part``; ``whole_parts`` adds the counts of mirrored and borrowed parts (whole skeleton)."""
    scene = build_scene(gt, preds, proto, part)
    oks = similarity(scene, scene.xy)
    located = match(scene, oks, scene.rank, scene.gt_ignored, np.array([LOCALIZATION_OKS]))[:, 0]
    unique, members = _classified(scene, located, proto.flip_map())
    analysed = unique.subset(members[0])
    optimal = OptimalScores(scene, unique.corrected.astype(scene.xy.dtype))
    original = optimal(np.arange(len(scene.dt)), best_oks(scene, oks, scene.gt_ignored[0]))
    sequences, matched = run_sequences(scene, oks, unique, members, optimal)
    ranges = dict(zip(scene.area_names, sequences))
    instances = {"false_negatives": false_negatives(scene, matched[0]),
                 "false_positives": false_positives(scene, matched[0]),
                 "scoring_errors": scoring_errors(scene, oks, original)}
    return PartDiagnosis(
        part=part, keypoints=tuple(proto.keypoints[i] for i in scene.columns),
        thresholds=tuple(proto.params.oks_thresholds), error_counts=analysed.counts(), analysed=len(analysed.dt),
        ranges=ranges, background=unmatched_counts(scene, matched[0], 0), instances=instances,
        whole_parts=_whole_part_errors(scene, proto, analysed) if whole_parts else {},
    )


def _classified(scene: Scene, located: np.ndarray, flip: np.ndarray) -> tuple[KeypointErrors, list[np.ndarray]]:
    """The keypoint errors of the analysed matches of every range, each (prediction, GT) match classified
    once, and the positions in them of each range's matches."""
    keys = []
    for row in located:
        dt = np.flatnonzero(row >= 0)
        dt = dt[scene.analysable[row[dt]]]
        keys.append(dt * len(scene.gt.ann_ids) + row[dt])
    unique = np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    n_gt = max(len(scene.gt.ann_ids), 1)
    return classify(scene, unique // n_gt, unique % n_gt, flip), [np.searchsorted(unique, key) for key in keys]


def _whole_part_errors(scene: Scene, proto: Protocol, errors: KeypointErrors) -> dict[str, dict[str, int]]:
    """For every other part inside this one: matched predictions whose part is mostly mirrored / mostly swaps."""
    position = {int(c): i for i, c in enumerate(scene.columns)}
    out = {}
    for name, cols in proto.parts.items():
        if name == scene.part or not set(cols) <= set(position):
            continue
        sub = errors.classes[:, [position[c] for c in cols]]
        labelled = (sub >= 0).sum(axis=1)
        out[name] = {"analysed": int((labelled > 0).sum()),
                     "mirrored": int((2 * (sub == INVERSION).sum(axis=1) > labelled).sum()),
                     "from_another_person": int((2 * (sub == SWAP).sum(axis=1) > labelled).sum())}
    return out


__all__ = ["ERROR_TYPES", "LOCALIZATION_OKS", "PartDiagnosis", "diagnose_part"]
