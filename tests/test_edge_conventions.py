"""Conventions that bite only at the edges: exact OKS ties, flag and count fields, odd ids, the reference backend."""
import json

import numpy as np
import pytest

from halpe_eval import InputError, evaluate, load_protocol
from halpe_eval.oracles import evaluate_reference, run_oracle
from halpe_eval.protocol import COCO_STAT_NAMES as STAT_NAMES

from conftest import require_oracle, run_cli as run

SIGMA = 0.025  # COCO's sigma of both eyes (keypoints 1 and 2)


def person(num_keypoints, rng, x=100.0, y=100.0, w=120.0, h=160.0):
    kp = np.zeros((num_keypoints, 3))
    kp[:, 0] = x + rng.uniform(0, w, num_keypoints)
    kp[:, 1] = y + rng.uniform(0, h, num_keypoints)
    kp[:, 2] = 2
    return kp


def annotation(kp, ann_id, **extra):
    record = {"id": ann_id, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [100.0, 100.0, 120.0, 160.0],
              "area": 11520.0, "keypoints": kp.ravel().tolist(), "num_keypoints": int((kp[:, 2] > 0).sum())}
    record.update(extra)
    return record


def prediction(kp, score):
    k = kp.copy()
    k[:, 2] = 0.9
    return {"image_id": 1, "category_id": 1, "keypoints": k.ravel().tolist(), "score": score}


def ground_truth(annotations):
    return {"images": [{"id": 1, "file_name": "img/000001.jpg"}], "annotations": annotations,
            "categories": [{"id": 1, "name": "person"}]}


def assert_same_stats(result, raw, parts):
    for part in parts:
        for name, value in zip(STAT_NAMES, raw[part][2]):
            got = result.parts[part].stats[name]
            assert (got is None) == (value == -1), (part, name)
            if got is not None:
                assert got == pytest.approx(value, abs=1e-9), (part, name, got, value)


def assert_same_results(ours, theirs):
    assert list(ours.parts) == list(theirs.parts)
    for part in ours.parts:
        for name in STAT_NAMES:
            a, b = ours.parts[part].stats[name], theirs.parts[part].stats[name]
            assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, abs=1e-9)), (part, name, a, b)


def tie_case(num_keypoints, rng):
    """Two GT at the same place, one labelled on {1, 9, 10}, the other on {2, 9, 10}, with 1 and 2 co-located.

    Their OKS with any prediction is the same sum of the same three terms; only the positions of the
    unlabelled zeros differ.  The oracle sums the labelled terms alone, so the two OKS are bit-identical
    and the GT listed last wins the tie.  A second prediction fits only the first GT.
    """
    g = person(num_keypoints, rng)
    g[2, :2] = g[1, :2]
    first, last = g.copy(), g.copy()
    first[:, 2], last[:, 2] = 0, 0
    first[[2, 9, 10], 2] = 2
    last[[1, 9, 10], 2] = 2
    p = g.copy()
    p[[1, 2], 0] += rng.uniform(0.5, 6.0)
    p[9, 0] += rng.uniform(0.5, 6.0)
    p[10, 1] += rng.uniform(0.5, 6.0)
    second = first.copy()
    second[1, 0] += 80  # far from keypoint 1, which only `last` labels
    gt = ground_truth([annotation(first, 1), annotation(last, 2)])
    return gt, [prediction(p, 0.9), prediction(second, 0.5)], (g, p)


def zero_padded_sums_differ(g, p):
    """Would summing whole rows, zeros in place, give the two GT different OKS? (the hazard under test)"""
    e = ((p[:, :2] - g[:, :2]) ** 2).sum(axis=1) / (2 * SIGMA) ** 2 / (11520.0 + np.spacing(1)) / 2
    terms = np.exp(-e)
    sums = []
    for labelled in ([2, 9, 10], [1, 9, 10]):
        row = np.zeros(len(g))
        row[labelled] = terms[labelled]
        sums.append(row.sum())
    return sums[0] != sums[1]


def test_exact_oks_ties_break_as_in_pycocotools():
    require_oracle("pycocotools.cocoeval")
    rng = np.random.default_rng(3)
    coco17 = load_protocol("coco17")
    hazards = 0
    for _ in range(60):
        gt, preds, (g, p) = tie_case(17, rng)
        hazards += zero_padded_sums_differ(g, p)
        assert_same_stats(evaluate(gt, preds, coco17), run_oracle(coco17, gt, preds), ["body"])
    assert hazards > 0  # some cases would break the tie the other way with a zero-padded sum


def test_exact_oks_ties_break_as_in_halpecocotools():
    require_oracle("halpecocotools.cocoeval")
    rng = np.random.default_rng(4)
    halpe136 = load_protocol("halpe136")
    for _ in range(20):
        gt, preds, _ = tie_case(136, rng)
        assert_same_stats(evaluate(gt, preds, "halpe136"), run_oracle(halpe136, gt, preds), ["body"])


