"""Inputs found by hand to break earlier versions: each gets one error line (exit 2) or a sound result."""
import copy
import json
import os
import threading

import pytest

from halpe_eval import InputError, evaluate, load_protocol

from conftest import FIXTURES, require_oracle, run_cli as run
from oracle_cases import case
from test_inputs import assert_input_error, write

GT = FIXTURES / "halpe136_gt.json"
PREDS = FIXTURES / "halpe136_preds.json"


def fixture_json(path):
    return json.loads(path.read_text())


def protocol_file(tmp_path, **changes):
    """The built-in halpe136 protocol as a file, with ``changes`` (None deletes a field)."""
    data = json.loads((FIXTURES.parent / "halpe_eval" / "protocols" / "halpe136.json").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return write(tmp_path, "proto.json", data)


# ---------------------------------------------------------------- nothing to score


def test_gt_without_annotations_scores_everything_undefined(tmp_path):
    gt = dict(fixture_json(GT), annotations=[])
    path = write(tmp_path, "gt.json", gt)
    code, out, err = run(path, PREDS, "--protocol", "halpe136", "--format", "json")
    assert code == 0
    assert all(v is None for part in json.loads(out)["parts"].values() for v in part.values())
    assert "no annotation to score; every AP and AR is undefined" in err
    assert_input_error(*run(path, PREDS), "gt.json: no annotations to detect the protocol from")


def test_per_keypoint_without_a_wholebody_part(tmp_path):
    gt, preds = case(2, "coco17")
    code, out, _ = run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds), "--per-keypoint", "-q")
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert [r[1] for r in rows[-17:]] == list(load_protocol("coco17").keypoints)
    assert {r[2] for r in rows[-17:]} == {"body"}


# ---------------------------------------------------------------- protocol files


@pytest.mark.parametrize("changes, fragment", [
    ({"nested_fields": [["keypoints", 136]]}, "'nested_fields' must be two or more [field, count] pairs"),
    ({"nested_fields": [["keypoints", 140], ["feet", -4]]}, "counts > 0 adding up to 136"),
    ({"rows": []}, "'rows' must list names from 'parts' or 'mean_parts'"),
    ({"rows": ["body", "body"]}, "'rows' must not repeat a name"),
    ({"mean_parts": {"body": ["foot", "face"]}}, "'mean_parts' name(s) body are already parts"),
    ({"part_score_keys": {"tail": "tail_score"}}, "'part_score_keys' names unknown part(s) tail"),
    ({"area_keypoints": [True, 1]}, "'area_keypoints' must list distinct keypoint indices"),
    ({"reference": "mycocotools"}, "'reference' must be one of"),
])
def test_protocol_file_mistakes(tmp_path, changes, fragment):
    path = protocol_file(tmp_path, **changes)
    with pytest.raises(InputError, match="proto.json: protocol "):
        load_protocol(str(path))
    assert_input_error(*run(GT, PREDS, "--protocol", path), "proto.json: protocol", fragment)


def test_repeated_keypoint_names_are_refused(tmp_path):
    names = list(load_protocol("halpe136").keypoints)
    names[5] = names[4]
    assert_input_error(*run(GT, PREDS, "--protocol", protocol_file(tmp_path, keypoints=names)),
                       "'keypoints' must not repeat a name")


def test_reference_backend_refuses_a_protocol_file_that_differs(tmp_path):
    require_oracle("halpecocotools.cocoeval")
    wide = protocol_file(tmp_path, sigmas=[0.2] * 136)
    assert_input_error(*run(GT, PREDS, "--protocol", wide, "--backend", "reference"),
                       "--backend reference runs halpecocotools with its own sigmas and conventions")
    same = protocol_file(tmp_path)  # the built-in one, as a file
    assert run(GT, PREDS, "--protocol", same, "--backend", "reference", "-q")[0] == 0


# ---------------------------------------------------------------- command line


def test_standard_input_only_once():
    code, out, err = run(GT, "-", "-", stdin=PREDS.read_text())
    assert code == 2 and out == ""
    assert "standard input ('-') can be read only once" in err


