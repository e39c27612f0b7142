"""``--format table``: aligned plain text (tabulate's "simple"), coloured on a terminal.

On a colour terminal a difference is green when it rounds to a gain, red to a
loss, and highlighted rows are red.
"""
from __future__ import annotations

import click

from .builders import report_tables
from .model import Cell, Column, Kind, Report, Table
from .people import laid_out, one_after_another, shown_rows, titled

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
    if column.kind is not Kind.DIFFERENCE or value is None or round(100 * float(value), 1) == 0:
        return text
    return click.style(text, fg="green" if float(value) > 0 else "red")


def write(report: Report, colour: bool = False) -> str:
    return one_after_another([render(table, colour) for table in report_tables(report)])
