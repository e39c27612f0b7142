"""``--slice-by FIELD[=EDGES]`` / ``evaluate(slice_by=...)``: every statistic per image slice.

A slice is re-accumulated from the run's matching (no second OKS pass); each one must equal a
separate run on the GT and predictions of its images alone, for categorical and numeric fields
(images exactly on an edge included), mean rows, and a protocol's own split statistics inside a
slice.  Then the outputs (table, markdown, csv, JSON) and the errors.
"""
import copy
import dataclasses
import json
import re

import numpy as np
import pytest

from halpe_eval import InputError, evaluate
from halpe_eval.slices import parse_slice_by
from halpe_eval.synthetic import make_dataset

from conftest import run_cli
from oracle_cases import case_options


def sliced_case(seed, protocol):
    return make_dataset(seed, protocol, dataclasses.replace(case_options(seed), image_fields=True))


def alone(gt, preds, keep):
    """The GT and predictions of the images whose record passes ``keep``."""
    kept = {image["id"] for image in gt["images"] if keep(image)}
    return (dict(gt, images=[i for i in gt["images"] if i["id"] in kept],
                 annotations=[a for a in gt["annotations"] if a["image_id"] in kept]),
            [p for p in preds if p["image_id"] in kept])


def assert_slice_equals_run_alone(result, name, gt, preds, protocol, keep):
    gt_alone, preds_alone = alone(gt, preds, keep)
    assert gt_alone["images"], name  # the case must exercise the slice
    expected = evaluate(gt_alone, preds_alone, protocol).stats()
    assert result.slices()[name] == expected, name


@pytest.mark.parametrize("seed, protocol", [(s, p) for s in range(3) for p in ("halpe136", "coco-wholebody",
                                                                              "coco17", "halpe26")])
def test_each_scene_slice_equals_a_run_on_its_images_alone(seed, protocol):
    gt, preds = sliced_case(seed, protocol)
    result = evaluate(gt, preds, protocol, slice_by="scene")
    scenes = sorted({image["scene"] for image in gt["images"]})
    assert list(result.slices()) == scenes
    for scene in scenes:
        assert_slice_equals_run_alone(result, scene, gt, preds, protocol, lambda image, s=scene: image["scene"] == s)
    assert result.stats() == evaluate(gt, preds, protocol).stats()  # slicing changes nothing else


@pytest.mark.parametrize("seed, protocol", [(s, p) for s in range(3, 6) for p in ("coco-wholebody", "coco17")])
def test_each_numeric_slice_equals_a_run_on_its_images_alone_edges_included(seed, protocol):
    gt, preds = sliced_case(seed, protocol)
    assert {0.2, 0.8} & {image["crowdIndex"] for image in gt["images"]}
    result = evaluate(gt, preds, protocol, slice_by="crowdIndex=0.2,0.8")
    bounds = {"crowdIndex<0.2": (-np.inf, 0.2), "0.2<=crowdIndex<0.8": (0.2, 0.8), "crowdIndex>=0.8": (0.8, np.inf)}
    assert list(result.slices()) == list(bounds)
    for name, (low, high) in bounds.items():
        assert_slice_equals_run_alone(result, name, gt, preds, protocol,
                                      lambda image, lo=low, hi=high: lo <= image["crowdIndex"] < hi)


def test_a_protocol_split_statistic_inside_a_slice_is_taken_on_both():
    gt, preds = sliced_case(8, "crowdpose")
    result = evaluate(gt, preds, "crowdpose", slice_by="scene")
    for scene in result.slices():
        assert_slice_equals_run_alone(result, scene, gt, preds, "crowdpose", lambda image, s=scene: image["scene"] == s)


def test_the_matching_is_computed_once(monkeypatch):
    import halpe_eval.pipeline as pipeline

    gt, preds = sliced_case(1, "coco17")
    calls = []
    original = pipeline.pair_oks
    monkeypatch.setattr(pipeline, "pair_oks", lambda *a, **k: calls.append(1) or original(*a, **k))
    evaluate(gt, preds, "coco17", slice_by="scene")
    assert len(calls) == 1


def test_an_empty_numeric_slice_is_undefined():
    gt, preds = sliced_case(2, "coco17")
    result = evaluate(gt, preds, "coco17", slice_by="crowdIndex=2")
    assert set(result.slices()["crowdIndex>=2"]["body"].values()) == {None}
    assert result.slices()["crowdIndex<2"] == result.stats()


