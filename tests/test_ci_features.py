"""CI gates, run comparison, per-keypoint and per-image breakdowns, PR plots, progress."""
import csv
import json
import struct
import sys

import numpy as np
import pytest

from halpe_eval import evaluate, load_protocol

from conftest import run_cli as run, shifted_predictions


@pytest.fixture
def worse_preds(tmp_path, fixture_pair):
    """The fixture predictions with every keypoint moved by 4 pixels: a worse run."""
    return shifted_predictions(fixture_pair[1], 4, tmp_path)


# ---------------------------------------------------------------- --fail-under


def test_fail_under_passes_and_fails_with_exit_codes(fixture_pair):
    stats = evaluate(*fixture_pair).stats()
    wb, hands50 = stats["wholebody"]["AP"], stats["hands"]["AP50"]
    code, out, err = run(*fixture_pair, "--fail-under", f"wholebody.AP={wb - 0.01}", "--fail-under",
                         f"hands.AP50={100 * hands50 - 1}%")
    assert code == 0 and err.count("FAIL") == 0
    code, out, err = run(*fixture_pair, "-q", "--fail-under", f"wholebody.AP={wb + 0.01:.4f}",
                         "--fail-under", "hands.AP50=99%", "--fail-under", "body.AR=0.01")
    assert code == 1
    assert out.splitlines()[-1].split()[0] == "wholebody"  # results are printed in full first
    assert err.splitlines() == [
        f"FAIL wholebody.AP {wb:.3f} < {wb + 0.01:.3f}",
        f"FAIL hands.AP50 {hands50:.3f} < 0.990",
    ]


@pytest.mark.parametrize("spec, fragment", [
    ("elbows.AP=0.5", "unknown part 'elbows'; parts: body, foot, face, hands, wholebody"),
    ("wholebody.mAP=0.5", "unknown statistic 'mAP'; statistics: AP, AP50, AP75, APm, APl, AR"),
    ("wholebody.AP", "is not PART.STAT=VALUE"),
    ("wholebody.AP=150%", "must lie in [0, 1]"),
])
def test_fail_under_usage_errors(fixture_pair, spec, fragment):
    code, out, err = run(*fixture_pair, "--fail-under", spec)
    assert code == 2 and out == ""
    assert fragment in " ".join(err.split())


def test_fail_under_undefined_value_fails(tmp_path, fixture_pair):
    gt = json.loads(fixture_pair[0].read_text())
    for ann in gt["annotations"]:
        ann["area"] = 50.0**2 + 100.0**2 if ann["area"] >= 32**2 else ann["area"]  # nobody medium
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(gt))
    code, _, err = run(path, fixture_pair[1], "-q", "--fail-under", "body.APm=0.1")
    assert code == 1 and "FAIL body.APm undefined < 0.100" in err


# ---------------------------------------------------------------- comparing runs


def test_compare_runs_table_and_json(fixture_pair, worse_preds):
    code, out, err = run(fixture_pair[0], fixture_pair[1], worse_preds, "--format", "json", "-q")
    assert code == 0
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]] == ["halpe136_preds", "worse"]
    base, worse = evaluate(*fixture_pair).stats(), evaluate(fixture_pair[0], worse_preds).stats()
    assert doc["runs"][0]["parts"] == base and doc["runs"][1]["parts"] == worse
    assert "difference" not in doc["runs"][0]
    assert doc["runs"][1]["difference"]["wholebody"]["AP"] == pytest.approx(
        worse["wholebody"]["AP"] - base["wholebody"]["AP"])

    code, out, _ = run(fixture_pair[0], fixture_pair[1], worse_preds, "--name", "base", "--name", "new", "-q")
    lines = out.splitlines()
    assert lines[:3] == ["protocol halpe136 | 12 images | 30 GT people", "base: 49 predictions", "new: 49 predictions"]
    assert lines[3].split() == ["part", "base", "AP", "base", "AP50", "base", "AP75", "base", "AR",
                                "new", "AP", "new", "AP50", "new", "AP75", "new", "AR",
                                "new", "ΔAP", "new", "ΔAP50", "new", "ΔAP75", "new", "ΔAR"]
    body = lines[5].split()
    delta = 100 * (worse["body"]["AP"] - base["body"]["AP"])
    assert body[9] == f"{delta:+.1f}" and "\x1b[" not in out  # no colour when not a terminal


def test_compare_markdown_is_plain_and_names_must_match(fixture_pair, worse_preds):
    code, out, _ = run(fixture_pair[0], fixture_pair[1], worse_preds, "--format", "markdown", "-q")
    assert code == 0 and out.startswith("protocol halpe136 |") and "\n\n| part" in out and "\x1b[" not in out
    code, _, err = run(fixture_pair[0], fixture_pair[1], worse_preds, "--name", "only-one")
    assert code == 2 and "--name was given 1 time(s) for 2 prediction file(s)" in err


def test_compare_gates_every_run_but_the_baseline(fixture_pair, worse_preds):
    base = evaluate(*fixture_pair).stats()["wholebody"]["AP"]
    worse = evaluate(fixture_pair[0], worse_preds).stats()["wholebody"]["AP"]
    between = (base + worse) / 2
    code, _, err = run(fixture_pair[0], worse_preds, fixture_pair[1], "-q", "--fail-under", f"wholebody.AP={between}")
    assert code == 0 and err == ""  # the baseline (worse) misses it, the candidate does not
    code, _, err = run(fixture_pair[0], fixture_pair[1], worse_preds, "-q", "--fail-under", f"wholebody.AP={between}")
    assert code == 1 and err.splitlines() == [f"FAIL worse: wholebody.AP {worse:.3f} < {between:.3f}"]
    code, _, err = run(fixture_pair[0], worse_preds, "-q", "--fail-under", f"wholebody.AP={between}")
    assert code == 1 and err.splitlines() == [f"FAIL wholebody.AP {worse:.3f} < {between:.3f}"]  # one run: gated


