"""Prediction files read in ranges, shared with a forked worker when that pays.

A plain file is cut between records into ranges of ~RANGE_BYTES; each is read in
one call and parsed as the JSON array it would be alone (:func:`.jsonio.range_text`).
From PARALLEL_MIN_BYTES, a forked worker takes ranges from the front while the
caller reads the GT; the caller then takes them from the end until the two meet
(:mod:`.sharing`), so the split follows whatever the GT costs.  The command line
forks that worker before its imports (:mod:`halpe_eval.launch`, :func:`early_plan`),
and the reader adopts it.  Any problem (an invalid record, a cut that does not
parse) falls back to the streaming reader, which also words the error exactly.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Any

from ..protocol import Protocol
from .chunks import Parse, columns_of_chunks
from .ground_truth import GroundTruth
from .jsonio import display_name, first_element_of, iter_array_chunks, range_text, split_point
from .predictions import Predictions, finish_predictions
from .records import Columns, area_from_bbox
from .sharing import Sharing, Task, adopt

# Below this a worker process costs more than it saves (whole command: 29 MB serial 0.26 s, with the
# worker 0.29 s; 38 MB serial 0.40 s, with the worker 0.37 s).
PARALLEL_MIN_BYTES = 32 << 20
# Bytes of prediction file per range: the two processes finish within one range of each other, and the caller's first
# range, read cold, costs about twice a warm one (whole command, A/B, 21 rounds: COCO-17 val size 0.445 s at 4 MB,
# 0.412 s at 2 MB, 0.408 s at 1 MB; Halpe val flat).
RANGE_BYTES = 2 << 20


class PredictionReader:
    """Reads predictions while the caller does other work.

    Make it first, then ``start(protocol)``, then ``load(gt)``; ``close()`` in any case.
    ``workers`` (default: two where there are two cores) is the number of processes that parse a
    large plain file: this one and one forked at ``start``, before the GT is read (forked later, it
    would share the parsed GT's pages and, once this process frees them, own a copy).
    ``workers=1`` reads serially.
    """

    def __init__(self, source: Any, name: str | None = None, workers: int | None = None):
        self.source = source
        self.name = display_name(source) if isinstance(source, (str, Path)) else (name or "<predictions>")
        self.protocol: Protocol | None = None
        self._ranges: _Ranges | None = None
        self._sharing: Sharing | None = None
        self._share = (workers if workers is not None else min(2, os.cpu_count() or 1)) > 1

    def start(self, protocol: Protocol) -> None:
        """Cut the file and hand a worker its ranges; again with another protocol discards the first start's
        work."""
        if self.protocol == protocol:
            return
        self.close()
        self.protocol = protocol
        if self._ranges is None and isinstance(self.source, (str, Path)):
            self._ranges = _Ranges.of(str(self.source))
        if self._ranges is None:
            return
        self._sharing = adopt(self.source)  # forked by the command line (its plan may be another protocol's)
        if self._sharing is None and self._share and self._ranges.size >= PARALLEL_MIN_BYTES and hasattr(os, "fork"):
            ranges = self._ranges
            try:
                self._sharing = Sharing(lambda: ranges.plan(protocol))
            except OSError:  # no process to spare: this one reads every range
                self._sharing = None

    def load(self, gt: GroundTruth, allow_unknown_images: bool = False,
             progress: Callable[[float], None] | None = None) -> Predictions:
        """The predictions checked against ``gt``; ``progress(fraction)`` hears the share of the file parsed."""
        protocol = self.protocol or gt.protocol
        cols = None
        if self._ranges is not None:
            try:
                key, total, task = self._ranges.plan(protocol)
                if self._sharing is not None:
                    chunks = self._sharing.results(key, total, task, progress)
                else:
                    chunks = []
                    for i in range(total):
                        chunks.append(task(i))
                        if progress is not None:
                            progress((i + 1) / total)
                cols = Columns.concatenate([c for chunk in chunks for c in chunk])
            except Exception:  # noqa: BLE001 - the streaming reader re-reads and reports precisely
                cols = None
            self.close()
        if cols is None:
            source = self.source

            def read(parse: Parse) -> Iterator[Any]:
                return iter_array_chunks(source, progress=progress, parse=parse) if isinstance(
                    source, (str, Path)) else iter([source])

            cols = Columns.concatenate(columns_of_chunks(read, protocol, self.name))
        return finish_predictions(cols, gt, self.name, allow_unknown_images)

    def close(self) -> None:
        """Stop the worker, if one is still reading."""
        if self._sharing is not None:
            self._sharing.stop()
            self._sharing = None


class _Ranges:
    """A plain file of records cut between records: ``spans[i]`` is (start, stop) for :func:`range_text`;
    ``bbox_area`` is loadRes' area rule, read from the first record."""

    def __init__(self, path: str, size: int, spans: list[tuple[int, int]], bbox_area: bool):
        self.path, self.size, self.spans, self.bbox_area = path, size, spans, bbox_area

    @classmethod
    def of(cls, path: str) -> _Ranges | None:
        """None unless ``path`` is a plain file whose top level is an array of objects and whose cuts are found."""
        first = first_element_of(path, None, limit=1 << 20)
        if not isinstance(first, dict):
            return None
        size = os.path.getsize(path)
        cuts = [0]
        for near in range(RANGE_BYTES, size - RANGE_BYTES // 2, RANGE_BYTES):
            cut = split_point(path, near)
            if cut is None or cut <= cuts[-1]:
                return None
            cuts.append(cut)
        return cls(path, size, list(zip(cuts, cuts[1:] + [size])), area_from_bbox(first))

    def read(self, i: int, protocol: Protocol) -> list[Columns]:
        text = range_text(self.path, *self.spans[i])
        return columns_of_chunks(lambda parse: iter([parse(text)]), protocol, self.path, self.bbox_area)

    def plan(self, protocol: Protocol) -> tuple[Hashable, int, Task]:
        """The ranges as :mod:`.sharing`'s tasks: what they are, how many, and reading one."""
        return (protocol, tuple(self.spans), self.bbox_area), len(self.spans), lambda i: self.read(i, protocol)


def early_plan(gt: str, preds: str, protocol: str | None) -> tuple[Hashable, int, Task] | None:
    """The tasks of a worker forked by the command line before it knew more than its arguments: the ranges of
    ``preds`` read with the protocol the run starts with (:func:`halpe_eval.pipeline._ground_truth`)."""
    from ..protocol import load_protocol
    from .ground_truth import peek_protocol

    early = load_protocol(protocol) if protocol is not None else peek_protocol(gt)
    ranges = _Ranges.of(preds)
    return None if early is None or ranges is None else ranges.plan(early)
