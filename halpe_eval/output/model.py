"""What the writers are given: tables of raw values, and the report they come from.

A table holds numbers as computed (fractions in [0, 1], ``None`` where
undefined); each column's kind says what a value means, and every writer
decides how to show it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, Union

from ..results import EvalResult

if TYPE_CHECKING:
    from ..bootstrap import Bootstrap
    from ..diagnosis import Diagnosis


@dataclass(frozen=True)
class Estimate:
    """A value with its confidence interval (``--bootstrap``); None where undefined."""

    value: float | None
    low: float | None
    high: float | None

    @property
    def side(self) -> int:
        """+1 when the whole interval is above 0, -1 when below, else 0 (a difference that may be noise)."""
        if self.low is not None and self.low > 0:
            return 1
        if self.high is not None and self.high < 0:
            return -1
        return 0


Cell = Union[str, int, float, Estimate, None]  # None: undefined
KeypointRows = list[dict[str, Any]]  # breakdown.per_keypoint of one run


class Kind(Enum):
    """What the values of a column are."""

    TEXT = "text"
    FRACTION = "fraction"  # a share in [0, 1], shown as a percentage
    DIFFERENCE = "difference"  # one fraction minus another, shown in signed percentage points
    NUMBER = "number"  # a plain real number
    COUNT = "count"  # an integer


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.TEXT
    align: str = "right"  # "left" | "right", where a writer aligns at all


@dataclass(frozen=True)
class Table:
    """Rows of raw values under typed columns; ``highlighted`` rows (by position) deserve attention."""

    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    title: str = ""  # lines above the table, for people (not in CSV)
    highlighted: frozenset[int] = frozenset()

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]


@dataclass(frozen=True)
class Report:
    """Everything one command prints: the scored runs, in order, and what to show of them.

    ``stats`` empty means the default: every statistic of the protocol for one
    run, :data:`~halpe_eval.output.builders.DEFAULT_COMPARE_STATS` when comparing.
    ``seconds`` is shown in the header line when given (the table format on a
    terminal only, so that every other output is the same bytes for the same inputs).
    """

    results: Sequence[EvalResult]
    names: Sequence[str]
    stats: Sequence[str] = ()
    keypoints: Sequence[KeypointRows] | None = None  # one list per run, with --per-keypoint
    seconds: float | None = None  # time taken
    backend: str = "native"
    top: int | None = None  # per keypoint, only the weakest ``top`` (None: every keypoint, in skeleton order)
    diagnoses: Sequence[Diagnosis] | None = None  # one per run, with --diagnose
    bootstrap: Bootstrap | None = None  # intervals of every run and difference, with --bootstrap