# ---------------------------------------------------------------- breakdowns on a case with known answers


@pytest.fixture
def known_case(tmp_path):
    """Two images; a perfect prediction except keypoint 0 moved by (3, 4) pixels, and a missed person."""
    proto = load_protocol("halpe136")
    rng = np.random.default_rng(0)
    kps = np.zeros((136, 3))
    kps[:, 0], kps[:, 1], kps[:, 2] = rng.uniform(100, 200, 136), rng.uniform(100, 300, 136), 2
    kps[94:, 2] = 0  # hands not labelled
    ann = {"id": 1, "image_id": 10, "category_id": 1, "iscrowd": 0, "bbox": [100, 100, 100, 200],
           "area": 15000.0, "keypoints": kps.ravel().tolist()}
    other = dict(ann, id=2, image_id=20)
    gt = {"images": [{"id": 10, "file_name": "a.jpg"}, {"id": 20, "file_name": "b.jpg"}],
          "annotations": [ann, other], "categories": [{"id": 1, "name": "person"}]}
    pred = kps.copy()
    pred[0, :2] += (3, 4)
    pred[:, 2] = 0.9
    preds = [{"image_id": 10, "category_id": 1, "keypoints": pred.ravel().tolist(), "score": 0.8}]
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "preds.json").write_text(json.dumps(preds))
    sim0 = np.exp(-25 / (2 * proto.sigmas[0]) ** 2 / (15000.0 + np.spacing(1)) / 2)
    return tmp_path / "gt.json", tmp_path / "preds.json", sim0


def test_per_keypoint_values(known_case):
    gt, preds, sim0 = known_case
    code, out, _ = run(gt, preds, "--per-keypoint", "--format", "json", "-q")
    rows = json.loads(out)["per_keypoint"]
    assert [r["index"] for r in rows] == list(range(136))
    # halpe136 takes coordinates in float32, as halpecocotools: equal to ~1e-6 relative
    approx = lambda v: pytest.approx(v, rel=1e-5)  # noqa: E731
    assert rows[0] == {"index": 0, "name": "nose", "part": "body", "similarity": approx(sim0),
                       "frac_50": 1.0 if sim0 >= 0.5 else 0.0, "frac_75": 1.0 if sim0 >= 0.75 else 0.0,
                       "distance": approx(5 / np.sqrt(15000.0)), "pairs": 1}
    assert rows[1]["similarity"] == 1.0 and rows[1]["distance"] == 0.0
    assert rows[94]["part"] == "hands" and rows[94]["pairs"] == 0 and rows[94]["similarity"] is None
    code, out, _ = run(gt, preds, "--per-keypoint", "-q")
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split()[:3] == ["#", "keypoint", "part"]
    assert table[2].split()[:4] == ["0", "nose", "body", f"{sim0:.3f}"]
    assert "*" not in out  # one pair per keypoint: too few to call any keypoint weak


def test_per_image_csv(known_case, tmp_path):
    gt, preds, _ = known_case
    out_file = tmp_path / "images.csv"
    code, _, _ = run(gt, preds, "--per-image", out_file, "-q")
    assert code == 0
    rows = list(csv.DictReader(out_file.open()))
    body = {r["image_id"]: r for r in rows if r["part"] == "body"}
    assert body["10"] == {"image_id": "10", "file_name": "a.jpg", "part": "body", "gt": "1", "predictions": "1",
                          "matched_50": "1", "matched_75": "1", "mean_oks_50": body["10"]["mean_oks_50"]}
    assert float(body["10"]["mean_oks_50"]) > 0.9
    assert body["20"]["gt"] == "1" and body["20"]["predictions"] == "0" and body["20"]["mean_oks_50"] == ""
    hands = [r for r in rows if r["part"] == "hands"]
    assert all(r["gt"] == "0" for r in hands)  # unlabelled hands are ignored GT
    assert {r["part"] for r in rows} == {"body", "foot", "face", "hands", "wholebody"}


# ---------------------------------------------------------------- plots


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_one_png_per_part(fixture_pair, worse_preds, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "plots"
    code, _, _ = run(fixture_pair[0], fixture_pair[1], worse_preds, "--plot", out_dir, "-q")
    assert code == 0
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == sorted(f"pr_{p}.png" for p in ["body", "foot", "face", "hands", "wholebody"])
    assert all(png_size(out_dir / f) == (640, 480) for f in files)


def test_plot_without_matplotlib_says_how_to_install(fixture_pair, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    code, out, err = run(*fixture_pair, "--plot", tmp_path / "plots", "-q")
    assert code == 2 and out == ""
    assert err.strip() == "halpe-eval: error: --plot needs matplotlib: pip install 'halpe-eval[plot]'"


# ---------------------------------------------------------------- progress and help


def test_no_progress_when_stderr_is_not_a_terminal(fixture_pair):
    code, out, err = run(*fixture_pair, "-q")
    assert code == 0 and err == ""


def test_progress_callback_reaches_one(fixture_pair):
    seen = []
    evaluate(*fixture_pair, progress=lambda stage, fraction: seen.append((stage, fraction)))
    assert seen[0][1] == 0.0 and "loaded" in dict(seen) and seen[-1] == ("wholebody", 1.0)
    assert [f for _, f in seen] == sorted(f for _, f in seen)


def test_help_shows_an_example_for_each_feature():
    text = run("--help")[1]
    for example in ("--fail-under wholebody.AP=0.45", "base.json new.json", "--per-keypoint", "--per-image",
                    "--plot plots/", "--backend reference", "--format json"):
        assert example in text
