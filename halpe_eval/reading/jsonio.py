"""Reading JSON files: whole documents, and large top-level arrays in bounded-memory chunks.

A prediction file of a COCO-val-sized run is ~300 MB of text; parsed whole it
costs ~1 GB of Python objects.  :func:`iter_array_chunks` cuts the array at
record boundaries into blocks of about ``CHUNK_BYTES`` and parses each block on
its own, so only one block's objects are alive at a time.  A cut is only
accepted if the block parses as a sequence of complete values (a cut inside a
string or a nested value cannot); otherwise reading goes on and the rest is
parsed in one piece, with error positions given in the whole file.

Each piece goes to the caller's ``parse`` function: for predictions, the
compiled path (:mod:`.chunks`, pysimdjson), which hands what it refuses to
orjson.  orjson is this module's parser for whole documents, JSON Lines and the
precise path (chosen on measurement: benchmarks/results/read.md).
"""
from __future__ import annotations

import gzip
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import orjson

from ..errors import InputError

# What orjson raises on text that does not parse (beyond its JSONDecodeError) when a cut falls badly.
_NOT_PARSED = (orjson.JSONDecodeError, UnicodeDecodeError, RecursionError, ValueError, TypeError)

CHUNK_BYTES = 2 << 20
_RECORD_GAP = re.compile(rb"\}\s*,\s*\{")
_WHITESPACE = b" \t\r\n"


def display_name(path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


_VALUE_STARTS = b'[{"-0123456789tfn'  # the first byte of any JSON value
_BOMS = {b"\xef\xbb\xbf": "UTF-8 with a byte-order mark", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}


def _open(path) -> BinaryIO:
    """A binary stream of the file's bytes; '-' is stdin, gzip is detected by its magic bytes.

    Only peeks at the head (pipes and process substitution cannot seek), and refuses at once a
    stream that cannot be JSON, so that /dev/zero or a binary file fails instead of being read.
    """
    name = display_name(path)
    try:
        if str(path) == "-":
            raw = sys.stdin.buffer
        else:
            if Path(path).is_dir():
                raise InputError(f"{name}: is a directory, expected a JSON file")
            raw = open(path, "rb")  # noqa: SIM115 - returned open: the caller reads and closes it
        head = raw.peek(64)[:64] if hasattr(raw, "peek") else b""
    except FileNotFoundError:
        raise InputError(f"{name}: file not found") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if head[:2] == b"\x1f\x8b":
        return cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))  # read as a plain byte stream
    _check_head(head, name)
    return raw


def _check_head(head: bytes, name: str) -> None:
    for bom, encoding in _BOMS.items():
        if head.startswith(bom):
            raise InputError(f"{name}: the file is {encoding}; save it as plain UTF-8 JSON")
    text = head.lstrip(_WHITESPACE)
    if text and text[:1] not in _VALUE_STARTS:
        raise InputError(f"{name}: not JSON text (it starts with {text[:8]!r})")


def _read_all(stream, name: str) -> bytes:
    try:
        return stream.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{name}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def parse_json(raw: bytes, name: str) -> Any:
    """The JSON value of a file's bytes; an InputError naming the file when they are not JSON."""
    if not raw.strip():
        raise InputError(f"{name}: file is empty, expected JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{name}: invalid JSON: {exc}{_non_finite_hint(exc)}") from None
    except (UnicodeDecodeError, RecursionError, ValueError, TypeError) as exc:
        raise InputError(f"{name}: invalid JSON: {exc}") from None


def _non_finite_hint(exc: orjson.JSONDecodeError) -> str:
    """A hint when the parse stopped at NaN or Infinity, which Python's ``json.dump`` writes by default."""
    near = exc.doc[max(exc.pos - 1, 0) : exc.pos + 8]
    if "NaN" in near or "Infinity" in near:
        return ("; JSON has no NaN or Infinity (Python's json.dump writes them): write finite numbers "
                "(json.dump(..., allow_nan=False) finds the culprits)")
    return ""


