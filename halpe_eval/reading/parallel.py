"""The chunked prediction reader, shared with a worker process when that pays.

A large plain file is cut between records into ranges of ~RANGE_BYTES, one
task each, queued in file order for forked workers while the caller reads the
GT.  The caller then takes back the ranges no worker has started, from the
end of the file, and parses them itself: the work splits itself between the
processes, whatever the GT costs, and the caller's share never crosses a pipe.
Any problem (an invalid record, a cut that does not parse) falls back to the
serial reader, which also words the error exactly.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..protocol import Protocol
from .chunks import Parse, columns_of_chunks
from .ground_truth import GroundTruth
from .jsonio import display_name, iter_array_chunks, iter_range_chunks, split_point
from .predictions import Predictions, finish_predictions
from .records import Columns, area_from_bbox

if TYPE_CHECKING:  # imported when workers are started: a plain small run never needs them
    from concurrent.futures import Future, ProcessPoolExecutor

PARALLEL_MIN_BYTES = 16 << 20  # below this, a worker process costs more than it saves
RANGE_BYTES = 8 << 20  # bytes of prediction file per task: small enough for the two processes to finish together


class PredictionReader:
    """Reads predictions while the caller does other work.

    Make it first, then ``start(protocol)``, then ``load(gt)``; ``close()`` in any case.
    ``workers`` (default: two where there are two cores) is the number of processes that parse a
    large plain file: this one and ``workers - 1`` forked at once, while this process is still
    small (forked later, they would share the parsed GT's pages and, once this process frees them,
    own a copy).  ``workers=1`` reads serially.
    """

    def __init__(self, source: Any, name: str | None = None, workers: int | None = None):
        self.source = source
        self.name = display_name(source) if isinstance(source, (str, Path)) else (name or "<predictions>")
        self.protocol: Protocol | None = None
        self._pool: ProcessPoolExecutor | None = None
        self._tasks: list[tuple[Future, int, int, bool]] | None = None
        workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        if workers > 1 and isinstance(source, (str, Path)) and _parallel_ok(source):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("fork")
            except ValueError:  # no fork on this platform: read serially
                return
            self._pool = ProcessPoolExecutor(max_workers=workers - 1, mp_context=context)
            self._pool.submit(_ready)  # a fork-context pool forks all its workers on the first submit

    def start(self, protocol: Protocol) -> None:
        """Queue the file's ranges; again with another protocol discards the first start's work."""
        if self.protocol == protocol:
            return
        if self._tasks is not None:
            for future, *_ in self._tasks:
                future.cancel()
        self.protocol = protocol
        if self._pool is not None:
            self._tasks = _submit_ranges(self._pool, str(self.source), protocol)

    def load(self, gt: GroundTruth, allow_unknown_images: bool = False,
             progress: Callable[[float], None] | None = None) -> Predictions:
        """The predictions checked against ``gt``; ``progress(fraction)`` hears the share of the file parsed."""
        cols = None
        if self._tasks is not None:
            try:
                cols = Columns.concatenate(self._shared(progress))
            except Exception:  # noqa: BLE001 - the serial reader re-reads and reports precisely
                cols = None
            self.close()
        if cols is None:
            source = self.source

            def read(parse: Parse) -> Iterator[Any]:
                return iter_array_chunks(source, progress=progress, parse=parse) if isinstance(
                    source, (str, Path)) else iter([source])

            cols = Columns.concatenate(columns_of_chunks(read, self.protocol or gt.protocol, self.name))
        return finish_predictions(cols, gt, self.name, allow_unknown_images)

    def _shared(self, progress: Callable[[float], None] | None) -> list[Columns]:
        """Every range's columns in file order: those no worker has started are read here, last first,
        while the workers go on from the front."""
        assert self._tasks is not None and self.protocol is not None
        ranges: list[list[Columns] | None] = [None] * len(self._tasks)
        done = 0
        for i in reversed(range(len(self._tasks))):
            future, start, stop, bbox_area = self._tasks[i]
            if not future.cancel():  # running or done: so are all before it
                break
            ranges[i] = _read_range(str(self.source), start, stop, self.protocol, bbox_area)
            done += 1
            if progress is not None:
                progress(done / len(ranges))
        for i, (future, *_) in enumerate(self._tasks):
            if ranges[i] is None:
                ranges[i] = future.result()
                done += 1
                if progress is not None:
                    progress(done / len(ranges))
        return [columns for found in ranges for columns in (found or [])]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool, self._tasks = None, None


def _ready() -> None:
    """Nothing: submitted once so that the pool forks its workers now."""


def _parallel_ok(path: Any) -> bool:
    try:
        if os.path.getsize(path) < PARALLEL_MIN_BYTES:
            return False
        with open(path, "rb") as f:
            return f.read(2) != b"\x1f\x8b"  # gzip streams cannot be split
    except OSError:
        return False


def _submit_ranges(pool: ProcessPoolExecutor, path: str,
                   protocol: Protocol) -> list[tuple[Future, int, int, bool]] | None:
    """One task per ~RANGE_BYTES of the file, cut between records, with its byte range and loadRes' area rule
    (from the file's first record); None if a cut cannot be found."""
    size = os.path.getsize(path)
    cuts = [0]
    for near in range(RANGE_BYTES, size - RANGE_BYTES // 2, RANGE_BYTES):
        cut = split_point(path, near)
        if cut is None or cut <= cuts[-1]:
            return None
        cuts.append(cut)
    first = _first_record(path)
    if first is None:
        return None
    bbox_area = area_from_bbox(first)
    ranges = [(a if a == 0 else a + 1, b) for a, b in zip(cuts, cuts[1:] + [size])]
    return [(pool.submit(_read_range, path, a, b, protocol, bbox_area), a, b, bbox_area) for a, b in ranges]


def _read_range(path: str, start: int, stop: int, protocol: Protocol, bbox_area: bool) -> list[Columns]:
    return columns_of_chunks(lambda parse: iter_range_chunks(path, start, stop, parse=parse), protocol, path,
                             bbox_area)


def _first_record(path: str) -> dict | None:
    for chunk in iter_range_chunks(path, 0, os.path.getsize(path), chunk_bytes=1 << 16):
        return chunk[0] if isinstance(chunk, list) and chunk and isinstance(chunk[0], dict) else None
    return None
