"""One entry per official evaluator: how it is imported, run and read.

Every oracle is a cocotools fork with the same ``COCO`` / ``COCOeval`` interface; they
differ in how ``COCOeval`` is built (one run for all parts, or one per part; sigmas
built in, passed in, or set on ``params``), in how per-part results come back, and in
whether records must carry the protocol's nested fields.  The oracle's name for each
of our parts is data: ``Protocol.reference_parts``.

Only stdlib, numpy and typing are imported here (``protocol_schema`` reads
``ORACLE_NAMES``); the oracles themselves are imported by :func:`halpe_eval.oracles.driver.run_oracle`.
Adding an oracle is one entry in ``ADAPTERS``.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..protocol import Protocol

# An oracle's result for one part: precision (T, R, K, A), recall (T, K, A), its summary values.
RawPart = tuple[np.ndarray, np.ndarray, np.ndarray]

KEYPOINTS = "keypoints"  # cocoeval's iouType for keypoint evaluation


@dataclass(frozen=True)
class OracleRun:
    """One ``COCOeval``: its arguments after the two COCO objects, and ``params`` attributes set before evaluating;
    ``gt_file``: the GT must also be on disk, where the oracle reads it again (``COCO.anno_file``)."""

    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    gt_file: bool = False


@dataclass(frozen=True)
class OracleAdapter:
    """How to import, run and read one official evaluator.

    ``runs`` gives the evaluations a protocol needs; ``read`` takes one evaluated,
    accumulated and summarized ``COCOeval`` to {the oracle's part name: RawPart}.
    """

    coco_module: str  # provides COCO
    cocoeval_module: str  # provides COCOeval
    install_hint: str  # what to install when the import fails
    runs: Callable[[Protocol], tuple[OracleRun, ...]]
    read: Callable[[Any], dict[str, RawPart]]
    nested_inputs: bool = False  # records need the protocol's nested fields (flat ones are nested first)


def raw_part(evaluation: Mapping[str, np.ndarray], stats: Any) -> RawPart:
    """A cocoeval ``eval`` dict and summary values as a RawPart (its maxDets axis has one entry)."""
    return evaluation["precision"][..., 0], evaluation["recall"][..., 0], np.asarray(stats)


def read_per_part(evaluator: Any) -> dict[str, RawPart]:
    """halpecocotools: ``stats`` lists one {part: values} per part, ``eval`` holds one dict per part."""
    return {part: raw_part(evaluator.eval[part], values) for entry in evaluator.stats for part, values in entry.items()}


def read_one_part(evaluator: Any) -> dict[str, RawPart]:
    """pycocotools and xtcocotools: one part per run, named by the run's iouType."""
    return {evaluator.params.iouType: raw_part(evaluator.eval, evaluator.stats)}


def once_with_builtin_sigmas(protocol: Protocol) -> tuple[OracleRun, ...]:
    """halpecocotools: every part in one run, with the sigma table it carries."""
    return (OracleRun((KEYPOINTS,)),)


def once_with_protocol_sigmas(protocol: Protocol) -> tuple[OracleRun, ...]:
    """pycocotools: one run, the protocol's sigmas set on ``params``."""
    return (OracleRun((KEYPOINTS,), params={"kpt_oks_sigmas": np.asarray(protocol.sigmas)}),)


def once_per_part(protocol: Protocol) -> tuple[OracleRun, ...]:
    """xtcocotools (COCO-WholeBody's official evaluation, CrowdPose's): one run per part, iouType, part sigmas and
    the protocol's ``use_area`` passed in."""
    sigmas = np.asarray(protocol.sigmas)
    return tuple(
        OracleRun((iou_type, sigmas[list(protocol.parts[part])]), kwargs={"use_area": protocol.use_area},
                  gt_file=bool(protocol.image_splits))  # its crowd summarize reads crowdIndex from the GT file
        for part, iou_type in protocol.reference_parts.items()
    )


ADAPTERS: dict[str, OracleAdapter] = {
    "halpecocotools": OracleAdapter(
        coco_module="halpecocotools.coco",
        cocoeval_module="halpecocotools.cocoeval",
        install_hint="pip install halpecocotools pycocotools",
        runs=once_with_builtin_sigmas,
        read=read_per_part,
    ),
    "xtcocotools": OracleAdapter(
        coco_module="xtcocotools.coco",
        cocoeval_module="xtcocotools.cocoeval",
        install_hint="pip install --no-binary xtcocotools --no-build-isolation xtcocotools",
        runs=once_per_part,
        read=read_one_part,
        nested_inputs=True,
    ),
    "pycocotools": OracleAdapter(
        coco_module="pycocotools.coco",
        cocoeval_module="pycocotools.cocoeval",
        install_hint="pip install pycocotools",
        runs=once_with_protocol_sigmas,
        read=read_one_part,
    ),
}

ORACLE_NAMES = tuple(ADAPTERS)
