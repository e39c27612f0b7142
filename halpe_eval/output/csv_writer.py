"""``--format csv``: one table (:func:`~.builders.data_table`: the statistics, or with ``--per-keypoint``
the per-keypoint rows), every digit kept, no title or header line.

Fractions, differences and numbers are Python's ``repr`` of the raw value (a
fraction stays a fraction); undefined is the empty field.
"""
from __future__ import annotations

import csv
import io

from .builders import data_table
from .model import Cell, Estimate, Kind, Report, Table

EXACT_KINDS = (Kind.FRACTION, Kind.DIFFERENCE, Kind.NUMBER)


def exact(value: Cell, kind: Kind) -> str:
    if isinstance(value, Estimate):  # the report's CSV puts bounds in columns of their own
        return f"{exact(value.value, kind)} [{exact(value.low, kind)}, {exact(value.high, kind)}]"
    if value is None:
        return ""
    return repr(value) if kind in EXACT_KINDS else str(value)


def render(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.headers)
    writer.writerows([exact(value, column.kind) for value, column in zip(row, table.columns)] for row in table.rows)
    return out.getvalue().rstrip("\n")


def write(report: Report, colour: bool = False) -> str:
    return render(data_table(report))
