"""Read time alone, compiled path (pysimdjson) against the precise path (orjson, record by record).

    python benchmarks/generate.py --scale val --out DIR
    python benchmarks/read.py --data DIR --rounds 5 [--coco17] [--tree SRC]

Each timing is a fresh process (imports not counted): the GT read by ``load_ground_truth``, the
predictions by ``load_predictions`` (serially and with the default two workers; the GT already
read). Rounds alternate between the paths; medians are printed as a markdown table. ``--coco17``
first writes COCO-17 copies of the val files (the first 17 keypoints; untimed). ``--tree SRC``
times another checkout's halpe_eval (e.g. the commit before this path) on the same data.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from slicing import coco17_files

ROOT = Path(__file__).resolve().parents[1]

TIMER = r"""
import json, sys, time
import halpe_eval.reading.parallel as parallel
from halpe_eval.reading.ground_truth import load_ground_truth
from halpe_eval.reading.predictions import load_predictions
mode, what, gt_path, preds_path = sys.argv[1:5]
if mode == "precise":
    try:
        import halpe_eval.reading.simd as simd
        simd.AVAILABLE = False
    except ImportError:  # a tree from before the compiled path
        pass
if what == "gt":
    tic = time.perf_counter(); load_ground_truth(gt_path); took = time.perf_counter() - tic
else:
    gt = load_ground_truth(gt_path)
    if what == "preds-serial":
        parallel.PARALLEL_MIN_BYTES = 1 << 62
    tic = time.perf_counter(); load_predictions(preds_path, gt); took = time.perf_counter() - tic
print(json.dumps(took))
"""


def timed(tree: Path, mode: str, what: str, gt: Path, preds: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", TIMER, mode, what, str(gt), str(preds)], env=env, check=True,
                         capture_output=True, text=True, cwd=tree).stdout  # cwd: "-c" puts it first on sys.path
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT / "benchmarks" / "data")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--coco17", action="store_true", help="make the COCO-17 cut of the val files when missing "
                        "(benchmarks/slicing.py, as run.py --scale coco17 uses it)")
    parser.add_argument("--tree", type=Path, help="also time the halpe_eval of this source tree")
    args = parser.parse_args()
    if args.coco17:
        coco17_files(args.data / "val_gt.json", args.data / "val_preds.json", args.data)
    runs = [("compiled", ROOT), ("precise", ROOT)] + ([("other tree", args.tree)] if args.tree else [])
    print("| file | read | " + " | ".join(name for name, _ in runs) + " |")
    print("|---|---|" + "---|" * len(runs))
    for scale in ("coco17", "val"):
        gt, preds = args.data / f"{scale}_gt.json", args.data / f"{scale}_preds.json"
        if not gt.exists():
            continue
        for what in ("gt", "preds-serial", "preds"):
            times: dict[str, list[float]] = {name: [] for name, _ in runs}
            for _ in range(args.rounds):  # alternating: the machine's load falls on every path alike
                for name, tree in runs:
                    times[name].append(timed(tree, "compiled" if name == "compiled" else "precise", what, gt, preds))
            size = (gt if what == "gt" else preds).stat().st_size / 2**20
            cells = [f"{statistics.median(t):.3f} s ({min(t):.3f}-{max(t):.3f})" for t in times.values()]
            print(f"| {scale} ({size:.0f} MiB) | {what} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
