"""``--format markdown``: GitHub tables (tabulate's "github"), never coloured.

A table's title is a paragraph of its own above it (a blank line between, as every
renderer wants before a table), its lines kept apart by hard line breaks (a trailing ``\\``).
"""
from __future__ import annotations

from .builders import report_tables
from .model import Report, Table
from .people import laid_out, one_after_another, shown_rows, titled

STYLE = "github"
HARD_BREAK = "\\\n"


def render(table: Table) -> str:
    title = HARD_BREAK.join(table.title.splitlines())
    return titled(title, laid_out(table, shown_rows(table), STYLE), gap="\n\n")


def write(report: Report, colour: bool = False) -> str:
    return one_after_another([render(table) for table in report_tables(report)])
