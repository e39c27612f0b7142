"""What ``--diagnose`` costs: the whole command with and without it, at val scale, Halpe-136.

python benchmarks/diagnose.py [--scale val] [--rounds 3] [--data DIR]

Contenders, each a whole process (interpreter start, imports, parsing, scoring, output), alternating
in every round on the same files: ``halpe-eval GT PRED --format json -q`` and the same with
``--diagnose``.  Reported: the median wall time of each and their ratio (the target is at most 3).
The data are generate.py's (made on first use).
"""
import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bytecode import byte_compile
from generate import SCALES, ensure


def timed(command: list[str]) -> float:
    tic = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - tic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="val")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(__file__).parent / "data")
    args = parser.parse_args()
    gt, preds = ensure(args.scale, args.data)
    byte_compile()
    plain = [sys.executable, "-m", "halpe_eval", str(gt), str(preds), "--format", "json", "-q"]
    contenders = {"plain": plain, "--diagnose": [*plain, "--diagnose"]}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, command in contenders.items():
            times[name].append(timed(command))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        each = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:12s} median {value:6.2f} s over {args.rounds} rounds ({each})")
    ratio = medians["--diagnose"] / medians["plain"]
    print(f"ratio --diagnose / plain: {ratio:.2f} (target <= 3)")


if __name__ == "__main__":
    main()
