"""Shards on a real Dask cluster (processes): the merged result equals one-shot evaluate."""
import json

import numpy as np
import pytest

from halpe_eval import evaluate
from halpe_eval.distributed import evaluate_on_dask

from oracle_cases import case
from test_streaming import as_arrays, assert_same, batch

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        yield client


def test_array_shards_merged_on_workers_equal_one_shot(client):
    gt, preds = case(3, "coco-wholebody")
    arrays = as_arrays(preds, "coco-wholebody")
    shards = [batch(arrays, rows) for rows in np.array_split(np.arange(len(preds)), 4)]
    result = evaluate_on_dask(client, gt, shards, split_hands=True)
    assert_same(result, evaluate(gt, preds, split_hands=True))


def test_file_shards_in_any_format_equal_one_shot(client, tmp_path):
    gt, preds = case(4)
    paths = []
    for i, rows in enumerate(np.array_split(np.arange(len(preds)), 3)):
        path = tmp_path / f"preds-rank{i}.json"
        path.write_text(json.dumps([preds[r] for r in rows]))
        paths.append(str(path))
    assert_same(evaluate_on_dask(client, gt, paths), evaluate(gt, preds))
