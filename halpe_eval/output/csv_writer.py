"""``--format csv``: each table as CSV, a blank line between; every digit kept, no titles or header line.

Fractions, differences and numbers are Python's ``repr`` of the raw value (a
fraction stays a fraction); undefined is the empty field.
"""
from __future__ import annotations

import csv
import io

from .builders import report_tables
from .model import Cell, Kind, Report, Table

EXACT_KINDS = (Kind.FRACTION, Kind.DIFFERENCE, Kind.NUMBER)


def exact(value: Cell, kind: Kind) -> str:
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
    return "\n\n".join(render(table) for table in report_tables(report))
