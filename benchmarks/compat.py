"""The drop-in COCOeval against the real libraries, in the frameworks' call sequences, at COCO-val scale.

python benchmarks/generate.py --scale val --out /tmp/benchdata   # the Halpe-136 files (once)
python benchmarks/compat.py --data /tmp/benchdata --rounds 2

- mmpose CocoWholeBodyMetric (xtcocotools): a seeded COCO-WholeBody pair of val size, made here
  (make_dataset(0, "coco-wholebody", 5,000 images, up to 3 people, 5 false positives per image),
  nested as mmpose writes it). The GT COCO is built once, outside the timing, as mmpose builds it
  at start-up; a round times loadRes of the in-memory result list (fresh copies: loadRes writes
  into them) and the six per-part COCOeval runs with mmpose's sigma slices.
- AlphaPose evaluate_mAP (halpecocotools): the generated val files; a round times COCO(gt file),
  loadRes(results file) and one COCOeval, as every evaluate_mAP call does.

Rounds alternate the real library (once) and the drop-in (--repeat times: its runs are short, so
more of them steady the median), in one process, each run after a garbage collection; both run
behind halpe-eval's oracle shims (the real libraries need them; their printing is discarded).
Every drop-in run asserts that its stats and precision/recall/scores equal the real library's to
1e-9. Prints the median seconds of each and the ratio; exits 1 when the drop-in is not at least
--bar times faster.
"""
from __future__ import annotations

import argparse
import gc
import importlib
import json
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

from halpe_eval.compat import installed
from halpe_eval.oracles import nest
from halpe_eval.oracles.shims import oracle_shims
from halpe_eval.protocol import load_protocol
from halpe_eval.synthetic import SynthOptions, make_dataset

CWB = load_protocol("coco-wholebody")
WHOLEBODY_IOU_TYPES = ("keypoints_body", "keypoints_foot", "keypoints_face", "keypoints_lefthand",
                       "keypoints_righthand", "keypoints_wholebody")
CUTS = np.cumsum([0, 17, 6, 68, 21, 21])


def library(flavour: str, drop_in: bool) -> types.SimpleNamespace:
    """COCO and COCOeval of the real library, or of the drop-in as ``install()`` serves them."""
    def classes() -> types.SimpleNamespace:
        return types.SimpleNamespace(COCO=importlib.import_module(f"{flavour}.coco").COCO,
                                     COCOeval=importlib.import_module(f"{flavour}.cocoeval").COCOeval)
    if not drop_in:
        with oracle_shims():
            return classes()
    with installed(flavour):
        return classes()


def mmpose_wholebody(lib: types.SimpleNamespace, coco, results: list) -> list:
    """mmpose CocoWholeBodyMetric._do_python_keypoint_eval on a preloaded GT COCO."""
    coco_det = coco.loadRes(results)
    sigmas = np.asarray(CWB.sigmas)
    evaluations = []
    for i, iou_type in enumerate(WHOLEBODY_IOU_TYPES):
        part_sigmas = sigmas if i == len(WHOLEBODY_IOU_TYPES) - 1 else sigmas[CUTS[i]:CUTS[i + 1]]
        coco_eval = lib.COCOeval(coco, coco_det, iou_type, part_sigmas, use_area=True)
        coco_eval.params.useSegm = None
        coco_eval.evaluate()
        coco_eval.accumulate()
        coco_eval.summarize()
        evaluations.append(coco_eval)
    return evaluations


def alphapose(lib: types.SimpleNamespace, gt_file: str, res_file: str) -> list:
    """AlphaPose evaluate_mAP(res_file, 'keypoints', ann_file, halpe=True)."""
    coco_gt = lib.COCO(gt_file)
    coco_eval = lib.COCOeval(coco_gt, coco_gt.loadRes(res_file), "keypoints")
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return [coco_eval]


def fingerprint(evaluations: list) -> list[np.ndarray]:
    """What must agree, as arrays: each COCOeval's stats and eval arrays (halpecocotools: per part key)."""
    arrays = []
    for evaluation in evaluations:
        if isinstance(evaluation.stats, list):  # halpecocotools: [{part: stats}, ...], eval by part key
            arrays += [values for entry in evaluation.stats for values in entry.values()]
            entries = list(evaluation.eval.values())
        else:
            arrays.append(evaluation.stats)
            entries = [evaluation.eval]
        arrays += [entry[key] for entry in entries for key in ("precision", "recall", "scores")]
    return [np.asarray(a) for a in arrays]


