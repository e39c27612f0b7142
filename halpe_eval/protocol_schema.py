"""Protocol file validation as a table: one entry per field, checked in order.

Each check takes the field's value and the fields validated before it, and
returns the value converted for :class:`~halpe_eval.protocol.Protocol` (or
:class:`~halpe_eval.protocol.EvalParams` for the parameter fields), or raises
:class:`Bad` with a message naming the field, by its path where it is nested
(``part 'upper'``, ``'area_ranges.medium'``, ``'statistics.AP50.area'``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from .errors import InputError
from .protocol import AREA_RANGE_SETS, EvalParams, ImageSplit, Protocol, Statistic, cocoeval_range, is_positive_number


class Bad(ValueError):
    """A field's value is wrong; the message says which field and why."""


Check = Callable[[Any, dict[str, Any]], Any]  # (value, fields already validated) -> converted value


@dataclass(frozen=True)
class Field:
    check: Check
    required: bool = False
    param: bool = False  # an EvalParams field, not a Protocol field


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _text(value: Any, _: dict[str, Any]) -> str:
    return str(value)


def _keypoint_names(value: Any, _: dict[str, Any]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(k, str) for k in value):
        raise Bad("'keypoints' must be a non-empty list of names")
    if len(set(value)) != len(value):
        raise Bad("'keypoints' must not repeat a name")
    return tuple(value)


def _sigmas(value: Any, known: dict[str, Any]) -> tuple[float, ...]:
    n = len(known["keypoints"])
    if not isinstance(value, list) or len(value) != n:
        raise Bad(f"'sigmas' must be a list of {n} numbers, one per keypoint")
    if not all(is_positive_number(s) for s in value):
        raise Bad("'sigmas' must be positive finite numbers")
    return tuple(float(s) for s in value)


def _indices(value: Any, n: int) -> bool:
    """Distinct keypoint indices in 0..n-1, at least one."""
    return (isinstance(value, list) and bool(value) and len(set(value)) == len(value)
            and all(_is_int(i) and 0 <= i < n for i in value))


