"""Evaluation as predictions arrive: a training loop's batches, a rank's shard, merged at the end.

``update`` checks a batch of arrays against the ground truth and keeps it; ``compute``
scores everything kept with the same stages as :func:`halpe_eval.evaluate`, so the
result is the same ``EvalResult``. Matching is deferred to ``compute``: the greedy
matching of one image needs all of its predictions, and scoring once costs less than
re-scoring per batch (measured in benchmarks/streaming.py).

Predictions are kept in arrival order, and arrival order is what breaks exact score
ties within an image (as file order does for the official tools); any batching and any
sharding give the numbers of one file holding the predictions in the merged order.
The state (the GT arrays and the kept batches) pickles, so evaluators from several
processes or ranks combine with :meth:`StreamingEvaluator.merge`.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .pipeline import chosen_options, score_rows, scoring_protocol
from .protocol import Protocol
from .reading.arrays import predictions_from_arrays
from .reading.ground_truth import GroundTruth, load_ground_truth
from .reading.predictions import Predictions, concatenate, load_predictions
from .results import EvalResult


class StreamingEvaluator:
    """Accumulates predictions batch by batch; ``compute()`` scores them.

    ``gt`` is a path, a parsed COCO dict or a GroundTruth (read once). ``protocol``,
    ``split_hands`` and ``sigmas`` are :func:`halpe_eval.evaluate`'s.
    """

    def __init__(self, gt: GroundTruth | dict | str | Path, protocol: Protocol | str | None = None, *,
                 split_hands: bool = False, sigmas: Sequence[float] | str | Path | None = None):
        self.ground_truth = gt if isinstance(gt, GroundTruth) else load_ground_truth(gt, protocol)
        proto = scoring_protocol(self.ground_truth, protocol, sigmas)
        self.protocol = proto
        self.split_hands = split_hands
        self.options = chosen_options(proto, protocol, split_hands, sigmas, False)
        self._batches: list[Predictions] = []

    def __len__(self) -> int:
        """Predictions kept so far."""
        return sum(len(batch) for batch in self._batches)

    def update(self, image_ids: Any, keypoints: Any, scores: Any, *, boxes: Any = None, areas: Any = None,
               part_scores: Mapping[str, Any] | None = None, category_ids: Any = None) -> None:
        """Keep one batch: ``image_ids`` (N,), ``keypoints`` [N x K x 3], ``scores`` (N,); optional ``boxes``
        [N x 4] (x, y, w, h: their area is the prediction's), ``areas`` (N,), ``part_scores`` {part: (N,)},
        ``category_ids`` (N,) (default: the GT's only category). A bad batch raises InputError and is not kept.
        """
        name = f"update #{len(self._batches) + 1}"
        self._batches.append(predictions_from_arrays(
            self.ground_truth, image_ids, keypoints, scores, boxes=boxes, areas=areas, part_scores=part_scores,
            category_ids=category_ids, protocol=self.protocol, name=name, warn=False))

    def update_results(self, source: Any, name: str | None = None) -> None:
        """Keep the predictions of a results file (a path, '-' for stdin) or a parsed results list, read and
        checked as :func:`halpe_eval.evaluate` reads them (every input format, gzip, JSON Lines)."""
        self._batches.append(load_predictions(source, self.ground_truth, name=name, protocol=self.protocol))

    def fresh(self) -> StreamingEvaluator:
        """An evaluator with this one's GT (shared, not copied) and protocol, and no predictions."""
        other = copy.copy(self)
        other._batches = []
        return other

    def merge(self, other: StreamingEvaluator) -> StreamingEvaluator:
        """Add ``other``'s predictions after this one's (same GT and protocol); returns self."""
        if other.protocol != self.protocol or other.split_hands != self.split_hands:
            raise InputError("merge: the evaluators score with different protocols, sigmas or rows")
        if not _same_ground_truth(self.ground_truth, other.ground_truth):
            raise InputError(f"merge: the evaluators hold different ground truths ({self.ground_truth.source}, "
                             f"{other.ground_truth.source})")
        self._batches.extend(other._batches)
        return self

    def reset(self) -> None:
        """Forget every prediction (the GT stays loaded): the next epoch starts here."""
        self._batches = []

    def compute(self, keep_matches: bool = False) -> EvalResult:
        """Score every prediction kept, as :func:`halpe_eval.evaluate` would score them from one file."""
        tic = time.perf_counter()
        preds = concatenate(self._batches, self.ground_truth, "<streaming>")
        timings = {"load_predictions": time.perf_counter() - tic}
        parts = score_rows(self.ground_truth, preds, self.protocol, self.protocol.part_names(self.split_hands),
                           keep_matches, timings)
        return EvalResult.of(self.protocol, parts, self.ground_truth, preds, timings, self.options)


def _same_ground_truth(a: GroundTruth, b: GroundTruth) -> bool:
    return a is b or (np.array_equal(a.image_ids, b.image_ids) and np.array_equal(a.ann_ids, b.ann_ids)
                      and np.array_equal(a.keypoints, b.keypoints) and np.array_equal(a.area, b.area))
