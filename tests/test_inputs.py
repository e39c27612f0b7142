"""Inputs people really have, and one clear line for everything else (exit 2, stdout clean)."""
import copy
import gzip
import json

import pytest

from halpe_eval import evaluate

from conftest import run_cli as run
from oracle_cases import case


@pytest.fixture(scope="module")
def pair():
    gt, preds = case(4)
    return gt, preds


def write(tmp_path, name, data, raw=False):
    path = tmp_path / name
    path.write_text(data if raw else json.dumps(data))
    return path


def assert_input_error(code, out, err, *fragments):
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("halpe-eval: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


# ---------------------------------------------------------------- errors, one by one


def test_missing_file(tmp_path, pair):
    gt = write(tmp_path, "gt.json", pair[0])
    assert_input_error(*run(gt, tmp_path / "nope.json"), "nope.json: file not found")


def test_directory_instead_of_file(tmp_path, pair):
    gt = write(tmp_path, "gt.json", pair[0])
    assert_input_error(*run(gt, tmp_path), f"{tmp_path}: is a directory")


def test_invalid_json_names_line_and_column(tmp_path, pair):
    gt = write(tmp_path, "gt.json", pair[0])
    text = json.dumps(pair[1], indent=1).splitlines()
    text[40] = text[40] + " oops"
    preds = write(tmp_path, "preds.json", "\n".join(text), raw=True)
    assert_input_error(*run(gt, preds), "preds.json: invalid JSON", "line 41 column")


@pytest.mark.parametrize("which, value, fragment", [
    ("gt", [], "top level is a JSON array, expected a COCO annotation object"),
    ("preds", {"annotations": []}, "top level is a JSON object, expected a list of results"),
])
def test_top_level_of_the_wrong_type(tmp_path, pair, which, value, fragment):
    gt = write(tmp_path, "gt.json", value if which == "gt" else pair[0])
    preds = write(tmp_path, "preds.json", value if which == "preds" else pair[1])
    assert_input_error(*run(gt, preds), fragment)


@pytest.mark.parametrize("key", ["images", "annotations", "categories"])
def test_gt_without_a_section(tmp_path, pair, key):
    gt = dict(pair[0])
    del gt[key]
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", pair[1])),
                       "gt.json", f"no '{key}' list")


