"""The streaming evaluator: any batching and any sharding (after a pickle round trip) equal one-shot evaluate."""
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from halpe_eval import InputError, StreamingEvaluator, evaluate, load_ground_truth, load_protocol
from halpe_eval.synthetic import SynthOptions, make_dataset

from oracle_cases import case

PROTOCOLS = ["halpe136", "coco-wholebody", "coco17", "halpe26"]


def as_arrays(preds, protocol):
    """The columns a training loop would hold for these result records."""
    proto = load_protocol(protocol)
    out = {
        "image_ids": np.array([p["image_id"] for p in preds]),
        "keypoints": np.array([p["keypoints"] for p in preds], dtype=np.float64).reshape(len(preds), -1, 3),
        "scores": np.array([p["score"] for p in preds]),
    }
    if preds and "bbox" in preds[0]:
        out["boxes"] = np.array([p["bbox"] for p in preds])
    keys = {part: key for part, key in proto.part_score_keys.items() if any(key in p for p in preds)}
    if keys:
        out["part_scores"] = {part: np.array([p.get(key, np.nan) for p in preds]) for part, key in keys.items()}
    return out


def batch(arrays, rows):
    out = {k: v[rows] for k, v in arrays.items() if k != "part_scores"}
    if "part_scores" in arrays:
        out["part_scores"] = {part: v[rows] for part, v in arrays["part_scores"].items()}
    return out


def streamed(gt, arrays, cuts, protocol, **options):
    evaluator = StreamingEvaluator(gt, protocol, **options)
    for rows in np.split(np.arange(len(arrays["scores"])), cuts):
        if len(rows):
            evaluator.update(**batch(arrays, rows))
    return evaluator


def assert_same(result, expected):
    assert list(result.parts) == list(expected.parts)
    for name, part in expected.parts.items():
        assert result.parts[name].stats == part.stats, name
        np.testing.assert_array_equal(result.parts[name].precision, part.precision)
        np.testing.assert_array_equal(result.parts[name].recall, part.recall)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_batches_equal_one_shot_for_every_protocol(protocol):
    options = SynthOptions(bbox=protocol == "coco17")
    gt, preds = make_dataset(21, protocol, options)
    split = protocol in ("halpe136", "coco-wholebody")
    expected = evaluate(gt, preds, protocol, split_hands=split)
    result = streamed(gt, as_arrays(preds, protocol), [5, 17, 60], protocol, split_hands=split).compute()
    assert_same(result, expected)
    assert result.num_predictions == len(preds) and result.num_gt == expected.num_gt


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), data=st.data())
def test_any_batching_and_sharding_with_a_pickle_round_trip(seed, data):
    """Shards keep file order here, so even exact score ties resolve as in one file."""
    protocol = data.draw(st.sampled_from(PROTOCOLS))
    gt_dict, preds = make_dataset(seed, protocol, SynthOptions(num_images=8, score_decimals=1))
    arrays = as_arrays(preds, protocol)
    n = len(preds)
    gt = load_ground_truth(gt_dict, protocol)
    shard_cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=3)))
    shards = []
    for rows in np.split(np.arange(n), shard_cuts):
        local = [int(c) for c in sorted(data.draw(st.lists(st.integers(0, len(rows)), max_size=4)))]
        shards.append(pickle.loads(pickle.dumps(streamed(gt, batch(arrays, rows), local, protocol))))
    merged = shards[0]
    for shard in shards[1:]:
        merged.merge(shard)
    if n == 0 or len(merged) == 0:
        return
    assert_same(merged.compute(), evaluate(gt, preds, protocol))


def test_batch_order_does_not_matter_when_scores_within_an_image_differ():
    gt, preds = case(5)
    rng = np.random.default_rng(0)
    for p in preds:
        p["score"] = float(rng.random())  # distinct: arrival order breaks no tie
    arrays = as_arrays(preds, "halpe136")
    order = rng.permutation(len(preds))
    shuffled = streamed(gt, batch(arrays, order), [7, 30], "halpe136").compute()
    assert_same(shuffled, evaluate(gt, preds))


def test_reset_starts_a_new_epoch_and_the_gt_is_read_once():
    gt, preds = case(6)
    arrays = as_arrays(preds, "halpe136")
    evaluator = StreamingEvaluator(gt)
    evaluator.update(**arrays)
    first = evaluator.compute()
    evaluator.reset()
    assert len(evaluator) == 0
    evaluator.update(**arrays)
    assert evaluator.compute().stats() == first.stats()


class TensorLike:
    """What a CPU tensor offers numpy: __array__, and nothing else (torch itself is not needed)."""

    def __init__(self, values):
        self._values = np.asarray(values)

    def __array__(self, dtype=None, copy=None):
        return self._values if dtype is None else self._values.astype(dtype)


