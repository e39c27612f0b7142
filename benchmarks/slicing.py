"""Files for peers that score one skeleton per file, written once per data set, untimed.

- ``coco17_files``: the val set cut to its first 17 keypoints (Halpe's 0-16 are COCO's 17 in COCO's
  order), with COCO's keypoint names: a COCO-17 data set of the same size, for peers' native path.
- ``part_files``: one GT/prediction pair per reported part of a protocol, each holding only that
  part's keypoints (``num_keypoints`` recounted), so a single-skeleton evaluator (hotcoco) can score
  every part of a whole-body set with its own parser.

Records are cut in chunks with halpe-eval's chunked reader, so the large scale fits in memory.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import orjson

from halpe_eval import load_protocol
from halpe_eval.reading.jsonio import iter_array_chunks, read_json


def _columns(indices) -> np.ndarray:
    idx = np.asarray(indices)
    return np.stack([3 * idx, 3 * idx + 1, 3 * idx + 2], axis=1).ravel()


def _cut_gt(gt: dict, indices, names: list) -> dict:
    cols = _columns(indices)
    annotations = []
    for ann in gt["annotations"]:
        kp = np.asarray(ann["keypoints"], dtype=np.float64)[cols]
        annotations.append(dict(ann, keypoints=kp.tolist(), num_keypoints=int((kp[2::3] > 0).sum())))
    categories = [dict(c, keypoints=names, skeleton=[]) for c in gt["categories"]]
    return dict(gt, annotations=annotations, categories=categories)


def _cut_predictions(src: Path, dst: Path, indices) -> None:
    cols = _columns(indices)
    with open(dst, "wb") as out:
        out.write(b"[")
        first = True
        for chunk in iter_array_chunks(src):
            records = [dict(p, keypoints=np.asarray(p["keypoints"], dtype=np.float64)[cols].tolist()) for p in chunk]
            body = orjson.dumps(records)[1:-1]
            if body:
                out.write((b"" if first else b",") + body)
                first = False
        out.write(b"]")


def coco17_files(gt_path: Path, preds_path: Path, out: Path) -> tuple[Path, Path]:
    """(GT, predictions) of the COCO-17 cut, made on first use."""
    gt_out, preds_out = out / "coco17_gt.json", out / "coco17_preds.json"
    if not (gt_out.exists() and preds_out.exists()):
        names = list(load_protocol("coco17").keypoints)
        gt, _ = read_json(gt_path)
        gt_out.write_bytes(orjson.dumps(_cut_gt(gt, range(17), names)))
        _cut_predictions(preds_path, preds_out, range(17))
    return gt_out, preds_out


def part_files(gt_path: Path, preds_path: Path, protocol: str, out: Path) -> list[tuple[str, Path, Path, list]]:
    """(part, GT file, prediction file, sigmas) for every reported part, made on first use."""
    proto = load_protocol(protocol)
    stem = gt_path.name.replace("_gt.json", "")
    files, gt = [], None
    for part in proto.part_names():
        indices = list(proto.parts[part])
        gt_out, preds_out = out / f"{stem}_{part}_gt.json", out / f"{stem}_{part}_preds.json"
        if not (gt_out.exists() and preds_out.exists()):
            gt = gt if gt is not None else read_json(gt_path)[0]
            gt_out.write_bytes(orjson.dumps(_cut_gt(gt, indices, [proto.keypoints[i] for i in indices])))
            _cut_predictions(preds_path, preds_out, indices)
        files.append((part, gt_out, preds_out, [proto.sigmas[i] for i in indices]))
    return files


def hotcoco_arguments(files: list) -> list[str]:
    """Command-line arguments of peers/hotcoco_parts.py for ``part_files``' output."""
    args: list[str] = []
    for part, gt, preds, sigmas in files:
        args += [part, str(gt), str(preds), json.dumps(sigmas)]
    return args