@pytest.mark.parametrize("spec, fragment", [
    ("wholebody.AP=-1", "the value must lie in [0, 1]"),
    ("wholebody.AP=150%", "the value must lie in [0, 1]"),
    ("left_hand.AP=0.1", "left_hand and right_hand need --split-hands"),
    ("AP", "is not PART.STAT=VALUE"),
])
def test_fail_under_mistakes(spec, fragment):
    code, out, err = run(GT, PREDS, "--fail-under", spec)
    assert code == 2 and out == ""
    assert fragment in err


def test_fail_under_takes_exponents():
    assert run(GT, PREDS, "--fail-under", "wholebody.AP=1e-1", "-q")[0] == 0
    assert run(GT, PREDS, "--fail-under", "wholebody.AP=5e-1", "-q")[0] == 1


def test_stats_option_mistakes():
    code, _, err = run(GT, PREDS, "--stats", ",")
    assert code == 2 and "no statistic given" in err
    code, out, _ = run(GT, PREDS, "--stats", "AP,AP", "--format", "csv", "-q")
    assert code == 0 and out.splitlines()[0] == "part,AP"


def test_write_error_names_the_file():
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full here")
    assert_input_error(*run(GT, PREDS, "-q", "-o", "/dev/full"), "/dev/full: cannot write (No space left on device)")


def test_an_internal_error_is_one_line(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("halpe_eval.cli.evaluate", broken)
    code, out, err = run(GT, PREDS)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "halpe-eval: internal error: RuntimeError: boom; please report it with the command line"]


def test_numpy_overflow_notes_stay_off_stderr(tmp_path):
    preds = fixture_json(PREDS)
    preds[0]["keypoints"][0] = 1e39  # beyond float32, where halpe136 takes its differences
    code, _, err = run(GT, write(tmp_path, "p.json", preds), "-q")
    assert code == 0 and err == ""


# ---------------------------------------------------------------- files that are not plain files


def test_not_json_text_fails_at_once():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    assert_input_error(*run("/dev/zero", PREDS), "/dev/zero: not JSON text (it starts with b'\\x00")


@pytest.mark.parametrize("encoding, fragment", [("utf-8-sig", "UTF-8 with a byte-order mark"), ("utf-16", "UTF-16")])
def test_other_encodings_are_named(tmp_path, encoding, fragment):
    path = tmp_path / "gt.json"
    path.write_bytes(GT.read_text().encode(encoding))
    assert_input_error(*run(path, PREDS), f"gt.json: the file is {fragment}; save it as plain UTF-8 JSON")


def test_named_pipes_are_read_like_files(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no named pipes here")
    gt_pipe, preds_pipe = tmp_path / "gt.fifo", tmp_path / "preds.fifo"
    os.mkfifo(gt_pipe)
    os.mkfifo(preds_pipe)

    def feed(pipe, source):
        with open(pipe, "wb") as f:
            f.write(source.read_bytes())

    feeders = [threading.Thread(target=feed, args=a, daemon=True) for a in ((gt_pipe, GT), (preds_pipe, PREDS))]
    for t in feeders:
        t.start()
    code, out, _ = run(gt_pipe, preds_pipe, "--format", "json", "-q")
    assert code == 0
    assert json.loads(out)["parts"] == evaluate(GT, PREDS).stats()


# ---------------------------------------------------------------- records


def run_with_first_image_id(tmp_path, gt, image_id):
    """The CLI on ``gt`` and the fixture predictions, the first of them on ``image_id``."""
    preds = fixture_json(PREDS)
    preds[0]["image_id"] = image_id
    return run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds))


def test_duplicate_file_names_are_ambiguous_for_alphapose_ids(tmp_path):
    gt = fixture_json(GT)
    gt["images"][0]["file_name"] = gt["images"][1]["file_name"] = "same.jpg"
    assert_input_error(*run_with_first_image_id(tmp_path, gt, "same.jpg"),
                       "image_id 'same.jpg' matches several GT images by file name")


def test_an_exact_file_name_beats_a_stem(tmp_path):
    gt = fixture_json(GT)
    gt["images"][0]["file_name"], gt["images"][1]["file_name"] = "a", "a.jpg"
    preds = [dict(p) for p in fixture_json(PREDS) if p["image_id"] == gt["images"][0]["id"]]
    for p in preds:
        p["image_id"] = "a"
    result = evaluate(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds))
    assert set(result.predictions.image_index.tolist()) == {
        list(result.ground_truth.image_ids).index(gt["images"][0]["id"])}


