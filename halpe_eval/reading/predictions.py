"""Predictions: a results file (or list) as arrays, checked against the ground truth.

Accepted record formats are the adapters of :mod:`halpe_eval.reading.formats`
(COCO results, AlphaPose results, COCO-WholeBody nested fields); files may be
gzip-compressed or '-' (stdin).  Large files are read in chunks, in worker
processes when that pays (:mod:`halpe_eval.reading.parallel`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import InputError
from ..protocol import Protocol
from .formats import by_key, catch_all
from .ground_truth import GroundTruth
from .image_ids import image_index
from .messages import listing
from .records import Columns, index_in, joined_part_scores


@dataclass(frozen=True)
class Predictions:
    """COCO keypoint results as arrays; D predictions in file order."""

    source: str
    format: str  # the label of the record format the file was in (see reading.formats)
    image_index: np.ndarray  # (D,) index into GroundTruth.image_ids
    category_index: np.ndarray  # (D,)
    keypoints: np.ndarray  # (D, K, 2) x, y in the protocol's coordinate dtype (scores live on in ``positive``)
    score: np.ndarray  # (D,) float64
    area: np.ndarray  # (D,) float64, per loadRes (computed in float64 before any cast)
    positive: dict[str, np.ndarray]  # part -> some keypoint score > 0 in it ('*': whole skeleton)
    part_scores: dict[str, np.ndarray] = field(default_factory=dict)  # NaN where absent
    warnings: tuple[str, ...] = ()
    keypoint_boxes: np.ndarray | None = None  # (D, 4) oks.keypoint_boxes(keypoints) when the reader took them

    def __len__(self) -> int:
        return len(self.score)


def load_predictions(source: Any, gt: GroundTruth, name: str | None = None, allow_unknown_images: bool = False,
                     protocol: Protocol | None = None) -> Predictions:
    """A :class:`Predictions` from a path or a parsed results list, checked against ``gt``, read with
    ``protocol`` (the protocol that will score them; default: the GT's)."""
    from .parallel import PredictionReader

    reader = PredictionReader(source, name)
    try:
        reader.start(protocol or gt.protocol)
        return reader.load(gt, allow_unknown_images)
    finally:
        reader.close()


def category_indices(gt: GroundTruth, category_ids: np.ndarray, name: str) -> np.ndarray:
    """Each prediction's index into the GT's categories; an unknown id is refused, naming the known ones."""
    index, known = index_in(gt.category_ids, category_ids)
    if not known.all():
        i = int(np.flatnonzero(~known)[0])
        raise InputError(f"{name}: prediction #{i}: category_id {category_ids[i]} is not in the ground truth's "
                         f"'categories' (their ids: {listing(gt.category_ids.tolist())})")
    return index


def finish_predictions(cols: Columns, gt: GroundTruth, name: str, allow_unknown_images: bool) -> Predictions:
    """Columns resolved against the GT (image and category indices), with the warnings they call for."""
    if len(gt.image_ids) == 0 and len(cols.score):
        raise InputError(f"{gt.source}: the ground truth has no 'images', so none of the {len(cols.score)} "
                         f"prediction(s) of {name} can be scored; check the ground-truth file")
    images = image_index(cols.image_ids, gt.image_ids, gt.file_names, name, allow_unknown_images)
    category_index = category_indices(gt, cols.category_ids, name)
    keep = images >= 0
    kept: Callable[[np.ndarray], np.ndarray] = (lambda a: a) if keep.all() else (lambda a: a[keep])  # no copies
    return Predictions(
        source=name,
        format=_file_format(cols),
        image_index=kept(images),
        category_index=kept(category_index).astype(np.int64, copy=False),
        keypoints=kept(cols.keypoints),
        score=kept(cols.score),
        area=kept(cols.area),
        positive={k: kept(v) for k, v in cols.positive.items()},
        part_scores={k: kept(v) for k, v in cols.part_scores.items()},
        warnings=tuple(_warnings(cols, gt, images, keep, name)),
        keypoint_boxes=None if cols.boxes is None else kept(cols.boxes),
    )


def _file_format(cols: Columns) -> str:
    """The label of the highest-priority format any record used (no records: the catch-all format's)."""
    formats = by_key()
    used = [formats[key] for key in cols.formats] or [catch_all()]
    return min(used, key=lambda f: f.priority).label


def _warnings(cols: Columns, gt: GroundTruth, images: np.ndarray, keep: np.ndarray, name: str) -> list[str]:
    warnings: list[str] = []
    if not keep.all():
        ids = cols.image_ids.tolist() if isinstance(cols.image_ids, np.ndarray) else cols.image_ids
        dropped = list(dict.fromkeys(v for v, k in zip(ids, keep) if not k))
        warnings.append(
            f"{name}: {int((~keep).sum())} prediction(s) on {len(dropped)} image(s) not in the ground truth were "
            f"dropped (--allow-unknown-images): {listing(dropped)}"
        )
    if len(cols.score) == 0:
        warnings.append(f"{name}: no predictions; every AP and AR is 0")
    return warnings + scored_warnings(gt, images[keep], cols.positive["*"][keep], name)


def scored_warnings(gt: GroundTruth, image_index: np.ndarray, scored: np.ndarray, name: str) -> list[str]:
    """Warnings about predictions that are kept: all keypoint scores 0, images with no GT."""
    warnings = []
    zero = int((~scored).sum())
    if zero:
        warnings.append(f"{name}: {zero} prediction(s) have every keypoint score 0")
    gt_images = np.zeros(len(gt.image_ids), dtype=bool)
    gt_images[gt.image_index] = True
    no_gt = np.zeros(len(gt_images), dtype=bool)
    no_gt[image_index[~gt_images[image_index]]] = True
    if no_gt.any():
        warnings.append(f"{name}: {int(no_gt.sum())} image(s) have predictions but no GT annotation "
                        "(all false positives)")
    return warnings


def load_shards(paths: list[str], gt: GroundTruth, name: str, allow_unknown_images: bool = False,
                protocol: Protocol | None = None) -> Predictions:
    """Several results files as one run, in the order given (each read as :func:`load_predictions` reads it,
    its warnings naming it)."""
    shards = [load_predictions(path, gt, allow_unknown_images=allow_unknown_images, protocol=protocol)
              for path in paths]
    return concatenate(shards, gt, name, warnings=[w for shard in shards for w in shard.warnings])


def concatenate(batches: list[Predictions], gt: GroundTruth, name: str,
                warnings: list[str] | None = None) -> Predictions:
    """Batches of predictions as one, in arrival order; ``warnings`` None: said anew, once for the whole.
    """
    if not batches:
        raise InputError(f"{name}: no predictions were given (call update() first)")

    def joined(attr: str) -> np.ndarray:
        return np.concatenate([getattr(b, attr) for b in batches])

    positive = {k: np.concatenate([b.positive[k] for b in batches]) for k in batches[0].positive}
    image_index = joined("image_index")
    return Predictions(
        source=name,
        format=batches[0].format,
        image_index=image_index,
        category_index=joined("category_index"),
        keypoints=joined("keypoints"),
        score=joined("score"),
        area=joined("area"),
        positive=positive,
        part_scores=joined_part_scores([(b.part_scores, len(b)) for b in batches]),
        warnings=tuple(scored_warnings(gt, image_index, positive["*"], name) if warnings is None else warnings),
        keypoint_boxes=joined("keypoint_boxes") if all(b.keypoint_boxes is not None for b in batches) else None,
    )
