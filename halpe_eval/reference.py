"""The oracle room: everything that runs the official evaluators lives here.

halpecocotools (Halpe-136), xtcocotools (COCO-WholeBody, per part) and
pycocotools (COCO-17) score the same inputs as the native engine, for
``--backend reference`` and for the parity tests.

halpecocotools 0.0.1 does not run on a modern stack as published; these shims,
applied only while it runs, make it work unchanged:

- ``np.float`` (removed in numpy 1.24) is restored for the duration of the call;
- ``from tkinter import _flatten`` inside ``computeOks`` gets a stub module when
  this Python has no tkinter (the name is imported and never used);
- ``import matplotlib.pyplot`` at the top of ``coco.py`` (used only to draw)
  gets stub modules when matplotlib is not installed;
- ``loadRes`` tests ``type(x) == unicode``, a NameError on Python 3 for a list,
  so the module gets ``unicode = str``;
- its progress printing goes to a captured buffer, not our stdout.

``run_halpecocotools``, ``run_xtcocotools`` and ``run_pycocotools`` are the raw
oracles, bugs included.  ``evaluate_reference`` validates the inputs like the
native backend, feeds the protocol's oracle inputs transformed so that the
documented bugs and gaps cannot bite (crowd GT marked ``ignore`` when the
protocol ignores crowds; annotation ids renumbered from 1; a missing ``iscrowd``
set to 0 and a missing ``num_keypoints`` to the labelled count; AlphaPose
file-name image ids replaced by the GT's ids; null part scores dropped), refuses
protocol files that differ from the built-in protocol, and returns an
:class:`EvalResult`.  Anything else the oracle raises becomes one
:class:`InputError` line.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import sys
import time
import types
import warnings
from typing import Dict, Tuple

import numpy as np

from .errors import InputError
from .results import EvalResult, PartResult, mean_part
from .load import load_ground_truth, load_predictions, read_json
from .protocol import Protocol, builtin_names, load_protocol

# halpecocotools' part names -> ours.
PART_NAMES = {"body": "body", "foot": "foot", "face": "face", "hand": "hands", "fullbody": "wholebody"}


# Modules the oracle imports but never uses for scoring, and the names it takes from them.
_STUBS = {
    "tkinter": ("_flatten",),
    "matplotlib": (),
    "matplotlib.pyplot": (),
    "matplotlib.collections": ("PatchCollection",),
    "matplotlib.patches": ("Polygon",),
}


@contextlib.contextmanager
def _shims():
    added_float = not hasattr(np, "float")
    if added_float:
        np.float = float  # type: ignore[attr-defined]
    stubbed = []
    for name, attrs in _STUBS.items():
        try:
            importlib.import_module(name)
        except ImportError:
            stub = types.ModuleType(name)
            for attr in attrs:
                setattr(stub, attr, None)
            sys.modules[name] = stub
            stubbed.append(name)
    if "matplotlib" in stubbed:
        sys.modules["matplotlib"].pyplot = sys.modules["matplotlib.pyplot"]  # type: ignore[attr-defined]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        if added_float:
            del np.float  # type: ignore[attr-defined]
        for name in stubbed:
            del sys.modules[name]


def run_halpecocotools(gt: dict, preds: list) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """halpecocotools as published: part -> (precision, recall, stats), its part names.

    ``precision`` is (T, R, K, A), ``recall`` (T, K, A), ``stats`` its ten summary values.
    """
    with _shims():
        try:
            from halpecocotools import coco as hcoco
            from halpecocotools.cocoeval import COCOeval
        except ImportError as exc:
            raise InputError(
                f"--backend reference needs halpecocotools and pycocotools ({exc}); "
                "pip install halpecocotools pycocotools"
            ) from None
        hcoco.unicode = str
        coco_gt = hcoco.COCO()
        coco_gt.dataset = _fresh_records(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(p) for p in preds])
        ev = COCOeval(coco_gt, coco_dt, "keypoints")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out = {}
    for entry in ev.stats:
        (part, stats), = entry.items()
        e = ev.eval[part]
        out[part] = (e["precision"][..., 0], e["recall"][..., 0], np.asarray(stats))
    return out


def run_pycocotools(gt: dict, preds: list, sigmas=None) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """pycocotools' keypoint evaluation as published: {"body": (precision, recall, stats)}."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = _fresh_records(gt)
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes([dict(p) for p in preds]), "keypoints")
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"body": (ev.eval["precision"][..., 0], ev.eval["recall"][..., 0], np.asarray(ev.stats))}


# xtcocotools iouType and prediction score field per COCO-WholeBody part.
XTCOCO_PARTS = {
    "body": "keypoints",
    "foot": "keypoints_foot",
    "face": "keypoints_face",
    "left_hand": "keypoints_lefthand",
    "right_hand": "keypoints_righthand",
    "wholebody": "keypoints_wholebody",
}


