"""Rules: a protocol's switches turned into arrays for one part.

Which predictions are scored, the score that ranks them, and which GT are
ignored in each area range.  Each function reads one group of switches
(documented on :class:`~halpe_eval.protocol.Protocol`) and returns arrays the
matching stage takes as they are.  Shapes: D predictions, G GT, A area ranges.
"""
from __future__ import annotations

import numpy as np

from .protocol import Protocol
from .reading.ground_truth import GroundTruth
from .reading.predictions import Predictions


def kept_predictions(preds: Predictions, protocol: Protocol, part: str) -> np.ndarray:
    """(D,) scored in ``part``: ``drop_zero_score`` drops a prediction whose keypoint scores are all <= 0
    over the whole skeleton (halpecocotools), over the part (xtcocotools), or never (pycocotools)."""
    if protocol.drop_zero_score == "skeleton":
        return preds.positive["*"]
    if protocol.drop_zero_score == "part":
        return preds.positive[part]
    return np.ones(len(preds), dtype=bool)


def ranking_score(preds: Predictions, part: str) -> np.ndarray:
    """(D,) the part's own score field (``part_score_keys``) where a prediction has one, else ``score``."""
    if part not in preds.part_scores:
        return preds.score
    part_score = preds.part_scores[part]
    return np.where(np.isnan(part_score), preds.score, part_score)


def candidate_key(preds: Predictions, protocol: Protocol, part: str) -> tuple[bytes, str | None]:
    """What selects ``part``'s candidates: its kept-prediction mask (by content) and the name of its
    ranking score.  Parts with equal keys select the same candidates: all parts of a skeleton-wide
    or no zero-score drop, and parts whose per-part drop happens to keep the same predictions."""
    kept = kept_predictions(preds, protocol, part)
    return np.packbits(kept).tobytes(), (part if part in preds.part_scores else None)


def gt_ignored(gt: GroundTruth, protocol: Protocol, part: str) -> np.ndarray:
    """(A, G) GT ignored in each area range of ``protocol.params``.

    A GT is ignored when its own ``ignore`` flag is set (``ignore_field``), when it is a crowd
    (``crowd_ignored``), when it has no keypoint in the part (``no_keypoints_rule``: no labelled
    keypoint, or pycocotools' ``num_keypoints == 0`` where the field is present), when its record
    is repeated and the protocol says so (``repeated_annotations``), and in the area ranges its
    ``area`` falls outside (bounds inclusive, as cocoeval).
    """
    idx = list(protocol.parts[part])
    no_keypoints = ~(gt.keypoints[:, idx, 2] > 0).any(axis=1)
    if protocol.no_keypoints_rule == "num_keypoints":
        no_keypoints = np.where(gt.num_keypoints >= 0, gt.num_keypoints == 0, no_keypoints)
    ignored = (gt.ignore & protocol.ignore_field) | no_keypoints | (gt.iscrowd & protocol.crowd_ignored)
    if protocol.repeated_annotations == "ignored":
        ignored |= repeated_ids(gt.ann_ids)
    return ignored[None, :] | outside_area(gt.area, protocol)


def repeated_ids(ids: np.ndarray) -> np.ndarray:
    """(G,) whether each annotation shares its id with another record."""
    _, inverse, counts = np.unique(ids, return_inverse=True, return_counts=True)
    return counts[inverse.reshape(-1)] > 1


def outside_area(area: np.ndarray, protocol: Protocol) -> np.ndarray:
    """(A, N) whether each area lies outside each of the protocol's area ranges."""
    bounds = protocol.params.area_bounds()
    return (area[None, :] < bounds[:, :1]) | (area[None, :] > bounds[:, 1:])
