"""The one driver of every official evaluator (the package docstring says what it does to them)."""
from __future__ import annotations

import importlib
import json
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..errors import InputError
from ..protocol import Protocol, builtin_names, load_protocol
from ..results import EvalResult, PartResult, mean_part
from .adapters import ADAPTERS, OracleAdapter, OracleRun, RawPart
from .shims import oracle_shims

__all__ = ["evaluate_reference", "nest", "prepare_gt", "prepare_predictions", "run_oracle"]


def run_oracle(protocol: Protocol, gt: dict, preds: list) -> dict[str, RawPart]:
    """The protocol's official evaluator as published, bugs included: our part name -> (precision, recall, stats).

    ``precision`` is (T, R, K, A), ``recall`` (T, K, A), ``stats`` its summary values (-1 where
    undefined).  Parts the oracle does not score are absent.  An oracle that cannot be imported
    is an :class:`InputError`; what the oracle itself raises passes through.
    """
    adapter = ADAPTERS.get(protocol.reference)
    if adapter is None:
        raise InputError(f"protocol {protocol.name} has no official evaluator; use --backend native")
    if adapter.nested_inputs:
        gt = dict(gt, annotations=[nest(ann, protocol) for ann in gt["annotations"]])
        preds = [nest(pred, protocol) for pred in preds]
    by_oracle_name: dict[str, RawPart] = {}
    with oracle_shims():
        coco, cocoeval = _import_oracle(adapter, protocol)
        for run in adapter.runs(protocol):
            by_oracle_name.update(adapter.read(_evaluated(coco, cocoeval, gt, preds, run)))
    return {ours: by_oracle_name[theirs] for ours, theirs in protocol.reference_parts.items()
            if theirs in by_oracle_name}


def _import_oracle(adapter: OracleAdapter, protocol: Protocol) -> tuple[ModuleType, ModuleType]:
    try:
        return importlib.import_module(adapter.coco_module), importlib.import_module(adapter.cocoeval_module)
    except ImportError as exc:
        raise InputError(f"--backend reference needs {protocol.reference} for {protocol.name} ({exc}); "
                         f"{adapter.install_hint}") from None


def _evaluated(coco: ModuleType, cocoeval: ModuleType, gt: dict, preds: list, run: OracleRun) -> Any:
    """One COCOeval, evaluated, accumulated and summarized, on fresh copies of the records (it writes into them).

    With ``run.gt_file`` the GT is also written to a temporary file named in ``anno_file``, where
    xtcocotools' ``keypoints_crowd`` summarize reads the images' crowdIndex; that summarize
    re-evaluates each split and leaves the last one's arrays in ``eval``, so the whole set's are put back.
    """
    with tempfile.TemporaryDirectory() as folder:
        coco_gt = coco.COCO()
        coco_gt.dataset = dict(gt, annotations=[dict(ann) for ann in gt["annotations"]])
        coco_gt.createIndex()
        if run.gt_file:
            path = Path(folder) / "gt.json"
            path.write_text(json.dumps(gt))
            coco_gt.anno_file = [str(path)]
        evaluator = cocoeval.COCOeval(coco_gt, coco_gt.loadRes([dict(pred) for pred in preds]), *run.args,
                                      **run.kwargs)
        for name, value in run.params.items():
            setattr(evaluator.params, name, value)
        evaluator.evaluate()
        evaluator.accumulate()
        accumulated = evaluator.eval
        evaluator.summarize()
        evaluator.eval = accumulated
    return evaluator


def evaluate_reference(gt_source: Any, preds_source: Any, protocol: Any = None,
                       split_hands: bool = False) -> EvalResult:
    """Score with the protocol's official evaluator, its documented bugs neutralised by input transforms.

    ``gt_source`` is a GT dict or a path, ``preds_source`` a prediction list or a path; ``protocol``
    as for the native backend (None: detected from the GT).
    """
    # Imported here: protocol validation imports .adapters, hence this package, and needs no reader.
    from ..reading.ground_truth import load_ground_truth
    from ..reading.jsonio import read_json
    from ..reading.predictions import load_predictions

    tic = time.perf_counter()
    gt, gt_name = (gt_source, None) if isinstance(gt_source, dict) else read_json(gt_source)
    preds, preds_name = (preds_source, None) if isinstance(preds_source, list) else read_json(preds_source)
    # Same validation and warnings as the native backend, before the oracle sees anything.
    checked_gt = load_ground_truth(gt, protocol, name=gt_name)
    checked = load_predictions(preds, checked_gt, name=preds_name)  # the oracle refuses unknown images too
    proto = checked_gt.protocol
    where = preds_name or "<predictions>"
    _refuse_unscorable(proto, preds, where)
    gt = prepare_gt(gt, proto)
    preds = prepare_predictions(preds, proto, checked_gt.image_ids[checked.image_index])
    raw = _run_with_one_line_errors(proto, gt, preds, where)
    parts = {row: _row_result(proto, row, raw) for row in proto.part_names(split_hands)}
    from ..pipeline import chosen_options

    options = chosen_options(proto, protocol, split_hands, None, False)
    return EvalResult.of(proto, parts, checked_gt, checked, {"reference": time.perf_counter() - tic}, options)


