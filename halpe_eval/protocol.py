"""Evaluation protocols as data.

A protocol names the keypoints, groups them into parts, gives the OKS sigma of
each keypoint, sets the few switches in which the official COCO-style
evaluators differ, and carries the evaluation parameters (area ranges, OKS and
recall thresholds, max detections, the statistics reported) and its image
splits (images grouped by a field of their ``images[]`` record).  Built-in
protocols are JSON files in ``protocols/``; a user protocol is a TOML or JSON
file with the same fields (docs/protocols.md).  Validation lives in
:mod:`halpe_eval.protocol_schema`.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

BUILTIN_DIR = Path(__file__).with_name("protocols")


def cocoeval_range(start: float, stop: float, step: float) -> tuple[float, ...]:
    """Thresholds built as cocoeval's Params builds them (``np.linspace``), so they are bit-identical."""
    count = int(np.round((stop - start) / step)) + 1
    return tuple(float(v) for v in np.linspace(start, stop, count, endpoint=True))


@dataclass(frozen=True)
class Statistic:
    """One summary number: mean precision (``AP``) or recall (``AR``) in an area range,
    at one OKS threshold or (``oks`` None) over all of them (cocoeval's ``_summarize``).

    On an image split (``split``, ``slice``) the PR arrays are re-accumulated over that
    slice's images.  ``average``: ``defined`` is cocoeval's mean over the entries > -1;
    ``every_entry`` averages every entry, the -1 of undefined ones included (xtcocotools'
    ``get_type_result``, the CrowdPose easy/medium/hard AP).  ``digits`` rounds the value
    (``get_type_result`` rounds to 4).
    """

    name: str
    measure: str  # "AP" (precision) | "AR" (recall)
    area: str
    oks: float | None = None
    split: str = ""  # an image split of the protocol; "": every image
    slice: str = ""  # the slice of ``split``
    average: str = "defined"  # "defined" | "every_entry"
    digits: int | None = None

    @property
    def plain(self) -> bool:
        """A cocoeval ``_summarize`` statistic: every image, entries > -1, not rounded."""
        return not self.split and self.average == "defined" and self.digits is None


COCO_STATISTICS = (
    Statistic("AP", "AP", "all"),
    Statistic("AP50", "AP", "all", 0.5),
    Statistic("AP75", "AP", "all", 0.75),
    Statistic("APm", "AP", "medium"),
    Statistic("APl", "AP", "large"),
    Statistic("AR", "AR", "all"),
    Statistic("AR50", "AR", "all", 0.5),
    Statistic("AR75", "AR", "all", 0.75),
    Statistic("ARm", "AR", "medium"),
    Statistic("ARl", "AR", "large"),
)
COCO_STAT_NAMES = tuple(s.name for s in COCO_STATISTICS)
BOX_AREA_SHARE = 0.53  # xtcocotools, use_area=False: a GT's area is its box w * h * 0.53
COCO_KEYPOINT_AREAS = (("all", 0.0, 1e5**2), ("medium", 32.0**2, 96.0**2), ("large", 96.0**2, 1e5**2))
AREA_RANGE_SETS = {  # named area-range sets a protocol file can give instead of its own ranges
    "coco-keypoints": COCO_KEYPOINT_AREAS,  # cocoeval Params.setKpParams
    "coco-detection": (("all", 0.0, 1e5**2), ("small", 0.0, 32.0**2), ("medium", 32.0**2, 96.0**2),
                       ("large", 96.0**2, 1e5**2)),  # cocoeval Params.setDetParams
    "all": (("all", 0.0, 1e5**2),),
}


@dataclass(frozen=True)
class ImageSplit:
    """Images grouped by one field of their ``images[]`` record.

    Without ``edges`` each distinct value is a slice, named by the value.  With ``edges`` the
    value is a number and slice i holds ``edges[i-1] <= value < edges[i]`` (xtcocotools'
    ``split``: crowdIndex < 0.2 easy, < 0.8 medium, else hard); ``names`` names those
    len(edges) + 1 slices (default ``crowdIndex<0.2``, ``0.2<=crowdIndex<0.8``, ``crowdIndex>=0.8``).
    """

    field: str
    edges: tuple[float, ...] = ()
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.edges and not self.names:
            f, e = self.field, [f"{edge:g}" for edge in self.edges]
            names = [f"{f}<{e[0]}", *(f"{lo}<={f}<{hi}" for lo, hi in zip(e, e[1:])), f"{f}>={e[-1]}"]
            object.__setattr__(self, "names", tuple(names))

    def __str__(self) -> str:
        return self.field + ("=" + ",".join(f"{edge:g}" for edge in self.edges) if self.edges else "")