def _parts(value: Any, known: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    n = len(known["keypoints"])
    if not isinstance(value, Mapping):
        raise Bad("'parts' must map part names to keypoint index lists")
    for name, idx in value.items():
        if not _indices(idx, n):
            raise Bad(f"part {name!r} must list distinct keypoint indices in 0..{n - 1}")
    if not value:
        raise Bad("needs at least one part")
    return {str(name): tuple(idx) for name, idx in value.items()}


def _mean_parts(value: Any, known: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    parts = known["parts"]
    if not isinstance(value, Mapping) or not all(
        isinstance(v, list) and v and all(p in parts for p in v) for v in value.values()
    ):
        raise Bad("'mean_parts' must map names to lists of part names")
    clash = sorted(set(value) & set(parts))
    if clash:
        raise Bad(f"'mean_parts' name(s) {', '.join(clash)} are already parts")
    return {str(k): tuple(v) for k, v in value.items()}


def _rows(value: Any, known: dict[str, Any]) -> tuple[str, ...]:
    names = set(known["parts"]) | set(known.get("mean_parts", {}))
    if not isinstance(value, list) or not value or not all(r in names for r in value):
        raise Bad("'rows' must list names from 'parts' or 'mean_parts'")
    if len(set(value)) != len(value):
        raise Bad("'rows' must not repeat a name")
    return tuple(value)


def _part_list(key: str) -> Check:
    def check(value: Any, known: dict[str, Any]) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(v in known["parts"] for v in value) or len(set(value)) != len(value):
            raise Bad(f"{key!r} must list distinct names from 'parts'")
        return tuple(value)

    return check


def _part_name(key: str) -> Check:
    def check(value: Any, known: dict[str, Any]) -> str:
        if value not in known["parts"]:
            raise Bad(f"{key!r} must name one of the 'parts' ({', '.join(known['parts'])})")
        return str(value)

    return check


def _nested_fields(value: Any, known: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    n = len(known["keypoints"])
    pairs_ok = isinstance(value, list) and len(value) != 1 and all(
        isinstance(f, list) and len(f) == 2 and isinstance(f[0], str) and _is_int(f[1]) and f[1] > 0 for f in value
    )
    if not pairs_ok or (value and sum(f[1] for f in value) != n):
        raise Bad(f"'nested_fields' must be two or more [field, count] pairs, counts > 0 adding up to {n}")
    return tuple((f, c) for f, c in value)


def _flip_pairs(value: Any, known: dict[str, Any]) -> tuple[tuple[int, int], ...]:
    n = len(known["keypoints"])
    ok = isinstance(value, list) and all(
        isinstance(pair, list) and len(pair) == 2 and all(_is_int(i) and 0 <= i < n for i in pair) for pair in value)
    if not ok:
        raise Bad(f"'flip_pairs' must be a list of [left, right] keypoint index pairs in 0..{n - 1}")
    used = [i for pair in value for i in pair]
    if len(set(used)) != len(used):
        raise Bad("'flip_pairs' must name each keypoint at most once (a keypoint mirrors one other keypoint)")
    return tuple((a, b) for a, b in value)


def _choice(key: str, allowed: tuple[str, ...]) -> Check:
    def check(value: Any, _: dict[str, Any]) -> str:
        if value not in allowed:
            raise Bad(f"{key!r} must be one of {', '.join(allowed)}")
        return str(value)

    return check


def _flag(key: str) -> Check:
    def check(value: Any, _: dict[str, Any]) -> bool:
        if not isinstance(value, bool):
            raise Bad(f"{key!r} must be true or false")
        return value

    return check


def _part_score_keys(value: Any, known: dict[str, Any]) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise Bad("'part_score_keys' must map part names to field names")
    unknown = sorted(set(value) - set(known["parts"]))
    if unknown:
        raise Bad(f"'part_score_keys' names unknown part(s) {', '.join(unknown)}")
    return dict(value)


def _keypoint_indices(key: str) -> Check:
    def check(value: Any, known: dict[str, Any]) -> tuple[int, ...]:
        n = len(known["keypoints"])
        if not _indices(value, n):
            raise Bad(f"{key!r} must list distinct keypoint indices in 0..{n - 1}")
        return tuple(value)

    return check


def _reference(value: Any, _: dict[str, Any]) -> str:
    from .oracles.adapters import ORACLE_NAMES

    allowed = (*ORACLE_NAMES, "")
    if value not in allowed:
        raise Bad(f"'reference' must be one of {', '.join(repr(r) for r in allowed)}")
    return str(value)


def _reference_parts(value: Any, known: dict[str, Any]) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise Bad("'reference_parts' must map part names to the official evaluator's names for them")
    unknown = sorted(set(value) - set(known["parts"]))
    if unknown:
        raise Bad(f"'reference_parts' names unknown part(s) {', '.join(unknown)}")
    return dict(value)


def _positive_int(key: str) -> Check:
    def check(value: Any, _: dict[str, Any]) -> int:
        if not _is_int(value) or value < 1:
            raise Bad(f"{key!r} must be a positive integer")
        return int(value)

    return check


def _area_ranges(value: Any, _: dict[str, Any]) -> tuple[tuple[str, float, float], ...]:
    if isinstance(value, str) and value in AREA_RANGE_SETS:
        return AREA_RANGE_SETS[value]
    if not isinstance(value, Mapping) or not value:
        raise Bad("'area_ranges' must map range names to [low, high] areas (the first is the reference range), "
                  f"or name a set: {', '.join(AREA_RANGE_SETS)}")
    out = []
    for name, bounds in value.items():
        ok = isinstance(bounds, list) and len(bounds) == 2 and all(
            isinstance(b, (int, float)) and not isinstance(b, bool) and b >= 0 for b in bounds)
        if not ok or bounds[0] > bounds[1]:
            raise Bad(f"'area_ranges.{name}' must be [low, high] with 0 <= low <= high")
        out.append((str(name), float(bounds[0]), float(bounds[1])))
    return tuple(out)


def _threshold_range(key: str, low: float) -> Check:
    def check(value: Any, _: dict[str, Any]) -> tuple[float, ...]:
        fields = ("start", "stop", "step")
        ok = isinstance(value, Mapping) and set(value) == set(fields) and all(
            isinstance(value[f], (int, float)) and not isinstance(value[f], bool) for f in fields)
        if not ok or not (low <= value["start"] <= value["stop"] <= 1 and value["step"] > 0):
            raise Bad(f"{key!r} must be {{start, stop, step}} with {low} <= start <= stop <= 1 and step > 0 "
                      "(built as cocoeval builds them)")
        return cocoeval_range(value["start"], value["stop"], value["step"])

    return check


def _image_splits(value: Any, _: dict[str, Any]) -> dict[str, ImageSplit]:
    if not isinstance(value, Mapping):
        raise Bad("'image_splits' must map split names to {field, edges, names}")
    out = {}
    for name, spec in value.items():
        where = f"'image_splits.{name}'"
        if not isinstance(spec, Mapping) or not set(spec) <= {"field", "edges", "names"} or \
                not isinstance(spec.get("field"), str) or not spec["field"]:
            raise Bad(f"{where} must be {{field, edges, names}}: an images[] field, optional edges and slice names")
        edges = spec.get("edges", [])
        if not (isinstance(edges, list) and all(_is_real(e) for e in edges)
                and all(a < b for a, b in zip(edges, edges[1:]))):
            raise Bad(f"{where}.edges must be increasing numbers")
        names = spec.get("names", [])
        if names and not (edges and isinstance(names, list) and len(names) == len(edges) + 1
                          and all(isinstance(n, str) and n for n in names) and len(set(names)) == len(names)):
            raise Bad(f"{where}.names must be {len(edges) + 1} distinct names, one per slice between the edges")
        out[str(name)] = ImageSplit(spec["field"], tuple(float(e) for e in edges), tuple(names))
    return out


STATISTIC_KEYS = ("measure", "area", "oks", "split", "slice", "average", "digits")


def _statistics(value: Any, known: dict[str, Any]) -> tuple[Statistic, ...]:
    areas = [name for name, _, _ in known.get("area_ranges", EvalParams().area_ranges)]
    thresholds = known.get("oks_thresholds", EvalParams().oks_thresholds)
    if not isinstance(value, Mapping) or not value:
        raise Bad("'statistics' must map names to {measure, area, oks}")
    out = []
    for name, spec in value.items():
        where = f"statistics.{name}"
        if not isinstance(spec, Mapping) or not set(spec) <= set(STATISTIC_KEYS):
            raise Bad(f"'{where}' must be {{measure, area, oks}} (oks optional; also split, slice, average, digits)")
        if spec.get("measure") not in ("AP", "AR"):
            raise Bad(f"'{where}.measure' must be AP or AR")
        if spec.get("area") not in areas:
            raise Bad(f"'{where}.area' must be one of the area ranges ({', '.join(areas)})")
        oks = spec.get("oks")
        if oks is not None and not (_is_real(oks) and any(abs(oks - t) < 1e-9 for t in thresholds)):
            raise Bad(f"'{where}.oks' must be one of the OKS thresholds")
        out.append(Statistic(str(name), spec["measure"], spec["area"], None if oks is None else float(oks),
                             *_on_images(spec, where, known.get("image_splits", {}))))
    return tuple(out)


def _on_images(spec: Mapping, where: str, splits: Mapping[str, ImageSplit]) -> tuple[str, str, str, int | None]:
    """A statistic's image slice, average and rounding, checked against the protocol's image splits."""
    split, slice_name = spec.get("split", ""), spec.get("slice", "")
    if split or slice_name:
        if split not in splits:
            raise Bad(f"'{where}.split' must name one of the 'image_splits' ({', '.join(splits) or 'none given'})")
        names = splits[split].names
        if not isinstance(slice_name, str) or not slice_name or (names and slice_name not in names):
            raise Bad(f"'{where}.slice' must name a slice of split {split!r}"
                      + (f" ({', '.join(names)})" if names else " (a value of its field)"))
    average = spec.get("average", "defined")
    if average not in ("defined", "every_entry"):
        raise Bad(f"'{where}.average' must be defined or every_entry")
    digits = spec.get("digits")
    if digits is not None and not (_is_int(digits) and digits >= 0):
        raise Bad(f"'{where}.digits' must be an integer >= 0")
    return split, slice_name, average, digits


SCHEMA: dict[str, Field] = {
    "name": Field(_text, required=True),
    "keypoints": Field(_keypoint_names, required=True),
    "sigmas": Field(_sigmas, required=True),
    "parts": Field(_parts, required=True),
    "mean_parts": Field(_mean_parts),
    "rows": Field(_rows),
    "split_hands_rows": Field(_part_list("split_hands_rows")),
    "whole_part": Field(_part_name("whole_part")),
    "nested_fields": Field(_nested_fields),
    "description": Field(_text),
    "sigmas_note": Field(_text),
    "reference": Field(_reference),
    "reference_parts": Field(_reference_parts),
    "crowd_ignored": Field(_flag("crowd_ignored")),
    "ignore_field": Field(_flag("ignore_field")),
    "drop_zero_score": Field(_choice("drop_zero_score", ("skeleton", "part", "never"))),
    "part_score_keys": Field(_part_score_keys),
    "area_keypoints": Field(_keypoint_indices("area_keypoints")),
    "num_keypoints_counts": Field(_keypoint_indices("num_keypoints_counts")),
    "no_keypoints_rule": Field(_choice("no_keypoints_rule", ("labelled", "num_keypoints"))),
    "coordinate_dtype": Field(_choice("coordinate_dtype", ("float32", "float64"))),
    "repeated_annotations": Field(_choice("repeated_annotations", ("separate", "ignored"))),
    "use_area": Field(_flag("use_area")),
    "image_splits": Field(_image_splits),
    "flip_pairs": Field(_flip_pairs),
    "max_detections": Field(_positive_int("max_detections"), param=True),
    "area_ranges": Field(_area_ranges, param=True),
    "oks_thresholds": Field(_threshold_range("oks_thresholds", 0.0), param=True),
    "recall_thresholds": Field(_threshold_range("recall_thresholds", 0.0), param=True),
    "statistics": Field(_statistics, param=True),
}
NOTES = ("sigmas_note",)  # documentation only


def protocol_from_mapping(data: Any, source: str) -> Protocol:
    """Validate a protocol mapping against :data:`SCHEMA`; every problem names the source and the field."""
    try:
        values = _validated(data)
    except Bad as exc:
        raise InputError(f"{source}: protocol {exc}") from None
    params = EvalParams(**{k: values.pop(k) for k in list(values) if SCHEMA[k].param})
    for note in NOTES:
        values.pop(note, None)
    try:
        _check_statistics_fit(params)
    except Bad as exc:
        raise InputError(f"{source}: protocol {exc}") from None
    return Protocol(**values, params=params)


def _check_statistics_fit(params: EvalParams) -> None:
    """The statistics (given or COCO's default ten) name existing area ranges and thresholds."""
    for stat in params.statistics:
        if stat.area not in params.area_names:
            raise Bad(f"statistic {stat.name} needs the area range {stat.area!r}: add it to 'area_ranges' "
                      "or give 'statistics'")
        if stat.oks is not None and not any(abs(stat.oks - t) < 1e-9 for t in params.oks_thresholds):
            raise Bad(f"statistic {stat.name} needs the OKS threshold {stat.oks}: change 'oks_thresholds' "
                      "or give 'statistics'")


def _validated(data: Any) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise Bad("must be a table/object")
    unknown = sorted(set(data) - set(SCHEMA))
    if unknown:
        raise Bad(f"has unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(SCHEMA))}")
    for key, spec in SCHEMA.items():
        if spec.required and key not in data:
            raise Bad(f"lacks the field {key!r}")
    values: dict[str, Any] = {}
    for key, spec in SCHEMA.items():
        if key in data:
            values[key] = spec.check(data[key], values)
    return values
