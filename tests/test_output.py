"""The output package on hand-made tables and results: each writer, each table builder, the registry."""
import csv
import io
import json
import re

import numpy as np
import pytest

from halpe_eval.cli import main
from halpe_eval.output import WRITERS, Column, Kind, Report, Table, csv_writer, markdown_writer, text_writer
from halpe_eval.output.builders import (
    compare_table,
    differences,
    header_line,
    json_document,
    keypoint_table,
    report_tables,
    shown_stats,
    stats_table,
)
from halpe_eval.output.people import shown
from halpe_eval.protocol import load_protocol
from halpe_eval.results import EvalResult, PartResult

TOY = load_protocol({
    "name": "toy",
    "keypoints": ["head", "tail"],
    "sigmas": [0.05, 0.1],
    "parts": {"front": [0], "whole": [0, 1]},
    "statistics": {"AP": {"measure": "AP", "area": "all"}, "AR": {"measure": "AR", "area": "all"}},
})
GREEN, RED = "\x1b[32m", "\x1b[31m"


def scored(parts, prediction_format="COCO results", protocol=TOY):
    """An EvalResult with these per-part statistics and no PR arrays."""
    empty = np.zeros(0)
    return EvalResult(
        protocol=protocol,
        parts={name: PartResult(name, stats, empty, empty, empty) for name, stats in parts.items()},
        num_images=1234, num_gt=5, num_predictions=6, warnings=("w1",), prediction_format=prediction_format,
    )


BASE = scored({"front": {"AP": 0.5, "AR": None}, "whole": {"AP": 0.25, "AR": 0.75}})
BETTER = scored({"front": {"AP": 0.5625, "AR": 0.4}, "whole": {"AP": 0.2, "AR": 0.75}})
MIXED = Table(
    columns=(Column("name", Kind.TEXT, "left"), Column("share", Kind.FRACTION), Column("delta", Kind.DIFFERENCE),
             Column("ratio", Kind.NUMBER), Column("n", Kind.COUNT)),
    rows=(("a", 0.123456, 0.0123, 1.23456, 7), ("b", None, None, None, 12), ("c", 1.0, -0.05, 0.1 + 0.2, 0)),
    title="a title",
)


def keypoint_rows(similarities, pairs=12):
    return [{"index": i, "name": f"k{i}", "part": "whole", "similarity": s, "frac_50": s, "frac_75": s,
             "distance": s, "pairs": 0 if s is None else pairs} for i, s in enumerate(similarities)]


# ---------------------------------------------------------------- values for people


@pytest.mark.parametrize("value, kind, text", [
    (0.123456, Kind.FRACTION, "12.3"),
    (1.0, Kind.FRACTION, "100.0"),
    (0.0123, Kind.DIFFERENCE, "+1.2"),
    (-0.05, Kind.DIFFERENCE, "-5.0"),
    (0.0, Kind.DIFFERENCE, "+0.0"),
    (1.23456, Kind.NUMBER, "1.235"),
    (12, Kind.COUNT, "12"),
    ("x", Kind.TEXT, "x"),
] + [(None, kind, "-") for kind in Kind])
def test_people_see_percent_points_and_dashes(value, kind, text):
    assert shown(value, kind) == text


# ---------------------------------------------------------------- writers, one table


def test_table_writer_titles_aligns_and_dashes():
    lines = text_writer.render(MIXED).splitlines()
    assert lines[0] == "a title"
    assert lines[1].split() == ["name", "share", "delta", "ratio", "n"]
    assert set(lines[2].replace(" ", "")) == {"-"}
    assert [line.split() for line in lines[3:]] == [
        ["a", "12.3", "+1.2", "1.235", "7"], ["b", "-", "-", "-", "12"], ["c", "100.0", "-5.0", "0.300", "0"]]
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned columns end together
    assert "\x1b[" not in text_writer.render(MIXED)


def test_table_writer_colours_differences_by_sign_and_highlighted_rows_red():
    table = Table((Column("part", Kind.TEXT, "left"), Column("Δ", Kind.DIFFERENCE)),
                  (("up", 0.02), ("down", -0.02), ("flat", 0.0004), ("none", None), ("weak", 0.5)),
                  highlighted=frozenset({4}))
    up, down, flat, none, weak = text_writer.render(table, colour=True).splitlines()[2:]
    assert f"{GREEN}+2.0" in up and f"{RED}-2.0" in down
    assert "\x1b[" not in flat and "+0.0" in flat  # rounds to no change: not coloured
    assert "\x1b[" not in none
    assert weak.count(RED) == 2 and GREEN not in weak


