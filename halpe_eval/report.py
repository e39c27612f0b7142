"""Stage 5: turn EvalResults into text: tables for people, JSON or CSV for machines."""
from __future__ import annotations

import csv
import io
import json
from typing import List, Optional, Sequence

import click
from tabulate import tabulate

from .protocol import COCO_STAT_NAMES as STAT_NAMES
from .results import EvalResult

TABLE_STYLES = {"table": "simple", "markdown": "github"}
WEAK_SHARE = 0.1  # the weakest tenth of keypoints is flagged


def header(result: EvalResult, seconds: float, backend: str = "native") -> str:
    """One line: protocol, counts and time taken."""
    backend_note = "" if backend == "native" else f" ({backend} backend)"
    fmt = "" if result.prediction_format in ("", "COCO results") else f" ({result.prediction_format})"
    return (
        f"protocol {result.protocol.name}{backend_note} | {result.num_images:,} images | "
        f"{result.num_gt:,} GT people | {result.num_predictions:,} predictions{fmt} | {seconds:.2f} s"
    )


def percent(value: Optional[float]) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _render(headers: List[str], rows: List[list], fmt: str, align: Optional[Sequence[str]] = None) -> str:
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
        return out.getvalue().rstrip("\n")
    align = align or ("left",) + ("right",) * (len(headers) - 1)
    return tabulate(rows, headers=headers, tablefmt=TABLE_STYLES[fmt], disable_numparse=True, colalign=align)


def stats_table(result: EvalResult, fmt: str = "table", stats: Sequence[str] = STAT_NAMES) -> str:
    """Parts as rows, statistics as columns: percent with one decimal, or full fractions in CSV."""
    rows = [[name] + [_cell(part.stats[s], fmt) for s in stats] for name, part in result.parts.items()]
    return _render(["part", *stats], rows, fmt)


def compare_table(results: Sequence[EvalResult], names: Sequence[str], stats: Sequence[str], fmt: str,
                  colour: bool = False) -> str:
    """One row per part; a column group per run, and from the second run on its difference to the first
    (percentage points; green/red on a colour terminal)."""
    headers = ["part"]
    for i, name in enumerate(names):
        headers += [f"{name} {s}" for s in stats]
        if i:
            headers += [f"Δ{s}" for s in stats]
    rows = []
    for part in results[0].parts:
        row = [part]
        base = results[0].parts[part].stats
        for i, result in enumerate(results):
            values = result.parts[part].stats
            row += [_cell(values[s], fmt) for s in stats]
            if i:
                row += [_diff(values[s], base[s], fmt, colour) for s in stats]
        rows.append(row)
    return _render(headers, rows, fmt)


def _cell(value: Optional[float], fmt: str) -> str:
    return ("" if value is None else repr(value)) if fmt == "csv" else percent(value)


def _diff(value: Optional[float], base: Optional[float], fmt: str, colour: bool) -> str:
    if value is None or base is None:
        return "" if fmt == "csv" else "-"
    delta = value - base
    if fmt == "csv":
        return repr(delta)
    text = f"{100 * delta:+.1f}"
    if colour and round(100 * delta, 1) != 0:
        text = click.style(text, fg="green" if delta > 0 else "red")
    return text


def keypoint_table(rows: List[dict], fmt: str, colour: bool = False, title: Optional[str] = None) -> str:
    """The per-keypoint breakdown; the weakest tenth by similarity is marked '*' (red on a terminal)."""
    defined = sorted((r["similarity"], r["index"]) for r in rows if r["similarity"] is not None)
    weak = {i for _, i in defined[: max(1, int(len(defined) * WEAK_SHARE))]} if defined else set()
    headers = ["#", "keypoint", "part", "similarity", "sim>=0.5", "sim>=0.75", "distance/sqrt(area)", "pairs", "weak"]
    out = []
    for r in rows:
        number = (lambda v: "" if v is None else repr(v)) if fmt == "csv" else (
            lambda v: "-" if v is None else f"{v:.3f}")
        line = [str(r["index"]), r["name"], r["part"], number(r["similarity"]), number(r["frac_50"]),
                number(r["frac_75"]), number(r["distance"]), str(r["pairs"]), "*" if r["index"] in weak else ""]
        if colour and r["index"] in weak:
            line = [click.style(c, fg="red") for c in line]
        out.append(line)
    table = _render(headers, out, fmt, align=("right", "left", "left") + ("right",) * 5 + ("left",))
    return f"{title}\n{table}" if title and fmt != "csv" else table


def to_json(results: Sequence[EvalResult], names: Sequence[str], keypoints: Optional[list] = None, **extra) -> str:
    """One JSON document: a single run's fields at the top level, or a ``runs`` array when comparing."""
    docs = []
    for i, result in enumerate(results):
        doc = result.to_dict()
        if keypoints is not None:
            doc["per_keypoint"] = keypoints[i]
        docs.append(doc)
    if len(docs) == 1:
        out = docs[0]
    else:
        base = results[0]
        runs = []
        for name, result, doc in zip(names, results, docs):
            doc = {"name": name, **doc}
            doc.pop("protocol")
            if result is not base:
                doc["difference"] = {
                    part: {s: None if v is None or base.parts[part].stats[s] is None
                           else v - base.parts[part].stats[s] for s, v in stats.items()}
                    for part, stats in result.stats().items()
                }
            runs.append(doc)
        out = {"protocol": base.protocol.name, "runs": runs}
    out.update(extra)
    return json.dumps(out, indent=2, allow_nan=False)
