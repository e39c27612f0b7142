"""The chunked prediction reader, shared with a worker process when that pays.

A large plain file is cut between records into ranges of ~RANGE_BYTES.  A
forked worker parses them from the front of the file while the caller reads
the GT; the caller then parses ranges from the end until the two meet
(:class:`_Sharing`).  The work splits itself between the
processes whatever the GT costs, and the caller's share never crosses a pipe.
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

# Below this a worker process costs more than it saves (whole command: 29 MB serial 0.26 s, with the
# worker 0.29 s; 38 MB serial 0.40 s, with the worker 0.37 s).
PARALLEL_MIN_BYTES = 32 << 20
RANGE_BYTES = 4 << 20  # bytes of prediction file per range: the two processes finish within one range


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
        self._sharing: _Sharing | None = None
        self._workers = workers if workers is not None else min(2, os.cpu_count() or 1)
        if self._workers > 1 and isinstance(source, (str, Path)) and _parallel_ok(source):
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("fork")
            except ValueError:  # no fork on this platform: read serially
                return
            self._pool = ProcessPoolExecutor(max_workers=self._workers - 1, mp_context=context)
            self._pool.submit(_ready)  # a fork-context pool forks all its workers on the first submit

    def start(self, protocol: Protocol) -> None:
        """Hand the workers the file; again with another protocol discards the first start's work."""
        if self.protocol == protocol:
            return
        if self._sharing is not None:
            self._sharing.stop()
        self.protocol = protocol
        if self._pool is not None:
            self._sharing = _Sharing.of(self._pool, str(self.source), protocol)

    def load(self, gt: GroundTruth, allow_unknown_images: bool = False,
             progress: Callable[[float], None] | None = None) -> Predictions:
        """The predictions checked against ``gt``; ``progress(fraction)`` hears the share of the file parsed."""
        cols = None
        if self._sharing is not None:
            try:
                cols = Columns.concatenate(self._sharing.columns(progress))
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

    def close(self) -> None:
        if self._sharing is not None:
            self._sharing.stop()
            self._sharing = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class _Sharing:
    """A file's ranges split between the workers (from the front) and the caller (from the end).

    Every range is queued for the workers in file order; the pool hands them out as its workers
    take them (it holds only a few at a time), so the caller can cancel the ones still queued,
    from the end, and read them itself until it reaches one a worker has.
    """

    def __init__(self, pool: ProcessPoolExecutor, path: str, protocol: Protocol, bbox_area: bool,
                 ranges: list[tuple[int, int]]):
        self.path, self.protocol, self.bbox_area, self.ranges = path, protocol, bbox_area, ranges
        self.results: list[Future | list[Columns]] = [
            pool.submit(_read_range, path, start, stop, protocol, bbox_area) for start, stop in ranges]

    @classmethod
    def of(cls, pool: ProcessPoolExecutor, path: str, protocol: Protocol) -> _Sharing | None:
        """The sharing of ``path`` cut into ranges between records; None if a cut cannot be found."""
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
        ranges = [(a if a == 0 else a + 1, b) for a, b in zip(cuts, cuts[1:] + [size])]
        return cls(pool, path, protocol, area_from_bbox(first), ranges)

    def columns(self, progress: Callable[[float], None] | None) -> list[Columns]:
        """Every range's columns in file order: the caller's read here, last first, then the workers'."""
        done = 0
        for i in reversed(range(len(self.ranges))):
            result = self.results[i]
            if isinstance(result, list) or not result.cancel():  # a worker has it: so have all before it
                break
            self.results[i] = _read_range(self.path, *self.ranges[i], self.protocol, self.bbox_area)
            done += 1
            if progress is not None:
                progress(done / len(self.ranges))
        columns: list[Columns] = []
        for result in self.results:
            if not isinstance(result, list):
                result = result.result()
                done += 1
                if progress is not None:
                    progress(done / len(self.ranges))
            columns += result
        return columns

    def stop(self) -> None:
        """Cancel the ranges no worker has started."""
        for result in self.results:
            if not isinstance(result, list):
                result.cancel()


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


def _read_range(path: str, start: int, stop: int, protocol: Protocol, bbox_area: bool) -> list[Columns]:
    return columns_of_chunks(lambda parse: iter_range_chunks(path, start, stop, parse=parse), protocol, path,
                             bbox_area)


def _first_record(path: str) -> dict | None:
    for chunk in iter_range_chunks(path, 0, os.path.getsize(path), chunk_bytes=1 << 16):
        return chunk[0] if isinstance(chunk, list) and chunk and isinstance(chunk[0], dict) else None
    return None
