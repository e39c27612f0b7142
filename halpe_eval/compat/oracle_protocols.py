"""Which protocol and which part a drop-in evaluation scores, read from the protocol files.

Each official library is the ``reference`` of one built-in protocol (its *own* protocol:
halpecocotools -> halpe136, xtcocotools -> coco-wholebody, pycocotools -> coco17), whose
``reference_parts`` give the library's name for each part (an xtcocotools iouType, a
halpecocotools part key).  A library's scoring rules are the switches of its own protocol;
the skeleton is the ground truth's, detected from the annotation file as the CLI does.
So xtcocotools on a COCO-17 file (mmpose's ``CocoMetric``) scores coco17's keypoints with
xtcocotools' rules: labelled keypoints decide "no keypoints", zero-score predictions are
dropped, ``num_keypoints`` is not read.

A part is scored only where the ground truth's skeleton has it with the same keypoints as
the library's own protocol; anything else is refused with an error naming the real
library, never scored differently from it.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import Any

from ..protocol import Protocol, builtin_names, load_protocol
from ..reading.ground_truth import ground_truth_protocol

KEYPOINTS = "keypoints"  # cocoeval's keypoint iouType, and the COCO field of the (body) keypoints

# The switches in which the official libraries differ (see Protocol): taken from the library's own protocol.
RULE_FIELDS = ("crowd_ignored", "ignore_field", "drop_zero_score", "no_keypoints_rule", "coordinate_dtype",
               "repeated_annotations")


class NotSupported(NotImplementedError):
    """An evaluation the drop-in does not reproduce; the message names the real library to use."""


def use_real(oracle: str, what: str) -> NotSupported:
    """The one error for anything the drop-in does not score: what it is, and what to run instead."""
    return NotSupported(f"halpe-eval's drop-in for {oracle} does not score {what}; use the real {oracle} for it "
                        f"(halpe_eval.compat.uninstall({oracle!r}), or do not install the drop-in)")


def _plain(protocol: Protocol) -> bool:
    """Every statistic is a plain cocoeval ``_summarize`` one: what the drop-in's summarize computes."""
    return all(stat.plain for stat in protocol.params.statistics)


@functools.cache
def own_protocol(oracle: str) -> Protocol:
    """The built-in protocol of plain statistics whose official evaluator is ``oracle`` (the drop-in's)."""
    owned = [protocol for protocol in map(load_protocol, builtin_names())
             if protocol.reference == oracle and _plain(protocol)]
    if len(owned) != 1:
        raise LookupError(f"{len(owned)} built-in protocols name {oracle} as their reference; expected one")
    return owned[0]


def cocoeval_default_sigmas() -> tuple[float, ...]:
    """The COCO-17 sigma table cocoeval carries (pycocotools' ``kpt_oks_sigmas``, xtcocotools' default
    ``sigmas``): the sigmas of the protocol pycocotools scores, kept bit-exact there."""
    return own_protocol("pycocotools").sigmas


def reading_protocol(oracle: str, dataset: dict, name: str) -> Protocol:
    """The protocol a ground truth is read with for ``oracle``: its skeleton, the oracle's rules.

    A dataset without annotations is read with the oracle's own protocol (nothing to detect from).
    """
    own = own_protocol(oracle)
    if not any(isinstance(ann, dict) for ann in dataset.get("annotations") or ()):
        return own
    skeleton = ground_truth_protocol(dataset, None, name)
    rules: dict[str, Any] = {field: getattr(own, field) for field in RULE_FIELDS}
    rules["part_score_keys"] = {part: key for part, key in own.part_score_keys.items() if part in skeleton.parts}
    return dataclasses.replace(skeleton, **rules)


def other_protocol_naming(oracle: str, name: str) -> Protocol | None:
    """A built-in protocol scored by ``oracle`` that is not the drop-in's and calls a part ``name`` (an iouType
    such as xtcocotools' CrowdPose one), or None."""
    return next((protocol for protocol in map(load_protocol, builtin_names()) if protocol.reference == oracle
                 and not _plain(protocol) and name in protocol.reference_parts.values()), None)


def part_of_reference_name(oracle: str, name: str) -> str | None:
    """Our part the oracle calls ``name`` (an iouType or a part key), or None."""
    return next((ours for ours, theirs in own_protocol(oracle).reference_parts.items() if theirs == name), None)


def checked_part(oracle: str, protocol: Protocol, part: str, asked: str) -> str:
    """``part`` when the ground truth's skeleton has it with the keypoints the oracle scores there."""
    own = own_protocol(oracle)
    wanted = [own.keypoints[i] for i in own.parts[part]]
    if part not in protocol.parts or [protocol.keypoints[i] for i in protocol.parts[part]] != wanted:
        raise use_real(oracle, f"{asked} on this ground truth ({protocol.name}, {protocol.num_keypoints} keypoints): "
                               f"it reads {len(wanted)} keypoints of {own.name} ({wanted[0]} ... {wanted[-1]}) there")
    return part


def with_part_sigmas(protocol: Protocol, part: str, sigmas: Any, source: str) -> Protocol:
    """``protocol`` with ``sigmas`` (one per keypoint of ``part``, as the oracles take them) for that part."""
    values = [float(s) for s in sigmas]
    indices = protocol.parts[part]
    if len(values) != len(indices):
        raise ValueError(f"{source}: {len(values)} sigmas for the {len(indices)} keypoints this evaluation scores")
    table = list(protocol.sigmas)
    for index, value in zip(indices, values):
        table[index] = value
    return protocol.with_sigmas(table, source)


__all__ = ["KEYPOINTS", "NotSupported", "checked_part", "cocoeval_default_sigmas", "other_protocol_naming",
           "own_protocol", "part_of_reference_name", "reading_protocol", "use_real", "with_part_sigmas"]
