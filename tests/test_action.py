"""The GitHub Action: action.yml maps its inputs to halpe_eval.action, run here as the runner runs it."""
import json
from pathlib import Path

import pytest
import yaml

from halpe_eval import evaluate
from halpe_eval.action import INPUTS, PREFIX, TITLE, command, main

from conftest import shifted_predictions

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def runs(tmp_path, fixture_pair):
    """GT, the fixture predictions (the baseline) and a worse run."""
    return str(fixture_pair[0]), str(fixture_pair[1]), str(shifted_predictions(fixture_pair[1], 4, tmp_path))


def _env(tmp_path, **inputs) -> dict:
    env = {PREFIX + key.upper(): value for key, value in inputs.items()}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    return env


def test_action_yml_is_a_composite_action_that_runs_the_script_with_every_input():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = action["runs"]["steps"][-1]
    assert step["run"] == "python -m halpe_eval.action"
    mapped = {name: value for name, value in step["env"].items()}
    assert set(mapped) == {PREFIX + name for name in INPUTS}
    inputs = set(action["inputs"]) - {"install"}
    assert {f"${{{{ inputs.{name} }}}}" for name in inputs} == set(mapped.values())
    assert {name.upper().replace("-", "_") for name in inputs} == set(INPUTS)
    assert action["inputs"]["gt"]["required"] and action["inputs"]["predictions"]["required"]


def test_passing_gates_write_the_table_to_the_job_summary(tmp_path, runs, capsys):
    gt, base, worse = runs
    ap = evaluate(gt, worse).stats()["wholebody"]["AP"]
    env = _env(tmp_path, gt=gt, baseline=base, predictions=worse, thresholds=f"wholebody.AP={ap / 2:.6f}\n",
               max_drops="wholebody.AP=50%")
    assert main(env) == 0
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert text.startswith(TITLE + "\n\nprotocol halpe136 |") and "**All gates passed.**" in text
    assert "| wholebody " in text and "worse ΔAP" in text
    assert capsys.readouterr().out.strip() == text.split("\n\n", 1)[1].rsplit("\n\n", 1)[0].strip()  # also printed


def test_failing_gates_fail_the_step_and_are_listed(tmp_path, runs):
    gt, base, worse = runs
    env = _env(tmp_path, gt=gt, baseline=base, predictions=worse, thresholds="wholebody.AP=99%\nbody.AP=0.01",
               max_drops="wholebody.AP=0 body.AP=0", names="base new")
    assert main(env) == 1
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "**A gate failed:**" in text
    fails = [line for line in text.splitlines() if line.startswith("- `FAIL")]
    assert [line.split(" ")[2] for line in fails] == ["new:", "new", "new"]
    assert "- `FAIL new vs base: wholebody.AP dropped" in text
    assert main(env) == 1
    assert (tmp_path / "summary.md").read_text(encoding="utf-8").count(TITLE) == 2  # appended, as GitHub expects


def test_bootstrap_input_puts_intervals_and_marks_in_the_summary(tmp_path, runs):
    gt, base, worse = runs
    out = tmp_path / "scores.json"
    env = _env(tmp_path, gt=gt, baseline=base, predictions=worse, bootstrap="200", json=str(out))
    assert main(env) == 0
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "[95% intervals: bootstrap over images, 200 resamples, seed 0" in text and "▼" in text
    assert "difference_ci" in json.loads(out.read_text())["runs"][1]


def test_an_input_error_is_exit_2_with_the_reason_in_the_summary(tmp_path, runs):
    gt, base, _ = runs
    assert main(_env(tmp_path, gt=gt, predictions=str(tmp_path / "missing.json"))) == 2
    text = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert "**halpe-eval could not score:**" in text and "missing.json" in text
    assert main(_env(tmp_path, gt=gt, predictions="")) == 2  # a required input left empty


def test_inputs_become_one_command_baseline_first_globs_expanded(tmp_path):
    for name in ("run10.json", "run2.json"):
        (tmp_path / name).write_text("[]")
    env = {PREFIX + "GT": "gt.json", PREFIX + "BASELINE": "base.json",
           PREFIX + "PREDICTIONS": f"{tmp_path}/run*.json\n'my preds.json'",
           PREFIX + "THRESHOLDS": "wholebody.AP=0.4", PREFIX + "BOOTSTRAP": "0", PREFIX + "ARGS": "--stats AP"}
    assert command(env) == ["gt.json", "base.json", f"{tmp_path}/run10.json", f"{tmp_path}/run2.json",
                            "my preds.json", "--format", "markdown", "--fail-under", "wholebody.AP=0.4",
                            "--stats", "AP"]


def test_the_readme_workflow_uses_the_action_with_inputs_it_has():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("# .github/workflows/pose-eval.yml\n", 1)[1].split("```", 1)[0]
    workflow = yaml.safe_load(block)
    (step,) = [s for s in workflow["jobs"]["score"]["steps"] if s.get("uses", "").startswith("OWNER/halpe-eval@")]
    inputs = yaml.safe_load((ROOT / "action.yml").read_text())["inputs"]
    assert set(step["with"]) <= set(inputs)
    assert {"gt", "predictions", "baseline", "thresholds", "max-drops", "bootstrap"} <= set(step["with"])


def test_an_unbalanced_quote_names_the_input():
    from halpe_eval.action import command

    with pytest.raises(ValueError, match="input 'max-drops': No closing quotation"):
        command({"HALPE_EVAL_GT": "gt.json", "HALPE_EVAL_PREDICTIONS": "a.json", "HALPE_EVAL_MAX_DROPS": "'x"})
