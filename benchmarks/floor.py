"""The parse+convert floor: python benchmarks/floor.py GT.json PRED.json

Parses both files with halpe-eval's own reader (orjson; predictions in chunks) and converts the
prediction keypoints to one float array: the work any evaluator must do before scoring, done in
one process.
"""
import sys

import numpy as np

from halpe_eval.reading.jsonio import iter_array_chunks, read_json

if __name__ == "__main__":
    gt, _ = read_json(sys.argv[1])
    gt_keypoints = np.array([a["keypoints"] for a in gt["annotations"]], dtype=np.float64)
    del gt
    parts = [np.array([p["keypoints"] for p in chunk], dtype=np.float64) for chunk in iter_array_chunks(sys.argv[2])]
    keypoints = np.concatenate(parts)
    print(keypoints.shape, gt_keypoints.shape)
