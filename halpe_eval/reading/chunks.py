"""A prediction file's chunks as Columns: the compiled read path first, the precise path for what it refuses.

:mod:`.jsonio` cuts the file's top-level array into pieces of text and hands each
to :meth:`PieceReader.parse`.  A piece of plain records becomes Columns straight
from simdjson (:mod:`.simd`): keypoints as arrays, the per-record checks of
:func:`.records.chunk_columns` done on whole columns.  Any piece it refuses is
parsed by orjson and converted by ``chunk_columns``, which words the error or
reads what the compiled path leaves to it; both give bit-identical columns.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Callable

import numpy as np
import orjson

from ..errors import InputError
from ..protocol import Protocol
from . import simd
from .messages import kind
from .records import Columns, area_from_bbox, chunk_columns, finished_columns, keypoint_area

Parse = Callable[[Any], Any]  # text of a JSON array -> a value for columns_of_chunks
Read = Callable[[Parse], Iterator[Any]]  # the file's chunks, each parsed with the function given


class PieceReader:
    """Parses pieces of a prediction array; ``bbox_area`` is loadRes' area rule, None until the first record."""

    def __init__(self, protocol: Protocol, bbox_area: bool | None):
        self.protocol = protocol
        self.bbox_area = bbox_area
        self.scalars = ("image_id", "category_id", "score", *protocol.part_score_keys.values())
        self.arrays = simd.array_fields(protocol)

    def parse(self, text: Any) -> Any:
        """Columns of the piece's records, or (refused by the compiled path) the records parsed by orjson."""
        columns = self._columns(text)
        return orjson.loads(text) if columns is None else columns

    def _columns(self, text: Any) -> Columns | None:
        document = simd.parse(text, simd.thread_parser())
        got = None if document is None else simd.gather(document, self.protocol, self.scalars)
        del document
        if got is None or not simd.flattened_exactly(text, 1, got.flattened, self.arrays):
            return None
        values = got.values
        image_ids: list | np.ndarray | None = simd.int64_column(values["image_id"])  # file names stay a list
        if image_ids is None:
            image_ids = values["image_id"]
            if not _image_ids_ok(values["image_id"]):
                return None
        category_ids = simd.int64_column(values["category_id"])
        score = simd.float64_column(values["score"])
        if category_ids is None or score is None:
            return None
        part_scores = {}
        for part, key in self.protocol.part_score_keys.items():
            if any(v is not simd.MISSING for v in values[key]):
                part_score = simd.float64_column([np.nan if v is None or v is simd.MISSING else v for v in values[key]])
                if part_score is None:
                    return None
                part_scores[part] = part_score
        bbox_area = got.first_box if self.bbox_area is None else self.bbox_area
        if not bbox_area:
            area = keypoint_area(got.keypoints, self.protocol)
        elif got.boxes is not None and not (got.boxes[:, 2:] < 0).any():
            area = got.boxes[:, 2] * got.boxes[:, 3]
        else:
            return None
        self.bbox_area = bbox_area
        return finished_columns(image_ids, category_ids, score, got.keypoints, area, part_scores, bbox_area,
                                tuple(sorted(got.formats)), self.protocol)


def _image_ids_ok(values: list) -> bool:
    """Each an integer id (int64) or a non-empty file name, as ``chunk_columns`` requires (asked when not every
    one is an integer id: those are read as one array)."""
    types = set(map(type, values))
    if not types <= {int, str}:
        return False
    if str in types and "" in values:
        return False
    return int not in types or simd.int64_column([v for v in values if type(v) is int]) is not None


def columns_of_chunks(read: Read, protocol: Protocol, name: str, bbox_area: bool | None = None) -> list[Columns]:
    """Convert every chunk of ``read`` in turn; ``bbox_area`` None: decided by the first record."""
    pieces = PieceReader(protocol, bbox_area)
    columns: list[Columns] = []
    offset = 0
    for chunk in read(pieces.parse):
        if not isinstance(chunk, Columns):
            if not isinstance(chunk, list):
                raise InputError(f"{name}: top level is a JSON {kind(chunk)}, expected a list of results"
                                 f"{_results_hint(chunk)}")
            if pieces.bbox_area is None:
                pieces.bbox_area = bool(chunk) and area_from_bbox(chunk[0])
            chunk = chunk_columns(chunk, offset, protocol, name, pieces.bbox_area)
        columns.append(chunk)
        offset += len(chunk.score)
        del chunk
    return columns


def _results_hint(value: Any) -> str:
    """What a JSON object given as predictions probably is."""
    if isinstance(value, dict) and {"images", "annotations"} <= set(value):
        return "; this looks like a ground-truth file: the ground truth comes first (halpe-eval GT.json PRED.json)"
    if isinstance(value, dict) and isinstance(value.get("annotations"), list):
        return "; a results file is the list of predictions itself: write its 'annotations' list"
    return ""
