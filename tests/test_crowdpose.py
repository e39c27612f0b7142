"""CrowdPose as xtcocotools scores it: ``COCOeval(gt, dt, 'keypoints_crowd', sigmas, use_area=False)``.

- Seeded CrowdPose-shaped cases (14 keypoints, GT without ``area``, images with ``crowdIndex``, some
  exactly on the 0.2 / 0.8 edges) against the running oracle: the nine statistics and the whole-set
  PR arrays, to 1e-9.
- The oracle's split AP quirk (the mean of the precision array with its -1 entries, rounded to 4
  places) on cases where it bites: two categories, one absent from a slice; an empty slice.
- The ``*_exact`` statistics equal a run on the slice's images alone.
- The real xtcocoapi demo pair gives faster-coco-eval's published numbers, from the command line.
"""
import copy
import json
from pathlib import Path

import numpy as np
import pytest

from halpe_eval import InputError, evaluate, load_protocol
from halpe_eval.oracles import evaluate_reference, run_oracle
from halpe_eval.synthetic import SynthOptions, make_dataset

from conftest import require_oracle, run_cli
from oracle_cases import case_options

REAL = Path(__file__).resolve().parents[2] / "shared" / "real-data" / "xtcocoapi"
PUBLISHED = [0.7877215935879303, 0.9881188118811886, 0.7314356435643564, 0.8222222222222223, 1.0,
             0.7777777777777778, 1.0, 0.9802, 0.4116]  # faster-coco-eval tests/test_crowdpose.py
SLICES = ("easy", "medium", "hard")


def crowdpose_case(seed):
    import dataclasses

    return make_dataset(seed, "crowdpose", dataclasses.replace(case_options(seed), image_fields=True))


def oracle():
    require_oracle("xtcocotools.cocoeval")
    return load_protocol("crowdpose")


def assert_equals_oracle(result, gt, preds):
    """The oracle's nine statistics (-1: undefined) and its whole-set PR arrays, to 1e-9."""
    precision, recall, stats = run_oracle(result.protocol, gt, preds)["body"]
    ours = result.parts["body"]
    assert len(stats) == 9
    for name, value in zip(result.protocol.params.stat_names, stats):
        got = ours.stats[name]
        assert (got is None) == (value == -1), (name, got, value)
        assert got is None or got == pytest.approx(value, abs=1e-9), (name, got, value)
    np.testing.assert_allclose(ours.precision, precision, atol=1e-9)
    np.testing.assert_allclose(ours.recall, recall, atol=1e-9)


@pytest.mark.parametrize("seed", range(24))
def test_seeded_crowdpose_cases_equal_xtcocotools(seed):
    protocol = oracle()
    gt, preds = crowdpose_case(seed)
    assert all("area" not in ann for ann in gt["annotations"])
    result = evaluate(gt, preds)
    assert result.protocol == protocol  # detected: 14 keypoints
    assert_equals_oracle(result, gt, preds)


def two_categories(gt, preds, images):
    """The people (GT and predictions) of ``images`` moved to a second category."""
    gt = copy.deepcopy(gt)
    gt["categories"].append(dict(gt["categories"][0], id=2, name="other"))
    for record in gt["annotations"] + preds:
        if record["image_id"] in images:
            record["category_id"] = 2
    return gt, preds


@pytest.mark.parametrize("seed", range(6))
def test_the_split_ap_quirk_averages_in_the_minus_ones_of_an_absent_category(seed):
    oracle()
    gt, preds = crowdpose_case(100 + seed)
    hard = {image["id"] for image in gt["images"] if image["crowdIndex"] >= 0.8}
    gt, preds = two_categories(gt, copy.deepcopy(preds), hard)  # category 2 only in the hard slice
    result = evaluate(gt, preds, "crowdpose")
    assert_equals_oracle(result, gt, preds)
    stats = result.parts["body"].stats
    for name in ("easy", "medium"):  # category 2 has no GT there: its -1 entries pull the quirked value down
        if stats[f"AP_{name}_exact"] is not None:
            assert stats[f"AP_{name}"] == round((stats[f"AP_{name}_exact"] - 1) / 2, 4)


def test_an_empty_slice_is_undefined_as_in_the_oracle():
    oracle()
    gt, preds = crowdpose_case(7)
    for image in gt["images"]:
        image["crowdIndex"] = max(image["crowdIndex"], 0.2)
    result = evaluate(gt, preds, "crowdpose")
    assert result.parts["body"].stats["AP_easy"] is None and result.parts["body"].stats["AP_easy_exact"] is None
    assert_equals_oracle(result, gt, preds)


@pytest.mark.parametrize("seed", range(4))
def test_exact_split_statistics_equal_a_run_on_the_slice_alone(seed):
    gt, preds = crowdpose_case(200 + seed)
    stats = evaluate(gt, preds, "crowdpose").parts["body"].stats
    bounds = {"easy": (-np.inf, 0.2), "medium": (0.2, 0.8), "hard": (0.8, np.inf)}
    for name, (low, high) in bounds.items():
        kept = {image["id"] for image in gt["images"] if low <= image["crowdIndex"] < high}
        alone = dict(gt, images=[i for i in gt["images"] if i["id"] in kept],
                     annotations=[a for a in gt["annotations"] if a["image_id"] in kept])
        alone_stats = evaluate(alone, [p for p in preds if p["image_id"] in kept], "crowdpose").parts["body"].stats
        assert stats[f"AP_{name}_exact"] == alone_stats["AP"]
        assert stats[f"AP_{name}"] == (None if alone_stats["AP"] is None else round(alone_stats["AP"], 4))


