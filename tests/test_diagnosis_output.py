"""``--diagnose``, its JSON object, ``--plot`` with the fix plots, and the ``--report`` page rendered in Chromium.

The page is opened in headless Chromium (Debian's ``chromium``; .ci/run installs it, and sets
HALPE_EVAL_REQUIRE_CHROMIUM=1 so that a missing browser fails there instead of skipping): the screenshot
must not be blank and the rendered DOM must hold the tables.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from halpe_eval import evaluate
from halpe_eval.diagnosis import STEPS, diagnose

from conftest import run_cli

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def test_diagnose_prints_error_rates_and_ap_after_each_fix(fixture_pair):
    code, out, _ = run_cli(*fixture_pair, "--diagnose", "-q")
    assert code == 0
    assert "body: keypoint errors of 17 matched predictions, overall and the 5 worst keypoints" in out
    assert "area range 'all' is coco-analyze's [32^2, 1e5^2]" in out
    assert "wholebody: parts mostly mirrored" in out
    lines = out.splitlines()
    at = lines.index("after fixing       AP    AP50    AP75    APm    APl")
    assert [line.split()[0] for line in lines[at + 2 : at + 2 + len(STEPS)]] == list(STEPS)
    assert lines[at + 2 + len(STEPS) - 1].split()[1:] == ["100.0"] * 5  # false_negative


def test_json_carries_the_diagnosis_object_as_the_library_gives_it(fixture_pair):
    code, out, _ = run_cli(*fixture_pair, "--diagnose", "--format", "json", "-q")
    assert code == 0
    document = json.loads(out)
    expected = diagnose(evaluate(*fixture_pair)).to_dict()
    assert document["diagnosis"] == json.loads(json.dumps(expected))
    body = document["diagnosis"]["body"]
    assert set(body["keypoint_errors"]) == {"good", "jitter", "inversion", "swap", "miss"}
    assert set(body["ap_after_fix"]["all"]) == set(STEPS)
    assert {"original", "after_fixes"} <= set(body["false_positives"]) and "scoring_errors" in body


def test_compare_runs_diagnoses_each(fixture_pair, tmp_path):
    gt, preds = fixture_pair
    code, out, _ = run_cli(gt, preds, preds, "--name", "a", "--name", "b", "--diagnose", "-q")
    assert code == 0
    assert "a: body: keypoint errors" in out and "b: body: keypoint errors" in out


def test_diagnose_needs_the_native_backend(fixture_pair):
    code, _, err = run_cli(*fixture_pair, "--diagnose", "--backend", "reference")
    assert code == 2 and "--diagnose and --report need the native backend" in err


def test_plot_adds_a_fix_plot_per_part(fixture_pair, tmp_path):
    pytest.importorskip("matplotlib")
    code, _, _ = run_cli(*fixture_pair, "--diagnose", "--plot", tmp_path, "-q")
    assert code == 0
    for part in ("body", "foot", "face", "hands", "wholebody"):
        image = (tmp_path / f"fixes_{part}.png").read_bytes()
        assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 20_000


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("HALPE_EVAL_REQUIRE_CHROMIUM") == "1":
            pytest.fail("chromium is required here (apt-get install -y chromium)")
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    return path


def test_report_page_renders_in_headless_chromium(fixture_pair, tmp_path):
    pytest.importorskip("matplotlib")
    chromium = _chromium()
    page = tmp_path / "report.html"
    code, _, _ = run_cli(*fixture_pair, "--report", page, "-q")
    assert code == 0
    text = page.read_text()
    assert 'src="data:image/png;base64,' in text  # self-contained: plots inline, nothing fetched
    assert 'src="http' not in text and "<link" not in text and "<script" not in text
    flags = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1280,1600", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], check=True, capture_output=True, timeout=120,
                         text=True).stdout
    assert dom.count("<table>") == 1 + 5 * 2 + 1  # scores; per part errors and fixes; whole parts
    assert "Why it scores what it scores" in dom and "jitter" in dom
    from matplotlib.image import imread

    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (1600, 1280)
    assert pixels.std() > 0.05  # not blank
    assert (pixels.reshape(-1, 3) < 0.5).all(axis=1).mean() > 0.005  # dark text and lines are drawn
    assert len(np.unique(pixels.reshape(-1, 3).round(2), axis=0)) > 50  # plots in colour, not one flat tone


def test_the_readme_shows_what_the_command_prints(fixture_pair):
    """README's "Why a model scores what it scores" output block is, line for line, part of the command's output."""
    from conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Why a model scores what it scores", 1)[1].split("\n## ", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    code, out, _ = run_cli(*fixture_pair, "--diagnose", "-q")
    assert code == 0 and shown.strip() in out
