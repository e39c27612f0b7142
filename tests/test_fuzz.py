"""Property-based robustness: hostile inputs end in a result or in one error line, never a traceback.

CI runs a few hundred examples.  A longer campaign:

    HALPE_EVAL_FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz.py -q

(hypothesis keeps failing examples in .hypothesis/ and replays them first next time).
"""
import copy
import json
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from halpe_eval.synthetic import SynthOptions, make_dataset

from conftest import run_cli as run

EXAMPLES = int(os.environ.get("HALPE_EVAL_FUZZ_EXAMPLES", "100"))
FUZZ = settings(max_examples=EXAMPLES, deadline=10_000, suppress_health_check=list(HealthCheck))

GT, PREDS = make_dataset(3, "halpe136", SynthOptions(num_images=3, max_people=2, false_positives=1))
PRED_FIELDS = ["image_id", "category_id", "keypoints", "score", "bbox"]
GT_FIELDS = ["id", "image_id", "category_id", "keypoints", "area", "bbox", "iscrowd", "num_keypoints", "ignore"]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([0, -1, 2**63 - 1, 2**63, -(2**63) - 1, 2**70, 1e308, -0.0, 5e-324])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)
number_lists = st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.integers(-5, 5), max_size=420)


def run_cli(tmp_path, gt_text: str, preds_text: str):
    gt_path, preds_path = tmp_path / "gt.json", tmp_path / "preds.json"
    gt_path.write_text(gt_text)
    preds_path.write_text(preds_text)
    code, out, err = run(gt_path, preds_path, "--format", "json")
    if code == 0:
        doc = json.loads(out)
        assert set(doc["parts"]) == {"body", "foot", "face", "hands", "wholebody"}
        for stats in doc["parts"].values():
            assert all(v is None or 0.0 <= v <= 1.0 for v in stats.values())
    else:
        assert code == 2, out + err
        assert out == ""
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("halpe-eval: error: "), err


@FUZZ
@given(data=st.data())
def test_hostile_prediction_fields(tmp_path_factory, data):
    preds = copy.deepcopy(PREDS)
    for _ in range(data.draw(st.integers(1, 3))):
        record = preds[data.draw(st.integers(0, len(preds) - 1))]
        field = data.draw(st.sampled_from(PRED_FIELDS + ["foot_score", "unicode_\u2603"]))
        action = data.draw(st.sampled_from(["replace", "delete", "numbers"]))
        if action == "delete":
            record.pop(field, None)
        elif action == "numbers":
            record[field] = data.draw(number_lists)
        else:
            record[field] = data.draw(json_values)
    run_cli(tmp_path_factory.mktemp("f"), json.dumps(GT), json.dumps(preds))


@FUZZ
@given(data=st.data())
def test_hostile_ground_truth_fields(tmp_path_factory, data):
    gt = copy.deepcopy(GT)
    section = data.draw(st.sampled_from(["annotations", "images", "categories", "top"]))
    if section == "top":
        gt[data.draw(st.sampled_from(["images", "annotations", "categories"]))] = data.draw(json_values)
    elif gt[section]:
        record = gt[section][data.draw(st.integers(0, len(gt[section]) - 1))]
        field = data.draw(st.sampled_from(GT_FIELDS + ["file_name"]))
        if data.draw(st.booleans()):
            record.pop(field, None)
        else:
            record[field] = data.draw(json_values | number_lists)
    run_cli(tmp_path_factory.mktemp("g"), json.dumps(gt), json.dumps(PREDS))


@FUZZ
@given(data=st.data())
def test_truncated_nested_and_unicode_documents(tmp_path_factory, data):
    preds_text = json.dumps(PREDS)
    kind = data.draw(st.sampled_from(["truncate", "nest", "unicode", "value", "ids"]))
    if kind == "truncate":
        preds_text = preds_text[: data.draw(st.integers(0, len(preds_text) - 1))]
    elif kind == "nest":
        depth = data.draw(st.integers(1, 3000))
        preds_text = "[" * depth + preds_text + "]" * depth
    elif kind == "unicode":
        preds = copy.deepcopy(PREDS)
        for p in preds:
            p["image_id"] = data.draw(st.text(min_size=1, max_size=8))
        preds_text = json.dumps(preds, ensure_ascii=data.draw(st.booleans()))
    elif kind == "ids":
        preds = copy.deepcopy(PREDS)
        for p in preds:
            p["image_id"] = data.draw(st.integers(-(2**70), 2**70))
        preds_text = json.dumps(preds)
    else:
        preds_text = json.dumps(data.draw(json_values))
    run_cli(tmp_path_factory.mktemp("t"), json.dumps(GT), preds_text)