def _parse_document_or_lines(raw: bytes, name: str) -> Any:
    """A whole JSON document; or, when the text is JSON Lines (one object per line), the list of its objects.

    A single line holding one prediction object is JSON Lines with one record.
    """
    try:
        value = orjson.loads(raw)
        one_record = isinstance(value, dict) and "image_id" in value and b"\n" not in raw.strip()
        return [value] if one_record else value
    except orjson.JSONDecodeError as exc:
        if not (raw.lstrip().startswith(b"{") and exc.lineno > 1 and exc.colno == 1):
            return parse_json(raw, name)  # words the error
    records = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                raise InputError(f"{name}: invalid JSON Lines: line {number}: {exc.msg.split(': line')[0]}"
                                 f"{_non_finite_hint(exc)}") from None
    return records


def read_json(path) -> tuple[Any, str]:
    """Parse a whole JSON file ('-' is stdin, gzip is decompressed); return (data, display name)."""
    raw, name = read_bytes(path)
    return parse_json(raw, name), name


def read_bytes(path) -> tuple[bytes, str]:
    """The bytes of a file ('-' is stdin, gzip is decompressed) and its display name."""
    name = display_name(path)
    with _open(path) as stream:
        return _read_all(stream, name), name


def iter_array_chunks(path, chunk_bytes: int = CHUNK_BYTES, progress: Callable[[float], None] | None = None,
                      parse: Callable[[Any], Any] = orjson.loads) -> Iterator[Any]:
    """Yield a top-level JSON array as lists of consecutive elements.

    Anything that is not a top-level array is yielded whole (once), so the
    caller sees the same value ``read_json`` would give and reports it; JSON
    Lines (one object per line) are yielded as the list of their objects.
    ``progress(fraction)`` is told the share of the file's bytes read after each
    chunk (a plain or gzip file; nothing for stdin).  ``parse`` turns the text of each piece of the array
    (a JSON array itself) into what is yielded; it raises as orjson does on text that is not JSON.
    """
    size = file_size(path)
    with _open(path) as stream:
        for chunk in _stream_chunks(stream, display_name(path), chunk_bytes, parse):
            yield chunk
            if progress is not None and size:
                progress(min(1.0, _bytes_read(stream) / size))


def file_size(path) -> int:
    """Bytes of a regular file (0 for stdin, a pipe or anything unreadable)."""
    try:
        return os.path.getsize(path) if str(path) != "-" and os.path.isfile(path) else 0
    except OSError:
        return 0


def _bytes_read(stream: BinaryIO) -> int:
    """How far into the file on disk a stream has read (a gzip stream: its compressed file)."""
    try:
        return getattr(stream, "fileobj", stream).tell()
    except (OSError, ValueError, AttributeError):
        return 0


def range_text(path, start: int, stop: int) -> bytearray:
    """The records in bytes [start, stop) of a plain file, as the text of the JSON array they would be alone.

    ``start`` is 0 or a comma between records, ``stop`` the file size or such a comma (:func:`split_point`):
    the range is read in one call, and its first comma (or the file's own '[') and its end are made the
    array's brackets.
    """
    size = os.path.getsize(path)
    text = bytearray(stop - start + 1)
    with open(path, "rb") as f:
        f.seek(start)
        if f.readinto(memoryview(text)[: stop - start]) != stop - start:
            raise InputError(f"{display_name(path)}: changed while being read")
    if start > 0:
        text[0] = 0x5B  # '[' in place of the comma
    if stop < size:
        text[-1] = 0x5D  # ']' after the last record
    else:
        del text[-1]
    return text


def split_point(path, near: int, windows: tuple[int, ...] = (64 << 10, 1 << 20)) -> int | None:
    """Offset of the first comma between two records at or after byte ``near`` of a plain file, looked for in
    the first of ``windows`` bytes from there, then in the next (records are rarely longer than 64 KiB)."""
    with open(path, "rb") as f:
        for window in windows:
            f.seek(near)
            data = f.read(window)
            match = _RECORD_GAP.search(data)
            if match is not None:
                return near + match.start() + data[match.start():].index(b",")
    return None


def first_element_of(path, key: str | None, limit: int = 16 << 20) -> Any | None:
    """The first element, an object, of the array under ``"key"`` in a plain JSON file (``key`` None: of the
    top-level array), read from its head: its first MiB, then up to ``limit`` bytes.

    A cheap look before the whole file is parsed; None when the head does not show it plainly
    (the caller then waits for the full parse).
    """
    opening = rb"^\s*\[\s*\{" if key is None else rb'"' + re.escape(key.encode()) + rb'"\s*:\s*\[\s*\{'
    try:
        if not os.path.isfile(path):  # a pipe read here would be empty for the real parse
            return None
        with open(path, "rb") as f:
            head = f.read(min(limit, 1 << 20))
            if head[:2] == b"\x1f\x8b":
                return None
            found = _first_object(head, opening)
            if found is None and len(head) < limit:
                head += f.read(limit - len(head))
                found = _first_object(head, opening)
    except OSError:
        return None
    return found


