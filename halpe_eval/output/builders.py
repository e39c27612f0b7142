"""Results to tables and to the JSON document: what is shown, never how (the writers decide that).

Values stay raw: fractions in [0, 1], differences of fractions, ``None`` where undefined.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..results import EvalResult, Stats
from .model import Column, KeypointRows, Kind, Report, Table

DEFAULT_COMPARE_STATS = ("AP", "AP50", "AP75", "AR")  # those the protocol has; all of its own if none
WEAK_SHARE = 0.1  # the weakest tenth of keypoints is flagged
PART_COLUMN = Column("part", Kind.TEXT, "left")
KEYPOINT_COLUMNS = (
    Column("#", Kind.COUNT),
    Column("keypoint", Kind.TEXT, "left"),
    Column("part", Kind.TEXT, "left"),
    Column("similarity", Kind.NUMBER),
    Column("sim>=0.5", Kind.NUMBER),
    Column("sim>=0.75", Kind.NUMBER),
    Column("distance/sqrt(area)", Kind.NUMBER),
    Column("pairs", Kind.COUNT),
    Column("weak", Kind.TEXT, "left"),
)


def header_line(result: EvalResult, seconds: float, backend: str = "native") -> str:
    """One line: protocol, backend unless native, counts, the prediction format unless the plain one, time."""
    from ..reading.formats import catch_all

    backend_note = "" if backend == "native" else f" ({backend} backend)"
    shown_format = result.prediction_format
    format_note = "" if shown_format in ("", catch_all().label) else f" ({shown_format})"
    return (
        f"protocol {result.protocol.name}{backend_note} | {result.num_images:,} images | "
        f"{result.num_gt:,} GT people | {result.num_predictions:,} predictions{format_note} | {seconds:.2f} s"
    )


def shown_stats(result: EvalResult, chosen: Sequence[str], comparing: bool) -> tuple[str, ...]:
    """The statistics to show: those chosen, else the protocol's (only the default few when comparing)."""
    if chosen:
        return tuple(chosen)
    names = result.protocol.params.stat_names
    if not comparing:
        return names
    return tuple(s for s in DEFAULT_COMPARE_STATS if s in names) or names


def stats_table(result: EvalResult, stats: Sequence[str], title: str = "") -> Table:
    """Parts as rows, statistics as columns."""
    columns = (PART_COLUMN, *(Column(s, Kind.FRACTION) for s in stats))
    rows = tuple((name, *(part.stats[s] for s in stats)) for name, part in result.parts.items())
    return Table(columns, rows, title)


def differences(result: EvalResult, base: EvalResult) -> dict[str, Stats]:
    """Per part and statistic, ``result`` minus ``base``; None where either is undefined."""
    return {
        part: {stat: _minus(value, base.parts[part].stats[stat]) for stat, value in stats.items()}
        for part, stats in result.stats().items()
    }


def _minus(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else value - base


def compare_table(results: Sequence[EvalResult], names: Sequence[str], stats: Sequence[str]) -> Table:
    """One row per part; a column group per run and, from the second run on, its difference to the first."""
    base = results[0]
    columns = [PART_COLUMN]
    groups: list[dict[str, Stats]] = []  # per column group: part -> statistic -> value
    for i, (name, result) in enumerate(zip(names, results)):
        columns += [Column(f"{name} {s}", Kind.FRACTION) for s in stats]
        groups.append(result.stats())
        if i:
            columns += [Column(f"Δ{s}", Kind.DIFFERENCE) for s in stats]
            groups.append(differences(result, base))
    rows = tuple((part, *(group[part][s] for group in groups for s in stats)) for part in base.parts)
    return Table(tuple(columns), rows)


def keypoint_table(rows: KeypointRows, title: str = "") -> Table:
    """The per-keypoint breakdown; the weakest tenth by similarity is marked '*' and highlighted."""
    weak = _weakest(rows)
    cells = tuple(
        (r["index"], r["name"], r["part"], r["similarity"], r["frac_50"], r["frac_75"], r["distance"], r["pairs"],
         "*" if r["index"] in weak else "")
        for r in rows
    )
    highlighted = frozenset(position for position, r in enumerate(rows) if r["index"] in weak)
    return Table(KEYPOINT_COLUMNS, cells, title, highlighted)


def _weakest(rows: KeypointRows) -> set[int]:
    """Indices of the WEAK_SHARE of keypoints (at least one) with the lowest defined similarity."""
    defined = sorted((r["similarity"], r["index"]) for r in rows if r["similarity"] is not None)
    return {index for _, index in defined[: max(1, int(len(defined) * WEAK_SHARE))]}


def report_tables(report: Report) -> list[Table]:
    """The tables people read, in order: the statistics (one run under its header line, or
    runs side by side), then the per-keypoint breakdown of each run."""
    results, names = report.results, report.names
    comparing = len(results) > 1
    stats = shown_stats(results[0], report.stats, comparing)
    if comparing:
        tables = [compare_table(results, names, stats)]
    else:
        tables = [stats_table(results[0], stats, header_line(results[0], report.seconds, report.backend))]
    for name, rows in zip(names, report.keypoints or ()):
        tables.append(keypoint_table(rows, f"per keypoint ({name})" if comparing else ""))
    return tables


def json_document(report: Report) -> dict[str, Any]:
    """One run's ``to_dict()`` (with ``per_keypoint``), or, comparing, the ``protocol`` and a ``runs`` array of
    named runs, the second on with its ``difference`` to the first; ``version`` once, last, at the top level."""
    results = report.results
    runs = [result.to_dict() for result in results]
    versions = [run.pop("version") for run in runs]
    for run, rows in zip(runs, report.keypoints or ()):
        run["per_keypoint"] = rows
    document = runs[0] if len(runs) == 1 else {"protocol": results[0].protocol.name, "runs": _named_runs(report, runs)}
    document["version"] = versions[0]
    return document


def _named_runs(report: Report, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run's document under its name, without the protocol (said once above)."""
    base = report.results[0]
    named = []
    for i, (name, result, run) in enumerate(zip(report.names, report.results, runs)):
        named_run = {"name": name, **run}
        del named_run["protocol"]
        if i:
            named_run["difference"] = differences(result, base)
        named.append(named_run)
    return named
