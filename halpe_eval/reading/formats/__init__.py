"""Input record formats: one adapter module per format, found in this package.

An adapter module defines ``FORMAT = RecordFormat(...)``.  Each record (a
prediction, or a GT annotation) is offered to the formats in ``priority``
order; the first that claims it reads its keypoints (``fields`` names the flat
fields they are joined from, for the compiled read path).  A format claims a
record by its :class:`RecordShape` (field names, type of ``image_id``), never
by other values, so the compiled read path asks once per distinct shape.  A prediction file's
format, named in the header, is the highest-priority format any of its
records used.  Adding a format is adding one module here.
"""
from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Union

from ...protocol import Protocol


@dataclass(frozen=True)
class MissingField:
    """A record's keypoints are spread over fields, and this one is missing or of the wrong length."""

    field: str


@dataclass(frozen=True)
class RecordShape:
    """What a format claims a record by: the names of its fields and the Python type of its ``image_id``
    (``NoneType`` when absent)."""

    fields: frozenset[str]
    image_id_type: type

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> RecordShape:
        return cls(frozenset(record), type(record.get("image_id")))


KeypointField = Union[Any, MissingField]  # the flat x, y, v list as found (checked by the caller)
FieldLayout = tuple[tuple[str, int], ...]  # (field, keypoint count): their x, y, v lists joined are the keypoints


@dataclass(frozen=True)
class RecordFormat:
    key: str  # machine name, e.g. "coco"
    label: str  # shown in the header and the JSON, e.g. "COCO results"
    priority: int  # lower is offered a record first
    claims: Callable[[RecordShape, Protocol], bool]
    keypoints: Callable[[Mapping[str, Any], Protocol], KeypointField]
    fields: Callable[[Protocol], FieldLayout]  # where ``keypoints`` reads them (the compiled read path reads there)


@cache
def registered() -> tuple[RecordFormat, ...]:
    """Every format of this package, in the order records are offered to them."""
    found = []
    for module in pkgutil.iter_modules(__path__):
        found.append(importlib.import_module(f"{__name__}.{module.name}").FORMAT)
    return tuple(sorted(found, key=lambda f: f.priority))


def catch_all() -> RecordFormat:
    """The format offered a record last, which claims whatever no other format claims (plain COCO results)."""
    return registered()[-1]


def by_key() -> dict[str, RecordFormat]:
    return {f.key: f for f in registered()}


def format_of(record: Mapping[str, Any], protocol: Protocol) -> RecordFormat:
    """The format that reads ``record``: the first, by priority, that claims it."""
    shape = RecordShape.of(record)
    return next(f for f in registered() if f.claims(shape, protocol))


def flat_keypoints(record: Mapping[str, Any], protocol: Protocol) -> KeypointField:
    """A record's flat keypoint list, read by its format."""
    return format_of(record, protocol).keypoints(record, protocol)
