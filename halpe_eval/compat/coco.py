"""``COCO``, the COCO API's dataset class, over halpe-eval's arrays.

The record-level API is the COCO API's (pycocotools 2.0, xtcocotools 1.14, halpecocotools
0.0.1, as their ``coco.py`` behaves): ``dataset``, ``anns``, ``imgs``, ``cats``, ``imgToAnns``,
``catToImgs``, the ``get*Ids`` filters, the ``load*`` look-ups, ``createIndex`` and ``loadRes``,
with the same progress lines on stdout.  What the evaluation reads is different: the ground
truth is read once into a :class:`~halpe_eval.reading.ground_truth.GroundTruth` (on first use,
again after ``createIndex()``), and ``loadRes`` reads the results at once into
:class:`~halpe_eval.reading.predictions.Predictions`, validated as the CLI validates them.

A results object's records (its ``dataset``, ``anns``, ...) are built only when asked for, as
``loadRes`` builds them (``id`` from 1, ``area`` and ``bbox`` from the keypoints or the box,
written into the records given), from the list given or by reading the file again.
Drawing, downloading and mask helpers are not provided.
"""
from __future__ import annotations

import copy
import itertools
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ..errors import InputError
from ..protocol import Protocol
from ..reading.ground_truth import GroundTruth, load_ground_truth
from ..reading.jsonio import read_json
from ..reading.parallel import PredictionReader
from ..reading.predictions import Predictions
from ..reading.simd import collection_paused
from .oracle_protocols import reading_protocol, use_real

# What createIndex builds; on a results COCO, built on first access.
INDEX_ATTRIBUTES = ("dataset", "anns", "imgs", "cats", "imgToAnns", "catToImgs")


def as_id_list(ids: Any) -> list:
    """Ids given as one id or a sequence of them (the COCO API's ``_isArrayLike`` rule), as a list."""
    if isinstance(ids, (str, bytes)) or not (hasattr(ids, "__iter__") and hasattr(ids, "__len__")):
        return [ids]
    return list(ids)


