"""Evaluation protocols as data.

A protocol names the keypoints, groups them into parts, gives the OKS sigma of
each keypoint and sets the few switches in which the official COCO-style
evaluators differ.  Built-in protocols are JSON files in ``protocols/``; a user
protocol is a TOML or JSON file with the same fields (see docs/protocols.md).
"""
from __future__ import annotations

import json
import math
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Tuple

from .errors import InputError

BUILTIN_DIR = Path(__file__).with_name("protocols")

DROP_RULES = ("skeleton", "part", "never")
NO_KEYPOINT_RULES = ("labelled", "num_keypoints")
COORDINATE_DTYPES = ("float32", "float64")
REFERENCES = ("halpecocotools", "xtcocotools", "pycocotools", "")  # "": no official evaluator


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
    """

    name: str
    keypoints: Tuple[str, ...]
    sigmas: Tuple[float, ...]
    parts: Mapping[str, Tuple[int, ...]]  # every part that can be scored: name -> keypoint indices
    rows: Tuple[str, ...] = ()  # parts reported by default, in order (default: all parts)
    mean_parts: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)  # stat-by-stat means of parts
    nested_fields: Tuple[Tuple[str, int], ...] = ()  # per-part keypoint fields, concatenated in order
    description: str = ""
    reference: str = ""  # the official evaluator: halpecocotools, xtcocotools, pycocotools or ""
    crowd_ignored: bool = True
    ignore_field: bool = False
    drop_zero_score: str = "never"
    part_score_keys: Mapping[str, str] = field(default_factory=dict)
    area_keypoints: Optional[Tuple[int, ...]] = None
    no_keypoints_rule: str = "labelled"
    coordinate_dtype: str = "float64"
    max_detections: int = 20

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def whole_part(self) -> str:
        """The part over the most keypoints (``wholebody`` when it covers them all): the per-keypoint breakdown's."""
        if len(self.parts.get("wholebody", ())) == self.num_keypoints:
            return "wholebody"
        return max(self.parts, key=lambda name: len(self.parts[name]))

    def part_names(self, split_hands: bool = False) -> Tuple[str, ...]:
        """Rows in report order; ``split_hands`` adds left_hand and right_hand before ``wholebody``."""
        names = list(self.rows or self.parts)
        if split_hands:
            extra = [h for h in ("left_hand", "right_hand") if h in self.parts and h not in names]
            at = names.index("wholebody") if "wholebody" in names else len(names)
            names[at:at] = extra
        return tuple(names)

    def with_sigmas(self, sigmas, source: str = "sigmas") -> "Protocol":
        """This protocol with another sigma table (``--sigmas``), length-checked."""
        if not isinstance(sigmas, (list, tuple)):
            raise InputError(f"{source}: expected a JSON list of {self.num_keypoints} sigmas, one per keypoint")
        if len(sigmas) != self.num_keypoints:
            raise InputError(f"{source}: expected {self.num_keypoints} positive numbers for protocol {self.name}, "
                             f"got {len(sigmas)} values")
        bad = next((i for i, s in enumerate(sigmas) if not (_is_number(s) and math.isfinite(s) and s > 0)), None)
        if bad is not None:
            raise InputError(f"{source}: sigma #{bad} ({self.keypoints[bad]}) is {json.dumps(sigmas[bad])}, "
                             "expected a positive number")
        return dataclasses.replace(self, sigmas=tuple(float(s) for s in sigmas))


def builtin_names() -> Tuple[str, ...]:
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.json")))


def detect_protocol(annotation: Mapping) -> Protocol:
    """The built-in protocol for a GT annotation: nested fields first, then the keypoint count."""
    builtins = [load_protocol(name) for name in builtin_names()]
    choose = f"choose one with --protocol ({', '.join(builtin_names())}) or give a protocol file"
    for proto in builtins:
        part_fields = [f for f, _ in proto.nested_fields[1:]]
        present = [f for f in part_fields if f in annotation]
        if present and len(present) == len(part_fields) and proto.nested_fields[0][0] in annotation:
            return proto
        if present:
            missing = [f for f, _ in proto.nested_fields if f not in annotation]
            raise InputError(f"has {', '.join(present)} but not {', '.join(missing)}: {proto.name} "
                             f"annotations need every part field")
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
    if len(set(keypoints)) != len(keypoints):
        fail("'keypoints' must not repeat a name")
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
    mean_parts = data.get("mean_parts", {})
    if not isinstance(mean_parts, Mapping) or not all(
        isinstance(v, list) and v and all(p in parts for p in v) for v in mean_parts.values()
    ):
        fail("'mean_parts' must map names to lists of part names")
    if set(mean_parts) & set(parts):
        fail(f"'mean_parts' name(s) {', '.join(sorted(set(mean_parts) & set(parts)))} are already parts")
    rows = data.get("rows", list(parts))
    if not isinstance(rows, list) or not rows or not all(r in parts or r in mean_parts for r in rows):
        fail("'rows' must list names from 'parts' or 'mean_parts'")
    if len(set(rows)) != len(rows):
        fail("'rows' must not repeat a name")
    nested = data.get("nested_fields", [])
    if not isinstance(nested, list) or len(nested) == 1 or not all(
        isinstance(f, list) and len(f) == 2 and isinstance(f[0], str)
        and isinstance(f[1], int) and not isinstance(f[1], bool) and f[1] > 0 for f in nested
    ) or (nested and sum(f[1] for f in nested) != n):
        fail(f"'nested_fields' must be two or more [field, count] pairs, counts > 0 adding up to {n}")
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
    for key in ("crowd_ignored", "ignore_field"):
        if key in data:
            if not isinstance(data[key], bool):
                fail(f"{key!r} must be true or false")
            values[key] = data[key]
    scores = data.get("part_score_keys", {})
    if not isinstance(scores, Mapping) or not all(isinstance(v, str) for v in scores.values()):
        fail("'part_score_keys' must map part names to field names")
    if set(scores) - set(parts):
        fail(f"'part_score_keys' names unknown part(s) {', '.join(sorted(set(scores) - set(parts)))}")
    area = data.get("area_keypoints")
    if area is not None:
        if not isinstance(area, list) or not area or len(set(area)) != len(area) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in area
        ):
            fail(f"'area_keypoints' must list distinct keypoint indices in 0..{n - 1}")
        area = tuple(area)
    if data.get("reference", "") not in REFERENCES:
        fail(f"'reference' must be one of {', '.join(repr(r) for r in REFERENCES)}")
    max_dets = data.get("max_detections", 20)
    if not isinstance(max_dets, int) or isinstance(max_dets, bool) or max_dets < 1:
        fail("'max_detections' must be a positive integer")
    return Protocol(
        name=str(data["name"]),
        keypoints=tuple(keypoints),
        sigmas=tuple(float(s) for s in sigmas),
        parts=parts,
        rows=tuple(rows),
        mean_parts={k: tuple(v) for k, v in mean_parts.items()},
        nested_fields=tuple((f, c) for f, c in nested),
        description=str(data.get("description", "")),
        reference=str(data.get("reference", "")),
        part_score_keys=dict(scores),
        area_keypoints=area,
        max_detections=max_dets,
        **values,
    )


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
