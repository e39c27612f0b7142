"""Shards of predictions scored on a Dask cluster: ``update`` mapped over the shards, ``merge`` to reduce.

Needs the optional extra: ``pip install 'halpe-eval[dask]'``. The same pattern works with
``torch.distributed`` (README "Use inside training"): every rank fills a
:class:`~halpe_eval.streaming.StreamingEvaluator`, ``all_gather_object`` collects them, and
rank 0 merges in rank order and computes.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .errors import InputError
from .protocol import Protocol
from .reading.ground_truth import GroundTruth
from .results import EvalResult
from .streaming import StreamingEvaluator

Shard = Any  # a results file's path, a parsed results list, or a mapping of update() keyword arrays


def evaluate_on_dask(client: Any, gt: GroundTruth | dict | str | Path, shards: Sequence[Shard],
                     protocol: Protocol | str | None = None, *, split_hands: bool = False,
                     sigmas: Sequence[float] | str | Path | None = None) -> EvalResult:
    """Score ``shards`` (in this order, as one run) on the cluster behind ``client`` (a ``dask.distributed.Client``).

    The GT is read here once and broadcast; each shard is read and checked on a worker; the
    evaluators are merged in shard order and scored on a worker. The result equals
    :func:`halpe_eval.evaluate` on the shards' predictions concatenated in that order.
    """
    if not shards:
        raise InputError("evaluate_on_dask: no shards given")
    empty = StreamingEvaluator(gt, protocol, split_hands=split_hands, sigmas=sigmas)
    shared = client.scatter(empty, broadcast=True)
    filled = [client.submit(filled_shard, shared, shard, pure=False) for shard in shards]
    return client.submit(merged_result, filled, pure=False).result()


def filled_shard(empty: StreamingEvaluator, shard: Shard) -> StreamingEvaluator:
    """The map step: one shard's predictions in an evaluator of their own."""
    evaluator = empty.fresh()
    if isinstance(shard, Mapping):
        evaluator.update(**shard)
    else:
        evaluator.update_results(shard)
    return evaluator


def merged_result(evaluators: Sequence[StreamingEvaluator]) -> EvalResult:
    """The reduce step: merge in order, then score."""
    merged = evaluators[0].fresh()
    for evaluator in evaluators:
        merged.merge(evaluator)
    return merged.compute()
