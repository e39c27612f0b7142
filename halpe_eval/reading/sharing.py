"""Numbered tasks shared with one forked worker: it takes them from the front, the caller from the end.

The worker learns what to do by calling ``plan()`` once forked: a key (what the tasks
are, compared by the caller), their number, and the task function.  Both processes
take tasks under a POSIX record lock on the first byte of an anonymous file (released
by the kernel if its holder dies) from three counters in shared memory: the first task
not taken, the end of the tasks not taken, and their number (-1 until one process
knows it).  The worker stores each result in the anonymous file (its arrays as raw
bytes, pickle protocol 5 out of band, the rest pickled) and, when no task is left,
writes the list of what it stored to a pipe and exits; the caller maps the file and
takes the arrays from it without a copy.  A worker that failed, died, or planned
other tasks (another key) leaves its tasks to the caller.

Stdlib only, and plain ``os.fork``: the command forks its reader before it imports
numpy (:mod:`halpe_eval.launch`), and the multiprocessing machinery would cost more
to import (~15 ms) than the whole exchange.  A worker forked from the command line
waits here (:func:`start_early`) until a reader of the same file adopts it.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import struct
from collections.abc import Callable, Hashable
from typing import Any

Task = Callable[[int], Any]
Plan = Callable[[], "tuple[Hashable, int, Task] | None"]  # in the worker: (key, number of tasks, task)
_ALIGN = 64  # byte alignment of each array the worker stores
_COUNTERS = struct.Struct("qqq")  # first task not taken, end of the tasks not taken, number of tasks


class Sharing:
    """One forked worker running ``plan``'s tasks from the front until :meth:`results` meets it."""

    def __init__(self, plan: Plan):
        import mmap

        self._counters = mmap.mmap(-1, _COUNTERS.size)
        _COUNTERS.pack_into(self._counters, 0, 0, 0, -1)
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
                _write_all(send, self._work(plan))
            finally:
                os._exit(0)
        os.close(send)
        self.by_worker: list[int] = []  # the tasks whose results came from the worker, once results() ran

    def _take(self, total: int, from_front: bool) -> int | None:
        """The next task not taken, from the front or the end, of ``total`` tasks; None when none is left (or
        the other process counted another number of tasks)."""
        import fcntl

        fcntl.lockf(self._store.fileno(), fcntl.LOCK_EX, 1, 0)
        try:
            first, end, known = _COUNTERS.unpack_from(self._counters)
            if known < 0:
                first, end, known = 0, total, total
            if known != total or first >= end:
                _COUNTERS.pack_into(self._counters, 0, end, end, known)  # the other process stops too
                return None
            if from_front:
                first += 1
            else:
                end -= 1
            _COUNTERS.pack_into(self._counters, 0, first, end, known)
            return first - 1 if from_front else end
        finally:
            fcntl.lockf(self._store.fileno(), fcntl.LOCK_UN, 1, 0)

    def _work(self, plan: Plan) -> bytes:
        """The worker: its key and what it stored, pickled (None: it failed, and the caller does its tasks)."""
        try:
            planned = plan()
            if planned is None:
                return pickle.dumps(None)
            key, total, task = planned
            stored = []
            with open(self._store.fileno(), "wb", closefd=False) as out:
                while (i := self._take(total, from_front=True)) is not None:
                    buffers: list[pickle.PickleBuffer] = []
                    meta = pickle.dumps(task(i), protocol=5, buffer_callback=buffers.append)
                    spans = []
                    for buffer in buffers:
                        out.write(b"\0" * (-out.tell() % _ALIGN))
                        spans.append((out.tell(), buffer.raw().nbytes))
                        out.write(buffer.raw())
                    stored.append((i, meta, spans))
            return pickle.dumps((key, stored), protocol=5)
        except BaseException:  # noqa: BLE001 - the caller does these tasks itself, and words any error
            return pickle.dumps(None)

    def results(self, key: Hashable, total: int, task: Task,
                progress: Callable[[float], None] | None = None) -> list[Any]:
        """Every task's result, in order: the caller's done here, last first, then the worker's (redone here
        if the worker failed or planned another ``key``)."""
        results: list[Any] = [None] * total
        done = [False] * total
        count = 0

        def run(i: int) -> None:
            nonlocal count
            results[i], done[i] = task(i), True
            count += 1
            if progress is not None:
                progress(count / total)

        while (i := self._take(total, from_front=False)) is not None:
            run(i)
        message = _read_all(self._receive)
        worker = pickle.loads(message) if message else None  # nothing: the worker died
        if worker is not None and worker[0] == key and worker[1]:
            view = self._stored()
            for i, meta, spans in worker[1]:
                results[i], done[i] = pickle.loads(meta, buffers=[view[start:start + n] for start, n in spans]), True
                self.by_worker.append(i)
                count += 1
        for i in range(total):
            if not done[i]:
                run(i)
        return results

    def _stored(self) -> memoryview:
        """The worker's arrays, mapped (an empty view when it stored none: an empty file cannot be mapped)."""
        if os.fstat(self._store.fileno()).st_size == 0:
            return memoryview(b"")
        import mmap

        return memoryview(mmap.mmap(self._store.fileno(), 0, access=mmap.ACCESS_COPY))

    def stop(self) -> None:
        """End the worker (at once if it is still working) and free what the two shared."""
        if self._pid is None:
            return
        pid, self._pid = self._pid, None
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            import signal

            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(self._receive)
        self._store.close()


def shared_results(key: Hashable, total: int, task: Task) -> list[Any]:
    """Every ``task(i)``, in order: a worker forked now takes them from the front while this process takes them
    from the end; all here where no process can be forked (no ``os.fork``, or none to spare)."""
    sharing = None
    if total > 1 and hasattr(os, "fork"):
        with contextlib.suppress(OSError):
            sharing = Sharing(lambda: (key, total, task))
    if sharing is None:
        return [task(i) for i in range(total)]
    try:
        return sharing.results(key, total, task)
    finally:
        sharing.stop()


_EARLY: dict[tuple[int, ...], Sharing] = {}  # forked by the command line, by the identity of the file


def file_identity(path: Any) -> tuple[int, ...] | None:
    """What tells one regular file (as it is now) from another; None for anything else."""
    try:
        stat = os.stat(path)
    except (OSError, ValueError):
        return None
    import stat as kinds

    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns) if kinds.S_ISREG(stat.st_mode) else None


def start_early(path: str, plan: Plan) -> None:
    """Fork a worker for ``path`` now, to be adopted by its reader (:func:`adopt`)."""
    identity = file_identity(path)
    if identity is not None and identity not in _EARLY:
        with contextlib.suppress(OSError):  # no process to spare: the reader reads alone
            _EARLY[identity] = Sharing(plan)


def adopt(path: Any) -> Sharing | None:
    """The worker forked early for this file, if any (once)."""
    identity = file_identity(path)
    return _EARLY.pop(identity, None) if identity is not None else None


def stop_unadopted() -> None:
    """End the early workers no reader adopted."""
    while _EARLY:
        _EARLY.popitem()[1].stop()


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
        return open(os.memfd_create("halpe-eval-shared"), "w+b")  # noqa: SIM115 - closed by stop()
    import tempfile

    return tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
