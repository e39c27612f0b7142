"""Stage 5, output: scored runs to text, one writer per ``--format``.

- :mod:`.model`: :class:`Table` (typed columns of raw values) and :class:`Report` (what one command prints);
- :mod:`.builders`: results to tables (statistics, comparison, per keypoint, header line) and to the JSON
  document; the compare difference is computed there, once;
- one writer module per format, each ``write(report, colour) -> str`` (``colour``: stdout is a colour
  terminal, used by the table writer only), registered in :data:`WRITERS`;
- :mod:`.per_image`: the ``--per-image`` CSV file (imported by its user: it needs the breakdowns);
- :mod:`.progress`: the progress bar on stderr while runs are scored.

A new format is a new writer module and one line in :data:`WRITERS`; ``--format`` offers its key.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Callable

from .model import Column, Kind, Report, Table

Writer = Callable[[Report, bool], str]


class WriterRegistry(Mapping):
    """``--format`` key -> its writer's ``write``; a writer module is imported when first used, so a
    JSON run never imports the table libraries."""

    def __init__(self, modules: dict[str, str]) -> None:
        self._modules = modules

    def __getitem__(self, key: str) -> Writer:
        return import_module(f".{self._modules[key]}", __name__).write

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __len__(self) -> int:
        return len(self._modules)


WRITERS = WriterRegistry({
    "table": "text_writer",
    "markdown": "markdown_writer",
    "csv": "csv_writer",
    "json": "json_writer",
})

__all__ = ["WRITERS", "Column", "Kind", "Report", "Table", "Writer"]
