"""Planted COCO-17 scenes for the keypoint error diagnosis: every keypoint's class is known by construction.

Image 1 holds persons A and B far apart; prediction P1 (on A) has a jitter at a chosen similarity, a
left/right inversion, a swap to B's keypoint as is, a swap to B's mirrored keypoint and a miss; P3 is
B exact; P2 is a background prediction with the highest score.  Image 2 holds person C, whom nobody
predicts.  Image 3 holds D, smaller than 32^2 (ignored in coco-analyze's 'all'), predicted exactly.
``python tests/diagnosis_cases.py DIR`` writes the scene as gt.json / preds.json (for coco-analyze).
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

from halpe_eval import load_protocol

COCO17 = load_protocol("coco17")
SIGMAS = COCO17.sigmas
AREA = 10_000.0
JITTER_KS = 0.7
EXPECTED = {  # keypoint index of P1 -> class; every other labelled keypoint of P1, P3, P4 is good
    1: "jitter", 5: "inversion", 9: "swap", 10: "swap", 15: "miss",
}


def person(x0: float, y0: float, scale: float = 1.0) -> list[list[float]]:
    """17 keypoints on a 5-column grid 45 px apart (x scale), far enough apart that no two are confused."""
    return [[x0 + 45 * scale * (k % 5), y0 + 45 * scale * (k // 5)] for k in range(17)]


def annotation(ann_id: int, image_id: int, points: list[list[float]], area: float) -> dict:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return {"id": ann_id, "image_id": image_id, "category_id": 1, "iscrowd": 0, "area": area,
            "num_keypoints": 17, "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
            "keypoints": [v for p in points for v in (p[0], p[1], 2)]}


def prediction(image_id: int, points: list[list[float]], score: float) -> dict:
    return {"image_id": image_id, "category_id": 1, "score": score,
            "keypoints": [v for p in points for v in (p[0], p[1], 1.0)]}


def jitter_distance(k: int, similarity: float, area: float = AREA) -> float:
    """Distance at which keypoint ``k`` has keypoint similarity ``similarity`` with a GT of ``area``."""
    return math.sqrt(-math.log(similarity) * 2 * (2 * SIGMAS[k]) ** 2 * (area + 2.220446049250313e-16))


def scene() -> tuple[dict, list[dict]]:
    a, b = person(50, 50), person(450, 50)
    c, d = person(50, 50), person(10, 10, scale=0.12)
    p1 = [list(p) for p in a]
    p1[1] = [a[1][0], a[1][1] - jitter_distance(1, JITTER_KS)]  # away from the right eye (same row)
    p1[5] = list(a[6])  # left shoulder on A's right shoulder: inversion
    p1[9] = list(b[9])  # left wrist on B's left wrist: swap, as is
    p1[10] = list(b[9])  # right wrist on B's left wrist: swap to B mirrored
    p1[15] = [a[15][0] + 30, a[15][1] + 200]  # far from every keypoint: miss
    gt = {
        "images": [{"id": i, "width": 1000, "height": 800, "file_name": f"{i}.jpg"} for i in (1, 2, 3)],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.keypoints), "skeleton": []}],
        "annotations": [annotation(1, 1, a, AREA), annotation(2, 1, b, AREA), annotation(3, 2, c, AREA),
                        annotation(4, 3, d, 500.0)],
    }
    preds = [prediction(1, p1, 0.9), prediction(1, [[x + 2000, y] for x, y in a], 0.95),
             prediction(1, b, 0.7), prediction(3, d, 0.6)]
    return gt, preds


def wholebody_scene() -> tuple[dict, list[dict]]:
    """Halpe-136: P1 on A has its two hands exchanged, its face mirrored and B's feet; P2 is B exact."""
    proto = load_protocol("halpe136")
    grid = [[100 + 45 * (k % 12), 100 + 45 * (k // 12)] for k in range(proto.num_keypoints)]
    a, b = grid, [[x + 1000, y] for x, y in grid]
    flip = proto.flip_map()
    p1 = [list(p) for p in a]
    for k in list(proto.parts["face"]) + list(proto.parts["hands"]):
        p1[k] = list(a[flip[k]])  # the mirrored keypoint: both hands exchanged, the face mirrored
    for k in proto.parts["foot"]:
        p1[k] = list(b[k])  # B's feet
    anns = []
    for i, points in enumerate((a, b), start=1):
        ann = annotation(i, 1, points, 300_000.0)
        ann["num_keypoints"] = 17
        anns.append(ann)
    gt = {"images": [{"id": 1, "width": 2000, "height": 1000, "file_name": "1.jpg"}],
          "categories": [{"id": 1, "name": "person"}], "annotations": anns}
    return gt, [prediction(1, p1, 0.9), prediction(1, b, 0.8)]


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    gt, preds = scene()
    (out / "gt.json").write_text(json.dumps(gt))
    (out / "preds.json").write_text(json.dumps(preds))
