"""The command line's options checked before anything is read: options that cannot go together, the runs
and their names, ``--stats``, ``--fail-under`` / ``--max-drop`` specs.  A problem is a click usage or
parameter error (one stderr line, exit 2, by :class:`halpe_eval.cli.OneLineErrors`) or :func:`fail`.
"""
from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Union

import click

from .errors import InputError
from .gate import parse_max_drop, parse_threshold
from .protocol import builtin_names, load_protocol

PROG = "halpe-eval"


def fail(message: str, prefix: str = "error", status: int = 2) -> NoReturn:
    """``halpe-eval: error: message`` on stderr, then exit ``status``."""
    click.echo(f"{PROG}: {prefix}: {message}", err=True)
    sys.exit(status)


@dataclass(frozen=True)
class ShardRun:
    """The files one ``--shards`` pattern matched, in name order: one run."""

    pattern: str
    files: tuple[str, ...]


Run = Union[str, ShardRun]  # a PRED file, or shards


def check_combinations(gt: str, preds: Sequence[Run], backend: str, sigmas_file: str | None,
                       allow_unknown_images: bool, per_keypoint: bool, top: int | None,
                       per_image_file: str | None) -> None:
    """Inputs and options that cannot go together: a usage error."""
    if not preds:
        raise click.UsageError("give a PRED.json file to score (or --shards 'GLOB')")
    if backend == "reference" and any(isinstance(p, ShardRun) for p in preds):
        raise click.UsageError("--shards needs --backend native")
    if backend == "reference" and (sigmas_file or allow_unknown_images or per_keypoint or per_image_file):
        raise click.UsageError(
            "--sigmas, --allow-unknown-images, --per-keypoint and --per-image need --backend native")
    if top is not None and not per_keypoint:
        raise click.UsageError("--top needs --per-keypoint")
    if [gt, *preds, sigmas_file].count("-") > 1:
        raise click.UsageError("standard input ('-') can be read only once: give the other inputs as files")


def check_analyses(backend: str, slice_by: str | None, diagnose: bool, resamples: int | None,
                   ci_percent: float | None, seed: int | None, max_drops: Sequence[str], n_runs: int) -> None:
    """``--slice-by``, ``--diagnose`` / ``--report``, ``--bootstrap`` and ``--max-drop`` where they cannot work:
    a usage error.  The bootstrap resamples every image, not the slices, so it does not go with ``--slice-by``."""
    if slice_by is not None and backend == "reference":
        raise click.UsageError("--slice-by needs --backend native")
    if diagnose and backend == "reference":
        raise click.UsageError("--diagnose and --report need the native backend")
    if resamples is None and (ci_percent is not None or seed is not None):
        raise click.UsageError("--ci and --seed need --bootstrap N")
    if resamples is not None and backend == "reference":
        raise click.UsageError("--bootstrap needs --backend native")
    if resamples is not None and slice_by is not None:
        raise click.UsageError("--bootstrap and --slice-by cannot go together: the intervals cover every image, "
                               "not each slice")
    if max_drops and n_runs < 2:
        raise click.UsageError("--max-drop needs a baseline: give the baseline PRED file, then the others")


def expected_stat_names(protocol: str | None, gt: str) -> tuple[str, ...]:
    """The statistics of the protocol given, else of the one the GT's head shows, else those of every built-in
    protocol (checked again against the protocol detected once the GT is read)."""
    if protocol is None:
        from .reading.ground_truth import peek_protocol

        peeked = peek_protocol(gt)
        if peeked is not None:
            return peeked.params.stat_names
        return tuple(dict.fromkeys(stat for name in builtin_names() for stat in load_protocol(name).params.stat_names))
    try:
        return load_protocol(protocol).params.stat_names
    except InputError as exc:
        fail(str(exc))


def chosen_stats(value: str | None, protocol: str | None, gt: str) -> tuple[str, ...]:
    """``--stats`` as names without repeats, () when not given."""
    if value is None:
        return ()
    stats = tuple(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))
    known = expected_stat_names(protocol, gt)
    if not stats:
        raise _bad_stats("no statistic given", known)
    check_stats(stats, known)
    return stats


def check_stats(stats: Sequence[str], known: Sequence[str]) -> None:
    unknown = [s for s in stats if s not in known]
    if unknown:
        raise _bad_stats(f"unknown statistic(s) {', '.join(unknown)}", known)


def _bad_stats(said: str, known: Sequence[str]) -> click.BadParameter:
    return click.BadParameter(f"{said}; choose from {', '.join(known)}", param_hint="'--stats'")


def limits(option: str, specs: Sequence[str], stat_names: Sequence[str], parts: Sequence[str] | None = None,
           split_hands_rows: Sequence[str] = ()) -> list:
    """``--fail-under`` or ``--max-drop`` specs parsed (names checked as far as known); a bad one is a usage error."""
    parse = parse_threshold if option == "--fail-under" else parse_max_drop
    try:
        return [parse(spec, stat_names, parts, split_hands_rows) for spec in specs]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=f"'{option}'") from None


def checked_names(names: Sequence[str], preds: Sequence[Run]) -> list[str]:
    """``--name`` once per prediction file, each its own; else the file stems."""
    if names and len(names) != len(preds):
        raise click.UsageError(f"--name was given {len(names)} time(s) for {len(preds)} prediction file(s)")
    if len(set(names)) != len(names):
        raise click.UsageError("--name: each run needs its own name")
    return list(names) or _run_names(preds)


def shard_run(pattern: str) -> ShardRun:
    """The files ``--shards`` GLOB matches, in natural name order; none is a usage error."""
    import glob

    files = sorted(glob.glob(pattern), key=_natural_order)
    if not files:
        raise click.BadParameter(f"{pattern!r} matches no file", param_hint="'--shards'")
    return ShardRun(pattern, tuple(files))


def _natural_order(path: str) -> list:
    """rank2 before rank10: digit runs compare as numbers."""
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", path)]


def _run_names(preds: Sequence[Run]) -> list[str]:
    stems = [Path(p.pattern if isinstance(p, ShardRun) else p).name.split(".")[0] if p != "-" else "stdin"
             for p in preds]
    return stems if len(set(stems)) == len(stems) else [f"{i + 1}:{s}" for i, s in enumerate(stems)]
