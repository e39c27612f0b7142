"""Seeded benchmark data at three scales: python benchmarks/generate.py --scale val [--seed 0] [--out DIR]

small = 500 images, val = 5,000 images (~7k GT people, ~39k predictions, ~300 MB of predictions),
large = 20,000 images (~157k predictions, ~1.2 GB). Coordinates are float32 values written with 17
significant digits, as predictors dump them. Files go to benchmarks/data/ (git-ignored).
"""
import argparse
import time
from pathlib import Path

import orjson

from halpe_eval.synthetic import SynthOptions, make_dataset

SCALES = {"small": 500, "val": 5_000, "large": 20_000}


def options(num_images: int) -> SynthOptions:
    # ~1.5 GT people and ~7.8 predictions per image, like a detector-based top-down model on COCO val
    return SynthOptions(num_images=num_images, max_people=3, false_positives=5.0, float32_text=True)


def paths(scale: str, out: Path):
    return out / f"{scale}_gt.json", out / f"{scale}_preds.json"


def write(scale: str, out: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the (GT, predictions) files of ``scale`` into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    tic = time.perf_counter()
    gt, preds = make_dataset(seed, "halpe136", options(SCALES[scale]))
    gt_path, preds_path = paths(scale, out)
    gt_path.write_bytes(orjson.dumps(gt))
    with open(preds_path, "wb") as f:  # in slices, to keep the writer's memory flat
        f.write(b"[")
        for start in range(0, len(preds), 10_000):
            body = orjson.dumps(preds[start : start + 10_000])[1:-1]
            f.write((b"," if start else b"") + body)
        f.write(b"]")
    print(f"{scale}: {len(gt['images']):,} images, {len(gt['annotations']):,} GT people, "
          f"{len(preds):,} predictions; {gt_path.stat().st_size / 2**20:.0f} MiB + "
          f"{preds_path.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - tic:.0f} s -> {out}")
    return gt_path, preds_path


def ensure(scale: str, out: Path) -> tuple[Path, Path]:
    """The (GT, predictions) files of ``scale`` in ``out``, written on first use (seed 0)."""
    gt_path, preds_path = paths(scale, out)
    if gt_path.is_file() and preds_path.is_file():
        return gt_path, preds_path
    return write(scale, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="val")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    write(args.scale, args.out, args.seed)


if __name__ == "__main__":
    main()
