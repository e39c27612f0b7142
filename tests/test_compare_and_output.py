"""Issue 11, the command line's side: compare headers, deterministic output, options on record, one-line
usage errors, the progress bar, per-keypoint CSV and --top, plots."""
import csv
import io
import json

import numpy as np
import pytest

from halpe_eval import evaluate
from halpe_eval.breakdown import MIN_PAIRS_TO_RANK, weakest_first
from halpe_eval.output import builders
from halpe_eval.output.progress import ProgressBar
from halpe_eval.protocol import load_protocol
from halpe_eval.results import EvalResult, PartResult

from conftest import run_cli as run
from oracle_cases import case

USAGE_HINT = " (see halpe-eval --help)"


@pytest.fixture
def three_runs(tmp_path, fixture_pair):
    """GT, and three prediction files: the fixture's, one 4 pixels off, and the fixture's in AlphaPose's format."""
    gt, preds_path = fixture_pair
    preds = json.loads(preds_path.read_text())
    worse = [dict(p, keypoints=[v + 4 if i % 3 != 2 else v for i, v in enumerate(p["keypoints"])]) for p in preds]
    file_names = {image["id"]: image["file_name"] for image in json.loads(gt.read_text())["images"]}
    alphapose = [dict(p, image_id=file_names[p["image_id"]]) for p in preds if p["image_id"] in file_names]
    paths = []
    for name, records in (("worse", worse), ("alpha", alphapose)):
        paths.append(tmp_path / f"{name}.json")
        paths[-1].write_text(json.dumps(records))
    return gt, [preds_path, *paths]


def write_json(path, value):
    path.write_text(json.dumps(value))
    return path


def terminal_lines(text):
    """What a terminal shows after ``text``: carriage returns go back to the line's start and overwrite."""
    lines, line, column = [], [], 0
    for char in text:
        if char == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif char == "\r":
            column = 0
        else:
            line[column:column + 1] = [char]
            column += 1
    return lines + ["".join(line).rstrip()]


# ---------------------------------------------------------------- compare mode: header lines, Δ names


def test_compare_prints_a_shared_line_and_one_line_per_run_in_table_and_markdown(three_runs):
    gt, preds = three_runs
    args = (gt, *preds, "--name", "base", "--name", "new", "--name", "alpha", "-q", "--split-hands")
    code, table, _ = run(*args)
    assert code == 0
    expected = ["protocol halpe136 | 12 images | 30 GT people",
                "base: 49 predictions | split hands",
                "new: 49 predictions | split hands",
                "alpha: 49 predictions (AlphaPose results (image_id by file name)) | split hands"]
    assert table.splitlines()[:4] == expected
    assert table.splitlines()[4].split()[0] == "part"
    _, markdown, _ = run(*args, "--format", "markdown")
    assert markdown.split("\n\n")[0] == "\\\n".join(expected)  # hard line breaks, then a blank line
    _, text, _ = run(*args, "--format", "csv")
    assert text.startswith("part,base AP,")  # no header in CSV


def test_every_difference_column_is_named_by_its_run_and_csv_headers_are_unique(three_runs):
    gt, preds = three_runs
    code, text, _ = run(gt, *preds, "--name", "base", "--name", "new", "--name", "alpha", "-q", "--format", "csv")
    header = next(csv.reader(io.StringIO(text)))
    assert code == 0 and len(header) == len(set(header)) == 1 + 4 * 3 + 4 * 2
    assert header[9:13] == ["new ΔAP", "new ΔAP50", "new ΔAP75", "new ΔAR"]
    assert header[-4:] == ["alpha ΔAP", "alpha ΔAP50", "alpha ΔAP75", "alpha ΔAR"]
    _, table, _ = run(gt, *preds, "--name", "base", "--name", "new", "--name", "alpha", "-q")
    assert "new ΔAP" in table and "alpha ΔAR" in table
    _, markdown, _ = run(gt, *preds, "--name", "base", "--name", "new", "--name", "alpha", "-q", "--format", "markdown")
    assert "| new ΔAP |" in markdown.replace("  ", " ").replace("  ", " ")


def test_fail_under_is_documented_as_sparing_the_baseline():
    text = " ".join(run("--help")[1].split())
    assert "every run but the first (the baseline)" in text


def test_fail_under_with_three_runs_gates_the_second_and_third(three_runs):
    gt, preds = three_runs
    worse = evaluate(gt, preds[1]).stats()["wholebody"]["AP"]
    code, _, err = run(gt, preds[1], preds[0], preds[2], "-q", "--fail-under", f"wholebody.AP={worse + 0.01}")
    assert code == 0 and err == ""  # the worse run is the baseline: not gated
    code, _, err = run(gt, preds[0], preds[2], preds[1], "-q", "--fail-under", f"wholebody.AP={worse + 0.01}")
    assert code == 1 and err.splitlines() == [f"FAIL worse: wholebody.AP {worse:.3f} < {worse + 0.01:.3f}"]