class COCO:
    """The COCO API's ``COCO(annotation_file=None)``; ``annotation_file`` is a path or an already parsed dict.

    Subclasses name the official library they stand in for (``oracle``), whose rules read the ground truth.
    """

    oracle: ClassVar[str] = ""
    area_filter_includes_lower: ClassVar[bool] = False  # getAnnIds(areaRng): lo < area (xtcocotools: lo <= area)

    def __init__(self, annotation_file: Any = None):
        self.dataset: dict = {}
        self.anns: dict = {}
        self.imgs: dict = {}
        self.cats: dict = {}
        self.imgToAnns: defaultdict = defaultdict(list)
        self.catToImgs: defaultdict = defaultdict(list)
        self._source_name = "<ground truth>"
        self._ground_truth: GroundTruth | None = None
        if annotation_file is not None:
            print("loading annotations into memory...")
            tic = time.time()
            self.dataset = self._read_dataset(annotation_file)
            print(f"Done (t={time.time() - tic:0.2f}s)")
            self.createIndex()

    def _read_dataset(self, annotation_file: Any) -> dict:
        if isinstance(annotation_file, dict):
            return annotation_file
        dataset, self._source_name = read_json(annotation_file)
        if not isinstance(dataset, dict):
            raise InputError(f"{self._source_name}: annotation file format {type(dataset).__name__} not supported "
                             "(expected a COCO annotation object)")
        return dataset

    def createIndex(self) -> None:
        """Index the records of ``dataset`` by id (every copy of a repeated annotation id listed under its
        image, the last one in ``anns``), as the COCO API does; the arrays are read again on next use."""
        print("creating index...")
        anns, imgs, cats = {}, {}, {}
        img_to_anns: defaultdict = defaultdict(list)
        cat_to_imgs: defaultdict = defaultdict(list)
        for ann in self.dataset.get("annotations", ()):
            img_to_anns[ann["image_id"]].append(ann)
            anns[ann["id"]] = ann
        for img in self.dataset.get("images", ()):
            imgs[img["id"]] = img
        for cat in self.dataset.get("categories", ()):
            cats[cat["id"]] = cat
        if "annotations" in self.dataset and "categories" in self.dataset:
            for ann in self.dataset["annotations"]:
                cat_to_imgs[ann["category_id"]].append(ann["image_id"])
        print("index created!")
        self.anns, self.imgs, self.cats, self.imgToAnns, self.catToImgs = anns, imgs, cats, img_to_anns, cat_to_imgs
        self._ground_truth = None

    def info(self) -> None:
        """Print the dataset's ``info`` entries, one ``key: value`` a line."""
        for key, value in self.dataset["info"].items():
            print(f"{key}: {value}")

    def getAnnIds(self, imgIds: Any = (), catIds: Any = (), areaRng: Any = (),
                  iscrowd: Any = None) -> list:
        """Ids of the annotations on ``imgIds``, in ``catIds``, with area inside ``areaRng`` and the given
        ``iscrowd`` (an empty filter keeps all), in index order."""
        img_ids, cat_ids, area_range = as_id_list(imgIds), as_id_list(catIds), list(areaRng)
        anns: Iterable[dict] = self.dataset["annotations"] if not img_ids else itertools.chain.from_iterable(
            self.imgToAnns[i] for i in img_ids if i in self.imgToAnns)
        if cat_ids:
            anns = [ann for ann in anns if ann["category_id"] in cat_ids]
        if area_range:
            anns = [ann for ann in anns if self._inside(ann["area"], area_range)]
        return [ann["id"] for ann in anns if iscrowd is None or ann["iscrowd"] == iscrowd]

    def _inside(self, area: float, area_range: list) -> bool:
        above = area >= area_range[0] if self.area_filter_includes_lower else area > area_range[0]
        return above and area < area_range[1]

    def getCatIds(self, catNms: Any = (), supNms: Any = (), catIds: Any = ()) -> list:
        """Ids of the categories with the given names, supercategory names and ids (empty: any)."""
        names, supers, ids = as_id_list(catNms), as_id_list(supNms), as_id_list(catIds)
        return [cat["id"] for cat in self.dataset["categories"]
                if (not names or cat["name"] in names) and (not supers or cat["supercategory"] in supers)
                and (not ids or cat["id"] in ids)]

    def getImgIds(self, imgIds: Any = (), catIds: Any = ()) -> list:
        """Ids of the images among ``imgIds`` (empty: all) holding every category of ``catIds``."""
        img_ids, cat_ids = as_id_list(imgIds), as_id_list(catIds)
        if not img_ids and not cat_ids:
            return list(self.imgs)
        chosen = set(img_ids)
        for i, cat_id in enumerate(cat_ids):
            chosen = set(self.catToImgs[cat_id]) if i == 0 and not chosen else chosen & set(self.catToImgs[cat_id])
        return list(chosen)

    def loadAnns(self, ids: Any = ()) -> list:
        """The annotation records of ``ids`` (one id or a sequence)."""
        return [self.anns[i] for i in as_id_list(ids)]

    def loadCats(self, ids: Any = ()) -> list:
        """The category records of ``ids`` (one id or a sequence)."""
        return [self.cats[i] for i in as_id_list(ids)]

    def loadImgs(self, ids: Any = ()) -> list:
        """The image records of ``ids`` (one id or a sequence)."""
        return [self.imgs[i] for i in as_id_list(ids)]

    def reading_protocol(self) -> Protocol:
        """The protocol ``dataset`` is read with: its skeleton, the oracle's rules."""
        return reading_protocol(self.oracle, self.dataset, self._source_name)

    def ground_truth(self) -> GroundTruth:
        """``dataset`` as arrays (``reading_protocol``), kept until ``createIndex()`` is called again."""
        if self._ground_truth is None:
            with collection_paused():
                self._ground_truth = load_ground_truth(self.dataset, self.reading_protocol(), name=self._source_name)
        return self._ground_truth

    def loadRes(self, resFile: Any) -> COCO:
        """A results COCO for ``resFile``: a results file's path, or the list of result records.

        The predictions are read and checked against this ground truth at once. A numpy array is
        refused: the COCO API reads one as detection boxes (``loadNumpyAnnotations``: N x 7 rows of
        image id, x, y, w, h, score, class), which carry no keypoints to score.
        """
        print("Loading and preparing results...")
        tic = time.time()
        if isinstance(resFile, np.ndarray):
            raise use_real(self.oracle, "results given as a numpy array (box rows of loadNumpyAnnotations); "
                                        "pass the list of result dicts or a results file")
        if not isinstance(resFile, (str, os.PathLike, list)):
            raise InputError(f"results are a {type(resFile).__name__}; expected a results file's path or a list "
                             "of result dicts")
        results = type(self).__new__(type(self))
        results._init_results(self, resFile)
        results.predictions_for(self)
        print(f"DONE (t={time.time() - tic:0.2f}s)")
        return results

    def _init_results(self, parent: COCO, source: Any) -> None:
        """A results COCO: its records (``INDEX_ATTRIBUTES``) are left to ``__getattr__`` until asked for."""
        self._parent = parent
        self._results_source = source
        self._source_name = str(source) if not isinstance(source, list) else "<results>"
        self._ground_truth = None
        self._predicted: tuple[GroundTruth, Predictions] | None = None

    def predictions_for(self, gt_coco: COCO) -> Predictions:
        """The results of this results COCO as arrays, checked against ``gt_coco``'s ground truth (kept)."""
        if "_results_source" not in self.__dict__:
            raise TypeError("COCOeval's cocoDt must be the results COCO that loadRes() returns")
        if self._predicted is not None and self._predicted[0] is gt_coco._ground_truth:
            return self._predicted[1]
        reader = PredictionReader(self._results_source, self._source_name)
        try:
            reader.start(gt_coco.reading_protocol())  # a large results file is parsed by workers from here...
            gt = gt_coco.ground_truth()  # ... while the ground truth becomes arrays (if not yet), as the CLI does
            with collection_paused():
                self._predicted = (gt, reader.load(gt))
        finally:
            reader.close()
        return self._predicted[1]

    def __getattr__(self, name: str) -> Any:
        """Only for attributes not set: a results COCO's records, built on first access."""
        if name in INDEX_ATTRIBUTES and "_results_source" in self.__dict__:
            self._index_results()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _index_results(self) -> None:
        """The records ``loadRes`` makes: the ground truth's images and categories, each result completed."""
        source = self._results_source
        records = source if isinstance(source, list) else read_json(source)[0]
        parent = self._parent.dataset
        self.dataset = {"images": list(parent["images"])}
        if records:
            self.dataset["categories"] = copy.deepcopy(parent["categories"])
        from_box = bool(records) and bool(records[0].get("bbox"))  # loadRes' rule: the first result decides
        for number, record in enumerate(records, start=1):
            complete_result(record, number, from_box)
        self.dataset["annotations"] = records
        self.createIndex()


def complete_result(record: dict, number: int, from_box: bool) -> None:
    """What ``loadRes`` writes into a keypoint result: ``id``; from its ``bbox``: ``area`` = w*h, ``iscrowd`` 0
    and a box polygon as ``segmentation`` when it has none; else ``area`` and ``bbox`` of its ``keypoints``' extent."""
    record["id"] = number
    if from_box:
        x, y, w, h = record["bbox"]
        record.setdefault("segmentation", [[x, y, x, y + h, x + w, y + h, x + w, y]])
        record["area"] = w * h
        record["iscrowd"] = 0
        return
    keypoints = record["keypoints"]
    xs, ys = keypoints[0::3], keypoints[1::3]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    record["area"] = (x1 - x0) * (y1 - y0)
    record["bbox"] = [x0, y0, x1 - x0, y1 - y0]


__all__ = ["COCO", "INDEX_ATTRIBUTES", "as_id_list", "complete_result"]
