"""Results to tables and to the JSON document: what is shown, never how (the writers decide that).

Values stay raw: fractions in [0, 1], differences of fractions, ``None`` where undefined.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..breakdown import can_rank, weakest_first
from ..results import EvalResult, Stats
from .model import Cell, Column, Estimate, KeypointRows, Kind, Report, Table

if TYPE_CHECKING:
    from ..bootstrap import Bootstrap, Interval, Intervals

DEFAULT_COMPARE_STATS = ("AP", "AP50", "AP75", "AR")  # those the protocol has; all of its own if none
WEAK_SHARE = 0.1  # the weakest tenth of the keypoints that can be ranked is flagged
SHA256_SHOWN = 8  # hex digits of a file's sha256 in the header line (the JSON has all 64)
PART_COLUMN = Column("part", Kind.TEXT, "left")
IMAGES_COLUMN = Column("images", Kind.TEXT, "left")  # with --slice-by: the row group's images
ALL_IMAGES = "all images"
RUN_COLUMN = Column("run", Kind.TEXT, "left")
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


def header_line(result: EvalResult, backend: str = "native", seconds: float | None = None) -> str:
    """One run's line: what the run shares with any other (:func:`shared_header`), then its own (:func:`run_line`)."""
    return f"{shared_header(result, backend)} | {run_line(result)}{_time(seconds)}"


def compare_header(results: Sequence[EvalResult], names: Sequence[str], backend: str = "native",
                   seconds: float | None = None) -> str:
    """Lines above a comparison: the shared line (with the time, when given), then ``name: run line`` per run."""
    return "\n".join([shared_header(results[0], backend, seconds),
                      *(f"{name}: {run_line(result)}" for name, result in zip(names, results))])


def shared_header(result: EvalResult, backend: str = "native", seconds: float | None = None) -> str:
    """Protocol, the backend unless native, the GT's images and people; the time taken only when given
    (the table format on a terminal: every other output is the same bytes for the same inputs)."""
    backend_note = "" if backend == "native" else f" ({backend} backend)"
    return (f"protocol {result.protocol.name}{backend_note} | {_counted(result.num_images, 'image', 'images')} | "
            f"{_counted(result.num_gt, 'GT person', 'GT people')}{_time(seconds)}")


def run_line(result: EvalResult) -> str:
    """The predictions, their format unless plain COCO results, then the run's options, ``|``-separated."""
    from ..reading.formats import catch_all

    shown_format = result.prediction_format
    format_note = "" if shown_format in ("", catch_all().label) else f" ({shown_format})"
    predictions = f"{_counted(result.num_predictions, 'prediction', 'predictions')}{format_note}"
    return " | ".join([predictions, *(option_text(key, value) for key, value in result.options.items())])


def option_text(key: str, value: Any) -> str:
    """An option as people read it: ``split hands``; ``protocol file p.toml``; a table by its source and the
    start of its sha256, ``sigmas s.json (sha256 74288dc1…)``."""
    name = key.replace("_", " ")
    if value is True:
        return name
    if isinstance(value, dict) and {"source", "sha256"} <= value.keys():
        return f"{name} {value['source']} (sha256 {value['sha256'][:SHA256_SHOWN]}…)"
    return f"{name} {value}"


def _counted(count: int, singular: str, plural: str) -> str:
    return f"{count:,} {singular if count == 1 else plural}"


def _time(seconds: float | None) -> str:
    return "" if seconds is None else f" | {seconds:.2f} s"


def shown_stats(result: EvalResult, chosen: Sequence[str], comparing: bool) -> tuple[str, ...]:
    """The statistics to show: those chosen, else the protocol's (only the default few when comparing)."""
    if chosen:
        return tuple(chosen)
    names = result.protocol.params.stat_names
    if not comparing:
        return names
    return tuple(s for s in DEFAULT_COMPARE_STATS if s in names) or names


def row_groups(result: EvalResult) -> dict[str, dict[str, Stats]]:
    """Rows by image group: every image, then each ``--slice-by`` slice; part -> statistic -> value."""
    return {ALL_IMAGES: result.stats(), **result.slices()}


def _lead(result: EvalResult, images: str, part: str) -> tuple[str, ...]:
    """A row's first cells: its image group when the run is sliced, then its part."""
    return (images, part) if result.slices() else (part,)


def _lead_columns(result: EvalResult) -> tuple[Column, ...]:
    return (IMAGES_COLUMN, PART_COLUMN) if result.slices() else (PART_COLUMN,)


