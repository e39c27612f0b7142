"""``COCOeval`` and ``Params``: cocoeval's interface over halpe-eval's engine.

The call sequence is cocoeval's (pycocotools 2.0, as its ``cocoeval.py`` behaves): make it from
two ``COCO`` objects, set ``params``, then ``evaluate()``, ``accumulate()``, ``summarize()``, and
read ``stats`` and ``eval`` (``precision`` [T x R x K x A x M], ``recall`` [T x K x A x M],
``scores``, ``params``, ``counts``, ``date``).  ``evaluate()`` normalises ``params`` as cocoeval
does (``imgIds`` and ``catIds`` sorted without repeats; ``maxDets`` sorted), honours the
deprecated ``useSegm``, refuses ``useCats`` 0 (the libraries match nothing then), selects the
records and keeps a copy of ``params`` (``_paramsEval``); ``accumulate()`` runs the engine with
them and ``params.recThrs`` (:mod:`.runs`).  The progress lines are cocoeval's, with this
engine's times.

Only keypoint evaluation is scored.  Per-image results (``evalImgs``) and the OKS tables
(``ious``) are not made: the engine never builds them.  Each official library is a subclass
(:mod:`.flavours`) saying which parts an iouType scores, with which sigmas, and how ``eval``
and ``stats`` are shaped.
"""
from __future__ import annotations

import copy
import datetime
import time
from typing import Any, ClassVar

import numpy as np

from ..protocol import EvalParams, Protocol
from .coco import COCO
from .oracle_protocols import KEYPOINTS, NotSupported, own_protocol, use_real
from .runs import CocoArrays, Selection, accumulated, selected
from .summary import summarized


class Params:
    """cocoeval's parameters for keypoint evaluation, defaulting to the oracle's own protocol's ``EvalParams``
    (COCO's: OKS .50:.05:.95, 101 recall thresholds, maxDets [20], areas all / medium / large)."""

    oracle: ClassVar[str] = ""

    def __init__(self, iouType: str = "segm"):
        if not self.is_keypoint_type(iouType):
            raise use_real(self.oracle, f"iouType {iouType!r} (the drop-in scores keypoints only)")
        defaults = own_protocol(self.oracle).params
        self.imgIds: list = []
        self.catIds: list = []
        self.iouThrs = np.array(defaults.oks_thresholds)
        self.recThrs = np.array(defaults.recall_thresholds)
        self.maxDets = [defaults.max_detections]
        self.areaRng = [[low, high] for _, low, high in defaults.area_ranges]
        self.areaRngLbl = list(defaults.area_names)
        self.useCats = 1
        self.iouType = iouType
        self.useSegm = None  # deprecated in cocoeval: 1 -> 'segm', 0 -> 'bbox'

    @classmethod
    def is_keypoint_type(cls, iou_type: str) -> bool:
        """Whether the library reads ``iou_type`` as a keypoint evaluation (pycocotools: only 'keypoints')."""
        return iou_type == KEYPOINTS