@pytest.mark.parametrize("flag", ["iscrowd", "ignore"])
@pytest.mark.parametrize("value, shown", [(0.5, "0.5"), ("1", "'1'"), (None, "null"), (2, "2")])
def test_flags_other_than_0_or_1_are_refused(flag, value, shown):
    """cocoeval reads iscrowd both as a truth value (ignore) and as int() (crowd): 0.5 would be half of each."""
    gt = ground_truth([annotation(person(17, np.random.default_rng(0)), 7, **{flag: value})])
    with pytest.raises(InputError, match=rf"annotation #0 \(id 7\): '{flag}' is {shown}, expected 0 or 1"):
        evaluate(gt, [], "coco17")


@pytest.mark.parametrize("value", [True, 1.0, 0.0, False])
def test_flags_as_booleans_or_whole_floats_are_accepted(value):
    gt = ground_truth([annotation(person(17, np.random.default_rng(0)), 7, iscrowd=value)])
    assert evaluate(gt, [], "coco17").ground_truth.iscrowd.tolist() == [bool(value)]


@pytest.mark.parametrize("value, shown", [(-1, "-1"), (None, "null"), (3.0, "3.0"), ("0", "'0'"), (True, "true")])
def test_num_keypoints_must_be_a_count_where_the_protocol_reads_it(value, shown):
    kp = person(17, np.random.default_rng(0))
    gt = ground_truth([annotation(kp, 7, num_keypoints=value)])
    with pytest.raises(InputError, match=rf"\(id 7\): 'num_keypoints' is {shown}, expected a count >= 0"):
        evaluate(gt, [], "coco17")
    halpe = ground_truth([annotation(person(136, np.random.default_rng(0)), 7, num_keypoints=value)])
    assert evaluate(halpe, [], "halpe136").num_gt == 1  # halpe136 never reads the field


def test_missing_num_keypoints_counts_labelled_keypoints_in_both_backends():
    require_oracle("pycocotools.cocoeval")
    rng = np.random.default_rng(5)
    coco17 = load_protocol("coco17")
    unlabelled = person(17, rng)
    unlabelled[:, 2] = 0
    labelled = person(17, rng, x=400.0)
    anns = [annotation(unlabelled, 1), annotation(labelled, 2)]
    for a in anns:
        del a["num_keypoints"]
    gt = ground_truth(anns)
    preds = [prediction(labelled, 0.9), prediction(unlabelled, 0.8)]
    with pytest.raises(KeyError):  # pycocotools itself needs the field
        run_oracle(coco17, gt, preds)
    native = evaluate(gt, preds, "coco17")
    assert_same_results(native, evaluate_reference(gt, preds, "coco17"))
    with_counts = ground_truth([annotation(unlabelled, 1), annotation(labelled, 2)])
    assert_same_stats(native, run_oracle(coco17, with_counts, preds), ["body"])


def test_negative_annotation_ids_match_although_xtcocotools_misses_them():
    """xtcocotools keeps matched GT ids with -1 for "none" and counts only ids >= 0 as matches."""
    require_oracle("xtcocotools.cocoeval")
    cwb = load_protocol("coco-wholebody")
    rng = np.random.default_rng(6)
    kp = person(133, rng)
    gt = ground_truth([annotation(kp, -5)])
    preds = [prediction(kp, 0.9)]
    ours = evaluate(gt, preds, cwb)
    assert ours.parts["body"].stats["AP"] == pytest.approx(1.0)
    assert_same_results(ours, evaluate_reference(gt, preds, cwb))
    assert run_oracle(cwb, gt, preds)["body"][2][0] == 0.0  # the oracle as published


def test_reference_backend_reads_alphapose_file_names():
    require_oracle("halpecocotools.cocoeval")
    rng = np.random.default_rng(8)
    kp = person(136, rng)
    gt = ground_truth([annotation(kp, 1)])
    by_name = [dict(prediction(kp, 2.5), image_id="000001.jpg")]
    by_id = [prediction(kp, 2.5)]
    assert evaluate_reference(gt, by_name).stats() == evaluate_reference(gt, by_id).stats()
    assert_same_results(evaluate(gt, by_name), evaluate_reference(gt, by_name))


def test_reference_backend_turns_oracle_exceptions_into_one_line(tmp_path):
    """A first result with a segmentation sends the oracles down their mask path, where they fail."""
    require_oracle("halpecocotools.cocoeval")
    kp = person(136, np.random.default_rng(9))
    gt_path, preds_path = tmp_path / "gt.json", tmp_path / "preds.json"
    gt_path.write_text(json.dumps(ground_truth([annotation(kp, 1)])))
    preds_path.write_text(json.dumps([dict(prediction(kp, 0.9), segmentation=[[100, 100, 110, 100, 110, 110]])]))
    code, out, err = run(gt_path, preds_path, "--backend", "reference")
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith(f"halpe-eval: error: {preds_path}: halpecocotools failed on these inputs (")
    assert err.rstrip().endswith("--backend native scores them")
    assert run(gt_path, preds_path)[0] == 0


