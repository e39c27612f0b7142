"""What an evaluation returns: per-part statistics and PR arrays, the kept matches, counts.

Importable by reporting, gates, plots and breakdowns without importing the reader.
Array shapes follow cocoeval's ``eval`` dict without its maxDets axis:
``precision`` and ``scores`` are [T x R x K x A], ``recall`` is [T x K x A], for
T OKS thresholds, R recall thresholds, K categories and A area ranges (the
protocol's ``params``), -1 where undefined.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from .protocol import Protocol

if TYPE_CHECKING:
    from .reading.ground_truth import GroundTruth
    from .reading.predictions import Predictions

Stats = dict[str, Optional[float]]  # statistic -> value, None where undefined


@dataclass(frozen=True)
class Matches:
    """The matching in the reference area range (COCO's 'all'), kept for breakdowns.

    N predictions were scored in the part (after the zero-score drop and the
    per-image top-k); ``gt``/``oks`` are [T x N]: the matched GT index and its OKS
    at each threshold, -1 / NaN where unmatched.
    """

    dt: np.ndarray  # (N,) indices into Predictions, in ranking order (category, score descending, image)
    gt: np.ndarray  # (T, N)
    oks: np.ndarray  # (T, N)
    dt_ignored: np.ndarray  # (T, N)
    gt_ignored: np.ndarray  # (G,) ignored in this part

    def true_positive(self, t: int) -> np.ndarray:
        """(N,) matched at threshold index ``t`` to a GT that is not ignored."""
        return (self.gt[t] >= 0) & ~self.dt_ignored[t]


@dataclass(frozen=True)
class PartMatching:
    """One part's matching in every area range, as :func:`~halpe_eval.accumulate.accumulate` takes it, with
    each row's image: kept to count again over a subset of the images (:mod:`.slices`) or under image
    weights (:mod:`.weighted`, the bootstrap), with no OKS and no matching.

    N candidates in ranking order (category, score descending, then image and rank: cocoeval's order, in
    which position breaks score ties), G GT people, A area ranges, T OKS thresholds.
    """

    score: np.ndarray  # (N,) ranking score
    category: np.ndarray  # (N,) category index
    image: np.ndarray  # (N,) image index
    true_pos: np.ndarray  # (A, T, N) matched to any GT
    dt_ignored: np.ndarray  # (A, T, N)
    gt_ignored: np.ndarray  # (A, G)
    gt_category: np.ndarray  # (G,)
    gt_image: np.ndarray  # (G,)
    n_categories: int
    n_images: int
    recall_thresholds: np.ndarray  # (R,)

    def accumulated(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Precision [T x R x K x A] and recall [T x K x A] over the images of the (I,) mask ``images``."""
        from .accumulate import accumulate  # accumulate imports this module

        dt, gt = images[self.image], images[self.gt_image]
        precision, recall, _ = accumulate(self.score[dt], self.category[dt], self.true_pos[:, :, dt],
                                          self.dt_ignored[:, :, dt], self.gt_ignored[:, gt], self.gt_category[gt],
                                          self.n_categories, self.recall_thresholds)
        return precision, recall


@dataclass(frozen=True)
class PartResult:
    """Statistics and PR arrays of one part (see the module docstring for shapes).

    A mean part (COCO-WholeBody's hands) stacks its components' arrays on a new first axis.
    """

    name: str
    stats: Stats
    precision: np.ndarray
    recall: np.ndarray
    scores: np.ndarray
    matches: Matches | None = None  # with evaluate(keep_matches=True); never for mean parts
    components: tuple[PartResult, ...] = ()  # the parts a mean part averages
    slices: dict[str, Stats] = field(default_factory=dict)  # image slice -> its statistics (evaluate(slice_by=))
    matching: PartMatching | None = None  # with evaluate(keep_matches=True); never for mean parts


@dataclass(frozen=True)
class EvalResult:
    protocol: Protocol
    parts: dict[str, PartResult]
    num_images: int
    num_gt: int
    num_predictions: int
    warnings: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    prediction_format: str = ""
    options: dict[str, Any] = field(default_factory=dict)  # non-default choices (evaluate.chosen_options)
    ground_truth: GroundTruth | None = field(default=None, repr=False)  # the arrays scored
    predictions: Predictions | None = field(default=None, repr=False)

    @classmethod
    def of(cls, protocol: Protocol, parts: dict[str, PartResult], gt: GroundTruth, preds: Predictions,
           timings: dict[str, float], options: dict[str, Any] | None = None) -> EvalResult:
        """The result of scoring ``preds`` against ``gt``: counts and warnings come from them."""
        return cls(
            protocol=protocol,
            parts=parts,
            num_images=len(gt.image_ids),
            num_gt=len(gt.ann_ids),
            num_predictions=len(preds),
            warnings=gt.warnings + preds.warnings,
            timings=timings,
            prediction_format=preds.format,
            options=dict(options or {}),
            ground_truth=gt,
            predictions=preds,
        )

    def stats(self) -> dict[str, Stats]:
        return {name: dict(part.stats) for name, part in self.parts.items()}

    def slices(self) -> dict[str, dict[str, Stats]]:
        """slice -> part -> statistic -> value, with ``slice_by`` (else empty)."""
        names = next(iter(self.parts.values())).slices if self.parts else {}
        return {name: {part: dict(result.slices[name]) for part, result in self.parts.items()} for name in names}

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``--format json``: fractions, ``None`` where undefined."""
        from . import __version__

        sliced = self.slices()
        return {
            "protocol": self.protocol.name,
            "parts": self.stats(),
            **({"slices": sliced} if sliced else {}),
            "counts": {
                "images": self.num_images,
                "gt_people": self.num_gt,
                "predictions": self.num_predictions,
                "warnings": len(self.warnings),
            },
            "prediction_format": self.prediction_format,
            "options": dict(self.options),
            "warnings": list(self.warnings),
            "version": __version__,
        }


def mean_part(name: str, components: list[PartResult]) -> PartResult:
    """Stat-by-stat mean of parts (COCO-WholeBody's hand AP: mean of left and right, jin-s13/COCO-WholeBody#38).

    Undefined when any component is undefined; the PR arrays are the components' stacked on a new first axis.
    """
    def mean(per_component: list[Stats]) -> Stats:
        stats: Stats = {}
        for stat in per_component[0]:
            defined = [value for c in per_component if (value := c[stat]) is not None]
            stats[stat] = float(np.mean(defined)) if len(defined) == len(per_component) else None
        return stats

    def stack(attr: str) -> np.ndarray:
        return np.stack([getattr(c, attr) for c in components])

    slices = {s: mean([c.slices[s] for c in components]) for s in components[0].slices}
    return PartResult(name, mean([c.stats for c in components]), stack("precision"), stack("recall"), stack("scores"),
                      components=tuple(components), slices=slices)