def _first_object(head: bytes, opening: bytes) -> Any | None:
    """The object that starts where ``opening`` (ending in its '{') first matches in ``head``."""
    match = re.search(opening, head)
    if match is None:
        return None
    start = match.end() - 1
    end = start
    for _ in range(64):  # try each '}' in turn: nested objects close before the element does
        end = head.find(b"}", end + 1)
        if end < 0:
            return None
        try:
            value = orjson.loads(head[start : end + 1])
            return value if isinstance(value, dict) else None
        except _NOT_PARSED:
            continue
    return None


def _stream_chunks(stream, name: str, chunk_bytes: int, parse: Callable[[Any], Any]) -> Iterator[Any]:
    head = _read_block(stream, name, chunk_bytes)
    body = head.lstrip(_WHITESPACE)
    if not body.startswith(b"["):
        yield _parse_document_or_lines(head + _read_all(stream, name), name)
        return
    position = _Position()
    position.advance(head, len(head) - len(body))
    # buf[0] is always '[' (the array's own, then each cut's comma overwritten), so a piece
    # is parsed in place: only the comma after it is turned into ']' for the parse.
    buf = bytearray(body)
    while True:
        block = _read_block(stream, name, chunk_bytes)
        if not block:  # end of input: what is left must close the array
            yield _parse_tail(buf, name, position, parse)
            return
        buf += block
        cut = _last_record_end(buf)
        if cut is None:
            continue
        try:
            buf[cut] = 0x5D  # ']'
            piece = parse(memoryview(buf)[: cut + 1])
        except _NOT_PARSED:
            continue  # not a clean cut (nested values): read on and cut later, or parse the rest whole
        finally:
            buf[cut] = 0x2C  # ','
        yield piece
        position.advance(buf, cut)
        buf[cut] = 0x5B  # '['
        del buf[:cut]


class _Position:
    """Line and column of the start of the unparsed buffer, for error messages."""

    def __init__(self):
        self.line, self.column = 1, 1

    def advance(self, data, length: int) -> None:
        """Move past ``data[:length]``."""
        newlines = data.count(b"\n", 0, length) if data.find(b"\n", 0, length) >= 0 else 0  # find: memchr, fast
        if newlines:
            self.line += newlines
            self.column = length - data.rfind(b"\n", 0, length)
        else:
            self.column += length


def _parse_tail(raw, name: str, position: _Position, parse: Callable[[Any], Any]) -> Any:
    """Parse the rest of the file (starting at a '['); errors are reported at their place in the file."""
    try:
        return parse(raw)
    except orjson.JSONDecodeError as exc:
        line, column = position.line + exc.lineno - 1, exc.colno
        if exc.lineno == 1:  # on the line of the last cut
            column = position.column + exc.colno - 1
        raise InputError(f"{name}: invalid JSON: {exc.msg.split(': line')[0]}: line {line} column {column}"
                         f"{_non_finite_hint(exc)}") from None
    except (UnicodeDecodeError, RecursionError, ValueError, TypeError) as exc:
        raise InputError(f"{name}: invalid JSON: {exc}") from None


def _read_block(stream, name: str, size: int) -> bytes:
    try:
        return stream.read(size)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise InputError(f"{name}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None


def _last_record_end(buf) -> int | None:
    """Index of the last ',' that follows a '}' and precedes a '{' (whitespace aside), or None."""
    pos = len(buf)
    while True:
        pos = buf.rfind(b"}", 0, pos)
        if pos < 0:
            return None
        comma = pos + 1
        while comma < len(buf) and buf[comma] in _WHITESPACE:
            comma += 1
        if comma < len(buf) and buf[comma] == 0x2C:  # ','
            nxt = comma + 1
            while nxt < len(buf) and buf[nxt] in _WHITESPACE:
                nxt += 1
            if nxt < len(buf) and buf[nxt] == 0x7B:  # '{'
                return comma
