"""Which GT image each prediction is on: by integer id, or by file name (AlphaPose).

A file name matches ``images[].file_name`` exactly, else by base name or by
stem (no directory, no extension); a loose name shared by several GT images is
ambiguous and refused.  Unknown images are refused unless the caller allows
them, then marked -1.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from .messages import listing
from .records import index_in
from .simd import int64_column

AMBIGUOUS = -2


def image_index(values: Sequence[Any] | np.ndarray, image_ids: np.ndarray, file_names: Sequence[str], name: str,
                allow_unknown: bool) -> np.ndarray:
    """GT image index per prediction (-1: unknown, allowed); ``image_ids`` sorted, as GroundTruth's are.
    ``values``: int64 ids, or the JSON values (integer ids and file names)."""
    ids = values if isinstance(values, np.ndarray) else int64_column(values)  # integer ids are looked up as one array
    if ids is not None:
        index, found = index_in(image_ids, ids)
        out = np.where(found, index, -1)
    else:  # file names among them: JSON values
        out = _mixed_index(_as_json(values), image_ids, file_names, name)
    unknown = out < 0
    if unknown.any() and not allow_unknown:
        _refuse_unknown(_as_json(values), unknown, image_ids, file_names, name)
    return out


def _as_json(values: Sequence[Any] | np.ndarray) -> Sequence[Any]:
    """Image ids as the JSON values they were read from (messages name them so)."""
    return values.tolist() if isinstance(values, np.ndarray) else values


def _mixed_index(values: Sequence[Any], image_ids: np.ndarray, file_names: Sequence[str], name: str) -> np.ndarray:
    """GT image index per prediction whose image_id is an integer or a file name (-1: unknown)."""
    by_id = {int(v): i for i, v in enumerate(image_ids)}
    out = np.empty(len(values), dtype=np.int64)
    names = None
    for i, v in enumerate(values):
        if isinstance(v, str):
            if names is None:
                names = file_name_index(file_names)
            out[i] = next((names[k] for k in (v, basename(v), stem(v)) if k in names), -1)
            if out[i] == AMBIGUOUS:
                raise InputError(
                    f"{name}: prediction #{i}: image_id {v!r} matches several GT images by file name; "
                    "use numeric image ids"
                )
        else:
            out[i] = by_id.get(v, -1)
    return out


def _as_int(text: str) -> int | None:
    """The integer a string spells ("785"), else None."""
    try:
        return int(text.strip())
    except ValueError:
        return None


def _refuse_unknown(values: Sequence[Any], unknown: np.ndarray, image_ids: np.ndarray, file_names: Sequence[str],
                    name: str) -> None:
    missing: list[Any] = list(dict.fromkeys(values[int(i)] for i in np.flatnonzero(unknown)))  # in file order
    i = int(np.flatnonzero(unknown)[0])
    if isinstance(values[i], str) and _as_int(values[i]) in set(image_ids.tolist()):
        raise InputError(f"{name}: prediction #{i}: image_id {values[i]!r} is a string, while the ground truth's "
                         f"image ids are integers ({_as_int(values[i])} is one): write image ids as numbers")
    if isinstance(values[i], str) and not any(file_names):
        raise InputError(f"{name}: prediction #{i}: image_id {values[i]!r} is a file name, but the ground "
                         "truth's images have no 'file_name' to match it; use numeric image ids")
    raise InputError(
        f"{name}: prediction #{i}: image_id {values[i]!r} is not in the ground truth's 'images' "
        f"({len(missing)} unknown: {listing(missing)}); check the GT file, or pass --allow-unknown-images "
        "to drop them"
    )


def file_name_index(file_names: Sequence[str]) -> dict[str, int]:
    """file name -> image index: by full name, else by base name or stem (AMBIGUOUS where shared)."""
    exact: dict[str, int] = {}
    loose: dict[str, int] = {}
    for i, file_name in enumerate(file_names):
        if not file_name:
            continue
        _add_name(exact, file_name, i)
        for key in {basename(file_name), stem(file_name)} - {file_name}:
            _add_name(loose, key, i)
    return {**loose, **exact}


def _add_name(index: dict[str, int], key: str, i: int) -> None:
    index[key] = AMBIGUOUS if key in index and index[key] != i else i


def basename(path: str) -> str:
    return path.replace("\\", "/").rsplit("/", 1)[-1]


def stem(path: str) -> str:
    base = basename(path)
    return base.rsplit(".", 1)[0] if "." in base else base
