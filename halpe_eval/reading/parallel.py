"""Prediction files read in ranges, shared with a forked worker when that pays.

A plain file is cut between records into ranges of ~RANGE_BYTES; each is read in
one call and parsed as the JSON array it would be alone (:func:`.jsonio.range_text`).
From PARALLEL_MIN_BYTES, a forked worker takes ranges from the front while the
caller reads the GT; the caller then takes them from the end until the two meet
(:class:`_Sharing`: one lock over two counters in shared memory, so the split
follows whatever the GT costs).  The worker writes its arrays to an anonymous
file and sends one short message when no range is left: nothing large crosses a
pipe and the worker never waits for the caller.  Any problem (an invalid record,
a cut that does not parse, a worker that died) falls back to the streaming
reader, which also words the error exactly.
"""
from __future__ import annotations

import os
import pickle
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..protocol import Protocol
from .chunks import Parse, columns_of_chunks
from .ground_truth import GroundTruth
from .jsonio import display_name, first_element_of, iter_array_chunks, range_text, split_point
from .predictions import Predictions, finish_predictions
from .records import Columns, area_from_bbox

# Below this a worker process costs more than it saves (whole command: 29 MB serial 0.26 s, with the
# worker 0.29 s; 38 MB serial 0.40 s, with the worker 0.37 s).
PARALLEL_MIN_BYTES = 32 << 20
RANGE_BYTES = 4 << 20  # bytes of prediction file per range: the two processes finish within one range
_ALIGN = 64  # byte alignment of each array the worker stores


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
        self._sharing: _Sharing | None = None
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
        if self._ranges is not None and self._share and self._ranges.size >= PARALLEL_MIN_BYTES and hasattr(
                os, "fork"):
            try:
                self._sharing = _Sharing(self._ranges, protocol)
            except OSError:  # no process to spare: this one reads every range
                self._sharing = None

    def load(self, gt: GroundTruth, allow_unknown_images: bool = False,
             progress: Callable[[float], None] | None = None) -> Predictions:
        """The predictions checked against ``gt``; ``progress(fraction)`` hears the share of the file parsed."""
        protocol = self.protocol or gt.protocol
        cols = None
        if self._ranges is not None:
            try:
                if self._sharing is not None:
                    cols = Columns.concatenate(self._sharing.columns(progress))
                else:
                    cols = Columns.concatenate(self._ranges.read_all(protocol, progress))
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

    def read_all(self, protocol: Protocol, progress: Callable[[float], None] | None) -> list[Columns]:
        columns = []
        for i in range(len(self.spans)):
            columns += self.read(i, protocol)
            if progress is not None:
                progress((i + 1) / len(self.spans))
        return columns


class _Sharing:
    """Ranges split between a forked worker (from the front) and the caller (from the end).

    ``_counters`` (shared memory) holds the first range not taken and the end of the ranges not
    taken; a process takes one under a lock on the first byte of ``_store`` (a POSIX record lock:
    released by the kernel if its holder dies).  The worker stores each range's columns in
    ``_store`` (an anonymous file: the arrays as raw bytes, the rest pickled) and, when no range is
    left, writes the list of what it read to a pipe and exits; the caller maps the file and takes
    the arrays from it without a copy.  Plain ``os.fork``: the multiprocessing machinery costs more
    to import (~15 ms) than the whole exchange.
    """

    def __init__(self, ranges: _Ranges, protocol: Protocol):
        import mmap

        self.ranges, self.protocol = ranges, protocol
        self.results: list[list[Columns] | None] = [None] * len(ranges.spans)
        self.by_worker: list[int] = []  # the ranges the worker read, once columns() has them
        self._counters = mmap.mmap(-1, 16)
        struct.pack_into("qq", self._counters, 0, 0, len(ranges.spans))
        self._store = _anonymous_file()
        self._receive, send = os.pipe()
        try:
            self._pid: int | None = os.fork()
        except OSError:
            os.close(self._receive)
            os.close(send)
            self._store.close()
            raise
        if self._pid == 0:  # the worker
            try:
                os.close(self._receive)
                _write_all(send, self._work())
            finally:
                os._exit(0)
        os.close(send)

    def _take(self, from_front: bool) -> int | None:
        """The next range not taken, from the front or the end; None when none is left."""
        import fcntl

        fcntl.lockf(self._store.fileno(), fcntl.LOCK_EX, 1, 0)
        try:
            first, end = struct.unpack_from("qq", self._counters)
            if first >= end:
                return None
            if from_front:
                struct.pack_into("q", self._counters, 0, first + 1)
                return first
            struct.pack_into("q", self._counters, 8, end - 1)
            return end - 1
        finally:
            fcntl.lockf(self._store.fileno(), fcntl.LOCK_UN, 1, 0)

    def _work(self) -> bytes:
        """The worker: read ranges from the front, store them; the list of what it stored (None: it failed)."""
        stored: list[tuple[int, bytes, list[tuple[int, int]]]] = []
        try:
            with open(self._store.fileno(), "wb", closefd=False) as out:
                while (i := self._take(from_front=True)) is not None:
                    buffers: list[pickle.PickleBuffer] = []
                    meta = pickle.dumps(self.ranges.read(i, self.protocol), protocol=5,
                                        buffer_callback=buffers.append)
                    spans = []
                    for buffer in buffers:
                        out.write(b"\0" * (-out.tell() % _ALIGN))
                        spans.append((out.tell(), buffer.raw().nbytes))
                        out.write(buffer.raw())
                    stored.append((i, meta, spans))
        except BaseException:  # noqa: BLE001 - the caller reads what this could not, and words any error
            return pickle.dumps(None)
        return pickle.dumps(stored, protocol=5)

    def columns(self, progress: Callable[[float], None] | None) -> list[Columns]:
        """Every range's columns in file order: the caller's read here, last first, then the worker's."""
        done = 0
        while (i := self._take(from_front=False)) is not None:
            self.results[i] = self.ranges.read(i, self.protocol)
            done += 1
            if progress is not None:
                progress(done / len(self.results))
        stored = pickle.loads(_read_all(self._receive))  # empty (EOFError) if the worker died
        if stored is None:
            raise RuntimeError("the worker could not read its ranges")
        if stored:
            import mmap

            view = memoryview(mmap.mmap(self._store.fileno(), 0, access=mmap.ACCESS_COPY))
            for i, meta, spans in stored:
                self.by_worker.append(i)
                self.results[i] = pickle.loads(meta, buffers=[view[start:start + n] for start, n in spans])
        if progress is not None:
            progress(1.0)
        columns: list[Columns] = []
        for result in self.results:
            if result is None:
                raise RuntimeError("a range was read by no one")
            columns += result
        return columns

    def stop(self) -> None:
        """End the worker (at once if it is still reading) and free what the two shared."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            import signal

            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(self._receive)
        self._store.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_all(fd: int) -> bytes:
    """What a pipe carries until its writer closes it."""
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _anonymous_file() -> Any:
    """A file in memory, gone when closed: a memfd on Linux, else a temporary file."""
    if hasattr(os, "memfd_create"):
        return open(os.memfd_create("halpe-eval-predictions"), "w+b")  # noqa: SIM115 - closed by stop()
    import tempfile

    return tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
