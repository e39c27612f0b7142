"""``--format table``: aligned plain text (tabulate's "simple"), coloured on a terminal.

On a colour terminal a difference is green when it rounds to a gain, red to a
loss (with ``--bootstrap``: when its interval lies above or below 0), and
highlighted rows are red.
"""
from __future__ import annotations

import click

from .builders import report_tables
from .model import Cell, Column, Estimate, Kind, Report, Table
from .people import laid_out, one_after_another, rounded_side, shown_rows, titled

STYLE = "simple"


def render(table: Table, colour: bool = False) -> str:
    cells = shown_rows(table)
    if colour:
        cells = [_coloured(texts, values, table, position) for position, (texts, values)
                 in enumerate(zip(cells, table.rows))]
    return titled(table.title, laid_out(table, cells, STYLE))


def _coloured(texts: list[str], values: tuple[Cell, ...], table: Table, position: int) -> list[str]:
    if position in table.highlighted:
        return [click.style(text, fg="red") for text in texts]
    return [_signed_colour(text, value, column) for text, value, column in zip(texts, values, table.columns)]


def _signed_colour(text: str, value: Cell, column: Column) -> str:
    """A difference green or red by its sign as shown, or with an interval by the side of 0 it lies on."""
    if column.kind is not Kind.DIFFERENCE or value is None or isinstance(value, str):
        return text
    side = value.side if isinstance(value, Estimate) else rounded_side(float(value))
    return click.style(text, fg="green" if side > 0 else "red") if side else text


def write(report: Report, colour: bool = False) -> str:
    return one_after_another([render(table, colour) for table in report_tables(report)])
