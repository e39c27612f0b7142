"""``--format markdown``: GitHub tables (tabulate's "github"), never coloured."""
from __future__ import annotations

from .builders import report_tables
from .model import Report, Table
from .people import laid_out, one_after_another, shown_rows

STYLE = "github"


def render(table: Table) -> str:
    return laid_out(table, shown_rows(table), STYLE)


def write(report: Report, colour: bool = False) -> str:
    return one_after_another([render(table) for table in report_tables(report)])
