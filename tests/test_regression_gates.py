"""--max-drop (a candidate against its baseline) and --fail-under in compare mode."""
import json

import pytest

from halpe_eval import evaluate
from halpe_eval.gate import MaxDrop, drop_failures, parse_max_drop

from conftest import run_cli as run


def _shifted(tmp_path, fixture_pair, pixels, name):
    """The fixture predictions with every keypoint moved by ``pixels``: worse as ``pixels`` grows."""
    preds = json.loads(fixture_pair[1].read_text())
    for p in preds:
        p["keypoints"] = [v + pixels if i % 3 != 2 else v for i, v in enumerate(p["keypoints"])]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(preds))
    return path


@pytest.fixture
def runs(tmp_path, fixture_pair):
    """GT, then three runs from best to worst, and their wholebody AP."""
    gt, base = fixture_pair
    slight, worse = _shifted(tmp_path, fixture_pair, 1, "slight"), _shifted(tmp_path, fixture_pair, 4, "worse")
    ap = {path.stem: evaluate(gt, path).stats()["wholebody"]["AP"] for path in (base, slight, worse)}
    assert ap["halpe136_preds"] > ap["slight"] > ap["worse"]  # the premise of the tests below
    return gt, base, slight, worse, ap


def test_a_drop_within_the_limit_passes(runs):
    gt, base, slight, _, ap = runs
    allowed = ap["halpe136_preds"] - ap["slight"] + 1e-6
    code, _, err = run(gt, base, slight, "-q", "--max-drop", f"wholebody.AP={allowed}")
    assert code == 0 and err == ""


def test_a_drop_over_the_limit_fails_naming_both_runs(runs):
    gt, base, slight, _, ap = runs
    drop = ap["halpe136_preds"] - ap["slight"]
    code, out, err = run(gt, base, slight, "-q", "--max-drop", f"wholebody.AP={100 * drop - 0.01}%")
    assert code == 1
    assert out.splitlines()[-1].split()[0] == "wholebody"  # results are printed in full first
    assert err.splitlines() == [
        f"FAIL slight vs halpe136_preds: wholebody.AP dropped {drop:.3f} > {drop - 0.0001:.3f} "
        f"({ap['slight']:.3f} < {ap['halpe136_preds']:.3f})"]


def test_a_gain_never_fails_and_the_baseline_is_the_first_run(runs):
    gt, base, _, worse, _ = runs
    code, _, err = run(gt, worse, base, "-q", "--max-drop", "wholebody.AP=0")
    assert code == 0 and err == ""  # the candidate is better than its baseline


def test_every_candidate_is_checked_against_the_first_run(runs):
    gt, base, slight, worse, ap = runs
    between = (ap["halpe136_preds"] - ap["slight"] + ap["halpe136_preds"] - ap["worse"]) / 2
    code, _, err = run(gt, base, slight, worse, "-q", "--max-drop", f"wholebody.AP={between}",
                       "--max-drop", "body.AP50=100%")
    assert code == 1
    assert [line.split(":")[0] for line in err.splitlines()] == ["FAIL worse vs halpe136_preds"]
    code, _, err = run(gt, base, slight, worse, "-q", "--max-drop", "wholebody.AP=0", "--max-drop", "body.AP=0")
    assert code == 1
    assert [line.split(" dropped")[0] for line in err.splitlines()] == [
        "FAIL slight vs halpe136_preds: wholebody.AP", "FAIL slight vs halpe136_preds: body.AP",
        "FAIL worse vs halpe136_preds: wholebody.AP", "FAIL worse vs halpe136_preds: body.AP"]


def test_max_drop_and_fail_under_report_together(runs):
    gt, base, slight, worse, ap = runs
    code, _, err = run(gt, base, slight, worse, "-q", "--max-drop", "wholebody.AP=0",
                       "--fail-under", f"wholebody.AP={ap['slight'] - 1e-6}")
    assert code == 1
    lines = err.splitlines()
    assert lines[0] == f"FAIL worse: wholebody.AP {ap['worse']:.3f} < {ap['slight'] - 1e-6:.3f}"
    assert [line.split(":")[0] for line in lines[1:]] == ["FAIL slight vs halpe136_preds",
                                                          "FAIL worse vs halpe136_preds"]


def test_fail_under_in_compare_mode_gates_every_candidate_but_never_the_baseline(runs):
    gt, base, slight, worse, ap = runs
    bar = (ap["slight"] + ap["worse"]) / 2  # the worst run misses it
    code, _, err = run(gt, worse, base, slight, "-q", "--fail-under", f"wholebody.AP={bar}")
    assert code == 0 and err == ""  # only the baseline misses the bar
    code, _, err = run(gt, base, worse, slight, "-q", "--fail-under", f"wholebody.AP={bar}")
    assert code == 1 and err.splitlines() == [f"FAIL worse: wholebody.AP {ap['worse']:.3f} < {bar:.3f}"]


@pytest.mark.parametrize("args, fragment", [
    (("--max-drop", "wholebody.AP=0.01"), "--max-drop needs a baseline"),
    (("--max-drop", "elbows.AP=0.01", "SECOND"), "'--max-drop': 'elbows.AP=0.01': unknown part 'elbows'"),
    (("--max-drop", "wholebody.mAP=1%", "SECOND"), "unknown statistic 'mAP'"),
    (("--max-drop", "wholebody.AP=-0.01", "SECOND"), "must lie in [0, 1]"),
])
def test_max_drop_usage_errors(fixture_pair, args, fragment):
    args = [fixture_pair[1] if a == "SECOND" else a for a in args]
    code, out, err = run(*fixture_pair, *args)
    assert code == 2 and out == ""
    assert fragment in " ".join(err.split())


def test_drop_failures_in_the_library(runs):
    gt, base, slight, _, ap = runs
    results = [evaluate(gt, base), evaluate(gt, slight)]
    limit = parse_max_drop("wholebody.AP=0.1%")
    assert limit == MaxDrop("wholebody", "AP", 0.001)
    found = drop_failures(results, ["a", "b"], [limit])
    assert [(f.candidate, f.baseline, f.value, f.baseline_value) for f in found] == [
        ("b", "a", ap["slight"], ap["halpe136_preds"])]
    assert drop_failures(results, ["a", "b"], [MaxDrop("wholebody", "AP", 1.0)]) == []


def test_an_undefined_statistic_fails_the_drop_gate(runs):
    gt, base, slight, _, _ = runs
    results = [evaluate(gt, base), evaluate(gt, slight)]
    results[1].parts["wholebody"].stats["AP"] = None
    (failure,) = drop_failures(results, ["a", "b"], [MaxDrop("wholebody", "AP", 1.0)])
    assert str(failure) == "FAIL b vs a: wholebody.AP undefined in b"
