"""The ``halpe-eval`` command's first step: fork the prediction reader before importing anything heavy.

When the command line plainly names a GT and a prediction file of at least
EARLY_MIN_BYTES, a worker is forked at once to parse the predictions
(:func:`halpe_eval.reading.parallel.early_plan`) while this process imports numpy,
click and the rest (~0.08 s), then reads the GT; the reader adopts it
(:mod:`halpe_eval.reading.sharing`), and uses its work only if it read the same file
with the same protocol.  Stdlib only: whatever this module imports delays the fork.

The command line is read as click will read it, from the lists below of the
options that take a value and of those that do not (tests/test_launch.py checks
them against the command's); anything else starts nothing.
"""
from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from typing import NamedTuple, NoReturn

EARLY_MIN_BYTES = 4 << 20  # below this the whole read is a few milliseconds
VALUED = frozenset({
    "--backend", "--bootstrap", "--ci", "--fail-under", "--format", "--max-drop", "--name", "--output", "--per-image",
    "--plot", "--protocol", "--report", "--seed", "--shards", "--sigmas", "--slice-by", "--stats", "--top", "-o", "-p",
})
FLAGS = frozenset({
    "--allow-unknown-images", "--diagnose", "--per-keypoint", "--profile", "--quiet", "--split-hands", "-q",
})


class CommandFiles(NamedTuple):
    gt: str
    preds: str  # the first prediction file
    protocol: str | None  # --protocol's value


def run() -> NoReturn:
    """The console script: start the early reader, then the command (:func:`halpe_eval.cli.run`).

    OpenBLAS gets one thread (unless the environment says otherwise): the command does no linear algebra,
    and numpy's import otherwise starts a pool that spins for ~50 ms of the second core (import numpy:
    0.10 CPU-s in 0.055 s of wall time; 0.055 CPU-s with one thread), the core the reader is using.

    The cyclic garbage collector is off while the command imports its modules (their many objects set off
    collections that find no garbage) and in the forked reader; :func:`halpe_eval.cli.run` turns it on again.
    """
    gc.disable()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    start_reader(sys.argv[1:])
    from .cli import run as command

    command()


def start_reader(args: Sequence[str]) -> None:
    """Fork the reader of the prediction file ``args`` names, when that plainly pays."""
    files = command_files(args)
    if files is None or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return
    try:
        if os.path.getsize(files.preds) < EARLY_MIN_BYTES:
            return
    except OSError:
        return
    from .reading.parallel import early_plan  # numpy and the reading stack, which the worker inherits
    from .reading.sharing import start_early

    gc.freeze()  # the modules' objects: no collection in either process touches (and so copies) their pages
    start_early(files.preds, lambda: early_plan(files.gt, files.preds, files.protocol))


def command_files(args: Sequence[str]) -> CommandFiles | None:
    """The files a native run reads, as click will parse ``args``; None when it reads none or the line is not
    plain (an unknown option, a short-option cluster)."""
    positional: list[str] = []
    values: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            positional += rest
            break
        if not arg.startswith("-") or arg == "-":
            positional.append(arg)
            continue
        name, equals, value = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in FLAGS and not equals and not value:
            continue
        if name not in VALUED:
            return None  # --help, --version, or not an option of the command
        if not equals and not value:
            value = next(rest, None)  # type: ignore[assignment]
            if value is None:
                return None
        values[{"-p": "--protocol", "-o": "--output"}.get(name, name)] = value
    if len(positional) < 2 or values.get("--backend", "native") != "native":
        return None
    return CommandFiles(positional[0], positional[1], values.get("--protocol"))
