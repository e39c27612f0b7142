"""Image slices: statistics on subsets of the images, re-accumulated from one matching.

cocoeval matches image by image (``evaluateImg``), so the PR arrays of a subset of the
images are those :func:`~halpe_eval.accumulate.accumulate` gives on the candidates and GT
of those images alone, kept in ranking order: no OKS is computed twice.  xtcocotools'
``get_type_result`` (the CrowdPose easy/medium/hard AP) evaluates each subset again from
scratch; the result is the same.

Used twice: the protocol's statistics on an image split (``Statistic.split``), and
``--slice-by FIELD[=EDGES]`` (``evaluate(slice_by=...)``), every statistic once per slice.
Shapes: I images of the GT, N candidates of a part, G GT, A area ranges, T OKS thresholds.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from .accumulate import summarize
from .errors import InputError
from .protocol import EvalParams, ImageSplit, Protocol, Statistic
from .reading.ground_truth import GroundTruth
from .reading.messages import is_number, show_json
from .results import PartMatching, Stats

SliceMasks = dict[str, np.ndarray]  # slice name -> (I,) bool over the GT's images, in slice order


def parse_slice_by(text: str) -> ImageSplit:
    """``FIELD`` (one slice per value) or ``FIELD=E1,E2,...`` (numeric slices between increasing edges)."""
    field, _, edges_text = text.partition("=")
    field = field.strip()
    if not field:
        raise InputError(f"--slice-by {text!r}: name an images[] field, e.g. scene or crowdIndex=0.2,0.8")
    if not edges_text:
        return ImageSplit(field)
    try:
        edges = tuple(float(edge) for edge in edges_text.split(","))
    except ValueError:
        raise InputError(f"--slice-by {text!r}: the edges must be numbers, e.g. {field}=0.2,0.8") from None
    if not all(math.isfinite(e) for e in edges) or any(a >= b for a, b in zip(edges, edges[1:])):
        raise InputError(f"--slice-by {text!r}: the edges must be finite and increasing")
    return ImageSplit(field, edges)


def image_slices(gt: GroundTruth, split: ImageSplit, needed_by: str) -> SliceMasks:
    """The slices of ``split`` over the GT's images; ``needed_by`` names who asks, for messages.

    A numeric split puts each image in slice ``searchsorted(edges, value, 'right')``, i.e. by
    ``value < edge`` tests in order as xtcocotools' ``split`` does; a categorical one has a slice
    per value (in sorted order).  An image without the field, or with a value of the wrong kind,
    is an error naming it.
    """
    values = [record.get(split.field, _MISSING) for record in gt.image_records]
    for image_id, value in zip(gt.image_ids.tolist(), values):
        problem = _value_problem(value, bool(split.edges))
        if problem:
            raise InputError(f"{gt.source}: image id {image_id}: {problem} in the field {split.field!r}, which "
                             f"{needed_by} needs on every image")
    if split.edges:
        bins = np.searchsorted(np.asarray(split.edges), np.asarray(values, dtype=np.float64), side="right")
        return {name: bins == i for i, name in enumerate(split.names)}
    labels = np.asarray([str(v) for v in values], dtype=object)
    return {label: labels == label for label in sorted(set(labels.tolist()))}


_MISSING = object()


def _value_problem(value: Any, numeric: bool) -> str:
    if value is _MISSING:
        return "nothing"
    if numeric and not is_number(value):
        return f"{show_json(value)}, not a number,"
    if not numeric and not isinstance(value, (str, int, float)):
        return f"{show_json(value)}, not a single value,"
    return ""


def protocol_splits(gt: GroundTruth, protocol: Protocol) -> dict[str, SliceMasks]:
    """The slices of the image splits the protocol's statistics use."""
    used = dict.fromkeys(s.split for s in protocol.params.statistics if s.split)
    return {name: image_slices(gt, protocol.image_splits[name], f"protocol {protocol.name} (split {name!r})")
            for name in used}


def part_statistics(matching: PartMatching, precision: np.ndarray, recall: np.ndarray, params: EvalParams,
                    splits: dict[str, SliceMasks], within: np.ndarray | None = None) -> Stats:
    """Every statistic of ``params`` for one part, in order.

    ``precision`` / ``recall`` are the arrays over the images of ``within`` (None: every image);
    cocoeval's plain statistics come from them (:func:`summarize`), those on an image split from
    the arrays re-accumulated over that slice (intersected with ``within``).
    """
    plain = tuple(s for s in params.statistics if s.plain)
    stats = summarize(precision, recall, dataclasses.replace(params, statistics=plain)) if plain else {}
    arrays: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {("", ""): (precision, recall)}
    for stat in params.statistics:
        if stat.plain:
            continue
        key = (stat.split, stat.slice)
        if key not in arrays:
            images = splits[stat.split].get(stat.slice, np.zeros(matching.n_images, dtype=bool))  # no such value
            arrays[key] = matching.accumulated(images if within is None else images & within)
        stats[stat.name] = statistic_value(stat, *arrays[key], params)
    return {name: stats[name] for name in params.stat_names}


def statistic_value(stat: Statistic, precision: np.ndarray, recall: np.ndarray, params: EvalParams) -> float | None:
    """One statistic from arrays over its images: ``average`` and ``digits`` as :class:`Statistic` says.

    ``every_entry`` is xtcocotools' ``round(np.mean(precision[:, :, :, 0, :]), 4)``: -1 entries (a
    category without GT) are averaged in, and a value of exactly -1 (no GT at all) is undefined.
    """
    if stat.average == "defined":
        value = summarize(precision, recall, dataclasses.replace(params, statistics=(
            dataclasses.replace(stat, split="", slice="", digits=None),)))[stat.name]
    else:
        values = precision if stat.measure == "AP" else recall
        if stat.oks is not None:
            values = values[[params.threshold_index(stat.oks)]]
        values = values[..., params.area_names.index(stat.area)]
        value = float(np.mean(values)) if values.size else None
    if value is not None and stat.digits is not None:
        value = float(np.round(np.float64(value), stat.digits))
    return None if value == -1 else value


def part_and_slice_statistics(matching: PartMatching, precision: np.ndarray, recall: np.ndarray, gt: GroundTruth,
                              protocol: Protocol, slices: SliceMasks | None) -> tuple[Stats, dict[str, Stats]]:
    """A part's statistics over every image, and on each of ``slices`` (``--slice-by``; None: none)."""
    splits = protocol_splits(gt, protocol)
    stats = part_statistics(matching, precision, recall, protocol.params, splits)
    return stats, sliced_statistics(matching, protocol.params, splits, slices) if slices else {}


def sliced_statistics(matching: PartMatching, params: EvalParams, splits: dict[str, SliceMasks],
                      slices: SliceMasks) -> dict[str, Stats]:
    """Every statistic of ``params`` on each slice: slice name -> statistic -> value."""
    return {name: part_statistics(matching, *matching.accumulated(images), params, splits, images)
            for name, images in slices.items()}


__all__ = ["SliceMasks", "image_slices", "parse_slice_by", "part_and_slice_statistics",
           "part_statistics", "protocol_splits", "sliced_statistics", "statistic_value"]
