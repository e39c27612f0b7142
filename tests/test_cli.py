"""The command line: output formats, backends, exit statuses, stdout/stderr separation."""
import csv
import io
import json
import subprocess
import sys

import pytest

from halpe_eval import evaluate
from halpe_eval.protocol import COCO_STAT_NAMES as STAT_NAMES

from conftest import require_oracle, run_cli as run

PARTS = ["body", "foot", "face", "hands", "wholebody"]


def test_table_has_header_and_a_row_per_part(fixture_pair):
    code, out, err = run(*fixture_pair)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "protocol halpe136 | 12 images | 30 GT people | 49 predictions"  # no time: not a terminal
    assert lines[1].split() == ["part", *STAT_NAMES]
    assert [line.split()[0] for line in lines[3:]] == PARTS
    stats = evaluate(*fixture_pair).parts["wholebody"].stats
    assert lines[-1].split()[1:] == [f"{100 * stats[s]:.1f}" for s in STAT_NAMES]


def test_json_is_one_object_with_fractions(fixture_pair, tmp_path):
    out_file = tmp_path / "scores.json"
    code, out, _ = run(*fixture_pair, "--format", "json", "--output", out_file)
    assert code == 0
    doc = json.loads(out)
    assert doc["protocol"] == "halpe136"
    assert list(doc["parts"]) == PARTS
    expected = evaluate(*fixture_pair).stats()
    assert doc["parts"] == expected
    assert all(0 <= v <= 1 for part in doc["parts"].values() for v in part.values() if v is not None)
    assert json.loads(out_file.read_text()) == doc


def test_undefined_values_are_null_and_dash(tmp_path, fixture_pair):
    gt = json.loads(fixture_pair[0].read_text())
    for ann in gt["annotations"]:  # nobody is medium-sized any more
        ann["area"] = 50.0**2 + 100.0**2 if ann["area"] >= 32**2 else ann["area"]
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    code, out, _ = run(path, fixture_pair[1], "--format", "json")
    assert json.loads(out)["parts"]["body"]["APm"] is None
    code, out, _ = run(path, fixture_pair[1])
    assert out.splitlines()[3].split()[4] == "-"


def test_markdown_and_csv(fixture_pair):
    _, md, _ = run(*fixture_pair, "--format", "markdown")
    assert md.splitlines()[:2] == ["protocol halpe136 | 12 images | 30 GT people | 49 predictions", ""]
    assert md.splitlines()[2].startswith("| part")
    assert md.splitlines()[3].startswith("|---")
    _, text, _ = run(*fixture_pair, "--format", "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["part", *STAT_NAMES]
    expected = evaluate(*fixture_pair).stats()
    assert float(rows[1][1]) == expected["body"]["AP"]


def test_reference_backend_prints_identical_json(fixture_pair):
    require_oracle("halpecocotools.cocoeval")
    native = run(*fixture_pair, "--format", "json")
    reference = run(*fixture_pair, "--format", "json", "--backend", "reference")
    assert native[0] == reference[0] == 0
    assert native[1] == reference[1]


def test_reference_backend_refuses_an_empty_prediction_list(fixture_pair, tmp_path):
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    code, out, err = run(fixture_pair[0], empty, "--backend", "reference")
    assert code == 2 and out == ""
    assert err.splitlines() == [f"halpe-eval: error: {empty}: halpecocotools cannot evaluate an empty prediction "
                                "list; use --backend native"]


def test_warnings_go_to_stderr_only(fixture_pair):
    code, out, err = run(*fixture_pair, "--format", "json")
    json.loads(out)  # stdout is pure JSON
    assert "halpe-eval: warning:" in err and "have every keypoint score 0" in err
    assert run(*fixture_pair, "--format", "json", "-q")[2] == ""


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "file not found"),
        ("{", "invalid JSON"),
        ("[1, 2]", "top level is a JSON array"),
        ('{"images": []}', "no 'annotations' list"),
    ],
)
def test_bad_gt_is_one_line_and_exit_2(tmp_path, fixture_pair, content, fragment):
    path = tmp_path / "gt.json"
    if content is not None:
        path.write_text(content)
    out_file = tmp_path / "out.json"
    code, out, err = run(path, fixture_pair[1], "--output", out_file)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("halpe-eval: error: ") and str(path) in err
    assert fragment in err
    assert not out_file.exists()


def test_bad_prediction_names_file_record_and_fix(tmp_path, fixture_pair):
    preds = json.loads(fixture_pair[1].read_text())
    preds[5]["keypoints"] = preds[5]["keypoints"][:-3]
    path = tmp_path / "preds.json"
    path.write_text(json.dumps(preds))
    code, out, err = run(fixture_pair[0], path)
    assert code == 2 and out == ""
    assert err.strip() == (
        f"halpe-eval: error: {path}: prediction #5 (image_id {preds[5]['image_id']}): "
        "'keypoints' is 405 numbers, expected 408 (136 keypoints x 3)"
    )


def test_unknown_protocol_and_bad_option(fixture_pair):
    code, _, err = run(*fixture_pair, "--protocol", "nope")
    assert code == 2 and "unknown protocol 'nope'" in err
    code, _, err = run(*fixture_pair, "--format", "xml")
    assert code == 2 and err == ("halpe-eval: usage error: Invalid value for '--format': 'xml' is not one of "
                                 "'table', 'markdown', 'csv', 'json' (see halpe-eval --help)\n")


def test_console_script_runs_as_a_process(fixture_pair):
    proc = subprocess.run([sys.executable, "-m", "halpe_eval.cli", *map(str, fixture_pair), "--format", "json", "-q"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["parts"]["wholebody"]["AP"] > 0
