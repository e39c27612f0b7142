"""``--format markdown``: GitHub tables (tabulate's "github"), never coloured.

A table's title is a paragraph of its own above it (a blank line between, as every
renderer wants before a table), its lines kept apart by hard line breaks (a trailing ``\\``).
Made for pull requests: a difference is marked ▲ (gain) or ▼ (loss) when it rounds to one, or, with
``--bootstrap``, when its interval excludes 0 (the interval follows the value: ``+1.2 [+0.3, +2.1] ▲``).
"""
from __future__ import annotations

from .builders import report_tables
from .model import Kind, Report, Table
from .people import laid_out, mark, one_after_another, rounded_side, shown_rows, titled

STYLE = "github"
HARD_BREAK = "\\\n"


def render(table: Table) -> str:
    title = HARD_BREAK.join(table.title.splitlines())
    return titled(title, laid_out(table, _marked_rows(table), STYLE), gap="\n\n")


def _marked_rows(table: Table) -> list[list[str]]:
    """The cells as people read them; a plain difference that rounds to a change gets its ▲ or ▼ (one with an
    interval has it already, by the interval)."""
    return [[text + mark(rounded_side(value)) if column.kind is Kind.DIFFERENCE and isinstance(value, float) else text
             for text, value, column in zip(texts, values, table.columns)]
            for texts, values in zip(shown_rows(table), table.rows)]


def write(report: Report, colour: bool = False) -> str:
    return one_after_another([render(table) for table in report_tables(report)])
