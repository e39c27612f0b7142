"""Differential tests: the native engine against halpecocotools itself, stat by stat, to 1e-9."""
import copy
import dataclasses
import json

import numpy as np
import pytest

from halpe_eval import evaluate, load_protocol
from halpe_eval.oracles import run_oracle
from halpe_eval.protocol import COCO_STAT_NAMES as STAT_NAMES

from conftest import require_oracle, shared_file
from oracle_cases import NUM_CASES, case

HALPE136 = load_protocol("halpe136")  # run_oracle(HALPE136, ...): halpecocotools as published, our part names


@pytest.fixture(autouse=True)
def _oracle():
    require_oracle("halpecocotools.cocoeval")


def assert_same_as_oracle(result, oracle):
    assert set(oracle) == set(result.parts)
    for ours, (precision, recall, stats) in oracle.items():
        part = result.parts[ours]
        for name, value in zip(STAT_NAMES, stats):
            got = part.stats[name]
            if value == -1:
                assert got is None, (ours, name, got)
            else:
                assert got == pytest.approx(value, abs=1e-9), (ours, name)
        np.testing.assert_allclose(part.precision, precision, atol=1e-9, err_msg=ours)
        np.testing.assert_allclose(part.recall, recall, atol=1e-9, err_msg=ours)


@pytest.mark.parametrize("seed", range(NUM_CASES))
def test_seeded_case_matches_halpecocotools(seed):
    gt, preds = case(seed)
    assert_same_as_oracle(evaluate(gt, preds, "halpe136"), run_oracle(HALPE136, gt, preds))


def _prediction_situations(preds):
    per_image = {}
    for p in preds:
        per_image.setdefault(p["image_id"], []).append(p)
    scores = [p["score"] for p in preds]
    seen = set()
    if max(len(v) for v in per_image.values()) > 20:
        seen.add("more than 20 predictions in an image")
    if any(len({p["score"] for p in v}) < len(v) for v in per_image.values()):
        seen.add("score tie within an image")
    if len(set(scores)) < len(scores):
        seen.add("score tie across images")
    for p in preds:
        v = np.array(p["keypoints"][2::3])
        if not (v > 0).any():
            seen.add("all keypoint scores 0")
        elif not (v[94:] > 0).any() or not (v[26:94] > 0).any() or not (v[20:26] > 0).any():
            seen.add("one part with scores 0")
        if "bbox" in p:
            seen.add("predictions with bbox")
    return seen


def _gt_situations(gt):
    seen = set()
    for a in gt["annotations"]:
        v = np.array(a["keypoints"][2::3]) > 0
        if a["iscrowd"] and not v.any():
            seen.add("crowd region without keypoints")
        for name, part in (("face", v[26:94]), ("hands", v[94:]), ("feet", v[20:26])):
            if v.any() and not part.any():
                seen.add(f"unlabelled {name}")
        seen.add("small" if a["area"] < 32**2 else "medium" if a["area"] < 96**2 else "large")
    return seen


def test_case_coverage():
    """The seeded cases contain every situation where the conventions bite."""
    seen = set()
    for seed in range(NUM_CASES):
        gt, preds = case(seed)
        gt_images = {a["image_id"] for a in gt["annotations"]}
        pred_images = {p["image_id"] for p in preds}
        seen |= _prediction_situations(preds) | _gt_situations(gt)
        if pred_images - gt_images:
            seen.add("predictions but no GT")
        if gt_images - pred_images:
            seen.add("GT but no predictions")
    assert seen == {
        "more than 20 predictions in an image", "score tie within an image", "score tie across images",
        "all keypoint scores 0", "one part with scores 0", "predictions with bbox",
        "crowd region without keypoints", "unlabelled face", "unlabelled hands", "unlabelled feet",
        "small", "medium", "large", "predictions but no GT", "GT but no predictions",
    }


def test_mmpose_halpe_fixture_matches_halpecocotools():
    gt = json.loads(shared_file("test_halpe.json").read_text())
    rng = np.random.default_rng(7)
    preds = []
    for ann in gt["annotations"]:
        for copy_ in range(2):  # a good and a worse prediction per person
            kps = np.array(ann["keypoints"], dtype=float).reshape(-1, 3)
            kps[:, :2] += rng.normal(0, 2 + 6 * copy_, (len(kps), 2))
            kps[:, 2] = rng.uniform(0, 1, len(kps))
            preds.append({"image_id": ann["image_id"], "category_id": 1,
                          "keypoints": kps.ravel().tolist(), "score": float(rng.uniform())})
    result = evaluate(gt, preds, "halpe136")
    assert_same_as_oracle(result, run_oracle(HALPE136, gt, preds))
    assert result.parts["body"].stats["AP"] > 0.3  # a real, non-degenerate score


# ---- where halpecocotools is buggy: our behaviour, and the oracle's, both pinned down


def test_annotation_id_zero_is_matched_like_any_other():
    gt, preds = case(3)
    ids_from_zero = copy.deepcopy(gt)
    for new_id, ann in enumerate(ids_from_zero["annotations"]):
        ann["id"] = new_id
    ids_from_one = copy.deepcopy(gt)
    for new_id, ann in enumerate(ids_from_one["annotations"], start=1):
        ann["id"] = new_id
    ours = evaluate(ids_from_zero, preds, "halpe136")
    # Correct: renumbering ids cannot change a score; the oracle agrees once no id is 0 ...
    assert_same_as_oracle(ours, run_oracle(HALPE136, ids_from_one, preds))
    # ... and with an id 0 it reads the match as "unmatched": a miss and a false positive.
    buggy = run_oracle(HALPE136, ids_from_zero, preds)
    assert buggy["wholebody"][2][0] < ours.parts["wholebody"].stats["AP"]


def crowd_case():
    from halpe_eval.synthetic import SynthOptions, make_dataset

    return make_dataset(11, "halpe136", SynthOptions(num_images=30, crowd_rate=0.8, crowd_keypoints=True))


def test_crowd_gt_with_keypoints_is_ignored():
    gt, preds = crowd_case()
    assert any(a["iscrowd"] and any(a["keypoints"][2::3]) for a in gt["annotations"])
    marked = copy.deepcopy(gt)
    for ann in marked["annotations"]:
        if ann["iscrowd"]:
            ann["ignore"] = 1
    ours = evaluate(gt, preds, "halpe136")
    assert_same_as_oracle(ours, run_oracle(HALPE136, marked, preds))
    # halpecocotools as published scores crowd regions as people: different numbers.
    raw = run_oracle(HALPE136, gt, preds)
    assert raw["wholebody"][2][5] != pytest.approx(ours.parts["wholebody"].stats["AR"], abs=1e-9)


def test_crowd_switch_off_reproduces_halpecocotools_exactly():
    gt, preds = crowd_case()
    as_published = dataclasses.replace(load_protocol("halpe136"), crowd_ignored=False)
    assert_same_as_oracle(evaluate(gt, preds, as_published), run_oracle(HALPE136, gt, preds))


def test_empty_predictions_score_zero_where_halpecocotools_crashes():
    gt, _ = case(0)
    with pytest.raises(IndexError):
        run_oracle(HALPE136, gt, [])
    result = evaluate(gt, [], "halpe136")
    for part in result.parts.values():
        assert part.stats["AP"] == 0.0 and part.stats["AR"] == 0.0
    assert any("no predictions" in w for w in result.warnings)
