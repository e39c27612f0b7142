"""What the formats for people (table, markdown) share: how a value reads, and a table laid out by tabulate."""
from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from .model import Cell, Kind, Table

UNDEFINED = "-"


def shown(value: Cell, kind: Kind) -> str:
    """Fractions as percent with one decimal, differences as signed percentage points with one decimal,
    numbers with three decimals, '-' where undefined."""
    if value is None:
        return UNDEFINED
    if kind is Kind.FRACTION:
        return f"{100 * float(value):.1f}"
    if kind is Kind.DIFFERENCE:
        return f"{100 * float(value):+.1f}"
    if kind is Kind.NUMBER:
        return f"{float(value):.3f}"
    return str(value)


def shown_rows(table: Table) -> list[list[str]]:
    return [[shown(value, column.kind) for value, column in zip(row, table.columns)] for row in table.rows]


def laid_out(table: Table, cells: Sequence[Sequence[str]], style: str) -> str:
    """``cells`` under the table's headers in a tabulate ``style`` (without the title)."""
    return tabulate(cells, headers=table.headers, tablefmt=style, disable_numparse=True,
                    colalign=[column.align for column in table.columns])


def titled(title: str, text: str, gap: str = "\n") -> str:
    """``text`` under ``title`` (if any), ``gap`` between them."""
    return f"{title}{gap}{text}" if title else text


def one_after_another(blocks: Sequence[str]) -> str:
    """Tables separated by a blank line."""
    return "\n\n".join(blocks)
