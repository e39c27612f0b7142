"""cocoeval's ``summarize()``: the keypoint statistics read from ``eval`` and printed one a line.

Conventions of cocoeval's ``_summarize`` (pycocotools 2.0; xtcocotools and halpecocotools
alike): each statistic is the mean of the entries > -1 of precision (AP) or recall (AR) in
one area range, selected by its label in ``params.areaRngLbl``, at ``maxDets`` 20 (the value
is fixed, looked up in ``params.maxDets``), at one OKS threshold found by exact equality in
``params.iouThrs`` or over all of them; -1 when no entry is defined.  The ten statistics, their
area labels, thresholds and the 20 are the oracle's own protocol's (``EvalParams``), as is
the line printed for each, in the library's own number format.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..accumulate import mean_defined
from ..protocol import EvalParams, Statistic

LINE = " {:<18} {} @[ IoU={:<9} | area={:>6s} | maxDets={:>3d} ] = "
TITLES = {"AP": ("Average Precision", "(AP)"), "AR": ("Average Recall", "(AR)")}


def statistic_value(evaluation: dict, params: Any, stat: Statistic, max_detections: int) -> float:
    """One statistic from a cocoeval ``eval`` dict, selected as ``_summarize`` selects it."""
    values = evaluation["precision" if stat.measure == "AP" else "recall"]
    if stat.oks is not None:
        values = values[np.where(stat.oks == params.iouThrs)[0]]
    areas = [i for i, label in enumerate(params.areaRngLbl) if label == stat.area]
    counts = [i for i, count in enumerate(params.maxDets) if count == max_detections]
    values = values[:, :, :, areas, counts] if stat.measure == "AP" else values[:, :, areas, counts]
    mean = mean_defined(values)
    return -1.0 if mean is None else mean


def summarized(evaluation: dict, params: Any, defaults: EvalParams, number_format: str) -> np.ndarray:
    """The statistics of ``defaults`` from ``evaluation``, each printed as the library prints it."""
    stats = np.zeros((len(defaults.statistics),))
    for i, stat in enumerate(defaults.statistics):
        stats[i] = statistic_value(evaluation, params, stat, defaults.max_detections)
        title, kind = TITLES[stat.measure]
        thresholds = (f"{params.iouThrs[0]:0.2f}:{params.iouThrs[-1]:0.2f}" if stat.oks is None
                      else f"{stat.oks:0.2f}")
        print((LINE + number_format).format(title, kind, thresholds, stat.area, defaults.max_detections, stats[i]))
    return stats


__all__ = ["summarized", "statistic_value"]