def _no_sliced_intervals(result: EvalResult, with_intervals: bool) -> None:
    """The bootstrap covers every image, not the ``--slice-by`` slices (:func:`~halpe_eval.bootstrap.bootstrap`
    refuses sliced runs): a table never mixes rows with and without intervals."""
    if with_intervals and result.slices():
        raise ValueError("bootstrap intervals of --slice-by slices are not computed")


def stats_table(result: EvalResult, stats: Sequence[str], title: str = "", intervals: Intervals | None = None,
                inline: bool = True) -> Table:
    """Parts as rows (one group per image slice with ``--slice-by``), statistics as columns; with ``intervals``
    (``--bootstrap``) each value carries its interval (``inline``: an :class:`Estimate` per cell; else two more
    columns, ``AP low`` and ``AP high``)."""
    _no_sliced_intervals(result, intervals is not None)
    columns = (*_lead_columns(result), *_columns("", stats, Kind.FRACTION, intervals is not None and not inline))
    rows = tuple((*_lead(result, images, name), *_cells(values, stats, None if intervals is None else intervals[name],
                                                         inline))
                 for images, by_part in row_groups(result).items() for name, values in by_part.items())
    return Table(columns, rows, title)


def _columns(prefix: str, stats: Sequence[str], kind: Kind, bounds: bool) -> list[Column]:
    """A column per statistic, followed by its interval's bounds when ``bounds``."""
    return [column for s in stats for column in (
        (Column(f"{prefix}{s}", kind), Column(f"{prefix}{s} low", kind), Column(f"{prefix}{s} high", kind))
        if bounds else (Column(f"{prefix}{s}", kind),))]


def _cells(values: Stats, stats: Sequence[str], intervals: dict[str, Interval] | None, inline: bool) -> list[Cell]:
    """The values of ``stats``, each with its interval when ``intervals`` (see :func:`stats_table`)."""
    if intervals is None:
        return [values[s] for s in stats]
    cells: list[Cell] = []
    for s in stats:
        low, high = intervals[s] or (None, None)
        cells += [Estimate(values[s], low, high)] if inline else [values[s], low, high]
    return cells


def differences(result: EvalResult, base: EvalResult) -> dict[str, Stats]:
    """Per part and statistic, ``result`` minus ``base``; None where either is undefined."""
    return _stats_minus(result.stats(), base.stats())


def _stats_minus(stats: dict[str, Stats], base: dict[str, Stats]) -> dict[str, Stats]:
    return {part: {stat: _minus(value, base[part][stat]) for stat, value in values.items()}
            for part, values in stats.items()}


def _minus(value: float | None, base: float | None) -> float | None:
    return None if value is None or base is None else value - base


def compare_table(results: Sequence[EvalResult], names: Sequence[str], stats: Sequence[str], title: str = "",
                  boot: Bootstrap | None = None, inline: bool = True) -> Table:
    """One row per part (per image slice and part with ``--slice-by``); a column group per run and, from the
    second run on, its difference to the first, named by the run (``new ΔAP``) so that every header is unique;
    with ``boot``, intervals as in :func:`stats_table` (of each run, then of each paired difference)."""
    base = results[0]
    _no_sliced_intervals(base, boot is not None)
    bounds = boot is not None and not inline
    columns = list(_lead_columns(base))
    # per column group: images -> part -> statistic -> value, and the group's intervals (part -> statistic)
    groups: list[tuple[dict[str, dict[str, Stats]], Intervals | None]] = []
    for i, (name, result) in enumerate(zip(names, results)):
        columns += _columns(f"{name} ", stats, Kind.FRACTION, bounds)
        groups.append((row_groups(result), None if boot is None else boot.intervals[i]))
        if i:
            columns += _columns(f"{name} Δ", stats, Kind.DIFFERENCE, bounds)
            groups.append(({images: _stats_minus(by_part, row_groups(base)[images])
                            for images, by_part in row_groups(result).items()},
                           None if boot is None else boot.difference_intervals[i]))
    rows = tuple((*_lead(base, images, part), *(cell for values, intervals in groups for cell in _cells(
        values[images][part], stats, None if intervals is None else intervals[part], inline)))
                 for images in row_groups(base) for part in base.parts)
    return Table(tuple(columns), rows, title)


def keypoint_table(rows: KeypointRows, title: str = "", top: int | None = None) -> Table:
    """The per-keypoint breakdown in skeleton order, or with ``top`` its ``top`` weakest rows, weakest first
    (:func:`~halpe_eval.breakdown.weakest_first`). The weakest tenth of the keypoints that can be ranked is
    marked '*' and highlighted."""
    weak = _weakest(rows)
    shown = rows if top is None else weakest_first(rows)[:top]
    cells = tuple(
        (r["index"], r["name"], r["part"], r["similarity"], r["frac_50"], r["frac_75"], r["distance"], r["pairs"],
         "*" if r["index"] in weak else "")
        for r in shown
    )
    highlighted = frozenset(position for position, r in enumerate(shown) if r["index"] in weak)
    return Table(KEYPOINT_COLUMNS, cells, title, highlighted)


