"""Unit tests of two stages on tiny hand-made inputs: the rules (protocol switches to arrays) and
the input record formats (one adapter per format)."""
import numpy as np
import pytest

from halpe_eval import InputError, load_ground_truth, load_predictions, load_protocol
from halpe_eval.reading.formats import MissingField, format_of, registered
from halpe_eval.rules import gt_ignored, kept_predictions, outside_area, ranking_score

TOY = {
    "name": "toy4",
    "keypoints": ["a", "b", "c", "d"],
    "sigmas": [0.1, 0.1, 0.1, 0.1],
    "parts": {"upper": [0, 1], "lower": [2, 3], "all": [0, 1, 2, 3]},
    "nested_fields": [["keypoints", 2], ["lower_kpts", 2]],
    "part_score_keys": {"lower": "lower_score"},
    "area_ranges": {"all": [0, 1e10], "small": [0, 100], "big": [100, 1e10]},
    "statistics": {"AP": {"measure": "AP", "area": "all"}, "APs": {"measure": "AP", "area": "small"}},
}


def toy(**switches):
    return load_protocol({**TOY, **switches})


def person(keypoints, area=50.0, **fields):
    return {"image_id": 1, "category_id": 1, "keypoints": keypoints, "area": area, "bbox": [0, 0, 10, 10],
            **fields}


def ground_truth(annotations, protocol):
    anns = [dict(a, id=i + 1) for i, a in enumerate(annotations)]
    data = {"images": [{"id": 1, "file_name": "dir/one.jpg"}], "categories": [{"id": 1}], "annotations": anns}
    return load_ground_truth(data, protocol, name="gt")


LABELLED = [1, 1, 2] * 4
UPPER_ONLY = [1, 1, 2, 1, 1, 2, 0, 0, 0, 0, 0, 0]


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize("rule, kept", [("skeleton", [True, False, True]), ("part", [False, False, True]),
                                         ("never", [True, True, True])])
def test_zero_score_drop_follows_the_protocol(rule, kept):
    proto = toy(drop_zero_score=rule)
    gt = ground_truth([person(LABELLED)], proto)
    scores = [[1, 1, 0.5, 1, 1, 0.0, 1, 1, 0, 1, 1, 0],  # upper scored, lower all 0
              [1, 1, 0] * 4,  # every score 0
              [1, 1, 0.2] * 4]
    preds = load_predictions([{"image_id": 1, "category_id": 1, "keypoints": k, "score": 0.5} for k in scores],
                             gt, name="p")
    assert kept_predictions(preds, proto, "lower").tolist() == kept


def test_ranking_score_takes_the_part_field_where_present():
    proto = toy()
    gt = ground_truth([person(LABELLED)], proto)
    records = [{"image_id": 1, "category_id": 1, "keypoints": LABELLED, "score": 0.9, "lower_score": 0.1},
               {"image_id": 1, "category_id": 1, "keypoints": LABELLED, "score": 0.8}]
    preds = load_predictions(records, gt, name="p")
    assert ranking_score(preds, "lower").tolist() == [0.1, 0.8]
    assert ranking_score(preds, "upper").tolist() == [0.9, 0.8]


def test_gt_ignored_by_flag_crowd_missing_part_and_area():
    anns = [person(LABELLED, area=50.0),  # plain, small
            person(LABELLED, area=100.0, ignore=1),  # own flag; area on the shared bound
            person(LABELLED, area=500.0, iscrowd=1),  # crowd, big
            person(UPPER_ONLY, area=500.0)]  # nothing labelled in 'lower'
    honouring = gt_ignored(ground_truth(anns, toy(ignore_field=True)), toy(ignore_field=True), "lower")
    assert honouring.tolist() == [[False, True, True, True],  # all
                                  [False, True, True, True],  # small: 100 is inside [0, 100]
                                  [True, True, True, True]]  # big: 50 is outside, 100 inside but flagged
    overwriting = gt_ignored(ground_truth(anns, toy()), toy(), "lower")
    assert overwriting[0].tolist() == [False, False, True, True]  # the own flag is not read
    crowd_kept = gt_ignored(ground_truth(anns, toy(crowd_ignored=False)), toy(crowd_ignored=False), "upper")
    assert crowd_kept[0].tolist() == [False, False, False, False]


