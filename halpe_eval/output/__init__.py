"""Stage 5, output: scored runs to text, one writer per ``--format``.

- :mod:`.model`: :class:`Table` (typed columns of raw values) and :class:`Report` (what one command prints);
- :mod:`.builders`: results to tables (statistics, comparison, per keypoint, header line) and to the JSON
  document; the compare difference is computed there, once;
- one writer module per format, each ``write(report, colour) -> str`` (``colour``: stdout is a colour
  terminal, used by the table writer only), registered in :data:`WRITERS`;
- :mod:`.per_image`: the ``--per-image`` CSV file;
- :mod:`.progress`: the progress bar on stderr while runs are scored.

A new format is a new writer module and one line in :data:`WRITERS`; ``--format`` offers its key.
"""
from __future__ import annotations

from typing import Callable

from . import csv_writer, json_writer, markdown_writer, text_writer
from .model import Column, Kind, Report, Table
from .per_image import write_per_image

Writer = Callable[[Report, bool], str]

WRITERS: dict[str, Writer] = {
    "table": text_writer.write,
    "markdown": markdown_writer.write,
    "csv": csv_writer.write,
    "json": json_writer.write,
}

__all__ = ["WRITERS", "Column", "Kind", "Report", "Table", "Writer", "write_per_image"]