def test_reference_backend_gives_the_oracle_statistics_and_leaves_the_exact_ones_undefined():
    oracle()
    gt, preds = crowdpose_case(3)
    theirs = evaluate_reference(gt, preds, "crowdpose").parts["body"].stats
    ours = evaluate(gt, preds, "crowdpose").parts["body"].stats
    assert [theirs[f"AP_{name}_exact"] for name in SLICES] == [None] * 3
    for name, value in ours.items():
        if not name.endswith("_exact"):
            assert theirs[name] == pytest.approx(value, abs=1e-9), name


def test_gt_area_is_the_box_area_times_053_and_the_area_field_is_not_read():
    gt, preds = crowdpose_case(5)
    with_areas = copy.deepcopy(gt)
    for ann in with_areas["annotations"]:
        ann["area"] = 1.0  # would change every OKS if it were read
    assert evaluate(with_areas, preds, "crowdpose").stats() == evaluate(gt, preds, "crowdpose").stats()
    ann = gt["annotations"][0]
    from halpe_eval import load_ground_truth

    assert load_ground_truth(gt, "crowdpose").area[0] == ann["bbox"][2] * ann["bbox"][3] * 0.53


def test_an_image_without_crowd_index_is_refused_naming_it():
    gt, preds = crowdpose_case(5)
    del gt["images"][2]["crowdIndex"]
    with pytest.raises(InputError, match=rf"image id {gt['images'][2]['id']}: nothing in the field 'crowdIndex', "
                                         r"which protocol crowdpose \(split 'crowd'\) needs on every image"):
        evaluate(gt, preds, "crowdpose")


@pytest.mark.parametrize("protocol_name", ["coco17", "halpe136"])
def test_gt_without_area_is_refused_with_a_hint_naming_the_protocol_switch(protocol_name):
    gt, preds = make_dataset(1, protocol_name, SynthOptions(num_images=4))
    del gt["annotations"][1]["area"]
    with pytest.raises(InputError, match=r"annotation #1 \(id \d+\): 'area' is missing, expected a number >= 0; "
                                         r".*\"use_area\": false"):
        evaluate(gt, preds, protocol_name)


def shared(path):
    if not path.is_file():
        pytest.skip(f"{path} not present (../shared is only beside the project's own checkouts)")
    return path


def test_the_real_demo_pair_prints_xtcocotools_nine_numbers():
    gt = shared(REAL / "example_crowdpose_val.json")
    preds = shared(REAL / "example_crowdpose_preds.json")
    code, out, err = run_cli(gt, preds, "--protocol", "crowdpose", "--format", "json")
    assert code == 0, err
    stats = json.loads(out)["parts"]["body"]
    assert list(stats.values())[:9] == pytest.approx(PUBLISHED, abs=1e-12)
    code, table, _ = run_cli(gt, preds, "--protocol", "crowdpose")
    assert code == 0 and "78.8    98.8    73.1  82.2   100.0    77.8      100.0         98.0       41.2" in table


def test_the_real_demo_pair_equals_the_running_oracle():
    oracle()
    gt = json.loads(shared(REAL / "example_crowdpose_val.json").read_text())
    preds = json.loads(shared(REAL / "example_crowdpose_preds.json").read_text())
    assert_equals_oracle(evaluate(gt, preds), gt, preds)
    assert evaluate_reference(gt, preds).parts["body"].stats["AP_hard"] == PUBLISHED[-1]


def test_its_statistics_can_be_chosen_and_gated_when_the_protocol_is_detected(tmp_path):
    gt, preds = crowdpose_case(9)
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "p.json").write_text(json.dumps(preds))
    hard = evaluate(gt, preds).parts["body"].stats["AP_hard"]
    code, out, err = run_cli(tmp_path / "gt.json", tmp_path / "p.json", "--stats", "AP,AP_hard", "--format", "csv",
                             "--fail-under", f"body.AP_hard={hard + 0.01}")
    assert code == 1 and out.splitlines()[0] == "part,AP,AP_hard" and "FAIL body.AP_hard" in err
    code, _, err = run_cli(tmp_path / "gt.json", tmp_path / "p.json", "--stats", "APm")
    assert code == 2 and "unknown statistic(s) APm; choose from AP, AP50, AP75, AR, AR50, AR75, AP_easy" in err
    code, out, err = run_cli("-", tmp_path / "p.json", "--stats", "AP_hard", "--format", "csv",
                             stdin=(tmp_path / "gt.json").read_text())  # no head to peek at: checked once read
    assert code == 0 and out.splitlines() == ["part,AP_hard", f"body,{hard!r}"], err
