"""Protocol data for other benchmarks: image splits, statistics on them, named area-range sets, use_area.

- docs/protocols.md's worked example (an occlusion split by ``images[].max_iou``) runs from its
  file alone and each split AP equals a run on that slice's images;
- every new field is validated with a message naming it.
"""
import dataclasses
from pathlib import Path

import pytest

from halpe_eval import InputError, evaluate, load_protocol
from halpe_eval.protocol import AREA_RANGE_SETS, EvalParams
from halpe_eval.synthetic import make_dataset

from oracle_cases import case_options

DOCS = Path(__file__).resolve().parents[1] / "docs" / "protocols.md"


def test_the_occlusion_example_in_the_protocol_docs_needs_no_code(tmp_path):
    example = DOCS.read_text().split("# coco17-occlusion.toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "coco17-occlusion.toml"
    path.write_text(example)
    gt, preds = make_dataset(6, "coco17", dataclasses.replace(case_options(6), image_fields=True))
    for image in gt["images"]:
        image["max_iou"] = image["crowdIndex"]
    stats = evaluate(gt, preds, str(path)).parts["body"].stats
    coco = evaluate(gt, preds, "coco17", slice_by="max_iou=0.5,0.75")
    assert list(stats) == ["AP", "AP50", "AP_light", "AP_moderate", "AP_heavy"]
    assert stats["AP"] == coco.parts["body"].stats["AP"]
    for name, sliced in zip(("light", "moderate", "heavy"), coco.slices().values()):
        assert stats[f"AP_{name}"] == sliced["body"]["AP"]
        assert stats[f"AP_{name}"] is not None and stats[f"AP_{name}"] != stats["AP"]


def protocol_with(**fields):
    base = {"name": "t", "keypoints": ["a", "b"], "sigmas": [0.1, 0.1], "parts": {"all": [0, 1]}}
    return load_protocol({**base, **fields})


def test_area_ranges_can_name_a_set():
    assert protocol_with(area_ranges="coco-detection", statistics={"APs": {"measure": "AP", "area": "small"}}
                         ).params.area_ranges == AREA_RANGE_SETS["coco-detection"]
    assert protocol_with(area_ranges="coco-keypoints").params == EvalParams()


SPLIT = {"crowd": {"field": "crowdIndex", "edges": [0.2, 0.8], "names": ["easy", "medium", "hard"]}}


@pytest.mark.parametrize("fields, message", [
    ({"area_ranges": "tiny"}, "'area_ranges' must map range names .* or name a set: coco-keypoints"),
    ({"use_area": 0}, "'use_area' must be true or false"),
    ({"image_splits": {"s": {"edges": [1]}}}, r"'image_splits.s' must be \{field, edges, names\}"),
    ({"image_splits": {"s": {"field": "x", "edges": [0.8, 0.2]}}}, "'image_splits.s'.edges must be increasing"),
    ({"image_splits": {"s": {"field": "x", "edges": [0.5], "names": ["a"]}}},
     "'image_splits.s'.names must be 2 distinct names"),
    ({"image_splits": {"s": {"field": "x", "names": ["a"]}}}, "'image_splits.s'.names must be 1 distinct names"),
    ({"image_splits": SPLIT, "statistics": {"E": {"measure": "AP", "area": "all", "split": "other", "slice": "easy"}}},
     r"'statistics.E.split' must name one of the 'image_splits' \(crowd\)"),
    ({"image_splits": SPLIT, "statistics": {"E": {"measure": "AP", "area": "all", "split": "crowd", "slice": "x"}}},
     r"'statistics.E.slice' must name a slice of split 'crowd' \(easy, medium, hard\)"),
    ({"statistics": {"E": {"measure": "AP", "area": "all", "slice": "x"}}},
     r"'statistics.E.split' must name one of the 'image_splits' \(none given\)"),
    ({"statistics": {"E": {"measure": "AP", "area": "all", "average": "median"}}},
     "'statistics.E.average' must be defined or every_entry"),
    ({"statistics": {"E": {"measure": "AP", "area": "all", "digits": -1}}},
     "'statistics.E.digits' must be an integer >= 0"),
])
def test_bad_new_fields_are_refused_naming_them(fields, message):
    with pytest.raises(InputError, match=message):
        protocol_with(**fields)


def test_a_categorical_split_statistic_names_a_value():
    gt, preds = make_dataset(2, "coco17", dataclasses.replace(case_options(2), image_fields=True))
    coco = load_protocol("coco17")
    spec = {"name": "scenes", "keypoints": list(coco.keypoints), "sigmas": list(coco.sigmas),
            "parts": {"body": list(range(17))}, "no_keypoints_rule": "num_keypoints",
            "image_splits": {"scene": {"field": "scene"}},
            "statistics": {"AP": {"measure": "AP", "area": "all"},
                           "AP_street": {"measure": "AP", "area": "all", "split": "scene", "slice": "street"},
                           "AP_moon": {"measure": "AP", "area": "all", "split": "scene", "slice": "moon"}}}
    stats = evaluate(gt, preds, load_protocol(spec)).parts["body"].stats
    assert stats["AP_street"] == evaluate(gt, preds, "coco17", slice_by="scene").slices()["street"]["body"]["AP"]
    assert stats["AP_moon"] is None  # no image has that value
