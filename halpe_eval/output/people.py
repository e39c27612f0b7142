"""What the formats for people (table, markdown) share: how a value reads, and a table laid out by tabulate."""
from __future__ import annotations

from collections.abc import Sequence

from tabulate import tabulate

from .model import Cell, Estimate, Kind, Table

UNDEFINED = "-"
GAIN, LOSS = "▲", "▼"


def mark(side: int) -> str:
    """' ▲' for a gain (side > 0), ' ▼' for a loss (side < 0), else ''."""
    return f" {GAIN}" if side > 0 else f" {LOSS}" if side < 0 else ""


def rounded_side(value: float) -> int:
    """The sign of a difference as shown (one decimal of a percentage point): 0 when it rounds to no change."""
    shown_points = round(100 * value, 1)
    return 0 if shown_points == 0 else 1 if shown_points > 0 else -1


def shown(value: Cell, kind: Kind) -> str:
    """Fractions as percent with one decimal, differences as signed percentage points with one decimal,
    numbers with three decimals, '-' where undefined; an estimate as ``45.2 [44.1, 46.3]``, a difference
    whose interval excludes 0 marked ▲ (gain) or ▼ (loss)."""
    if isinstance(value, Estimate):
        if value.value is None or value.low is None or value.high is None:  # no interval where undefined
            return shown(value.value, kind)
        text = f"{shown(value.value, kind)} [{shown(value.low, kind)}, {shown(value.high, kind)}]"
        return text + mark(value.side) if kind is Kind.DIFFERENCE else text
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