@pytest.mark.parametrize("which", ["gt", "preds"])
def test_numbers_written_as_strings_are_refused(tmp_path, which):
    gt, preds = fixture_json(GT), fixture_json(PREDS)
    record = gt["annotations"][3] if which == "gt" else preds[3]
    record["keypoints"][1] = str(record["keypoints"][1])
    what = "annotation #3" if which == "gt" else "prediction #3"
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds)),
                       what, "'keypoints' holds a value that is not a number")


def test_negative_prediction_box_is_refused(tmp_path):
    preds = fixture_json(PREDS)
    for p in preds:
        p["bbox"] = [0, 0, 50, 80]
    preds[2]["bbox"] = [0, 0, -50, 80]
    assert_input_error(*run(GT, write(tmp_path, "p.json", preds)),
                       "prediction #2", "'bbox' [0, 0, -50, 80] has a negative width or height")


# ---------------------------------------------------------------- the reference backend takes what native takes


def test_reference_backend_fills_what_the_oracles_need(tmp_path):
    require_oracle("halpecocotools.cocoeval")
    gt = fixture_json(GT)
    for ann in gt["annotations"]:
        ann.pop("iscrowd", None)
    path = write(tmp_path, "gt.json", gt)
    native = run(path, PREDS, "--format", "json", "-q")
    reference = run(path, PREDS, "--format", "json", "-q", "--backend", "reference")
    assert native[0] == reference[0] == 0
    assert json.loads(native[1])["parts"] == json.loads(reference[1])["parts"]


def test_reference_backend_treats_null_part_scores_as_absent(tmp_path):
    require_oracle("xtcocotools.cocoeval")
    gt, preds = case(5, "coco-wholebody")
    preds = copy.deepcopy(preds)
    for i, p in enumerate(preds):
        p["foot_score"] = None if i % 2 else 0.5
    native = evaluate(gt, preds)
    from halpe_eval.oracles import evaluate_reference

    assert native.stats() == evaluate_reference(gt, preds).stats()


@pytest.mark.parametrize("sigmas, fragment", [
    ([0.05] * 135, "expected 136 positive numbers for protocol halpe136, got 135 values"),
    ([0.05] * 3 + [-0.05] + [0.05] * 132, "sigma #3 (left_ear) is -0.05, expected a positive number"),
    ([0.05] * 7 + ["0.05"] + [0.05] * 128, 'sigma #7 (left_elbow) is "0.05", expected a positive number'),
])
def test_sigma_mistakes_name_the_entry(tmp_path, sigmas, fragment):
    assert_input_error(*run(GT, PREDS, "--sigmas", write(tmp_path, "s.json", sigmas)), "s.json: " + fragment)


def test_a_partly_nested_record_names_the_missing_field(tmp_path):
    from halpe_eval.oracles import nest

    gt, preds = case(6, "coco-wholebody")
    cwb = load_protocol("coco-wholebody")
    preds = [nest(p, cwb) for p in preds]
    for p in preds:
        p["keypoints"] = p["keypoints"][:51]
    del preds[2]["face_kpts"]
    assert_input_error(*run(write(tmp_path, "gt.json", gt), write(tmp_path, "p.json", preds)),
                       "prediction #2", "'face_kpts' is missing or has the wrong length")


def test_file_name_ids_against_a_gt_without_file_names(tmp_path):
    gt = fixture_json(GT)
    for image in gt["images"]:
        image.pop("file_name", None)
    assert_input_error(*run_with_first_image_id(tmp_path, gt, "000000000102.jpg"),
                       "'000000000102.jpg' is a file name, but the ground truth's images have no 'file_name'")


def test_file_names_match_with_a_directory_prefix(tmp_path):
    gt = fixture_json(GT)
    preds = [dict(p, image_id="some/dir/" + next(i["file_name"] for i in gt["images"] if i["id"] == p["image_id"]))
             for p in fixture_json(PREDS)]
    assert evaluate(GT, write(tmp_path, "p.json", preds)).stats() == evaluate(GT, PREDS).stats()
