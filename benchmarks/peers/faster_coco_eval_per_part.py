"""faster-coco-eval (C++ core) scoring the five Halpe parts: one parse, five keypoint evaluations.

python benchmarks/peers/faster_coco_eval_per_part.py GT.json PRED.json

Each part gets its own COCO objects holding that part's keypoints and its sigmas (halpe136 table);
GT without labelled keypoints in the part get num_keypoints 0 (ignored, as halpecocotools does).
Used for timing only: faster-coco-eval follows pycocotools' conventions, not halpecocotools'.
"""
import json
import sys

import numpy as np
from faster_coco_eval import COCO, COCOeval_faster

from halpe_eval import load_protocol
from halpe_eval.reading.jsonio import read_json

if __name__ == "__main__":
    proto = load_protocol("halpe136")
    gt, _ = read_json(sys.argv[1])
    preds, _ = read_json(sys.argv[2])
    out = {}
    for part in ("body", "foot", "face", "hands", "wholebody"):
        idx = np.asarray(proto.parts[part])
        cols = np.stack([3 * idx, 3 * idx + 1, 3 * idx + 2], axis=1).ravel()
        anns = []
        for a in gt["annotations"]:
            k = np.asarray(a["keypoints"])[cols]
            anns.append(dict(a, keypoints=k.tolist(), num_keypoints=int((k[2::3] > 0).sum())))
        part_gt = COCO()
        part_gt.dataset = dict(gt, annotations=anns)
        part_gt.createIndex()
        part_dt = part_gt.loadRes([dict(p, keypoints=np.asarray(p["keypoints"])[cols].tolist()) for p in preds])
        ev = COCOeval_faster(part_gt, part_dt, "keypoints", kpt_oks_sigmas=np.asarray(proto.sigmas)[idx])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        out[part] = float(ev.stats[0])
    print(json.dumps(out))
