"""What --bootstrap costs: 1,000 resamples at COCO-val scale against the plain evaluation.

python benchmarks/bootstrap.py [--scale val] [--data DIR] [--resamples 1000] [--rounds 3]

Both contenders are the whole command as a CI job runs it (interpreter start, parsing, scoring,
output), alternating in every round on the same files (made by generate.py when missing):

- plain:     ``halpe-eval GT PRED --format json -q``
- bootstrap: ``halpe-eval GT PRED --format json -q --bootstrap N``

Reported: the median wall time of each, their ratio (the issue's bound: at most 5x), and, in one
process, the resampling alone against ``evaluate`` alone (``bootstrap()`` over ``evaluate(...,
keep_matches=True)``). The run fails unless the plain statistics of both commands are the same.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bytecode import byte_compile
from generate import SCALES, ensure, options

from halpe_eval import evaluate
from halpe_eval.bootstrap import bootstrap


def timed_command(args: list) -> tuple:
    tic = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "halpe_eval", *map(str, args)], capture_output=True, check=True)
    return time.perf_counter() - tic, json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="val")
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gt, preds = ensure(args.scale, args.data)
    byte_compile()
    assert options(SCALES[args.scale]).num_images == SCALES[args.scale]

    plain, resampled = [], []
    for _ in range(args.rounds):  # alternating, so that a slower moment of the machine hits both
        seconds, plain_doc = timed_command([gt, preds, "--format", "json", "-q"])
        plain.append(seconds)
        seconds, boot_doc = timed_command([gt, preds, "--format", "json", "-q", "--bootstrap", args.resamples])
        resampled.append(seconds)
        assert boot_doc["parts"] == plain_doc["parts"], "the bootstrap changed the statistics"

    evaluations, resamplings = [], []
    for _ in range(args.rounds):
        tic = time.perf_counter()
        result = evaluate(gt, preds, keep_matches=True)
        evaluations.append(time.perf_counter() - tic)
        tic = time.perf_counter()
        bootstrap([result], args.resamples)
        resamplings.append(time.perf_counter() - tic)

    p, b = statistics.median(plain), statistics.median(resampled)
    e, r = statistics.median(evaluations), statistics.median(resamplings)
    print(f"{args.scale}: {result.num_images:,} images, {result.num_gt:,} GT people, "
          f"{result.num_predictions:,} predictions; {args.resamples:,} resamples; median of {args.rounds} rounds")
    print("\n| measured | seconds | ratio |\n| --- | ---: | ---: |")
    print(f"| command, plain | {p:.2f} | 1.00 |")
    print(f"| command, --bootstrap {args.resamples} | {b:.2f} | {b / p:.2f} |")
    print(f"| in process: evaluate(keep_matches=True) | {e:.2f} | 1.00 |")
    print(f"| in process: bootstrap() alone | {r:.2f} | {r / e:.2f} |")


if __name__ == "__main__":
    main()
