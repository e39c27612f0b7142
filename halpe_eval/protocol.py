"""Evaluation protocols as data.

A protocol names the keypoints, groups them into parts, gives the OKS sigma of
each keypoint and sets the few switches in which the official COCO-style
evaluators differ.  Built-in protocols are JSON files in ``protocols/``; a user
protocol is a TOML or JSON file with the same fields (see docs/protocols.md).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

from .errors import InputError

BUILTIN_DIR = Path(__file__).with_name("protocols")

DROP_RULES = ("skeleton", "part", "never")
NO_KEYPOINT_RULES = ("labelled", "num_keypoints")
COORDINATE_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Protocol:
    """One evaluation protocol.

    Semantic switches (defaults are the COCO keypoint conventions):

    - ``crowd_ignored``: GT with ``iscrowd`` set are ignored (pycocotools,
      xtcocotools); halpecocotools forgets to (its line is commented out).
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
    """

    name: str
    keypoints: Tuple[str, ...]
    sigmas: Tuple[float, ...]
    parts: Mapping[str, Tuple[int, ...]]
    subparts: Mapping[str, Tuple[int, ...]] = field(default_factory=dict)
    description: str = ""
    reference: str = ""
    crowd_ignored: bool = True
    drop_zero_score: str = "never"
    part_score_keys: Mapping[str, str] = field(default_factory=dict)
    area_keypoints: Optional[Tuple[int, ...]] = None
    no_keypoints_rule: str = "labelled"
    coordinate_dtype: str = "float64"
    max_detections: int = 20

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    def part_names(self, split_hands: bool = False) -> Tuple[str, ...]:
        """Parts in report order; ``split_hands`` inserts the subparts before ``wholebody``."""
        names = list(self.parts)
        if split_hands and self.subparts:
            at = names.index("wholebody") if "wholebody" in names else len(names)
            names[at:at] = [s for s in self.subparts if s not in self.parts]
        return tuple(names)

    def part_indices(self, part: str) -> Tuple[int, ...]:
        return self.parts[part] if part in self.parts else self.subparts[part]

    def part_of_keypoint(self) -> Tuple[str, ...]:
        """For each keypoint, the first part (other than wholebody) that holds it."""
        owner = ["wholebody"] * self.num_keypoints
        for name, idx in reversed(list(self.parts.items())):
            if name == "wholebody":
                continue
            for i in idx:
                owner[i] = name
        return tuple(owner)


def builtin_names() -> Tuple[str, ...]:
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.json")))


def load_protocol(spec) -> Protocol:
    """A Protocol from a built-in name, a file path, a mapping, or a Protocol."""
    if isinstance(spec, Protocol):
        return spec
    if isinstance(spec, Mapping):
        return protocol_from_mapping(spec, source="<mapping>")
    spec = str(spec)
    if spec in builtin_names():
        path = BUILTIN_DIR / f"{spec}.json"
    else:
        path = Path(spec)
        if not path.is_file():
            raise InputError(
                f"unknown protocol {spec!r}: not a built-in ({', '.join(builtin_names())}) "
                "and no such file"
            )
    return protocol_from_mapping(_read_protocol_file(path), source=str(path))


def _read_protocol_file(path: Path) -> dict:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read protocol file ({exc.strerror})") from None
    try:
        if path.suffix.lower() == ".toml":
            try:
                import tomllib
            except ImportError:  # Python < 3.11
                import tomli as tomllib
            return tomllib.loads(raw.decode("utf-8"))
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not a valid protocol file ({exc})") from None


def protocol_from_mapping(data: Mapping, source: str) -> Protocol:
    """Validate a protocol mapping; every problem names the source and the field."""

    def fail(msg: str):
        raise InputError(f"{source}: protocol {msg}")

    if not isinstance(data, Mapping):
        fail("must be a table/object")
    known = set(Protocol.__dataclass_fields__) | {"sigmas_note"}
    unknown = sorted(set(data) - known)
    if unknown:
        fail(f"has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for required in ("name", "keypoints", "sigmas", "parts"):
        if required not in data:
            fail(f"lacks the field {required!r}")
    keypoints = data["keypoints"]
    if not isinstance(keypoints, list) or not keypoints or not all(isinstance(k, str) for k in keypoints):
        fail("'keypoints' must be a non-empty list of names")
    n = len(keypoints)
    sigmas = data["sigmas"]
    if not isinstance(sigmas, list) or len(sigmas) != n:
        fail(f"'sigmas' must be a list of {n} numbers, one per keypoint")
    if not all(_is_number(s) and math.isfinite(s) and s > 0 for s in sigmas):
        fail("'sigmas' must be positive finite numbers")

    def index_table(key: str) -> dict:
        table = data.get(key, {})
        if not isinstance(table, Mapping):
            fail(f"{key!r} must map part names to keypoint index lists")
        out = {}
        for name, idx in table.items():
            if (
                not isinstance(idx, list)
                or not idx
                or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in idx)
                or len(set(idx)) != len(idx)
            ):
                fail(f"part {name!r} must list distinct keypoint indices in 0..{n - 1}")
            out[str(name)] = tuple(idx)
        return out

    parts = index_table("parts")
    if not parts:
        fail("needs at least one part")
    subparts = index_table("subparts")
    choices = {
        "drop_zero_score": DROP_RULES,
        "no_keypoints_rule": NO_KEYPOINT_RULES,
        "coordinate_dtype": COORDINATE_DTYPES,
    }
    values = {}
    for key, allowed in choices.items():
        if key in data:
            if data[key] not in allowed:
                fail(f"{key!r} must be one of {', '.join(allowed)}")
            values[key] = data[key]
    if "crowd_ignored" in data:
        if not isinstance(data["crowd_ignored"], bool):
            fail("'crowd_ignored' must be true or false")
        values["crowd_ignored"] = data["crowd_ignored"]
    scores = data.get("part_score_keys", {})
    if not isinstance(scores, Mapping) or not all(isinstance(v, str) for v in scores.values()):
        fail("'part_score_keys' must map part names to field names")
    area = data.get("area_keypoints")
    if area is not None:
        if not isinstance(area, list) or not area or not all(isinstance(i, int) and 0 <= i < n for i in area):
            fail(f"'area_keypoints' must list keypoint indices in 0..{n - 1}")
        area = tuple(area)
    max_dets = data.get("max_detections", 20)
    if not isinstance(max_dets, int) or isinstance(max_dets, bool) or max_dets < 1:
        fail("'max_detections' must be a positive integer")
    return Protocol(
        name=str(data["name"]),
        keypoints=tuple(keypoints),
        sigmas=tuple(float(s) for s in sigmas),
        parts=parts,
        subparts=subparts,
        description=str(data.get("description", "")),
        reference=str(data.get("reference", "")),
        part_score_keys=dict(scores),
        area_keypoints=area,
        max_detections=max_dets,
        **values,
    )


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