@pytest.mark.parametrize("text, message", [
    ("", r"name an images\[\] field"),
    ("crowdIndex=a,b", "the edges must be numbers"),
    ("crowdIndex=0.8,0.2", "the edges must be finite and increasing"),
    ("crowdIndex=0.2,inf", "the edges must be finite and increasing"),
])
def test_bad_slice_specs_are_refused(text, message):
    with pytest.raises(InputError, match=message):
        parse_slice_by(text)


def test_images_without_the_field_or_with_another_kind_of_value_are_refused_naming_them():
    gt, preds = sliced_case(2, "coco17")
    broken = copy.deepcopy(gt)
    del broken["images"][4]["scene"]
    image_id = broken["images"][4]["id"]
    with pytest.raises(InputError, match=rf"image id {image_id}: nothing in the field 'scene', which --slice-by "
                                         "scene needs on every image"):
        evaluate(broken, preds, "coco17", slice_by="scene")
    broken = copy.deepcopy(gt)
    broken["images"][4]["crowdIndex"] = "high"
    with pytest.raises(InputError, match=rf"image id {image_id}: 'high', not a number, in the field 'crowdIndex'"):
        evaluate(broken, preds, "coco17", slice_by="crowdIndex=0.5")


# ---------------------------------------------------------------- command line and outputs


@pytest.fixture
def files(tmp_path):
    gt, preds = sliced_case(4, "coco-wholebody")
    other = copy.deepcopy(preds)
    for pred in other[::3]:
        pred["score"] = round(1 - pred["score"], 2)
    paths = {name: tmp_path / f"{name}.json" for name in ("gt", "base", "new")}
    for name, data in zip(paths, (gt, preds, other)):
        paths[name].write_text(json.dumps(data))
    return paths, gt, preds


def test_json_has_a_slices_object_of_every_part_and_statistic(files):
    paths, gt, preds = files
    code, out, err = run_cli(paths["gt"], paths["base"], "--slice-by", "scene", "--format", "json", "-q")
    assert code == 0, err
    document = json.loads(out)
    expected = evaluate(gt, preds, slice_by="scene")
    assert document["slices"] == expected.slices()
    assert document["options"] == {"slice_by": "scene"}
    assert set(document["slices"]) == {image["scene"] for image in gt["images"]}


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_tables_have_one_row_group_per_slice(files, fmt):
    paths, gt, preds = files
    code, out, _ = run_cli(paths["gt"], paths["base"], "--slice-by", "crowdIndex=0.2,0.8", "--format", fmt,
                           "--stats", "AP", "-q")
    assert code == 0
    lines = [line for line in out.splitlines() if "body" in re.split(r"[\s,|]+", line)]
    groups = ["all images", "crowdIndex<0.2", "0.2<=crowdIndex<0.8", "crowdIndex>=0.8"]
    assert len(lines) == 4 and all(group in line for group, line in zip(groups, lines))
    if fmt == "csv":
        expected = evaluate(gt, preds, slice_by="crowdIndex=0.2,0.8").slices()
        assert lines[3] == f"crowdIndex>=0.8,body,{expected['crowdIndex>=0.8']['body']['AP']!r}"
    else:
        assert "slice by crowdIndex=0.2,0.8" in out


def test_comparing_runs_shows_each_slice_with_its_difference(files):
    paths, gt, preds = files
    code, out, _ = run_cli(paths["gt"], paths["base"], paths["new"], "--slice-by", "scene", "--format", "csv",
                           "--stats", "AP", "-q")
    assert code == 0
    rows = [line.split(",") for line in out.splitlines()]
    assert rows[0] == ["images", "part", "base AP", "new AP", "new ΔAP"]
    for images, part, base, new, delta in rows[1:]:
        if base and new:
            assert float(delta) == pytest.approx(float(new) - float(base), abs=1e-12), (images, part)
    assert {r[0] for r in rows[1:]} == {"all images", *(image["scene"] for image in gt["images"])}


def test_slice_by_errors_are_one_line(files):
    paths, _, _ = files
    code, _, err = run_cli(paths["gt"], paths["base"], "--slice-by", "weather")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "nothing in the field 'weather', which --slice-by weather needs on every image" in err
    code, _, err = run_cli(paths["gt"], paths["base"], "--slice-by", "scene", "--backend", "reference")
    assert code == 2 and "--slice-by needs --backend native" in err
