"""Why a model scores what it scores: coco-analyze's keypoint error diagnosis, per part of any protocol.

coco-analyze (Ronchi & Perona, ICCV 2017; matteorr/coco-analyze) sorts every keypoint of a matched
prediction into good, jitter, inversion, swap or miss, then re-scores AP after fixing each error
type in turn (miss, swap, inversion, jitter), the scores (optimal-score soft-NMS), background false
positives and false negatives.  The definitions, quirks and halpe-eval's decisions are written out in
docs/diagnosis.md.  Modules: ``scene`` (preprocessing and one evaluation), ``keypoints`` (taxonomy
and corrections), ``optimal_score``, ``sequence`` (the cumulative fixes), ``instances`` (missed people,
background predictions, ranking errors), ``part`` (one part), ``report`` (the result as JSON).

Use: ``diagnose(evaluate(gt, preds))`` or ``halpe-eval GT PRED --diagnose``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..reading.sharing import shared_results
from .keypoints import ERROR_TYPES
from .part import PartDiagnosis, diagnose_part
from .report import Diagnosis
from .scene import AREA_NOTE, AREA_RANGES
from .sequence import STEPS

if TYPE_CHECKING:
    from ..results import EvalResult


def diagnose(result: EvalResult, parts: tuple[str, ...] | None = None) -> Diagnosis:
    """Diagnose the parts of an evaluation (default: the parts its rows are computed from), two at a time."""
    proto = result.protocol
    if result.ground_truth is None or result.predictions is None:
        raise ValueError("diagnose() needs an EvalResult that keeps its arrays (from evaluate())")
    gt, preds = result.ground_truth, result.predictions
    names = parts or tuple(dict.fromkeys(p for row in result.parts for p in proto.components(row)))
    widest_first = sorted(names, key=lambda name: -len(proto.parts[name]))  # the longest job starts first

    def run(i: int) -> PartDiagnosis:
        return diagnose_part(gt, preds, proto, widest_first[i], widest_first[i] == proto.whole_part)

    # A forked worker takes the widest parts from the front, this process the narrowest from the end: two
    # processes, where two threads were held back by the interpreter lock (--diagnose at val scale, in
    # process: 2.09-2.34 s on threads, 1.82-2.01 s so).
    done = dict(zip(widest_first, shared_results("diagnosis", len(widest_first), run)))
    return Diagnosis(proto.name, {name: done[name] for name in names})


__all__ = ["AREA_NOTE", "AREA_RANGES", "ERROR_TYPES", "STEPS", "Diagnosis", "PartDiagnosis", "diagnose"]