def test_mixed_keypoint_counts(tmp_path, pair):
    preds = copy.deepcopy(pair[1])
    preds[7]["keypoints"] = preds[7]["keypoints"][: 26 * 3]
    code, out, err = run(write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", preds))
    assert_input_error(code, out, err, "p.json: prediction #7", f"image_id {preds[7]['image_id']}",
                       "'keypoints' is 78 numbers, expected 408 (136 keypoints x 3)")


def test_gt_keypoint_length(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    gt["annotations"][3]["keypoints"].append(1)
    aid = gt["annotations"][3]["id"]
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", pair[1])),
                       f"gt.json: annotation #3 (id {aid}): 'keypoints' is 409 numbers, expected 408")


@pytest.mark.parametrize("bad", [None, "1.5x", [1]])
def test_non_numbers_in_keypoints(tmp_path, pair, bad):
    preds = copy.deepcopy(pair[1])
    preds[2]["keypoints"][10] = bad
    assert_input_error(*run(write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", preds)),
                       "p.json: prediction #2")


def test_infinite_numbers(tmp_path, pair):
    text = json.dumps(pair[1]).replace('"score": ', '"score": 1e999, "x": ', 1)
    assert_input_error(*run(write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", text, raw=True)),
                       "p.json: invalid JSON", "infinity")


@pytest.mark.parametrize("score, shown", [(None, "missing"), ("high", "'high'"), (True, "True")])
def test_missing_or_non_numeric_score(tmp_path, pair, score, shown):
    preds = copy.deepcopy(pair[1])
    if score is None:
        del preds[5]["score"]
    else:
        preds[5]["score"] = score
    assert_input_error(*run(write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", preds)),
                       "p.json: prediction #5", f"'score' is {shown}, expected a finite number")


def test_unknown_images_are_listed_and_can_be_dropped(tmp_path, pair):
    preds = copy.deepcopy(pair[1])
    for i, p in enumerate(preds[:8]):
        p["image_id"] = 999000 + i
    gt_path, preds_path = write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", preds)
    assert_input_error(*run(gt_path, preds_path), "p.json: prediction #0: image_id 999000 is not in",
                       "8 unknown: 999000, 999001, 999002, 999003, 999004, ... (8 in all)", "--allow-unknown-images")
    code, out, err = run(gt_path, preds_path, "--allow-unknown-images", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["counts"]["predictions"] == len(preds) - 8
    assert "8 prediction(s) on 8 image(s) not in the ground truth were dropped" in err
    assert doc == json.loads(run(gt_path, write(tmp_path, "q.json", preds[8:]), "--format", "json")[1]) | {
        "warnings": doc["warnings"], "counts": doc["counts"], "options": doc["options"]}


def test_unknown_category(tmp_path, pair):
    preds = copy.deepcopy(pair[1])
    preds[3]["category_id"] = 2
    assert_input_error(*run(write(tmp_path, "gt.json", pair[0]), write(tmp_path, "p.json", preds)),
                       "p.json: prediction #3: category_id 2 is not in the ground truth's 'categories'")


@pytest.mark.parametrize("field, value, fragment", [
    ("area", None, "'area' is missing, expected a number >= 0"),
    ("area", -5.0, "'area' is -5.0, expected a number >= 0"),
    ("bbox", None, "'bbox' is missing, expected [x, y, w, h]"),
    ("bbox", [1, 2, -3, 4], "has a negative or non-finite value"),
])
def test_gt_area_and_bbox(tmp_path, pair, field, value, fragment):
    gt = copy.deepcopy(pair[0])
    ann = gt["annotations"][2]
    if value is None:
        del ann[field]
    else:
        ann[field] = value
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", pair[1])),
                       f"gt.json: annotation #2 (id {ann['id']})", fragment)


def test_duplicate_annotation_ids_that_differ_are_refused_naming_both(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    gt["annotations"][5]["id"] = gt["annotations"][1]["id"]
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", pair[1])),
                       f"gt.json: annotations[1] and annotations[5] both have id {gt['annotations'][1]['id']} "
                       "but differ in", "give each record its own id")


def test_duplicate_image_ids_that_differ_are_refused_naming_both(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    gt["images"].append(dict(gt["images"][3], file_name="another.jpg"))
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", pair[1])),
                       f"gt.json: images[3] and images[{len(gt['images']) - 1}] both have id "
                       f"{gt['images'][3]['id']} but differ in 'file_name'")


def test_nothing_written_to_output_on_error(tmp_path, pair):
    out_file = tmp_path / "scores.json"
    code, _, _ = run(write(tmp_path, "gt.json", pair[0]), tmp_path / "missing.json", "--output", out_file)
    assert code == 2 and not out_file.exists()


# ---------------------------------------------------------------- warnings: legal but surprising


def warnings_of(tmp_path, gt, preds):
    code, out, err = run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds), "--format", "json")
    assert code == 0
    doc = json.loads(out)  # stdout stays pure JSON
    assert doc["counts"]["warnings"] == len(doc["warnings"]) == len(err.splitlines())
    return doc, err


def test_empty_prediction_list_scores_zero(tmp_path, pair):
    doc, err = warnings_of(tmp_path, pair[0], [])
    assert all(part["AP"] == 0 for part in doc["parts"].values())
    assert "no predictions; every AP and AR is 0" in err


def test_num_keypoints_disagreement_is_counted_not_trusted(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    for ann in gt["annotations"]:
        ann["num_keypoints"] = 1000
    doc, err = warnings_of(tmp_path, gt, pair[1])
    assert f"{len(gt['annotations'])} annotation(s) have 'num_keypoints' different" in err
    assert doc["parts"] == evaluate(pair[0], pair[1]).stats()


def test_zero_score_predictions_and_images_without_gt(tmp_path, pair):
    preds = copy.deepcopy(pair[1])
    preds[0]["keypoints"][2::3] = [0] * 136
    gt = copy.deepcopy(pair[0])
    lonely = {"id": 123456789, "file_name": "lonely.jpg"}
    gt["images"].append(lonely)
    preds.append(dict(preds[1], image_id=lonely["id"]))
    doc, err = warnings_of(tmp_path, gt, preds)
    zero = sum(not any(v > 0 for v in p["keypoints"][2::3]) for p in preds)
    assert f"{zero} prediction(s) have every keypoint score 0" in err
    no_gt = {p["image_id"] for p in preds} - {a["image_id"] for a in gt["annotations"]}
    assert lonely["id"] in no_gt
    assert f"{len(no_gt)} image(s) have predictions but no GT annotation" in err


# ---------------------------------------------------------------- accepted forms


def test_gzip_and_stdin(tmp_path, pair):
    gt = write(tmp_path, "gt.json", pair[0])
    def scores(*args, **kw):
        doc = json.loads(run(gt, *args, "--format", "json", **kw)[1])
        return doc["parts"], doc["counts"]

    plain = scores(write(tmp_path, "p.json", pair[1]))
    packed = tmp_path / "p.json.gz"
    packed.write_bytes(gzip.compress(json.dumps(pair[1]).encode()))
    assert scores(packed) == plain
    assert scores("-", stdin=json.dumps(pair[1])) == plain


def test_alphapose_results_by_file_name(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    for img in gt["images"]:
        img["file_name"] = f"val2017/{img['id']:012d}.jpg"
    names = {img["id"]: img["file_name"] for img in gt["images"]}
    preds = copy.deepcopy(pair[1])
    for i, p in enumerate(preds):
        full = names[p["image_id"]]
        p["image_id"] = [full, full.split("/")[1], full.split("/")[1][:-4]][i % 3]
        p["score"] = p["score"] * 3  # AlphaPose scores exceed 1
        p["box"], p["idx"] = [1, 2, 3, 4], [0]
    coco = copy.deepcopy(pair[1])
    for p in coco:
        p["score"] *= 3
    gt_path = write(tmp_path, "gt.json", gt)
    code, out, err = run(gt_path, write(tmp_path, "alphapose.json", preds))
    assert code == 0 and "(AlphaPose results (image_id by file name))" in out.splitlines()[0]
    assert evaluate(gt, preds).stats() == evaluate(gt, coco).stats()


def test_alphapose_ambiguous_file_name(tmp_path, pair):
    gt = copy.deepcopy(pair[0])
    gt["images"][0]["file_name"] = "a/x.jpg"
    gt["images"][1]["file_name"] = "b/x.jpg"
    preds = [dict(pair[1][0], image_id="x.jpg")]
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds)),
                       "p.json: prediction #0: image_id 'x.jpg' matches several GT images by file name")