@dataclass(frozen=True)
class EvalParams:
    """cocoeval's ``Params`` for keypoints, frozen; the defaults are COCO's.

    The first area range is the reference range (COCO's ``all``): breakdowns and plots use it.
    """

    area_ranges: tuple[tuple[str, float, float], ...] = COCO_KEYPOINT_AREAS
    oks_thresholds: tuple[float, ...] = cocoeval_range(0.5, 0.95, 0.05)
    recall_thresholds: tuple[float, ...] = cocoeval_range(0.0, 1.0, 0.01)
    max_detections: int = 20
    statistics: tuple[Statistic, ...] = COCO_STATISTICS

    @property
    def area_names(self) -> tuple[str, ...]:
        return tuple(name for name, _, _ in self.area_ranges)

    @property
    def stat_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.statistics)

    def area_bounds(self) -> np.ndarray:
        """(A, 2) lower and upper area bound of each range, inclusive (cocoeval's test)."""
        return np.array([(lo, hi) for _, lo, hi in self.area_ranges], dtype=np.float64).reshape(-1, 2)

    def threshold_index(self, threshold: float) -> int:
        """Position of an OKS threshold in ``oks_thresholds``."""
        hits = np.flatnonzero(np.isclose(self.oks_thresholds, threshold))
        if not len(hits):
            shown = [round(t, 2) for t in self.oks_thresholds]
            raise InputError(f"the protocol has no OKS threshold {threshold} (its thresholds: {shown}), which this "
                             "output needs")
        return int(hits[0])


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    Semantic switches (defaults are the COCO keypoint conventions):

    - ``crowd_ignored``: GT with ``iscrowd`` set are ignored (pycocotools,
      xtcocotools); halpecocotools forgets to (its line is commented out).
    - ``ignore_field``: a GT's own ``ignore`` flag is honoured (halpecocotools);
      pycocotools and xtcocotools overwrite it with ``iscrowd``.
    - ``drop_zero_score``: a prediction whose keypoint scores are all <= 0 is
      dropped for the whole skeleton (halpecocotools), per part
      (xtcocotools), or never (pycocotools).
    - ``part_score_keys``: part -> prediction field that ranks predictions in
      that part when present (xtcocotools' ``foot_score`` ...); else ``score``.
    - ``area_keypoints``: keypoint indices whose extent is a prediction's area
      when results carry no ``bbox`` (None: all keypoints of the skeleton).
    - ``no_keypoints_rule``: a GT is ignored in a part when it has no labelled
      keypoint there (``labelled``), or when its ``num_keypoints`` field is 0
      (``num_keypoints``, pycocotools).
    - ``coordinate_dtype``: precision in which keypoint differences are taken
      (halpecocotools casts to float32 before the OKS).
    - ``use_area``: a GT's area (OKS scale and area ranges) is its ``area`` field;
      off, it is its box ``w * h * 0.53`` and the field is not read (xtcocotools'
      ``use_area=False``, for GT without ``area`` such as CrowdPose's).

    ``image_splits``: name -> :class:`ImageSplit`, the image subsets its statistics can be taken on.

    ``num_keypoints_counts``: the keypoints a GT's ``num_keypoints`` field counts, for the
    consistency warning (Halpe and COCO-WholeBody count the 17 COCO body keypoints on purpose).
    ``repeated_annotations``: identical GT records sharing an id are each a ``separate`` person
    (the COCO API lists every copy under its image), or ``ignored``: halpecocotools rewrites the
    shared record's ``ignore`` flag into a per-part dict once per copy, and from the second copy on
    that dict (truthy) marks every copy ignored in every part.
    ``flip_pairs``: pairs of keypoints a mirror image exchanges (left/right eye, the face contour,
    left hand <-> right hand); the keypoint error diagnosis calls a keypoint on its mirror an inversion.

    Reporting: ``rows`` in order; ``split_hands_rows`` are inserted before the
    whole-skeleton row by ``split_hands``; ``whole_part`` (default: the largest
    part) is the part of the per-keypoint breakdown.  ``reference_parts`` maps a
    part to the name the official evaluator gives it (its iouType or its key).
    """

    name: str
    keypoints: tuple[str, ...]
    sigmas: tuple[float, ...]
    parts: Mapping[str, tuple[int, ...]]  # every part that can be scored: name -> keypoint indices
    rows: tuple[str, ...] = ()  # parts reported by default, in order (default: all parts)
    mean_parts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # stat-by-stat means of parts
    split_hands_rows: tuple[str, ...] = ()  # rows added by split_hands
    whole_part: str = ""  # the whole skeleton ("": the largest part)
    nested_fields: tuple[tuple[str, int], ...] = ()  # per-part keypoint fields, concatenated in order
    description: str = ""
    reference: str = ""  # the official evaluator (see halpe_eval.oracles), or "" for none
    reference_parts: Mapping[str, str] = field(default_factory=dict)  # part -> the oracle's name for it
    crowd_ignored: bool = True
    ignore_field: bool = False
    drop_zero_score: str = "never"
    part_score_keys: Mapping[str, str] = field(default_factory=dict)
    area_keypoints: tuple[int, ...] | None = None
    no_keypoints_rule: str = "labelled"
    coordinate_dtype: str = "float64"
    num_keypoints_counts: tuple[int, ...] = ()  # the keypoints a GT's num_keypoints counts (): all
    repeated_annotations: str = "separate"  # GT records repeating an id: "separate" persons, or "ignored"
    use_area: bool = True
    image_splits: Mapping[str, ImageSplit] = field(default_factory=dict)
    flip_pairs: tuple[tuple[int, int], ...] = ()  # keypoints that trade places in a mirror image (diagnosis)
    params: EvalParams = EvalParams()

    def __post_init__(self) -> None:
        if not self.whole_part:
            object.__setattr__(self, "whole_part", max(self.parts, key=lambda name: len(self.parts[name])))
        if not self.num_keypoints_counts:
            object.__setattr__(self, "num_keypoints_counts", tuple(range(len(self.keypoints))))

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def max_detections(self) -> int:
        return self.params.max_detections

    def part_names(self, split_hands: bool = False) -> tuple[str, ...]:
        """Rows in report order; ``split_hands`` adds ``split_hands_rows`` before the whole-skeleton row."""
        names = list(self.rows or self.parts)
        if split_hands:
            extra = [h for h in self.split_hands_rows if h not in names]
            at = names.index(self.whole_part) if self.whole_part in names else len(names)
            names[at:at] = extra
        return tuple(names)

    def components(self, row: str) -> tuple[str, ...]:
        """The parts a row is computed from: itself, or the parts a mean row averages."""
        return tuple(self.mean_parts.get(row, (row,)))

    def flip_map(self) -> np.ndarray:
        """(K,) the mirrored index of each keypoint (``flip_pairs`` swapped, every other keypoint itself):
        coco-analyze's left/right inversion map, extended to feet, the 68-point face and the two hands."""
        mirror = np.arange(self.num_keypoints)
        for a, b in self.flip_pairs:
            mirror[a], mirror[b] = b, a
        return mirror

    def with_sigmas(self, sigmas: Any, source: str = "sigmas") -> Protocol:
        """This protocol with another sigma table (``--sigmas``), length-checked."""
        if not isinstance(sigmas, (list, tuple)):
            raise InputError(f"{source}: expected a JSON list of {self.num_keypoints} sigmas, one per keypoint")
        if len(sigmas) != self.num_keypoints:
            raise InputError(f"{source}: expected {self.num_keypoints} positive numbers for protocol {self.name}, "
                             f"got {len(sigmas)} values")
        bad = next((i for i, s in enumerate(sigmas) if not is_positive_number(s)), None)
        if bad is not None:
            raise InputError(f"{source}: sigma #{bad} ({self.keypoints[bad]}) is {json.dumps(sigmas[bad])}, "
                             "expected a positive number")
        return dataclasses.replace(self, sigmas=tuple(float(s) for s in sigmas))


def is_positive_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


@cache
def builtin_names() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.json")))


@cache
def _builtin(name: str) -> Protocol:
    """A built-in protocol, read and validated once per process (a Protocol is immutable)."""
    from .protocol_schema import protocol_from_mapping

    path = BUILTIN_DIR / f"{name}.json"
    return protocol_from_mapping(_read_protocol_file(path), source=str(path))


def detect_protocol(annotation: Mapping) -> Protocol:
    """The built-in protocol for a GT annotation: nested fields first, then the keypoint count."""
    builtins = [load_protocol(name) for name in builtin_names()]
    choose = f"choose one with --protocol ({', '.join(builtin_names())}) or give a protocol file"
    for proto in builtins:
        if _nested_match(proto, annotation):
            return proto
    keypoints = annotation.get("keypoints")
    if not isinstance(keypoints, list):
        raise InputError(f"has no 'keypoints' list to detect the protocol from; {choose}")
    if len(keypoints) % 3:
        raise InputError(f"has {len(keypoints)} keypoint numbers, not x, y, v triples")
    count = len(keypoints) // 3
    for proto in builtins:
        if proto.num_keypoints == count:
            return proto
    raise InputError(f"has {count} keypoints; no built-in protocol has {count}; {choose}")


def _nested_match(proto: Protocol, annotation: Mapping) -> bool:
    """Whether ``annotation`` carries all of the protocol's nested fields; an error when only some."""
    part_fields = [f for f, _ in proto.nested_fields[1:]]
    present = [f for f in part_fields if f in annotation]
    if present and len(present) == len(part_fields) and proto.nested_fields[0][0] in annotation:
        return True
    if present:
        missing = [f for f, _ in proto.nested_fields if f not in annotation]
        raise InputError(f"has {', '.join(present)} but not {', '.join(missing)}: {proto.name} "
                         f"annotations need every part field")
    return False


def load_protocol(spec: Any) -> Protocol:
    """A Protocol from a built-in name, a file path, a mapping, or a Protocol."""
    from .protocol_schema import protocol_from_mapping

    if isinstance(spec, Protocol):
        return spec
    if isinstance(spec, Mapping):
        return protocol_from_mapping(spec, source="<mapping>")
    spec = str(spec)
    if spec in builtin_names():
        return _builtin(spec)
    path = Path(spec)
    if not path.is_file():
        raise InputError(
            f"unknown protocol {spec!r}: not a built-in ({', '.join(builtin_names())}) "
            "and no such file"
        )
    return protocol_from_mapping(_read_protocol_file(path), source=str(path))


def _read_protocol_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read protocol file ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                import tomli as tomllib
            return tomllib.loads(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid protocol file ({exc})") from None
