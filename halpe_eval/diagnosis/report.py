"""A diagnosis as values: the ``"diagnosis"`` JSON object and the numbers the tables and plots show.

AP values are fractions, ``None`` where undefined (no GT left to find, cocoeval's -1).  Counts are
those of the area range 'all' in coco-analyze's sense ([32^2, 1e5^2]), as each part states.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..accumulate import mean_defined
from .keypoints import ERROR_TYPES
from .part import PartDiagnosis
from .scene import AREA_NOTE
from .sequence import STEPS, BackgroundCounts, StepCurves

APStats = dict[str, Optional[float]]


def step_stats(curves: StepCurves, thresholds: tuple[float, ...]) -> APStats:
    """AP over all thresholds (mean of the defined precision entries), at .50 and at .75."""
    index = {round(t, 2): i for i, t in enumerate(thresholds)}
    out: APStats = {"AP": mean_defined(curves.precision)}
    for name, t in (("AP50", 0.5), ("AP75", 0.75)):
        out[name] = mean_defined(curves.precision[index[t]]) if t in index else None
    return out


def error_rates(counts: np.ndarray) -> np.ndarray:
    """(5, ...) share of each class among the classified keypoints (0 where none)."""
    total = counts.sum(axis=0)
    return np.divide(counts, total, out=np.zeros(counts.shape), where=total > 0)


def worst_keypoints(part: PartDiagnosis, n: int = 5) -> list[int]:
    """Indices of the ``n`` keypoints with the lowest share of good keypoints (ties: skeleton order)."""
    counts = part.error_counts
    classified = counts.sum(axis=0)
    good = error_rates(counts)[ERROR_TYPES.index("good")]
    order = np.lexsort((np.arange(len(good)), good))
    return [int(i) for i in order if classified[i] > 0][:n]


def _background(counts: BackgroundCounts, thresholds: tuple[float, ...], kind: str) -> dict[str, Any]:
    if kind == "false_positives":
        per = {"count": counts.false_pos, "area_in_range": counts.false_pos_in_range}
        every = {"count": counts.false_pos_every_oks}
    else:
        per = {"not_ignored": counts.false_neg_not_ignored, "all_annotations": counts.false_neg}
        every = {"not_ignored": counts.false_neg_not_ignored_every_oks, "all_annotations": counts.false_neg_every_oks}
    return {"per_oks": {f"{t:.2f}": {k: int(v[i]) for k, v in per.items()} for i, t in enumerate(thresholds)},
            "at_every_oks": every}


def part_dict(part: PartDiagnosis) -> dict[str, Any]:
    """The ``"diagnosis"`` entry of one part."""
    counts = part.error_counts
    out: dict[str, Any] = {
        "counts_area_range": AREA_NOTE,
        "analysed_predictions": part.analysed,
        "keypoint_errors": {e: int(counts[i].sum()) for i, e in enumerate(ERROR_TYPES)},
        "keypoint_errors_per_keypoint": {name: {e: int(counts[i, k]) for i, e in enumerate(ERROR_TYPES)}
                                         for k, name in enumerate(part.keypoints)},
        "ap_after_fix": {area: {step: step_stats(seq.steps[step], part.thresholds) for step in STEPS}
                         for area, seq in part.ranges.items()},
        "ap_after_fix_per_oks": {area: {step: [None if v < 0 else float(v) for v in seq.steps[step].ap_at()]
                                        for step in STEPS} for area, seq in part.ranges.items()},
        "oks_thresholds": [round(t, 2) for t in part.thresholds],
        "false_positives": {
            "original": {**_background(part.background, part.thresholds, "false_positives"),
                         **part.instances["false_positives"]},
            "after_fixes": {area: _background(seq.background, part.thresholds, "false_positives")
                            for area, seq in part.ranges.items()},
        },
        "false_negatives": {
            "original": {**_background(part.background, part.thresholds, "false_negatives"),
                         **part.instances["false_negatives"]},
            "after_fixes": {area: _background(seq.background, part.thresholds, "false_negatives")
                            for area, seq in part.ranges.items()},
        },
        "scoring_errors": part.instances["scoring_errors"],
    }
    if part.whole_parts:
        out["whole_parts"] = part.whole_parts
    return out


@dataclass(frozen=True)
class Diagnosis:
    """The diagnosis of every part evaluated (see :func:`halpe_eval.diagnosis.diagnose`)."""

    protocol: str
    parts: dict[str, PartDiagnosis]

    def to_dict(self) -> dict[str, Any]:
        """``{PART: {...}}``: the ``"diagnosis"`` object of ``--format json``."""
        return {name: part_dict(part) for name, part in self.parts.items()}


__all__ = ["Diagnosis", "error_rates", "part_dict", "step_stats", "worst_keypoints"]