def run_xtcocotools(gt: dict, preds: list, proto: Protocol) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The official COCO-WholeBody evaluation: one xtcocotools run per part, ``use_area=True``.

    Inputs may be nested (COCO-WholeBody fields) or flat 133-keypoint lists; flat ones are nested first.
    """
    try:
        from xtcocotools.coco import COCO
        from xtcocotools.cocoeval import COCOeval
    except ImportError as exc:
        raise InputError(
            f"--backend reference needs xtcocotools for {proto.name} ({exc}); "
            "pip install --no-binary xtcocotools --no-build-isolation xtcocotools"
        ) from None
    gt = dict(gt, annotations=[nest(a, proto) for a in gt["annotations"]])
    preds = [nest(p, proto) for p in preds]
    out = {}
    for part, iou_type in XTCOCO_PARTS.items():
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coco_gt = COCO()
            coco_gt.dataset = _fresh_records(gt)
            coco_gt.createIndex()
            coco_dt = coco_gt.loadRes([dict(p) for p in preds])
            sigmas = np.asarray(proto.sigmas)[list(proto.parts[part])]
            ev = COCOeval(coco_gt, coco_dt, iou_type, sigmas, use_area=True)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out[part] = (ev.eval["precision"][..., 0], ev.eval["recall"][..., 0], np.asarray(ev.stats))
    return out


def _fresh_records(gt: dict) -> dict:
    """The GT with new annotation dicts: the oracles write flags into them, never into their lists."""
    return dict(gt, annotations=[dict(a) for a in gt["annotations"]])


def nest(record: dict, proto: Protocol) -> dict:
    """A flat-keypoint record split into the protocol's nested fields (nested records unchanged)."""
    if all(f in record for f, _ in proto.nested_fields[1:]):
        return record
    flat, out, at = record["keypoints"], dict(record), 0
    for name, count in proto.nested_fields:
        out[name] = flat[3 * at : 3 * (at + count)]
        at += count
    return out


def evaluate_reference(gt_source, preds_source, protocol=None, split_hands: bool = False) -> EvalResult:
    """Score with the protocol's official evaluator, its documented bugs neutralised by input transforms."""
    tic = time.perf_counter()
    gt, gt_name = (gt_source, None) if isinstance(gt_source, dict) else read_json(gt_source)
    preds, preds_name = (preds_source, None) if isinstance(preds_source, list) else read_json(preds_source)
    # Same validation and warnings as the native backend, before the oracle sees anything.
    checked_gt = load_ground_truth(gt, protocol, name=gt_name)
    checked = load_predictions(preds, checked_gt, name=preds_name)  # the oracle refuses unknown images too
    proto = checked_gt.protocol
    if not preds:
        raise InputError(f"{preds_name or '<predictions>'}: {proto.reference or 'the reference'} cannot evaluate "
                         "an empty prediction list; use --backend native")
    if not proto.reference:
        raise InputError(f"protocol {proto.name} has no official evaluator; use --backend native")
    if proto.name not in builtin_names() or proto != load_protocol(proto.name):
        raise InputError(f"--backend reference runs {proto.reference} with its own sigmas and conventions, "
                         f"not those of a protocol file; use a built-in protocol or --backend native")
    gt = prepare_gt(gt, proto)
    preds = prepare_predictions(preds, proto, checked_gt.image_ids[checked.image_index])
    try:
        if proto.reference == "halpecocotools":
            raw = {PART_NAMES[k]: v for k, v in run_halpecocotools(gt, preds).items()}
        elif proto.reference == "xtcocotools":
            raw = run_xtcocotools(gt, preds, proto)
        else:
            raw = run_pycocotools(gt, preds, proto.sigmas)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the oracle's internals are not ours to show as a traceback
        raise InputError(f"{preds_name or '<predictions>'}: {proto.reference} failed on these inputs "
                         f"({type(exc).__name__}: {exc}); --backend native scores them") from None
    parts = {}
    for name in proto.part_names(split_hands):
        components = proto.mean_parts.get(name, (name,))
        if any(c not in raw for c in components):
            raise InputError(f"{proto.reference} does not score the part {name!r}; use --backend native")
        results = [_part_result(proto, c, *raw[c]) for c in components]
        parts[name] = results[0] if len(results) == 1 else mean_part(name, results)
    return EvalResult.of(proto, parts, checked_gt, checked, {"reference": time.perf_counter() - tic})


def _part_result(proto, name, precision, recall, values) -> PartResult:
    stats = {stat: None if v == -1 else float(v) for stat, v in zip(proto.params.stat_names, values)}
    return PartResult(name, stats, precision, recall, -np.ones_like(precision))


def prepare_predictions(preds: list, proto: Protocol, image_ids: np.ndarray) -> list:
    """Predictions with image ids as resolved by our loader (AlphaPose gives file names) and without
    null part scores (absent to the native engine; xtcocotools would negate None)."""
    null_ok = set(proto.part_score_keys.values())
    return [
        {**{k: v for k, v in p.items() if not (v is None and k in null_ok)}, "image_id": int(image_id)}
        for p, image_id in zip(preds, image_ids)
    ]


def prepare_gt(gt: dict, proto: Protocol) -> dict:
    """GT with ids renumbered from 1, a missing ``iscrowd`` set to 0, crowd GT marked ``ignore`` if
    the protocol ignores crowds, and a missing ``num_keypoints`` set to the labelled count if the
    protocol reads it (the oracles raise KeyError without these; the native engine reads them so)."""
    anns = []
    for new_id, ann in enumerate(gt["annotations"], start=1):
        ann = dict(ann, id=new_id)
        ann.setdefault("iscrowd", 0)
        if proto.crowd_ignored and ann.get("iscrowd"):
            ann["ignore"] = 1
        if proto.no_keypoints_rule == "num_keypoints" and "num_keypoints" not in ann:
            ann["num_keypoints"] = sum(1 for v in ann["keypoints"][2::3] if v > 0)
        anns.append(ann)
    return dict(gt, annotations=anns)