# ---------------------------------------------------------------- deterministic output


@pytest.mark.parametrize("fmt", ["markdown", "csv", "json", "table"])
def test_output_is_the_same_bytes_every_time(three_runs, tmp_path, fmt):
    gt, preds = three_runs
    for args in ((gt, preds[0]), (gt, *preds), (gt, preds[0], "--per-keypoint")):
        first, second = (run(*args, "--format", fmt, "-q", "-o", tmp_path / f"{i}.json") for i in range(2))
        assert first == second and first[0] == 0
        assert (tmp_path / "0.json").read_bytes() == (tmp_path / "1.json").read_bytes()
        assert " s\n" not in first[1] and not first[1].splitlines()[0].endswith(" s")  # no time taken


def test_the_time_is_shown_only_when_asked_for():
    result = EvalResult(load_protocol("coco17"), {}, num_images=3, num_gt=4, num_predictions=5)
    assert builders.header_line(result) == "protocol coco17 | 3 images | 4 GT people | 5 predictions"
    assert builders.header_line(result, seconds=0.031).endswith("| 5 predictions | 0.03 s")
    assert builders.compare_header([result, result], ["a", "b"], seconds=2.0).splitlines() == [
        "protocol coco17 | 3 images | 4 GT people | 2.00 s", "a: 5 predictions", "b: 5 predictions"]


# ---------------------------------------------------------------- singular and plural


@pytest.mark.parametrize("count, expected", [
    (1, "protocol coco17 | 1 image | 1 GT person | 1 prediction"),
    (0, "protocol coco17 | 0 images | 0 GT people | 0 predictions"),
    (1234, "protocol coco17 | 1,234 images | 1,234 GT people | 1,234 predictions"),
])
def test_counts_read_right_in_the_singular_and_the_plural(count, expected):
    result = EvalResult(load_protocol("coco17"), {}, num_images=count, num_gt=count, num_predictions=count)
    assert builders.header_line(result) == expected


# ---------------------------------------------------------------- options on record


def test_sigmas_and_split_hands_are_in_the_header_and_the_json(fixture_pair, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "s.json", [0.05] * 136)
    gt, preds = fixture_pair
    code, out, _ = run(gt, preds, "--sigmas", "s.json", "--split-hands", "--format", "json", "-q")
    options = json.loads(out)["options"]
    assert code == 0 and options["split_hands"] is True and options["sigmas"]["source"] == "s.json"
    sha256 = options["sigmas"]["sha256"]
    assert len(sha256) == 64 and int(sha256, 16) >= 0
    header = run(gt, preds, "--sigmas", "s.json", "--split-hands", "-q")[1].splitlines()[0]
    assert header == f"protocol halpe136 | 12 images | 30 GT people | 49 predictions | split hands | " \
                     f"sigmas s.json (sha256 {sha256[:8]}…)"
    doc = json.loads(run(gt, preds, preds, "--sigmas", "s.json", "--format", "json", "-q")[1])
    assert [r["options"] for r in doc["runs"]] == [{"sigmas": {"source": "s.json", "sha256": sha256}}] * 2
    assert json.loads(run(gt, preds, "--format", "json", "-q")[1])["options"] == {}


def test_option_texts_are_short():
    assert builders.option_text("split_hands", True) == "split hands"
    sigmas = {"source": "<list>", "sha256": "ab" * 32}
    assert builders.option_text("sigmas", sigmas) == "sigmas <list> (sha256 abababab…)"
    assert builders.option_text("protocol_file", "p.toml") == "protocol file p.toml"


# ---------------------------------------------------------------- --split-hands where it adds nothing


@pytest.mark.parametrize("protocol", ["coco17", "halpe26"])
def test_split_hands_without_split_hands_rows_warns(tmp_path, protocol):
    gt_data, preds_data = case(3, protocol)
    gt, preds = write_json(tmp_path / "gt.json", gt_data), write_json(tmp_path / "p.json", preds_data)
    message = f"halpe-eval: warning: --split-hands adds nothing for protocol {protocol}: it has no split-hands rows"
    code, out, err = run(gt, preds, "--split-hands", "--format", "json")
    assert code == 0 and message in err.splitlines()
    assert run(gt, preds, "--split-hands", "-q")[2] == ""
    assert message not in run(gt, preds)[2]


def test_split_hands_with_split_hands_rows_does_not_warn(fixture_pair):
    assert "--split-hands" not in run(*fixture_pair, "--split-hands")[2]


# ---------------------------------------------------------------- usage errors: one line, exit 2


