"""One ``COCO`` / ``COCOeval`` / ``Params`` per official library, as each one's sources behave.

- **pycocotools** (2.0): ``COCOeval(cocoGt, cocoDt, iouType='segm')``; 'keypoints' scores every
  keypoint of the ``keypoints`` field as one part, with ``params.kpt_oks_sigmas``; ``stats`` is a
  (10,) array printed with ``{:0.3f}``.
- **halpecocotools** (0.0.1): the same signature; 'keypoints' scores all its parts in one run, with
  the sigma table it carries; ``eval`` holds one dict per part key and ``summarize()`` prints
  ``<part> :`` before each part's lines and appends one ``{part: stats}`` per part to ``stats``
  (a second call appends five more, as it does).
- **xtcocotools** (1.14): ``COCOeval(cocoGt, cocoDt, iouType='keypoints', sigmas=None, use_area=True)``;
  an iouType of the protocol's ``reference_parts`` scores that part, any other iouType containing
  'keypoints' reads the ``keypoints`` field (so mmpose's 'keypoints_body' is the body); ``sigmas``
  are the part's (default: COCO's 17); a part without its score field in some result falls back
  to ``score`` with the library's warning; ``stats`` is printed with ``{: 0.3f}``.  Its ``COCO``
  takes ``test_index`` and ``ann_data``, keeps ``anno_file`` and sets a missing ``iscrowd`` to False.
  An iouType of another built-in protocol scored by xtcocotools (CrowdPose's, with its image-split
  statistics) and ``use_area=False`` are refused.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..protocol import Protocol
from ..reading.predictions import Predictions
from .coco import COCO
from .cocoeval import COCOeval, Params, eval_entry
from .oracle_protocols import (
    KEYPOINTS,
    checked_part,
    cocoeval_default_sigmas,
    other_protocol_naming,
    own_protocol,
    part_of_reference_name,
    use_real,
    with_part_sigmas,
)
from .runs import CocoArrays
from .summary import summarized

PYCOCOTOOLS, HALPECOCOTOOLS, XTCOCOTOOLS = "pycocotools", "halpecocotools", "xtcocotools"


def reference_part(oracle: str, name: str, protocol: Protocol, iou_type: str) -> str:
    """Our part that ``oracle`` calls ``name`` (for ``iou_type``), checked against the ground truth's skeleton."""
    part = part_of_reference_name(oracle, name)
    if part is None:
        raise use_real(oracle, f"iouType {iou_type!r}")
    return checked_part(oracle, protocol, part, f"iouType {iou_type!r}")


# ---- pycocotools


class PycocotoolsCOCO(COCO):
    """pycocotools.coco.COCO(annotation_file=None)."""

    oracle = PYCOCOTOOLS


class PycocotoolsParams(Params):
    """pycocotools' Params: the keypoint defaults and ``kpt_oks_sigmas``, COCO's 17 sigmas."""

    oracle = PYCOCOTOOLS

    def __init__(self, iouType: str = "segm"):
        super().__init__(iouType)
        self.kpt_oks_sigmas = np.array(cocoeval_default_sigmas())


class PycocotoolsCOCOeval(COCOeval):
    """pycocotools.cocoeval.COCOeval: 'keypoints' scores the ``keypoints`` field with ``params.kpt_oks_sigmas``."""

    oracle = PYCOCOTOOLS
    params_class = PycocotoolsParams

    def _parts(self, iou_type: str, protocol: Protocol) -> tuple[str, ...]:
        return (reference_part(self.oracle, iou_type, protocol, iou_type),)

    def _protocol(self, protocol: Protocol, parts: tuple[str, ...], params: Any) -> Protocol:
        return with_part_sigmas(protocol, parts[0], params.kpt_oks_sigmas, "params.kpt_oks_sigmas")


# ---- halpecocotools


class HalpecocotoolsCOCO(COCO):
    """halpecocotools.coco.COCO(annotation_file=None)."""

    oracle = HALPECOCOTOOLS


class HalpecocotoolsParams(Params):
    """halpecocotools' Params: the keypoint defaults (its sigmas are built into its evaluation)."""

    oracle = HALPECOCOTOOLS


