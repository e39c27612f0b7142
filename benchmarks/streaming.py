"""Per-epoch evaluation inside a training loop, at COCO-val scale, COCO-WholeBody (60 statistics).

python benchmarks/streaming.py [--rounds 3] [--images 5000] [--batch 256]

Contenders, alternating in every round, in one process (the GT is loaded once, before the rounds,
as a training loop does):

- halpe-eval: ``StreamingEvaluator.reset()``, ``update()`` per batch of arrays, ``compute()``;
- mmpose's CocoWholeBodyMetric path: xtcocotools ``loadRes`` of the in-memory result list, then one
  ``COCOeval(gt, dt, iou_type, sigmas[part], use_area=True)`` per part (body, foot, face, left hand,
  right hand, whole body): evaluate, accumulate, summarize (mmpose also writes and re-reads a JSON
  file, not timed here).

The run fails unless both give the same 60 statistics to 1e-9. Data: halpe_eval.synthetic, seeded.
"""
import argparse
import contextlib
import gc
import io
import statistics
import sys
import time
import warnings

import numpy as np

from halpe_eval import StreamingEvaluator, load_protocol
from halpe_eval.oracles import nest
from halpe_eval.synthetic import SynthOptions, make_dataset


def mmpose_path(coco_gt, results, protocol):
    """{part: stats} from the six xtcocotools runs mmpose makes, as mmpose makes them."""
    from xtcocotools.cocoeval import COCOeval

    sigmas = np.asarray(protocol.sigmas)
    coco_dt = coco_gt.loadRes(results)
    out = {}
    for part, iou_type in protocol.reference_parts.items():
        ev = COCOeval(coco_gt, coco_dt, iou_type, sigmas[list(protocol.parts[part])], use_area=True)
        ev.params.useSegm = None
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        out[part] = np.asarray(ev.stats)
    return out


def streaming_path(evaluator, arrays, batch):
    evaluator.reset()
    for start in range(0, len(arrays["scores"]), batch):
        evaluator.update(**{k: v[start : start + batch] for k, v in arrays.items()})
    return evaluator.compute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    from xtcocotools.coco import COCO

    protocol = load_protocol("coco-wholebody")
    gt, preds = make_dataset(0, "coco-wholebody", SynthOptions(num_images=args.images, max_people=3,
                                                                false_positives=5.0))
    gt = dict(gt, annotations=[nest(a, protocol) for a in gt["annotations"]])
    results = [nest(p, protocol) for p in preds]
    arrays = {"image_ids": np.array([p["image_id"] for p in preds]),
              "keypoints": np.array([p["keypoints"] for p in preds]).reshape(len(preds), -1, 3),
              "scores": np.array([p["score"] for p in preds])}
    print(f"{len(gt['images']):,} images, {len(gt['annotations']):,} GT, {len(preds):,} predictions; "
          f"batches of {args.batch}")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
    evaluator = StreamingEvaluator(gt, split_hands=True)
    times = {"halpe-eval streaming": [], "mmpose xtcocotools path": []}
    for _ in range(args.rounds):
        gc.collect()  # each contender starts without the other's garbage
        tic = time.perf_counter()
        ours = streaming_path(evaluator, arrays, args.batch)
        times["halpe-eval streaming"].append(time.perf_counter() - tic)
        fresh = [dict(r) for r in results]  # loadRes writes into the records: a fresh copy, made untimed
        gc.collect()
        tic = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = mmpose_path(coco_gt, fresh, protocol)
        times["mmpose xtcocotools path"].append(time.perf_counter() - tic)
    names = protocol.params.stat_names
    for part, stats in theirs.items():
        got = [ours.parts[part].stats[name] for name in names]
        assert all((g is None and s == -1) or abs(g - s) <= 1e-9 for g, s in zip(got, stats)), part
    print(f"the same {len(theirs) * len(names)} statistics to 1e-9")
    for name, values in times.items():
        print(f"{name}: median {statistics.median(values):.2f} s per epoch ({', '.join(f'{v:.2f}' for v in values)})")
    ratio = statistics.median(times["mmpose xtcocotools path"]) / statistics.median(times["halpe-eval streaming"])
    print(f"halpe-eval is {ratio:.1f}x faster per epoch")


if __name__ == "__main__":
    sys.exit(main())