def test_annotation_id_zero_is_matched_although_pycocotools_misses_it():
    """pycocotools stores matched GT ids and reads 0 as "unmatched"."""
    require_oracle("pycocotools.cocoeval")
    rng = np.random.default_rng(10)
    coco17 = load_protocol("coco17")
    a, b = person(17, rng), person(17, rng, x=400.0)
    preds = [prediction(a, 0.9), prediction(b, 0.8)]
    from_zero = ground_truth([annotation(a, 0), annotation(b, 1)])
    from_one = ground_truth([annotation(a, 1), annotation(b, 2)])
    ours = evaluate(from_zero, preds, "coco17")
    assert_same_stats(ours, run_oracle(coco17, from_one, preds), ["body"])
    assert ours.parts["body"].stats["AR"] == pytest.approx(1.0)
    assert run_oracle(coco17, from_zero, preds)["body"][2][5] == pytest.approx(0.5)  # the oracle as published


def test_integer_scores_beyond_float64_precision_tie_in_file_order():
    """Scores are float64: 2**53 and 2**53 + 1 are equal here, so the first in the file ranks first."""
    rng = np.random.default_rng(11)
    kp = person(17, rng)
    far = kp.copy()
    far[:, 0] += 60
    gt = ground_truth([annotation(kp, 1)])
    good_last = evaluate(gt, [prediction(far, 2**53), prediction(kp, 2**53 + 1)], "coco17")
    good_first = evaluate(gt, [prediction(kp, 2**53 + 1), prediction(far, 2**53)], "coco17")
    assert good_first.parts["body"].stats["AP"] == pytest.approx(1.0)
    assert good_last.parts["body"].stats["AP"] < 0.6


@pytest.mark.parametrize("seed", range(4))
def test_parts_dropping_different_predictions_select_their_own_candidates(seed):
    """xtcocotools drops a prediction from a part whose keypoint scores are all 0: with such predictions
    the parts keep different predictions, and each part must still equal the oracle."""
    require_oracle("xtcocotools")
    from halpe_eval.synthetic import SynthOptions, make_dataset

    proto = load_protocol("coco-wholebody")
    gt, preds = make_dataset(seed, "coco-wholebody", SynthOptions(num_images=6, false_positives=3.0))
    rng = np.random.default_rng(seed)
    parts = [p for p in proto.parts if len(proto.parts[p]) < proto.num_keypoints]
    for pred in preds[::2]:  # every other prediction loses one part's scores
        idx = proto.parts[parts[rng.integers(len(parts))]]
        for i in idx:
            pred["keypoints"][3 * i + 2] = 0.0
    ours = evaluate(gt, preds, "coco-wholebody")
    theirs = evaluate_reference(gt, preds, "coco-wholebody")
    for part, stats in ours.stats().items():
        for stat, value in stats.items():
            other = theirs.stats()[part][stat]
            assert (value is None) == (other is None)
            if value is not None:
                assert value == pytest.approx(other, abs=1e-12), (part, stat)


def test_a_threshold_of_one_matches_as_cocoeval_matches_it():
    """cocoeval matches at OKS >= min(t, 1 - 1e-10): with thresholds up to 1.0, a prediction whose OKS lies
    between 1 - 1e-10 and 1 is still matched at 1.0 (pycocotools run with the same thresholds)."""
    import contextlib
    import dataclasses
    import io

    require_oracle("pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from halpe_eval.protocol import cocoeval_range

    rng = np.random.default_rng(0)
    kp = person(17, rng)
    near = kp.copy()
    near[0, 0] += 1e-4  # OKS just below 1, above 1 - 1e-10
    gt = ground_truth([annotation(kp, 1)])
    preds = [prediction(near, 0.9)]
    coco17 = load_protocol("coco17")
    thresholds = cocoeval_range(0.5, 1.0, 0.05)
    proto = dataclasses.replace(coco17, params=dataclasses.replace(coco17.params, oks_thresholds=thresholds))
    ours = evaluate(gt, preds, proto)
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(preds), "keypoints")
        ev.params.iouThrs = np.asarray(thresholds)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.eval["precision"][-1, :, 0, 0, -1].min() > 0.99  # the oracle matches at 1.0
    assert ours.parts["body"].precision[-1, :, 0, 0].tolist() == ev.eval["precision"][-1, :, 0, 0, -1].tolist()
    assert ours.stats()["body"]["AP"] == pytest.approx(ev.stats[0], abs=1e-12)
