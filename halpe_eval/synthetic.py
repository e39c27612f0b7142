"""Seeded synthetic GT/prediction pairs in COCO keypoint format, for tests, fixtures and benchmarks.

The data exercise the conventions that matter: people from tiny to large,
unlabelled parts, crowd regions, misses, duplicates, false positives, more
predictions per image than ``max_detections``, score ties within and across
images, zero-score predictions (whole skeleton or one part), images with
predictions and no GT, and GT with no predictions.  Optionally images carry
fields to slice by (``crowdIndex``, edges included, and a ``scene``); a protocol that
takes GT areas from the box (``use_area`` off, CrowdPose) gets GT without ``area``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .protocol import Protocol, load_protocol


@dataclass(frozen=True)
class SynthOptions:
    num_images: int = 20
    max_people: int = 6  # GT people per image: 0..max_people
    crowd_rate: float = 0.08  # share of images with a crowd region
    crowd_keypoints: bool = False  # crowd regions carry labelled keypoints (halpecocotools' bug bites)
    miss_rate: float = 0.15  # GT people without a prediction
    duplicate_rate: float = 0.2
    false_positives: float = 1.5  # mean per image
    crowded_image_rate: float = 0.05  # images with 25+ predictions
    empty_gt_image_rate: float = 0.05  # images with predictions but no GT
    bbox: bool = False  # predictions carry a 'bbox' (then its area is used)
    first_ann_id: int = 1
    score_decimals: int = 2  # coarse scores make ties
    float32_text: bool = False  # coordinates as float32 values printed with 17 digits
    num_keypoints_noise: float = 0.2  # share of GT whose num_keypoints disagrees with the flags (pycocotools reads it)
    image_fields: bool = False  # images carry a crowdIndex in [0, 1] (0.2 and 0.8 among them) and a scene


SCENES = ("indoor", "street", "sports", "stage")
CROWD_INDEX_EDGES = (0.2, 0.8)  # drawn often: slices must put an image on an edge as xtcocotools does


def make_dataset(seed: int, protocol="halpe136", options: SynthOptions = SynthOptions()) -> tuple[dict, list]:
    """A (ground truth dict, prediction list) pair; the same seed gives the same data."""
    proto: Protocol = load_protocol(protocol)
    rng = np.random.default_rng(seed)
    k = proto.num_keypoints
    sigmas = np.asarray(proto.sigmas)
    part_of = _part_slices(proto)
    image_ids = rng.choice(np.arange(1, 100 * options.num_images + 100), options.num_images, replace=False)
    images, anns, preds = [], [], []
    next_id = options.first_ann_id
    fields = np.random.default_rng([seed, 1])  # its own stream: the rest of the data is as without image fields

    for image_id in image_ids.tolist():
        width, height = int(rng.integers(320, 1280)), int(rng.integers(240, 960))
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": width, "height": height})
        if options.image_fields:
            images[-1]["crowdIndex"] = (float(fields.choice(CROWD_INDEX_EDGES)) if fields.random() < 0.2
                                        else round(float(fields.uniform(0, 1)), 2))
            images[-1]["scene"] = str(fields.choice(SCENES))
        empty = rng.random() < options.empty_gt_image_rate
        n_people = 0 if empty else int(rng.integers(0, options.max_people + 1))
        people = []
        for _ in range(n_people):
            person = _person(rng, width, height, k, part_of)
            people.append(person)
            anns.append(_annotation(person, image_id, next_id, 0, rng, proto.num_keypoints_counts,
                                    options.num_keypoints_noise, proto.use_area))
            next_id += 1
        if not empty and rng.random() < options.crowd_rate:
            crowd = _person(rng, width, height, k, part_of)
            if not options.crowd_keypoints:
                crowd["kps"][:] = 0
            anns.append(_annotation(crowd, image_id, next_id, 1, rng, proto.num_keypoints_counts,
                                    options.num_keypoints_noise, proto.use_area))
            next_id += 1
            people.append(crowd)

        for person in people:
            if rng.random() < options.miss_rate:
                continue
            copies = 1 + int(rng.random() < options.duplicate_rate)
            for _ in range(copies):
                preds.append(_prediction(rng, person, image_id, sigmas, part_of))
        n_fp = rng.poisson(options.false_positives)
        if rng.random() < options.crowded_image_rate:
            n_fp += int(rng.integers(21, 30))
        for _ in range(n_fp):
            fake = _person(rng, width, height, k, part_of)
            preds.append(_prediction(rng, fake, image_id, sigmas, part_of, noise=3.0))

    order = rng.permutation(len(preds))
    preds = [preds[i] for i in order]
    for p in preds:
        _as_written(p, options)
    gt = {
        "info": {"description": f"halpe-eval synthetic data, seed {seed}, protocol {proto.name}"},
        "images": images,
        "annotations": anns,
        "categories": [{"id": 1, "name": "person", "supercategory": "person", "keypoints": list(proto.keypoints)}],
    }
    return gt, preds


def _as_written(pred: dict, options: SynthOptions) -> None:
    """A prediction as a model would write it: rounded score, optional bbox, optional float32 coordinates."""
    pred["score"] = round(pred["score"], options.score_decimals)
    if options.bbox:
        kp = np.asarray(pred["keypoints"]).reshape(-1, 3)
        x0, y0 = kp[:, :2].min(axis=0)
        x1, y1 = kp[:, :2].max(axis=0)
        pred["bbox"] = [float(x0), float(y0), float(x1 - x0) * 0.9, float(y1 - y0) * 1.1]
    if options.float32_text:
        pred["keypoints"] = np.asarray(pred["keypoints"], dtype=np.float32).tolist()


def _part_slices(proto: Protocol) -> dict[str, np.ndarray]:
    """The parts a person is drawn by: all but the whole skeleton (unless that is the only part)."""
    return {name: np.asarray(idx) for name, idx in proto.parts.items()
            if name != proto.whole_part or len(proto.parts) == 1}


def _person(rng, width, height, k, part_of) -> dict:
    # log-uniform size: areas from ~10^2 (small) past 96^2 (large)
    h = float(np.exp(rng.uniform(np.log(12), np.log(min(height, 600)))))
    w = h * float(rng.uniform(0.3, 0.8))
    x = float(rng.uniform(-0.1 * w, max(width - 0.9 * w, 0.0)))
    y = float(rng.uniform(-0.1 * h, max(height - 0.9 * h, 0.0)))
    kps = np.zeros((k, 3))
    kps[:, 0] = x + rng.uniform(0, w, k)
    kps[:, 1] = y + rng.uniform(0, h, k)
    kps[:, 2] = rng.choice([0, 1, 2], k, p=[0.2, 0.3, 0.5])
    for idx in part_of.values():
        if rng.random() < 0.3:  # part not annotated at all
            kps[idx, 2] = 0
    kps[kps[:, 2] == 0, :2] = 0
    return {"kps": kps, "box": [x, y, w, h]}


def _annotation(person, image_id, ann_id, iscrowd, rng, counted, noise, with_area) -> dict:
    """A GT record; ``num_keypoints`` counts the labelled keypoints among ``counted`` (what the dataset counts);
    no ``area`` unless ``with_area`` (the protocol reads it)."""
    x, y, w, h = person["box"]
    kps = person["kps"]
    labelled = int((kps[list(counted), 2] > 0).sum())
    record = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "iscrowd": iscrowd,
        "bbox": [round(x, 2), round(y, 2), round(w, 2), round(h, 2)],
        "area": round(w * h * float(rng.uniform(0.4, 0.9)), 3),
        "keypoints": [round(float(v), 2) if i % 3 != 2 else int(v) for i, v in enumerate(kps.ravel())],
        # Some disagree with the flags, so that pycocotools' use of the field is exercised.
        "num_keypoints": labelled if rng.random() >= noise else max(labelled - 3, 0),
    }
    if not with_area:
        del record["area"]
    return record


def _prediction(rng, person, image_id, sigmas, part_of, noise: float = 1.0) -> dict:
    x, y, w, h = person["box"]
    kps = person["kps"].copy()
    unlabelled = kps[:, 2] == 0
    kps[unlabelled, 0] = x + rng.uniform(0, w, unlabelled.sum())
    kps[unlabelled, 1] = y + rng.uniform(0, h, unlabelled.sum())
    spread = noise * float(rng.uniform(0.05, 0.9)) * np.sqrt(w * h) * sigmas * 2
    kps[:, 0] += rng.normal(0, 1, len(kps)) * spread
    kps[:, 1] += rng.normal(0, 1, len(kps)) * spread
    kps[:, 2] = rng.uniform(0.05, 1.0, len(kps))
    roll = rng.random()
    if roll < 0.04:
        kps[:, 2] = 0  # every keypoint score 0
    elif roll < 0.12:
        idx = list(part_of.values())[int(rng.integers(len(part_of)))]
        kps[idx, 2] = 0  # one part with zero scores
    return {
        "image_id": image_id,
        "category_id": 1,
        "keypoints": kps.ravel().tolist(),
        "score": float(rng.uniform(0.05, 1.0)),
    }


def write_pair(gt: dict, preds: list, gt_path, preds_path) -> None:
    import json

    with open(gt_path, "w") as f:
        json.dump(gt, f)
    with open(preds_path, "w") as f:
        json.dump(preds, f)


__all__ = ["SynthOptions", "make_dataset", "write_pair"]
