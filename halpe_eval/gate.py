"""CI gates: ``--fail-under PART.STAT=VALUE`` thresholds and their check."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .protocol import COCO_STAT_NAMES as STAT_NAMES
from .results import EvalResult

_SPEC = re.compile(r"^\s*([\w-]+)\.(\w+)\s*=\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Threshold:
    part: str
    stat: str
    value: float  # a fraction

    def __str__(self) -> str:
        return f"{self.part}.{self.stat}"


def parse_threshold(spec: str, parts: Optional[Sequence[str]] = None) -> Threshold:
    """``PART.STAT=VALUE`` with VALUE a fraction (0.45) or a percentage (45%); ValueError says why.

    ``parts`` are the valid part names (None: not checked yet, before the protocol is known).
    """
    match = _SPEC.match(spec)
    if not match:
        raise ValueError(f"{spec!r} is not PART.STAT=VALUE (e.g. wholebody.AP=0.45 or hands.AP50=30%)")
    part, stat, number, percent = match.groups()
    value = float(number) / (100 if percent else 1)
    if parts is not None and part not in parts:
        hint = " (left_hand and right_hand need --split-hands)" if part in ("left_hand", "right_hand") else ""
        raise ValueError(f"{spec!r}: unknown part {part!r}; parts: {', '.join(parts)}{hint}")
    if stat not in STAT_NAMES:
        raise ValueError(f"{spec!r}: unknown statistic {stat!r}; statistics: {', '.join(STAT_NAMES)}")
    if not 0 <= value <= 1:
        raise ValueError(f"{spec!r}: the value must lie in [0, 1] (or 0%-100%)")
    return Threshold(part, stat, value)


def failures(result: EvalResult, thresholds: Sequence[Threshold]) -> List[Tuple[Threshold, Optional[float]]]:
    """Thresholds not met, with the actual value (None: undefined, which fails too)."""
    out = []
    for threshold in thresholds:
        actual = result.parts[threshold.part].stats[threshold.stat]
        if actual is None or actual < threshold.value:
            out.append((threshold, actual))
    return out