def timed(run, *args) -> tuple[float, list[np.ndarray]]:
    """Seconds of ``run(*args)`` (the garbage of earlier runs collected first) and its fingerprint."""
    gc.collect()
    with oracle_shims():
        tic = time.perf_counter()
        evaluations = run(*args)
        seconds = time.perf_counter() - tic
    return seconds, fingerprint(evaluations)


def wholebody_rounds(rounds: int, repeat: int, images: int, workdir: Path) -> dict[str, list[float]]:
    gt, preds = make_dataset(0, "coco-wholebody", SynthOptions(num_images=images, max_people=3, false_positives=5.0))
    gt = dict(gt, annotations=[nest(ann, CWB) for ann in gt["annotations"]])
    preds = [nest(pred, CWB) for pred in preds]
    gt_file = workdir / "cwb_val_gt.json"
    gt_file.write_text(json.dumps(gt))
    print(f"COCO-WholeBody: {len(gt['images']):,} images, {len(gt['annotations']):,} GT people, "
          f"{len(preds):,} results", flush=True)
    libraries = {name: library("xtcocotools", name == "drop-in") for name in ("real", "drop-in")}
    with oracle_shims():
        cocos = {name: lib.COCO(str(gt_file)) for name, lib in libraries.items()}  # mmpose: once, at start-up
    return alternated(rounds, repeat, lambda name: timed(mmpose_wholebody, libraries[name], cocos[name],
                                                         [dict(p) for p in preds]))


def alphapose_rounds(rounds: int, repeat: int, data: Path) -> dict[str, list[float]]:
    gt_file, res_file = data / "val_gt.json", data / "val_preds.json"
    if not gt_file.is_file() or not res_file.is_file():
        sys.exit(f"{data} has no val_gt.json / val_preds.json: python benchmarks/generate.py --scale val --out {data}")
    libraries = {name: library("halpecocotools", name == "drop-in") for name in ("real", "drop-in")}
    return alternated(rounds, repeat, lambda name: timed(alphapose, libraries[name], str(gt_file), str(res_file)))


def alternated(rounds: int, repeat: int, run) -> dict[str, list[float]]:
    """Each round: ``run("real")`` once, then ``run("drop-in")`` ``repeat`` times, each checked against the real."""
    seconds: dict[str, list[float]] = {"real": [], "drop-in": []}
    for _ in range(rounds):
        took, real = run("real")
        seconds["real"].append(took)
        for _ in range(repeat):
            took, ours = run("drop-in")
            assert len(ours) == len(real)
            for theirs, mine in zip(real, ours):
                np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-9)
            seconds["drop-in"].append(took)
        shown = ", ".join(f"{s:.2f}" for s in seconds["drop-in"][-repeat:])
        print(f"  round: real {seconds['real'][-1]:.1f} s, drop-in {shown} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data",
                        help="folder with generate.py's val_gt.json and val_preds.json")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; each runs the real library once")
    parser.add_argument("--repeat", type=int, default=3, help="drop-in runs per round (each a few seconds)")
    parser.add_argument("--images", type=int, default=5000, help="images of the COCO-WholeBody pair (val: 5,000)")
    parser.add_argument("--bar", type=float, default=10.0, help="the drop-in must be this many times faster")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        print("mmpose CocoWholeBodyMetric (xtcocotools, six runs):", flush=True)
        results = {"mmpose CocoWholeBodyMetric": wholebody_rounds(args.rounds, args.repeat, args.images, Path(workdir))}
    print("AlphaPose evaluate_mAP (halpecocotools):", flush=True)
    results["AlphaPose evaluate_mAP"] = alphapose_rounds(args.rounds, args.repeat, args.data)
    print(f"\n| sequence | real (median of {args.rounds}) | drop-in (median of {args.rounds * args.repeat}) "
          "| drop-in faster by |\n| --- | --- | --- | --- |")
    ratios = []
    for sequence, seconds in results.items():
        real, ours = statistics.median(seconds["real"]), statistics.median(seconds["drop-in"])
        ratios.append(real / ours)
        print(f"| {sequence} | {real:.2f} s | {ours:.2f} s | {real / ours:.1f}x |")
    print("\nstats and precision/recall/scores equal to 1e-9 in every round", flush=True)
    if min(ratios) < args.bar:
        sys.exit(f"FAIL: the drop-in is only {min(ratios):.1f}x faster (bar {args.bar:g}x)")


if __name__ == "__main__":
    main()
