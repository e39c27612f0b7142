"""The progress bar on stderr: one line redrawn in place while runs are scored, erased when done.

It follows ``evaluate(progress=...)``: each run's callback (:meth:`ProgressBar.run`) is
called with ``(stage, fraction of this run done)``; the bar shows the share of every run
done, never going back. It draws only on a terminal and leaves the line blank when
closed, so what follows on stderr starts on a clean line.
"""
from __future__ import annotations

import shutil
from typing import Callable, TextIO

Progress = Callable[[str, float], None]  # progress(stage, fraction of one run done)
LABEL = "evaluating"
BAR_WIDTH = 30  # characters between the brackets


class ProgressBar:
    """A bar over ``runs`` runs on ``stream``, drawn only when the stream is a terminal and not ``hidden``.

    Use as a context manager: leaving it erases the bar.
    """

    def __init__(self, stream: TextIO, runs: int, hidden: bool = False) -> None:
        self.stream = stream
        self.runs = max(runs, 1)
        self.visible = not hidden and stream.isatty()
        self.done = 0.0  # share of all runs, in [0, 1]
        self.line = ""  # what is on screen

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.clear()

    def run(self, index: int) -> Progress:
        """The callback of run ``index`` (from 0)."""

        def step(stage: str, fraction: float) -> None:
            self.update((index + min(max(fraction, 0.0), 1.0)) / self.runs, stage, index)

        return step

    def update(self, done: float, stage: str, index: int = 0) -> None:
        """Show ``done`` (share of all runs) unless less than already shown, with run ``index``'s ``stage``."""
        if not self.visible:
            return
        self.done = max(self.done, min(done, 1.0))
        filled = int(BAR_WIDTH * self.done)
        run = f"run {index + 1}/{self.runs}: " if self.runs > 1 else ""
        line = f"{LABEL} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {int(100 * self.done):3d}%  {run}{stage}"
        self._draw(line[: shutil.get_terminal_size().columns - 1])

    def clear(self) -> None:
        """Erase the bar: blanks over it, the cursor back at the start of the line."""
        if self.line:
            self.stream.write("\r" + " " * len(self.line) + "\r")
            self.stream.flush()
            self.line = ""

    def _draw(self, line: str) -> None:
        if line == self.line:
            return
        padding = " " * max(len(self.line) - len(line), 0)  # covers the end of a longer line
        self.stream.write(f"\r{line}{padding}")
        self.stream.flush()
        self.line = line