def test_tensor_like_inputs_are_read_without_importing_torch():
    gt, preds = case(7)
    arrays = as_arrays(preds, "halpe136")
    evaluator = StreamingEvaluator(gt)
    evaluator.update(**{k: TensorLike(v) for k, v in arrays.items()})
    assert evaluator.compute().stats() == evaluate(gt, preds).stats()


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(keypoints=a["keypoints"][:, :133]), r"update #1: keypoints have shape \(\d+, 133, 3\), "
                                                            r"expected \(N, 136, 3\)"),
    (lambda a: a.update(scores=a["scores"][:-1]), r"update #1: scores have shape \(\d+,\), expected \(\d+,\)"),
    (lambda a: a["image_ids"].__setitem__(2, 999_999), r"update #1: prediction #2: image_id 999999 is not in"),
    (lambda a: a["scores"].__setitem__(1, np.nan), r"update #1: scores hold NaN or infinity at index \(1,\)"),
    (lambda a: a.update(image_ids=a["image_ids"] + 0.5), r"image_ids must be integer ids"),
    (lambda a: a.update(part_scores={"face": a["scores"]}), r"part_scores names 'face', which protocol halpe136"),
])
def test_a_bad_batch_is_one_clear_error_and_is_not_kept(change, message):
    gt, preds = case(8)
    arrays = as_arrays(preds, "halpe136")
    change(arrays)
    evaluator = StreamingEvaluator(gt)
    with pytest.raises(InputError, match=message):
        evaluator.update(**arrays)
    assert len(evaluator) == 0


def test_merge_refuses_another_ground_truth_or_protocol():
    gt_a, _ = case(1)
    gt_b, _ = case(2)
    with pytest.raises(InputError, match="different ground truths"):
        StreamingEvaluator(gt_a).merge(StreamingEvaluator(gt_b))
    with pytest.raises(InputError, match="different protocols"):
        StreamingEvaluator(gt_a).merge(StreamingEvaluator(gt_a, split_hands=True))
    with pytest.raises(InputError, match=r"no predictions were given \(call update\(\) first\)"):
        StreamingEvaluator(gt_a).compute()


def test_sigmas_and_options_are_recorded_like_evaluate():
    gt, preds = case(9)
    sigmas = [0.05] * 136
    evaluator = StreamingEvaluator(gt, sigmas=sigmas, split_hands=True)
    evaluator.update(**as_arrays(preds, "halpe136"))
    result = evaluator.compute()
    expected = evaluate(gt, preds, sigmas=sigmas, split_hands=True)
    assert result.stats() == expected.stats() and result.options == expected.options


# ---------------------------------------------------------------- the command line: --shards


def test_shards_on_the_command_line_score_as_one_run(tmp_path):
    import json

    from conftest import run_cli

    gt, preds = case(10)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    for rank, rows in enumerate(np.array_split(np.arange(len(preds)), 11)):  # rank10 must come after rank9
        (tmp_path / f"preds-rank{rank}.json").write_text(json.dumps([preds[r] for r in rows]))
    code, out, _ = run_cli(tmp_path / "gt.json", "--shards", str(tmp_path / "preds-rank*.json"), "--format", "json",
                           "-q")
    assert code == 0
    assert json.loads(out)["parts"] == evaluate(gt, preds).stats()
    code, _, err = run_cli(tmp_path / "gt.json", "--shards", str(tmp_path / "none*.json"))
    assert code == 2 and "matches no file" in err and len(err.splitlines()) == 1


def test_a_groundtruth_given_with_another_reading_protocol_reads_predictions_with_the_scoring_one():
    """Reading settings (here area_keypoints) come from the protocol that scores, not the GT's."""
    import dataclasses

    from halpe_eval import load_ground_truth as read_gt

    gt, preds = case(11)
    narrow = dataclasses.replace(load_protocol("halpe136"), area_keypoints=(0, 1, 2))
    arrays = read_gt(gt)  # read with the built-in halpe136
    assert evaluate(arrays, preds, narrow).stats() == evaluate(gt, preds, narrow).stats()
    evaluator = StreamingEvaluator(arrays, narrow)
    evaluator.update_results(preds)
    assert evaluator.compute().stats() == evaluate(gt, preds, narrow).stats()


def test_a_bad_keypoints_value_is_one_error():
    gt, _ = case(8)
    with pytest.raises(InputError, match=r"keypoints have shape \(\), expected \(N, 136, 3\)"):
        StreamingEvaluator(gt).update([1], 5.0, [1.0])
