"""Stage 5: turn an EvalResult into text: a table for people, JSON or CSV for machines."""
from __future__ import annotations

import csv
import io
import json
from typing import Optional

from tabulate import tabulate

from .accumulate import STAT_NAMES
from .evaluate import EvalResult

TABLE_STYLES = {"table": "simple", "markdown": "github"}


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


def stats_table(result: EvalResult, fmt: str = "table") -> str:
    """Parts as rows, the ten COCO keypoint statistics as columns, in percent."""
    rows = [[name] + [percent(part.stats[s]) for s in STAT_NAMES] for name, part in result.parts.items()]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["part", *STAT_NAMES])
        for name, part in result.parts.items():
            writer.writerow([name] + ["" if part.stats[s] is None else repr(part.stats[s]) for s in STAT_NAMES])
        return out.getvalue().rstrip("\n")
    return tabulate(rows, headers=["part", *STAT_NAMES], tablefmt=TABLE_STYLES[fmt], disable_numparse=True,
                    colalign=("left",) + ("right",) * len(STAT_NAMES))


def to_json(result: EvalResult, **extra) -> str:
    doc = result.to_dict()
    doc.update(extra)
    return json.dumps(doc, indent=2, allow_nan=False)
