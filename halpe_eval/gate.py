"""CI gates: ``--fail-under PART.STAT=VALUE`` thresholds and their check.

Part and statistic names come from the caller (the protocol's statistics, the
rows scored); none is written here.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .results import EvalResult

_SPEC = re.compile(r"^\s*([\w-]+)\.(\w+)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    part: str
    stat: str
    value: float  # a fraction

    def __str__(self) -> str:
        return f"{self.part}.{self.stat}"


def parse_threshold(spec: str, stat_names: Sequence[str] | None = None, parts: Sequence[str] | None = None,
                    split_hands_rows: Sequence[str] = ()) -> Threshold:
    """``PART.STAT=VALUE`` with VALUE a fraction (0.45) or a percentage (45%); ValueError says why.

    Names are checked as far as they are known: ``stat_names`` are the protocol's
    statistics and ``parts`` the rows scored (None: not checked yet, e.g. before
    the protocol is known); ``split_hands_rows`` are the rows ``--split-hands``
    adds, named in the hint when one of them is asked for without it.
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"{spec!r} is not PART.STAT=VALUE (e.g. wholebody.AP=0.45 or hands.AP50=30%)")
    part, stat, number, percent = match.groups()
    value = float(number) / (100 if percent else 1)
    if parts is not None and part not in parts:
        hint = _split_hands_hint(part, split_hands_rows, parts)
        raise ValueError(f"{spec!r}: unknown part {part!r}; parts: {', '.join(parts)}{hint}")
    if stat_names is not None and stat not in stat_names:
        raise ValueError(f"{spec!r}: unknown statistic {stat!r}; statistics: {', '.join(stat_names)}")
    if not 0 <= value <= 1:
        raise ValueError(f"{spec!r}: the value must lie in [0, 1] (or 0%-100%)")
    return Threshold(part, stat, value)


def _split_hands_hint(part: str, split_hands_rows: Sequence[str], parts: Sequence[str]) -> str:
    """' (left_hand and right_hand need --split-hands)' when ``part`` is a row that flag would add, else ''."""
    missing = [row for row in split_hands_rows if row not in parts]
    if part not in missing:
        return ""
    if len(missing) == 1:
        return f" ({part} needs --split-hands)"
    return f" ({', '.join(missing[:-1])} and {missing[-1]} need --split-hands)"


def failures(result: EvalResult, thresholds: Sequence[Threshold]) -> list[tuple[Threshold, float | None]]:
    """Thresholds not met, with the actual value (None: undefined, which fails too)."""
    out = []
    for threshold in thresholds:
        actual = result.parts[threshold.part].stats[threshold.stat]
        if actual is None or actual < threshold.value:
            out.append((threshold, actual))
    return out