def test_markdown_writer_is_a_github_table():
    lines = markdown_writer.render(MIXED).splitlines()
    assert lines[:2] == ["a title", ""]  # a paragraph of its own
    assert [c.strip() for c in lines[2].strip("|").split("|")] == ["name", "share", "delta", "ratio", "n"]
    assert re.fullmatch(r"\|(-+\|)+", lines[3])
    assert all(line.startswith("| ") and line.endswith(" |") for line in lines[4:])
    assert [c.strip() for c in lines[5].strip("|").split("|")] == ["b", "-", "-", "-", "12"]


def test_csv_writer_keeps_every_digit_and_leaves_undefined_empty():
    text = csv_writer.render(MIXED)
    assert "a title" not in text and not text.endswith("\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["name", "share", "delta", "ratio", "n"],
                    ["a", "0.123456", "0.0123", "1.23456", "7"],
                    ["b", "", "", "", "12"],
                    ["c", "1.0", "-0.05", "0.30000000000000004", "0"]]


def test_csv_writer_quotes_what_needs_quoting():
    table = Table((Column("name"), Column("v", Kind.FRACTION)), (("a, b", 0.5),))
    assert csv_writer.render(table).splitlines()[1] == '"a, b",0.5'


# ---------------------------------------------------------------- builders


def test_stats_table_holds_raw_fractions():
    table = stats_table(BASE, ("AR", "AP"), title="t")
    assert table.headers == ["part", "AR", "AP"]
    assert [c.kind for c in table.columns] == [Kind.TEXT, Kind.FRACTION, Kind.FRACTION]
    assert table.rows == (("front", None, 0.5), ("whole", 0.75, 0.25))
    assert table.title == "t"


def test_differences_are_signed_and_undefined_where_either_is():
    assert differences(BETTER, BASE) == {"front": {"AP": 0.0625, "AR": None},
                                         "whole": {"AP": pytest.approx(-0.05), "AR": 0.0}}


def test_compare_table_groups_runs_then_differences():
    table = compare_table([BASE, BETTER], ["old", "new"], ("AP",))
    assert table.headers == ["part", "old AP", "new AP", "new ΔAP"]
    assert [c.kind for c in table.columns] == [Kind.TEXT, Kind.FRACTION, Kind.FRACTION, Kind.DIFFERENCE]
    assert table.rows[0] == ("front", 0.5, 0.5625, 0.0625)
    three = compare_table([BASE, BETTER, BASE], ["a", "b", "c"], ("AP", "AR"))
    assert three.headers == ["part", "a AP", "a AR", "b AP", "b AR", "b ΔAP", "b ΔAR", "c AP", "c AR", "c ΔAP", "c ΔAR"]
    assert three.rows[1][-2:] == (0.0, 0.0)


def test_compare_table_shows_signed_points_in_text_and_raw_in_csv():
    table = compare_table([BASE, BETTER], ["old", "new"], ("AP", "AR"))
    assert text_writer.render(table).splitlines()[2].split() == ["front", "50.0", "-", "56.2", "40.0", "+6.2", "-"]
    assert csv_writer.render(table).splitlines()[1] == "front,0.5,,0.5625,0.4,0.0625,"


def test_keypoint_table_flags_the_weakest_tenth_at_least_one():
    rows = keypoint_rows([0.9, None, 0.2, 0.8])
    table = keypoint_table(rows, title="per keypoint (x)")
    assert [r[-1] for r in table.rows] == ["", "", "*", ""]
    assert table.highlighted == frozenset({2})
    assert table.rows[1] == (1, "k1", "whole", None, None, None, None, 0, "")
    assert keypoint_table(keypoint_rows([0.9, 0.2, 0.8], pairs=9)).highlighted == frozenset()  # too few pairs
    many = keypoint_table(keypoint_rows([i / 20 for i in range(20, 0, -1)]))
    assert [r[0] for r in many.rows if r[-1] == "*"] == [18, 19]
    assert keypoint_table(keypoint_rows([None, None])).highlighted == frozenset()


def test_keypoint_table_numbers_have_three_decimals_for_people():
    text = text_writer.render(keypoint_table(keypoint_rows([0.87654])))
    assert text.splitlines()[2].split() == ["0", "k0", "whole", "0.877", "0.877", "0.877", "0.877", "12", "*"]


