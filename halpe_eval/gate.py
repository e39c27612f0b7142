"""CI gates: ``--fail-under PART.STAT=VALUE`` thresholds, ``--max-drop PART.STAT=VALUE`` limits against a
baseline run, their checks and their FAIL lines.

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


@dataclass(frozen=True)
class MaxDrop(Threshold):
    """``--max-drop PART.STAT=VALUE``: a candidate run may fall below the baseline by at most ``value`` (a
    fraction: 0.5% is 0.005)."""


def parse_max_drop(spec: str, stat_names: Sequence[str] | None = None, parts: Sequence[str] | None = None,
                   split_hands_rows: Sequence[str] = ()) -> MaxDrop:
    """``PART.STAT=VALUE`` with VALUE a fraction (0.005) or percentage points (0.5%), checked as
    :func:`parse_threshold` checks a threshold."""
    threshold = parse_threshold(spec, stat_names, parts, split_hands_rows)
    return MaxDrop(threshold.part, threshold.stat, threshold.value)


@dataclass(frozen=True)
class DropFailure:
    """A candidate run below its baseline by more than a :class:`MaxDrop` allows (a value None is undefined)."""

    max_drop: MaxDrop
    candidate: str
    baseline: str
    value: float | None
    baseline_value: float | None

    def __str__(self) -> str:
        if self.value is None or self.baseline_value is None:
            which = self.candidate if self.value is None else self.baseline
            return f"FAIL {self.candidate} vs {self.baseline}: {self.max_drop} undefined in {which}"
        return (f"FAIL {self.candidate} vs {self.baseline}: {self.max_drop} dropped "
                f"{self.baseline_value - self.value:.3f} > {self.max_drop.value:.3f} "
                f"({self.value:.3f} < {self.baseline_value:.3f})")


def drop_failures(results: Sequence[EvalResult], names: Sequence[str],
                  max_drops: Sequence[MaxDrop]) -> list[DropFailure]:
    """Every (candidate, limit) where a run after the first (the baseline) falls below the baseline by more
    than the limit; a statistic undefined in either run fails too (no drop can be measured)."""
    baseline, out = results[0], []
    for name, result in zip(names[1:], results[1:]):
        for max_drop in max_drops:
            value = result.parts[max_drop.part].stats[max_drop.stat]
            base = baseline.parts[max_drop.part].stats[max_drop.stat]
            if value is None or base is None or base - value > max_drop.value:
                out.append(DropFailure(max_drop, name, names[0], value, base))
    return out


def gate_failures(results: Sequence[EvalResult], names: Sequence[str], thresholds: Sequence[Threshold],
                  max_drops: Sequence[MaxDrop] = ()) -> list[str]:
    """The ``FAIL`` lines of a command, one per failure: thresholds missed (comparing runs, by every run but
    the first, the baseline, each line naming its run), then drops beyond a ``--max-drop`` limit."""
    comparing = len(results) > 1
    lines = []
    for name, result in list(zip(names, results))[1 if comparing else 0:]:
        for threshold, actual in failures(result, thresholds):
            run = f"{name}: " if comparing else ""
            shown = "undefined" if actual is None else f"{actual:.3f}"
            lines.append(f"FAIL {run}{threshold} {shown} < {threshold.value:.3f}")
    if comparing and max_drops:
        lines += [str(failure) for failure in drop_failures(results, names, max_drops)]
    return lines
