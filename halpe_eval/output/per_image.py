"""``--per-image FILE.csv``: per image and scored part, counts, matches and mean OKS (breakdown.per_image).

Comparing runs adds a first ``run`` column; undefined values are empty fields.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence

from ..breakdown import per_image
from ..results import EvalResult

FIELDS = ("image_id", "file_name", "part", "gt", "predictions", "matched_50", "matched_75", "mean_oks_50")


def write_per_image(path: str, results: Sequence[EvalResult], names: Sequence[str]) -> None:
    comparing = len(results) > 1
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=("run", *FIELDS) if comparing else FIELDS)
        writer.writeheader()
        for name, result in zip(names, results):
            for row in per_image(result):
                fields = {"run": name, **row} if comparing else row
                writer.writerow({key: "" if value is None else value for key, value in fields.items()})