@pytest.mark.parametrize("args, message", [
    (["--name", "a", "--name", "b"], "--name was given 2 time(s) for 1 prediction file(s)"),
    (["--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'table', 'markdown', 'csv', 'json'"),
    (["--stats", "XP"], "Invalid value for '--stats': unknown statistic(s) XP; choose from AP, AP50, AP75, APm, "
                        "APl, AR, AR50, AR75, ARm, ARl"),
    (["--fail-under", "wholebody.AP"], "Invalid value for '--fail-under': 'wholebody.AP' is not PART.STAT=VALUE "
                                       "(e.g. wholebody.AP=0.45 or hands.AP50=30%)"),
    (["--top", "3"], "--top needs --per-keypoint"),
    (["--per-keypoint", "--top", "0"], "Invalid value for '--top': 0 is not in the range x>=1"),
    (["--backend", "reference", "--per-keypoint"],
     "--sigmas, --allow-unknown-images, --per-keypoint and --per-image need --backend native"),
])
def test_usage_errors_are_one_line_with_a_hint(fixture_pair, args, message):
    code, out, err = run(*fixture_pair, *args)
    assert (code, out, err) == (2, "", f"halpe-eval: usage error: {message}{USAGE_HINT}\n")


def test_an_unknown_option_is_one_line_too(fixture_pair):
    code, out, err = run(*fixture_pair, "--frobnicate")  # click's wording (and its "Did you mean") vary by version
    assert code == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("halpe-eval: usage error: No such option") and "--frobnicate" in err
    assert err.endswith(f"{USAGE_HINT}\n")


def test_missing_arguments_are_one_line_too():
    code, out, err = run()
    assert (code, out, err) == (2, "", f"halpe-eval: usage error: Missing argument 'GT.json'{USAGE_HINT}\n")


def test_help_and_version_still_exit_0():
    code, out, err = run("--help")
    assert code == 0 and out.startswith("Usage:") and err == ""
    code, out, err = run("--version")
    assert code == 0 and "version" in out and err == ""


def test_our_own_exit_statuses_pass_through(fixture_pair, tmp_path):
    assert run(fixture_pair[0], tmp_path / "absent.json")[:2] == (2, "")
    assert run(*fixture_pair, "-q", "--fail-under", "wholebody.AP=0.99")[0] == 1
    assert run(*fixture_pair, "-q")[0] == 0


# ---------------------------------------------------------------- progress bar


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_advances_across_runs_and_is_erased():
    stream = FakeTerminal()
    with ProgressBar(stream, runs=2) as bar:
        bar.run(0)("reading predictions", 0.5)
        assert "[#######-" in stream.getvalue() and " 25%  run 1/2: reading predictions" in stream.getvalue()
        bar.run(0)("wholebody", 1.0)
        bar.run(1)("body", 0.4)
        assert terminal_lines(stream.getvalue())[-1].endswith(" 70%  run 2/2: body")
        bar.run(1)("late", 0.1)  # never goes back
        assert " 70%  run 2/2: late" in terminal_lines(stream.getvalue())[-1]
        bar.run(1)("wholebody", 1.0)
        assert "100%" in terminal_lines(stream.getvalue())[-1]
    assert "\n" not in stream.getvalue() and terminal_lines(stream.getvalue()) == [""]  # erased, cursor at 0


def test_progress_bar_stays_off_a_file_and_when_hidden():
    for stream, hidden in ((io.StringIO(), False), (FakeTerminal(), True)):
        with ProgressBar(stream, runs=1, hidden=hidden) as bar:
            bar.run(0)("body", 0.5)
        assert stream.getvalue() == ""


def test_the_command_line_clears_its_bar_before_the_warnings(fixture_pair, monkeypatch):
    class OnATerminal(ProgressBar):
        def __init__(self, stream, runs, hidden=False):
            super().__init__(stream, runs, hidden)
            self.visible = not hidden

    monkeypatch.setattr("halpe_eval.cli.ProgressBar", OnATerminal)
    code, out, err = run(fixture_pair[0], fixture_pair[1], fixture_pair[1], "--format", "json")
    assert code == 0 and "run 2/2" in err and "100%" in err
    shown = terminal_lines(err)
    assert shown[-1] == "" and all(line.startswith("halpe-eval: warning: ") for line in shown[:-1])
    assert run(fixture_pair[0], fixture_pair[1], "-q")[2] == ""


# ---------------------------------------------------------------- per keypoint: CSV, --top, weak


def test_per_keypoint_csv_is_one_table(fixture_pair):
    code, text, _ = run(*fixture_pair, "--per-keypoint", "--format", "csv", "-q")
    rows = list(csv.reader(io.StringIO(text)))
    assert code == 0 and rows[0][:3] == ["#", "keypoint", "part"] and len(rows) == 1 + 136
    code, text, _ = run(*fixture_pair, fixture_pair[1], "--name", "a", "--name", "b", "--per-keypoint",
                        "--format", "csv", "-q")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:3] == ["run", "#", "keypoint"] and len(rows) == 1 + 2 * 136
    assert [r[0] for r in rows[1:]] == ["a"] * 136 + ["b"] * 136
    assert "With --format csv, the per-keypoint table is the output" in " ".join(run("--help")[1].split())