class COCOeval:
    """cocoeval's ``COCOeval(cocoGt=None, cocoDt=None, iouType='segm')`` for keypoints; see the module docstring."""

    oracle: ClassVar[str] = ""
    params_class: ClassVar[type[Params]] = Params
    number_format: ClassVar[str] = "{:0.3f}"  # how summarize() prints a value

    def __init__(self, cocoGt: COCO | None = None, cocoDt: COCO | None = None, iouType: str = "segm"):
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = self.params_class(iouType=iouType)
        self.eval: dict = {}
        self.stats: Any = []
        self._paramsEval: Any = {}
        self._selection: Selection | None = None
        if cocoGt is not None:
            self.params.imgIds = sorted(cocoGt.getImgIds())
            self.params.catIds = sorted(cocoGt.getCatIds())

    @property
    def evalImgs(self) -> Any:
        raise use_real(self.oracle, "per-image results (evalImgs)")

    @property
    def ious(self) -> Any:
        raise use_real(self.oracle, "the OKS tables (ious)")

    def evaluate(self) -> None:
        """Fix ``params`` and select the records scored (see the module docstring)."""
        tic = time.time()
        print("Running per image evaluation...")
        p = self.params
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print(f"useSegm (deprecated) is not None. Running {p.iouType} evaluation")
        print(f"Evaluate annotation type *{p.iouType}*")
        if not self.params_class.is_keypoint_type(p.iouType):
            raise use_real(self.oracle, f"iouType {p.iouType!r} (the drop-in scores keypoints only)")
        if not p.useCats:
            raise NotSupported(f"params.useCats = 0: {self.oracle}'s keypoint evaluation then pools the categories "
                               "for matching but computes each image's OKS for category -1, which holds no records, "
                               "so every result counts as a false positive; the drop-in does not reproduce that")
        p.imgIds = list(np.unique(p.imgIds))
        p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self._paramsEval = copy.deepcopy(p)
        self._selection = self._select(self._paramsEval)
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def _select(self, p: Any) -> Selection:
        if not isinstance(self.cocoGt, COCO) or not isinstance(self.cocoDt, COCO):
            raise TypeError(f"halpe-eval's COCOeval for {self.oracle} needs cocoGt and cocoDt made by its COCO "
                            "(install the drop-in before the framework builds them)")
        ground_truth = self.cocoGt.ground_truth()
        predictions = self.cocoDt.predictions_for(self.cocoGt)
        parts = self._parts(p.iouType, ground_truth.protocol)
        protocol = self._protocol(ground_truth.protocol, parts, p)
        gt, preds = selected(ground_truth, predictions, p.imgIds, p.catIds)
        self._check_predictions(preds, protocol, parts)
        return Selection(gt, preds, protocol, parts, p)

    def _parts(self, iou_type: str, protocol: Protocol) -> tuple[str, ...]:
        """Our parts the library scores for ``iou_type`` on a ground truth read with ``protocol``."""
        raise NotImplementedError

    def _protocol(self, protocol: Protocol, parts: tuple[str, ...], params: Any) -> Protocol:
        """``protocol`` with the sigmas this evaluation uses (default: the protocol's own)."""
        return protocol

    def _check_predictions(self, preds: Any, protocol: Protocol, parts: tuple[str, ...]) -> None:
        """What the library says about the results it scores (default: nothing)."""

    def accumulate(self, p: Any = None) -> None:
        """Run the engine on what ``evaluate()`` selected; ``eval`` holds the arrays (``p``: only ``params``)."""
        print("Accumulating evaluation results...")
        tic = time.time()
        if self._selection is None:
            raise RuntimeError("Please run evaluate() first")
        if p is not None and p is not self.params:
            raise use_real(self.oracle, "accumulate(p) with parameters other than those evaluate() used")
        p = self.params
        self._store(accumulated(self._selection, p.recThrs), p)
        print(f"DONE (t={time.time() - tic:0.2f}s).")

    def _store(self, arrays: dict[str, CocoArrays], params: Any) -> None:
        """``eval`` of a one-part library: the part's arrays."""
        (part_arrays,) = arrays.values()
        self.eval = eval_entry(params, *part_arrays)

    def summarize(self) -> None:
        """Print the statistics (``summarized``) and keep them in ``stats``."""
        if not self.eval:
            raise RuntimeError("Please run accumulate() first")
        self.stats = summarized(self.eval, self.params, self.defaults(), self.number_format)

    def defaults(self) -> EvalParams:
        """The library's default parameters: what summarize() reports (the oracle's own protocol's)."""
        return own_protocol(self.oracle).params


def eval_entry(params: Any, precision: np.ndarray, recall: np.ndarray, scores: np.ndarray) -> dict:
    """One cocoeval ``eval`` dict."""
    return {
        "params": params,
        "counts": list(precision.shape),
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "precision": precision,
        "recall": recall,
        "scores": scores,
    }


__all__ = ["COCOeval", "Params", "eval_entry"]