class HalpecocotoolsCOCOeval(COCOeval):
    """halpecocotools.cocoeval.COCOeval: 'keypoints' scores every part of its protocol in one run."""

    oracle = HALPECOCOTOOLS
    params_class = HalpecocotoolsParams

    def _parts(self, iou_type: str, protocol: Protocol) -> tuple[str, ...]:
        return tuple(checked_part(self.oracle, protocol, part, f"its part {name!r}")
                     for part, name in own_protocol(self.oracle).reference_parts.items())

    def _store(self, arrays: dict[str, CocoArrays], params: Any) -> None:
        names = own_protocol(self.oracle).reference_parts
        self.eval = {names[part]: eval_entry(params, *part_arrays) for part, part_arrays in arrays.items()}

    def summarize(self) -> None:
        if not self.eval:
            raise RuntimeError("Please run accumulate() first")
        for name, evaluation in self.eval.items():
            print(name, ":")
            self.stats.append({name: summarized(evaluation, self.params, self.defaults(), self.number_format)})


# ---- xtcocotools


class XtcocotoolsCOCO(COCO):
    """xtcocotools.coco.COCO(annotation_file=None, test_index=None, ann_data=None)."""

    oracle = XTCOCOTOOLS
    area_filter_includes_lower = True

    def __init__(self, annotation_file: Any = None, test_index: Any = None, ann_data: Any = None):
        if test_index is not None:
            raise use_real(self.oracle, "a subset of the keypoints (test_index)")
        self.anno_file = [annotation_file]
        super().__init__(ann_data if annotation_file is not None and ann_data is not None else annotation_file)
        for ann in self.dataset.get("annotations", ()):
            ann.setdefault("iscrowd", False)

    def loadRes(self, resFile: Any, resData: Any = None) -> COCO:
        """``resData``, when given with a path, holds the results themselves (as in xtcocotools)."""
        return super().loadRes(resData if isinstance(resFile, str) and resData is not None else resFile)


class XtcocotoolsParams(Params):
    """xtcocotools' Params: any iouType containing 'keypoints' is a keypoint evaluation."""

    oracle = XTCOCOTOOLS

    @classmethod
    def is_keypoint_type(cls, iou_type: str) -> bool:
        return KEYPOINTS in iou_type


class XtcocotoolsCOCOeval(COCOeval):
    """xtcocotools.cocoeval.COCOeval: one part per run, named by its iouType, with the part's sigmas."""

    oracle = XTCOCOTOOLS
    params_class = XtcocotoolsParams
    number_format = "{: 0.3f}"

    def __init__(self, cocoGt: COCO | None = None, cocoDt: COCO | None = None, iouType: str = "keypoints",
                 sigmas: Any = None, use_area: bool = True):
        self._refuse_other_protocols(iouType)
        if not use_area:
            raise use_real(self.oracle, "use_area=False (areas from the GT box, as for CrowdPose and AIC)")
        self.sigmas = np.array(cocoeval_default_sigmas()) if sigmas is None else sigmas
        self.use_area = use_area
        super().__init__(cocoGt, cocoDt, iouType)
        if cocoGt is not None:
            self.anno_file = getattr(cocoGt, "anno_file", [None])

    def _refuse_other_protocols(self, iou_type: str) -> None:
        other = other_protocol_naming(self.oracle, iou_type)
        if other is not None:
            raise use_real(self.oracle, f"iouType {iou_type!r} (protocol {other.name}: its image-split statistics)")

    def _parts(self, iou_type: str, protocol: Protocol) -> tuple[str, ...]:
        self._refuse_other_protocols(iou_type)  # also when set on params after construction
        named = part_of_reference_name(self.oracle, iou_type) is not None
        return (reference_part(self.oracle, iou_type if named else KEYPOINTS, protocol, iou_type),)

    def _protocol(self, protocol: Protocol, parts: tuple[str, ...], params: Any) -> Protocol:
        return with_part_sigmas(protocol, parts[0], np.asarray(self.sigmas).ravel(), "sigmas")

    def _check_predictions(self, preds: Predictions, protocol: Protocol, parts: tuple[str, ...]) -> None:
        """xtcocotools' warning when a result lacks the part's own score field (it ranks by 'score' then)."""
        key = protocol.part_score_keys.get(parts[0])
        if key is None or not len(preds):
            return
        if parts[0] not in preds.part_scores or np.isnan(preds.part_scores[parts[0]]).any():
            warnings.warn(f"'{key}' not found, use 'score' instead.", stacklevel=4)


FLAVOURS: dict[str, tuple[type[COCO], type[COCOeval], type[Params]]] = {
    PYCOCOTOOLS: (PycocotoolsCOCO, PycocotoolsCOCOeval, PycocotoolsParams),
    HALPECOCOTOOLS: (HalpecocotoolsCOCO, HalpecocotoolsCOCOeval, HalpecocotoolsParams),
    XTCOCOTOOLS: (XtcocotoolsCOCO, XtcocotoolsCOCOeval, XtcocotoolsParams),
}

__all__ = ["FLAVOURS"]