def test_num_keypoints_rule_reads_the_field_where_present():
    proto = toy(no_keypoints_rule="num_keypoints")
    anns = [person(LABELLED, num_keypoints=0), person([0] * 12, num_keypoints=3), person([0] * 12)]
    assert gt_ignored(ground_truth(anns, proto), proto, "all")[0].tolist() == [True, False, True]


def test_area_ranges_are_inclusive_on_both_bounds():
    bounds = outside_area(np.array([0.0, 100.0, 100.5]), toy())
    assert bounds.tolist() == [[False, False, False], [False, False, True], [True, False, False]]


# ---------------------------------------------------------------- record formats


def test_formats_are_offered_by_priority_and_coco_takes_the_rest():
    keys = [f.key for f in registered()]
    assert keys[-1] == "coco" and set(keys) >= {"nested", "alphapose", "coco"}
    proto = toy()
    assert format_of({"image_id": 1, "keypoints": []}, proto).key == "coco"
    assert format_of({"image_id": "one.jpg", "keypoints": []}, proto).key == "alphapose"
    assert format_of({"image_id": "one.jpg", "lower_kpts": []}, proto).key == "nested"


def test_nested_adapter_concatenates_fields_in_skeleton_order():
    proto = toy()
    nested = format_of({"lower_kpts": []}, proto)
    record = {"keypoints": [1, 2, 2, 3, 4, 2], "lower_kpts": [5, 6, 2, 7, 8, 2]}
    assert nested.keypoints(record, proto) == [1, 2, 2, 3, 4, 2, 5, 6, 2, 7, 8, 2]
    assert nested.keypoints({"keypoints": [1, 2, 2, 3, 4, 2], "lower_kpts": [5]}, proto) == MissingField("lower_kpts")


def test_each_format_is_named_in_the_result():
    proto = toy()
    gt = ground_truth([person(LABELLED)], proto)
    flat = {"image_id": 1, "category_id": 1, "keypoints": LABELLED, "score": 1.0}
    by_name = dict(flat, image_id="one.jpg")
    nested = {"image_id": 1, "category_id": 1, "keypoints": LABELLED[:6], "lower_kpts": LABELLED[6:], "score": 1.0}
    assert load_predictions([flat], gt, name="p").format == "COCO results"
    assert load_predictions([flat, by_name], gt, name="p").format.startswith("AlphaPose")
    assert load_predictions([by_name, nested], gt, name="p").format.startswith("COCO-WholeBody")
    assert load_predictions([], gt, name="p").format == "COCO results"
    same = load_predictions([nested], gt, name="p")
    assert np.array_equal(same.keypoints, load_predictions([flat], gt, name="p").keypoints)


def test_a_gt_annotation_is_read_by_the_same_adapters():
    proto = toy()
    nested = person(LABELLED[:6], lower_kpts=LABELLED[6:])
    assert np.array_equal(ground_truth([nested], proto).keypoints, ground_truth([person(LABELLED)], proto).keypoints)
    with pytest.raises(InputError, match=r"gt: annotation #0 \(id 1\): 'keypoints' is incomplete: 'lower_kpts'"):
        ground_truth([person(LABELLED[:6], lower_kpts=[1])], proto)


def test_an_output_needing_a_threshold_the_protocol_lacks_is_an_input_error():
    from halpe_eval import evaluate
    from halpe_eval.breakdown import per_image

    proto = toy(oks_thresholds={"start": 0.6, "stop": 0.9, "step": 0.1},
                statistics={"AP": {"measure": "AP", "area": "all"}})
    gt = {"images": [{"id": 1}], "categories": [{"id": 1}], "annotations": [dict(person(LABELLED), id=1)]}
    result = evaluate(gt, [{"image_id": 1, "category_id": 1, "keypoints": LABELLED, "score": 1.0}], proto,
                      keep_matches=True)
    assert result.parts["all"].stats["AP"] == pytest.approx(1.0)
    with pytest.raises(InputError, match=r"the protocol has no OKS threshold 0.5 \(its thresholds: \[0.6, 0.7"):
        per_image(result)