def test_top_shows_the_weakest_keypoints_weakest_first(fixture_pair):
    code, text, _ = run(*fixture_pair, "--per-keypoint", "--top", "5", "--format", "csv", "-q")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert code == 0 and len(rows) == 5
    assert all(int(r["pairs"]) >= MIN_PAIRS_TO_RANK for r in rows)
    similarities = [float(r["similarity"]) for r in rows]
    assert similarities == sorted(similarities)
    every = json.loads(run(*fixture_pair, "--per-keypoint", "--format", "json", "-q")[1])["per_keypoint"]
    assert [r["index"] for r in weakest_first(every)[:5]] == [int(r["#"]) for r in rows]
    top = json.loads(run(*fixture_pair, "--per-keypoint", "--top", "5", "--format", "json", "-q")[1])["per_keypoint"]
    assert top == weakest_first(every)[:5]
    table = run(*fixture_pair, "--per-keypoint", "--top", "5", "-q")[1].split("\n\n")[1].splitlines()
    assert len(table) == 2 + 5 and table[2].split()[0] == rows[0]["#"]


def test_weakest_first_ranks_only_enough_pairs_then_the_rest():
    rows = [{"index": i, "similarity": s, "pairs": n}
            for i, (s, n) in enumerate([(0.9, 20), (0.1, 2), (None, 0), (0.5, MIN_PAIRS_TO_RANK), (0.05, 3)])]
    assert [r["index"] for r in weakest_first(rows)] == [3, 0, 4, 1, 2]


def test_only_keypoints_with_enough_pairs_are_flagged_weak(fixture_pair):
    text = run(*fixture_pair, "--per-keypoint", "--format", "csv", "-q")[1]
    flagged = [r for r in csv.DictReader(io.StringIO(text)) if r["weak"] == "*"]
    assert flagged and all(int(r["pairs"]) >= MIN_PAIRS_TO_RANK for r in flagged)


# ---------------------------------------------------------------- plots


def test_plot_legend_gives_each_curve_its_ap(fixture_pair):
    from halpe_eval.plot import part_curves

    result = evaluate(*fixture_pair)
    stats = result.parts["wholebody"].stats
    labels = [curve.label for curve in part_curves(result, "wholebody")]
    assert labels == [f"OKS 0.50 (AP {100 * stats['AP50']:.1f})", f"OKS 0.75 (AP {100 * stats['AP75']:.1f})",
                      f"mean over OKS .50:.95 (AP {100 * stats['AP']:.1f})"]


def test_plot_ap_of_a_mean_part_is_its_statistic_and_undefined_is_a_dash():
    from halpe_eval.plot import part_curves

    result = evaluate(*case(5, "coco-wholebody"))
    for part, scored in result.parts.items():
        ap = scored.stats["AP"]
        assert part_curves(result, part)[2].label.endswith(f"(AP {100 * ap:.1f})" if ap is not None else "(AP -)")
    params = result.protocol.params
    no_gt = -np.ones((len(params.oks_thresholds), len(params.recall_thresholds), 1, len(params.area_ranges)))
    undefined = EvalResult(result.protocol, {"x": PartResult("x", {}, no_gt, no_gt[:, 0], no_gt)}, 1, 0, 1)
    assert part_curves(undefined, "x")[0].label == "OKS 0.50 (AP -)"


def test_plot_axes_show_zero_and_use_the_okabe_ito_palette(fixture_pair):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from halpe_eval.plot import OKABE_ITO, draw_part

    results = [evaluate(*fixture_pair), evaluate(*fixture_pair)]
    fig, ax = plt.subplots()
    try:
        draw_part(ax, results, ["a", "b"], "body")
        assert ax.get_ylim()[0] < 0 and ax.get_xlim()[0] < 0  # a curve on 0 is drawn above the frame
        assert [line.get_color() for line in ax.get_lines()] == [OKABE_ITO[0]] * 3 + [OKABE_ITO[1]] * 3
        assert all(line.get_marker() not in (None, "None", "") for line in ax.get_lines())
        assert [t.get_text() for t in ax.get_legend().get_texts()][2].startswith("a: mean over OKS .50:.95 (AP ")
    finally:
        plt.close(fig)
