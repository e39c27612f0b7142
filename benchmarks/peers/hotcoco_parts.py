"""hotcoco (Rust) scoring one or more single-skeleton files in one process, at its best: its own parser,
``COCOeval(gt, dt, "keypoints")`` with the part's sigmas.

python benchmarks/peers/hotcoco_parts.py NAME GT.json PRED.json SIGMAS_JSON [NAME GT PRED SIGMAS ...]

SIGMAS_JSON is a JSON list (``-`` keeps hotcoco's COCO-17 default). Prints {NAME: [ten stats]} as JSON.
Used for timing: hotcoco follows pycocotools' conventions (COCO-17 numbers equal pycocotools'),
not halpecocotools' for whole-body parts.
"""
import json
import sys

import numpy as np
from hotcoco import COCO, COCOeval

if __name__ == "__main__":
    args = sys.argv[1:]
    out = {}
    for start in range(0, len(args), 4):
        name, gt_path, preds_path, sigmas = args[start : start + 4]
        gt = COCO(gt_path)
        dt = gt.loadRes(preds_path)
        ev = COCOeval(gt, dt, "keypoints")
        if sigmas != "-":
            ev.params.kpt_oks_sigmas = np.asarray(json.loads(sigmas))
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        out[name] = [float(s) for s in ev.stats]
    print(json.dumps(out))
