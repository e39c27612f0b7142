"""Mistakes a new user makes, each answered with its likely cause and the fix (issue 11's list)."""
import copy
import json

import pytest

from halpe_eval import InputError, evaluate, load_ground_truth, load_predictions

from oracle_cases import case


@pytest.fixture(scope="module")
def halpe():
    gt, preds = case(4)
    return gt, preds, load_ground_truth(gt)


def refused(preds, gt, fragment):
    with pytest.raises(InputError) as caught:
        load_predictions(preds, gt, name="p.json")
    assert fragment in str(caught.value), str(caught.value)
    return str(caught.value)


def test_a_string_image_id_that_spells_a_gt_id(halpe):
    gt, preds, arrays = halpe
    bad = [dict(preds[0], image_id=str(preds[0]["image_id"]))]
    refused(bad, arrays, f"image_id '{preds[0]['image_id']}' is a string, while the ground truth's image ids are "
                         f"integers ({preds[0]['image_id']} is one): write image ids as numbers")


def test_an_image_id_beyond_int64_is_the_one_named(halpe):
    gt, preds, arrays = halpe
    bad = [preds[0], dict(preds[1], image_id=2**70)]
    refused(bad, arrays, "prediction #1 (image_id 1180591620717411303424): 'image_id' is 1180591620717411303424, "
                         "expected an integer id")


def test_keypoints_written_as_triples(halpe):
    _, preds, arrays = halpe
    flat = preds[0]["keypoints"]
    triples = [dict(preds[0], keypoints=[flat[i : i + 3] for i in range(0, len(flat), 3)])]
    refused(triples, arrays, "'keypoints' is a list of 136 lists, expected 408 (136 keypoints x 3); write the "
                             "[x, y, s] triples as one flat list")


@pytest.mark.parametrize("count, other", [(133, "coco-wholebody"), (17, "coco17"), (26, "halpe26")])
def test_predictions_of_another_skeleton_are_named(halpe, count, other):
    _, preds, arrays = halpe
    bad = [dict(preds[0], keypoints=preds[0]["keypoints"][: 3 * count])]
    refused(bad, arrays, f"{count} keypoints is the skeleton of {other}, not of halpe136")


def test_coco17_predictions_against_coco_wholebody():
    gt, preds = case(4, "coco-wholebody")
    bad = [dict(p, keypoints=p["keypoints"][:51]) for p in preds]
    refused(bad, load_ground_truth(gt), "17 keypoints is the skeleton of coco17, not of coco-wholebody")


def test_an_unknown_category_lists_the_ground_truths(halpe):
    _, preds, arrays = halpe
    refused([dict(preds[0], category_id=7)], arrays, "category_id 7 is not in the ground truth's 'categories' "
                                                      "(their ids: 1)")


def test_results_wrapped_in_an_object(halpe):
    _, preds, arrays = halpe
    refused({"annotations": preds}, arrays, "expected a list of results; a results file is the list of "
                                            "predictions itself: write its 'annotations' list")


def test_swapped_arguments_say_the_ground_truth_comes_first(halpe):
    gt, preds, arrays = halpe
    refused(gt, arrays, "this looks like a ground-truth file: the ground truth comes first (halpe-eval GT.json "
                        "PRED.json)")
    with pytest.raises(InputError, match=r"it looks like a results file: the ground truth comes first"):
        load_ground_truth(preds)


def test_a_gt_without_images_is_blamed_on_the_gt(halpe):
    gt, preds, _ = halpe
    empty = load_ground_truth(dict(gt, images=[]), "halpe136", name="gt.json")
    refused(preds, empty, "gt.json: the ground truth has no 'images', so none of the")


def test_json_lines_are_read_as_a_list(tmp_path, halpe):
    gt, preds, _ = halpe
    lines = tmp_path / "preds.jsonl"
    lines.write_text("".join(json.dumps(p) + "\n" for p in preds))
    assert evaluate(gt, str(lines)).stats() == evaluate(gt, preds).stats()


def test_nan_written_by_python_is_explained(tmp_path, halpe):
    gt, preds, _ = halpe
    bad = copy.deepcopy(preds)
    bad[3]["score"] = float("nan")
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(bad))  # Python writes NaN, which is not JSON
    with pytest.raises(InputError, match=r"JSON has no NaN or Infinity \(Python's json.dump writes them\)"):
        evaluate(gt, str(path))
    lines = tmp_path / "preds.jsonl"
    lines.write_text("".join(json.dumps(p) + "\n" for p in bad))
    with pytest.raises(InputError, match=r"invalid JSON Lines: line 4: .*JSON has no NaN or Infinity"):
        evaluate(gt, str(lines))


def test_json_lines_with_one_record(tmp_path, halpe):
    gt, preds, _ = halpe
    one = [p for p in preds if p["image_id"] == preds[0]["image_id"]][:1]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(one[0]) + "\n")
    assert evaluate(gt, str(path)).stats() == evaluate(gt, one).stats()