def test_header_line_names_only_what_is_not_the_default():
    assert header_line(BASE) == "protocol toy | 1,234 images | 5 GT people | 6 predictions"
    assert header_line(BASE, seconds=1.234) == "protocol toy | 1,234 images | 5 GT people | 6 predictions | 1.23 s"
    alphapose = scored({"whole": {"AP": 0.1, "AR": 0.2}}, prediction_format="AlphaPose results")
    assert header_line(alphapose, backend="reference", seconds=0.5) == (
        "protocol toy (reference backend) | 1,234 images | 5 GT people | 6 predictions (AlphaPose results) | 0.50 s")


def test_default_statistics_come_from_the_protocol():
    assert shown_stats(BASE, (), comparing=False) == ("AP", "AR")
    assert shown_stats(BASE, (), comparing=True) == ("AP", "AR")  # the default four, as far as the protocol has them
    assert shown_stats(scored({}, protocol=load_protocol("coco17")), (), comparing=True) == ("AP", "AP50", "AP75", "AR")
    assert shown_stats(BASE, ("AR",), comparing=True) == ("AR",)


def test_report_tables_single_run_under_its_header_line():
    tables = report_tables(Report([BASE], ["base"], seconds=2.0, keypoints=[keypoint_rows([0.5])]))
    assert [t.title for t in tables] == [header_line(BASE, seconds=2.0), ""]
    assert tables[0].headers == ["part", "AP", "AR"]


def test_report_tables_comparing_titles_each_breakdown():
    tables = report_tables(Report([BASE, BETTER], ["a", "b"], keypoints=[keypoint_rows([0.5])] * 2))
    header = "protocol toy | 1,234 images | 5 GT people\na: 6 predictions\nb: 6 predictions"
    assert [t.title for t in tables] == [header, "per keypoint (a)", "per keypoint (b)"]
    assert tables[0].headers == ["part", "a AP", "a AR", "b AP", "b AR", "b ΔAP", "b ΔAR"]


# ---------------------------------------------------------------- whole reports


def test_text_formats_put_a_blank_line_between_tables_and_csv_is_one_table():
    report = Report([BASE], ["base"], keypoints=[keypoint_rows([0.5])])
    assert len(WRITERS["table"](report, False).split("\n\n")) == 2
    assert len(WRITERS["markdown"](report, False).split("\n\n")) == 3  # header paragraph, statistics, keypoints
    assert WRITERS["csv"](report, False).splitlines()[0].startswith("#,keypoint,part,")
    assert "\n\n" not in WRITERS["csv"](report, False)
    assert WRITERS["csv"](Report([BASE], ["base"]), False).splitlines()[0] == "part,AP,AR"


def test_only_the_table_writer_colours():
    report = Report([BASE, BETTER], ["a", "b"])
    assert GREEN in WRITERS["table"](report, True) and RED in WRITERS["table"](report, True)
    assert all("\x1b[" not in WRITERS[fmt](report, True) for fmt in ("markdown", "csv", "json"))


def test_json_single_run_is_its_document_with_version_last():
    doc = json.loads(WRITERS["json"](Report([BASE], ["base"], keypoints=[keypoint_rows([0.5])]), False))
    assert list(doc) == ["protocol", "parts", "counts", "prediction_format", "options", "warnings", "per_keypoint",
                         "version"]
    assert doc["parts"]["front"] == {"AP": 0.5, "AR": None}
    assert doc["per_keypoint"][0]["similarity"] == 0.5


def test_json_compare_names_runs_says_version_once_and_the_difference_from_the_second_run():
    text = WRITERS["json"](Report([BASE, BETTER], ["a", "b"]), False)
    doc = json.loads(text)
    assert list(doc) == ["protocol", "runs", "version"] and text.count('"version"') == 1
    first, second = doc["runs"]
    assert list(first) == ["name", "parts", "counts", "prediction_format", "options", "warnings"]
    assert list(second)[-1] == "difference" and second["name"] == "b"
    assert second["difference"] == json.loads(json.dumps(differences(BETTER, BASE)))
    assert text.startswith('{\n  "protocol": "toy",')  # indented by two


def test_json_refuses_nan():
    broken = scored({"whole": {"AP": float("nan"), "AR": 0.1}})
    with pytest.raises(ValueError):
        WRITERS["json"](Report([broken], ["x"]), False)
    assert json_document(Report([broken], ["x"]))["parts"]["whole"]["AR"] == 0.1


def test_every_registered_format_is_a_format_option():
    assert list(WRITERS) == ["table", "markdown", "csv", "json"]
    fmt = next(p for p in main.params if p.name == "fmt")
    assert list(fmt.type.choices) == list(WRITERS)