def _weakest(rows: KeypointRows) -> set[int]:
    """Indices of the WEAK_SHARE (at least one) of the rankable keypoints with the lowest similarity."""
    rankable = [r for r in weakest_first(rows) if can_rank(r)]
    return {r["index"] for r in rankable[: max(1, int(len(rankable) * WEAK_SHARE))]}


def report_tables(report: Report) -> list[Table]:
    """The tables people read, in order: the statistics (:func:`report_statistics`), then the per-keypoint
    breakdown of each run, then each run's diagnosis (``--diagnose``)."""
    comparing = len(report.results) > 1
    tables = [report_statistics(report)]
    for name, rows in zip(report.names, report.keypoints or ()):
        tables.append(keypoint_table(rows, f"per keypoint ({name})" if comparing else "", report.top))
    if report.diagnoses:
        from .diagnosis_tables import diagnosis_tables

        for name, diagnosis in zip(report.names, report.diagnoses):
            tables += diagnosis_tables(diagnosis, name if comparing else "")
    return tables


def report_statistics(report: Report, inline: bool = True) -> Table:
    """One run's statistics under its header line, or runs side by side under the shared line and a line
    per run; with ``--bootstrap`` a line saying what the intervals are, and the intervals (``inline``: in
    the value's cell, else in columns of their own)."""
    results, names, boot = report.results, report.names, report.bootstrap
    comparing = len(results) > 1
    stats = shown_stats(results[0], report.stats, comparing)
    if comparing:
        title = compare_header(results, names, report.backend, report.seconds) + bootstrap_line(boot, comparing)
        return compare_table(results, names, stats, title, boot, inline)
    title = header_line(results[0], report.backend, report.seconds) + bootstrap_line(boot, comparing)
    return stats_table(results[0], stats, title, None if boot is None else boot.intervals[0], inline)


def bootstrap_line(boot: Bootstrap | None, comparing: bool) -> str:
    """A line under the header saying what the intervals are ('' without ``--bootstrap``)."""
    if boot is None:
        return ""
    paired = "; ▲/▼ a paired difference whose interval excludes 0" if comparing else ""
    resamples = _counted(boot.resamples, "resample", "resamples")
    return f"\n[{100 * boot.level:g}% intervals: bootstrap over images, {resamples}, seed {boot.seed}{paired}]"


def data_table(report: Report) -> Table:
    """The one table of a machine-readable format: with per-keypoint rows, those of every run (a first
    ``run`` column when comparing); else the statistics (runs side by side when comparing)."""
    if not report.keypoints:
        return report_statistics(report, inline=False)
    tables = [keypoint_table(rows, top=report.top) for rows in report.keypoints]
    if len(tables) == 1:
        return tables[0]
    rows = tuple((name, *row) for name, table in zip(report.names, tables) for row in table.rows)
    return Table((RUN_COLUMN, *KEYPOINT_COLUMNS), rows)


def json_document(report: Report) -> dict[str, Any]:
    """One run's ``to_dict()`` (with ``per_keypoint``, limited as the tables are by ``top``, ``diagnosis`` and
    the intervals ``ci``), or, comparing, the ``protocol`` and a ``runs`` array of named runs, the second on with
    its ``difference`` to the first (and ``difference_ci``); ``bootstrap`` settings with ``--bootstrap``;
    ``version`` once, last, at the top level."""
    results = report.results
    runs = [result.to_dict() for result in results]
    versions = [run.pop("version") for run in runs]
    for run, rows in zip(runs, report.keypoints or ()):
        run["per_keypoint"] = rows if report.top is None else weakest_first(rows)[: report.top]
    for run, diagnosis in zip(runs, report.diagnoses or ()):
        run["diagnosis"] = diagnosis.to_dict()
    if report.bootstrap is not None:
        for run, intervals in zip(runs, report.bootstrap.intervals):
            run["ci"] = intervals
    document: dict[str, Any] = runs[0] if len(runs) == 1 else {"protocol": results[0].protocol.name,
                                                               "runs": _named_runs(report, runs)}
    if report.bootstrap is not None:
        document["bootstrap"] = report.bootstrap.settings()
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
            if report.bootstrap is not None:
                named_run["difference_ci"] = report.bootstrap.difference_intervals[i]
        named.append(named_run)
    return named
