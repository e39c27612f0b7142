"""Bootstrap confidence intervals: the GT's images resampled with replacement, each resample scored
again from the kept matching (:mod:`.weighted`, no OKS, no matching); percentile intervals per part and
statistic and, for compared runs, of the paired difference to the first run (every run is scored on the
same resampled images, so what the images share cancels out).

A resample is a vector of image multiplicities: I draws with replacement among the I images (Efron's
bootstrap over images, the unit the evaluation sums over), made by numpy's Generator from ``seed``, so
the same seed gives the same intervals.  An interval is the (1 - level) / 2 and (1 + level) / 2
quantiles of the resampled values (numpy's linear interpolation) over the resamples where the
statistic is defined; None where it is undefined in every resample or in the run itself.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .protocol import EvalParams
from .results import EvalResult
from .slices import SliceMasks, protocol_splits
from .weighted import prepare, weighted_stats

DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
BATCH = 50  # resamples counted together: each array holds BATCH x (predictions of a part) values

Interval = Optional[tuple[float, float]]
Intervals = dict[str, dict[str, Interval]]  # part -> statistic -> interval


@dataclass(frozen=True)
class Bootstrap:
    """Intervals of every run (``intervals[i]``) and of each run's difference to the first
    (``difference_intervals[i]``, None for the first)."""

    resamples: int
    level: float
    seed: int
    intervals: tuple[Intervals, ...]
    difference_intervals: tuple[Intervals | None, ...]

    def settings(self) -> dict[str, float | int]:
        return {"resamples": self.resamples, "level": self.level, "seed": self.seed}


def resample_weights(n_images: int, resamples: int, seed: int) -> np.ndarray:
    """[resamples x n_images] multiplicities: each row counts n_images draws with replacement."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_images, size=(resamples, n_images))
    offsets = np.arange(resamples)[:, None] * n_images
    return np.bincount((draws + offsets).ravel(), minlength=resamples * n_images).reshape(resamples, n_images)


def resampled_stats(result: EvalResult, weights: np.ndarray) -> dict[str, np.ndarray]:
    """Per row of ``result``, [B x S] its statistics (the protocol's, in order; NaN where undefined) on each
    resample of ``weights`` [B x I]; a mean row is the mean of its parts' (undefined if any is)."""
    if result.ground_truth is None or weights.shape[1] != result.num_images:
        raise ValueError("the weights need one column per GT image of an evaluation of the native backend")
    if result.slices():
        raise ValueError("the bootstrap does not resample --slice-by slices: evaluate without slice_by")
    base = {p.name: p for row in result.parts.values() for p in (row.components or (row,))}
    matching = {name: part.matching for name, part in base.items() if part.matching is not None}
    for name in base.keys() - matching.keys():
        raise ValueError(f"part {name!r} kept no matching: evaluate(..., keep_matches=True), native backend")
    splits = protocol_splits(result.ground_truth, result.protocol)  # images of the statistics on image splits
    params, starts = result.protocol.params, range(0, len(weights), BATCH)
    copies = weights.max(axis=0, initial=0)
    # Numpy releases the GIL: every (part, batch) is a task, so both threads stay busy to the end. Each
    # part's preparation is queued before any batch, so a batch never waits on a task not yet started.
    with ThreadPoolExecutor(max_workers=2) as pool:
        prepared = {name: pool.submit(prepare, kept, copies) for name, kept in matching.items()}
        batches = {name: [pool.submit(_batch_stats, prepared[name], weights[start:start + BATCH], params, splits)
                          for start in starts] for name in base}
        scored = {name: np.concatenate([b.result() for b in done]) if done else
                  np.zeros((0, len(params.statistics))) for name, done in batches.items()}
    return {row: scored[row] if row in scored else _mean([scored[c.name] for c in part.components])
            for row, part in result.parts.items()}


def _batch_stats(prepared: Future, weights: np.ndarray, params: EvalParams,
                 splits: dict[str, SliceMasks]) -> np.ndarray:
    return weighted_stats(prepared.result(), weights, params, splits)


def _mean(components: Sequence[np.ndarray]) -> np.ndarray:
    """mean_part's arithmetic: the components summed in order, divided by their number."""
    total = components[0].copy()
    for values in components[1:]:
        total += values
    return total / len(components)


def bootstrap(results: Sequence[EvalResult], resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL,
              seed: int = 0) -> Bootstrap:
    """Intervals of each run's statistics and, from the second run on, of its difference to the first,
    every run on the same ``resamples`` resamples of the images (evaluated with keep_matches=True)."""
    if not 0 < level < 1:
        raise ValueError(f"the level must lie in (0, 1), not {level}")
    first = results[0]
    for result in results[1:]:  # paired resamples need the same images and the same rows
        same_images = (result.num_images == first.num_images and (
            result.ground_truth is None or first.ground_truth is None
            or np.array_equal(result.ground_truth.image_ids, first.ground_truth.image_ids)))
        if not same_images:
            raise ValueError("runs compared by the bootstrap must be scored against the same GT")
        if list(result.parts) != list(first.parts):
            raise ValueError(f"runs compared by the bootstrap must score the same rows: {list(first.parts)} vs "
                             f"{list(result.parts)}")
    weights = resample_weights(results[0].num_images, resamples, seed)
    samples = [resampled_stats(result, weights) for result in results]
    intervals = tuple(_intervals(result, values, level) for result, values in zip(results, samples))
    differences: list[Intervals | None] = [None]
    for result, values in zip(results[1:], samples[1:]):
        paired = {row: values[row] - samples[0][row] for row in values}
        differences.append(_intervals(result, paired, level, results[0]))
    return Bootstrap(resamples, level, seed, intervals, tuple(differences))


def _intervals(result: EvalResult, samples: dict[str, np.ndarray], level: float,
               baseline: EvalResult | None = None) -> Intervals:
    names = result.protocol.params.stat_names
    out: Intervals = {}
    for row, values in samples.items():
        out[row] = {}
        for j, stat in enumerate(names):
            defined = result.parts[row].stats[stat] is not None and (
                baseline is None or baseline.parts[row].stats[stat] is not None)
            out[row][stat] = percentile_interval(values[:, j], level) if defined else None
    return out


def percentile_interval(values: np.ndarray, level: float) -> Interval:
    """The central ``level`` interval of the finite ``values``; None when there are none."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return None
    low, high = np.quantile(finite, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)