def _refuse_unscorable(proto: Protocol, preds: list, where: str) -> None:
    """What no oracle run can answer: no predictions, no oracle, or a protocol other than the oracle's own."""
    if not preds:
        raise InputError(f"{where}: {proto.reference or 'the reference'} cannot evaluate an empty prediction list; "
                         "use --backend native")
    if not proto.reference:
        raise InputError(f"protocol {proto.name} has no official evaluator; use --backend native")
    if proto.name not in builtin_names() or proto != load_protocol(proto.name):
        raise InputError(f"--backend reference runs {proto.reference} with its own sigmas and conventions, "
                         "not those of a protocol file; use a built-in protocol or --backend native")


def _run_with_one_line_errors(proto: Protocol, gt: dict, preds: list, where: str) -> dict[str, RawPart]:
    """:func:`run_oracle`, with any exception of the oracle's own as one InputError line."""
    try:
        return run_oracle(proto, gt, preds)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - the oracle's internals are not ours to show as a traceback
        raise InputError(f"{where}: {proto.reference} failed on these inputs ({type(exc).__name__}: {exc}); "
                         "--backend native scores them") from None


def _row_result(proto: Protocol, row: str, raw: dict[str, RawPart]) -> PartResult:
    """One report row from the oracle's parts: a part, or the stat-by-stat mean of its components."""
    components = proto.components(row)
    if any(part not in raw for part in components):
        raise InputError(f"{proto.reference} does not score the part {row!r}; use --backend native")
    results = [_part_result(proto, part, *raw[part]) for part in components]
    return results[0] if len(results) == 1 else mean_part(row, results)


def _part_result(proto: Protocol, part: str, precision: np.ndarray, recall: np.ndarray,
                 values: np.ndarray) -> PartResult:
    """An oracle's part: its -1 (undefined) as None; scores -1 throughout (the oracles return none).

    Statistics past the oracle's own (crowdpose's ``*_exact``) are undefined: it does not compute them."""
    stats: dict[str, float | None] = dict.fromkeys(proto.params.stat_names)
    stats.update((stat, None if value == -1 else float(value)) for stat, value in zip(proto.params.stat_names, values))
    return PartResult(part, stats, precision, recall, -np.ones_like(precision))


def prepare_predictions(preds: list, proto: Protocol, image_ids: np.ndarray) -> list:
    """Predictions with the image ids our reader resolved (AlphaPose gives file names) and without null
    part scores (absent to the native engine; xtcocotools would negate None)."""
    nullable = set(proto.part_score_keys.values())
    return [
        {**{key: value for key, value in pred.items() if not (value is None and key in nullable)},
         "image_id": int(image_id)}
        for pred, image_id in zip(preds, image_ids)
    ]


def prepare_gt(gt: dict, proto: Protocol) -> dict:
    """GT with annotation ids renumbered from 1 (repeated records keep sharing their id), a missing
    ``iscrowd`` set to 0, crowd GT marked ``ignore`` if the protocol ignores crowds, and a missing
    ``num_keypoints`` set to the labelled count if the protocol reads it (the oracles raise KeyError
    without these; the native engine reads them so)."""
    annotations: list[dict] = []
    new_ids: dict[int, int] = {}
    for original in gt["annotations"]:
        ann = dict(original, id=new_ids.setdefault(original["id"], len(new_ids) + 1))
        ann.setdefault("iscrowd", 0)
        if proto.crowd_ignored and ann["iscrowd"]:
            ann["ignore"] = 1
        if proto.no_keypoints_rule == "num_keypoints" and "num_keypoints" not in ann:
            ann["num_keypoints"] = sum(1 for v in ann["keypoints"][2::3] if v > 0)
        annotations.append(ann)
    return dict(gt, annotations=annotations)


def nest(record: dict, proto: Protocol) -> dict:
    """A flat-keypoint record split into the protocol's nested fields, in order (nested records unchanged)."""
    if all(name in record for name, _ in proto.nested_fields[1:]):
        return record
    flat, nested, start = record["keypoints"], dict(record), 0
    for name, count in proto.nested_fields:
        nested[name] = flat[3 * start : 3 * (start + count)]
        start += count
    return nested
