"""End-to-end benchmark, all contenders in one run: python benchmarks/run.py --scale val [--repeat 3]

Each contender runs as a whole process (interpreter start, imports, parsing, scoring, output):

- native:     halpe-eval GT PRED --format json -q
- reference:  halpe-eval GT PRED --backend reference --format json -q   (halpecocotools behind our checks)
- halpecocotools alone: json.load + halpecocotools, as a user runs it (peers/halpecocotools_alone.py)
- faster-coco-eval: five per-part keypoint evaluations on one parse (if faster-coco-eval is installed)
- hotcoco (Rust; Python 3.10+): at its best, its own parser and ``COCOeval(gt, dt, "keypoints")`` with each
  part's sigmas, on pre-sliced part files (one per reported part, written once, untimed), all in one process
- floor:      parse both files with halpe-eval's reader and convert the keypoints to arrays (one process)

Wall time is the median over --repeat runs (the reference and halpecocotools alone run
--reference-repeat times, faster-coco-eval --peer-repeat times), taken round-robin: native and
the floor run side by side in every round. Memory is
the peak, over the run, of the summed PSS (proportional set size) of the process and all its
children, sampled every 20 ms from /proc: PSS counts pages shared between forked workers once, so
the sum is the memory the run really holds. The native and reference JSON must agree to 1e-9, or
the benchmark fails. Data come from benchmarks/generate.py (generated on first use); the scale
``coco17`` is the val set cut to COCO's 17 keypoints (benchmarks/slicing.py), where hotcoco runs its
native COCO-17 path and its ten numbers must equal ours.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bytecode import byte_compile  # noqa: E402
from generate import SCALES, ensure  # noqa: E402
from slicing import coco17_files, hotcoco_arguments, part_files  # noqa: E402

COCO17 = "coco17"  # the val set cut to 17 keypoints


def tree(pid: int) -> list:
    """pid and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(cmd: list) -> tuple:
    """(wall seconds, peak summed PSS in MiB, stdout) of one run of ``cmd``."""
    peak = [0]
    tic = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], sum(pss_kib(p) for p in tree(proc.pid)))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - tic
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return wall, peak[0] / 1024, out


def run_rounds(contenders: list) -> dict:
    """Run the contenders round-robin (round r runs each one with more than r repeats), so that a
    machine whose speed drifts during a long run slows every contender alike, not only the last."""
    walls = {name: [] for name, _, _ in contenders}
    mems = {name: [] for name, _, _ in contenders}
    outs = {}
    for r in range(max(n for _, _, n in contenders)):
        for name, cmd, n in contenders:
            if r < n:
                wall, mem, outs[name] = measure(cmd)
                walls[name].append(wall)
                mems[name].append(mem)
                print(f"  {name}: {wall:.2f} s, {mem:.0f} MiB", file=sys.stderr)
    return {name: {"name": name, "wall": statistics.median(walls[name]), "memory": max(mems[name]),
                   "runs": len(walls[name]), "out": outs[name]} for name, _, _ in contenders}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    import numpy

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"{datetime.date.today().isoformat()}")


HOTCOCO = "hotcoco"
REFERENCE = "reference (official evaluator)"


def peer_contenders(args: argparse.Namespace, gt: Path, preds: Path) -> list:
    """faster-coco-eval (Halpe scales) and hotcoco (every scale), where installed."""
    py, found = sys.executable, []
    if args.scale != COCO17:
        try:
            import faster_coco_eval  # noqa: F401

            found.append(("faster-coco-eval, 5 parts",
                          [py, HERE / "peers" / "faster_coco_eval_per_part.py", gt, preds], args.peer_repeat))
        except ImportError:
            print("faster-coco-eval not installed: skipped (pip install faster-coco-eval)", file=sys.stderr)
    try:
        import hotcoco  # noqa: F401
    except ImportError:
        print("hotcoco not installed (it needs Python 3.10+): skipped (pip install hotcoco)", file=sys.stderr)
        return found
    if args.scale == COCO17:
        hotcoco_args = ["body", str(gt), str(preds), "-"]
    else:
        hotcoco_args = hotcoco_arguments(part_files(gt, preds, "halpe136", args.data))
    found.append((HOTCOCO, [py, HERE / "peers" / "hotcoco_parts.py", *hotcoco_args], args.repeat))
    return found


def check_agreement(results: dict, scale: str) -> None:
    """Native must equal the reference on every statistic, and hotcoco on COCO-17's ten (1e-9)."""
    native = results["native"]
    if HOTCOCO in results and scale == COCO17:
        ours = json.loads(native["out"])["parts"]
        (theirs,) = json.loads(results[HOTCOCO]["out"].decode().splitlines()[-1]).values()
        for (stat, value), other in zip(next(iter(ours.values())).items(), theirs):
            if abs(value - other) > 1e-9:
                raise SystemExit(f"MISMATCH {stat}: native {value} vs hotcoco {other}")
        print("native == hotcoco on the ten COCO-17 statistics (1e-9)", file=sys.stderr)
    if REFERENCE in results:
        ours = json.loads(native["out"])["parts"]
        theirs = json.loads(results[REFERENCE]["out"])["parts"]
        for part, stats in ours.items():
            for stat, value in stats.items():
                other = theirs[part][stat]
                if (value is None) != (other is None) or (value is not None and abs(value - other) > 1e-9):
                    raise SystemExit(f"MISMATCH {part}.{stat}: native {value} vs reference {other}")
        print("native == reference on every statistic (1e-9)", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=[*sorted(SCALES), COCO17], default="val")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reference-repeat", type=int, default=1)
    parser.add_argument("--peer-repeat", type=int, default=3, help="runs of faster-coco-eval")
    parser.add_argument("--no-reference", action="store_true", help="skip halpecocotools (slow at large scale)")
    parser.add_argument("--no-peers", action="store_true", help="skip faster-coco-eval and hotcoco")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    args = parser.parse_args()

    source = "val" if args.scale == COCO17 else args.scale
    gt, preds = ensure(source, args.data)
    byte_compile()
    if args.scale == COCO17:
        gt, preds = coco17_files(gt, preds, args.data)
    py = sys.executable
    contenders = [("native", [py, "-m", "halpe_eval", gt, preds, "--format", "json", "-q"], args.repeat),
                  ("floor (parse + convert)", [py, HERE / "floor.py", gt, preds], args.repeat)]
    if not args.no_reference:
        contenders.append((REFERENCE,
                           [py, "-m", "halpe_eval", gt, preds, "--backend", "reference", "--format", "json", "-q"],
                           args.reference_repeat))
        if args.scale != COCO17:
            contenders.append(("halpecocotools alone", [py, HERE / "peers" / "halpecocotools_alone.py", gt, preds],
                               args.reference_repeat))
    if not args.no_peers:
        contenders += peer_contenders(args, gt, preds)
    print(f"scale {args.scale}: {gt.stat().st_size / 2**20:.0f} MiB GT, {preds.stat().st_size / 2**20:.0f} MiB "
          "predictions", file=sys.stderr)
    results = run_rounds([(name, [str(c) for c in cmd], n) for name, cmd, n in contenders])

    check_agreement(results, args.scale)

    native, floor = results["native"], results["floor (parse + convert)"]
    lines = [
        f"Scale `{args.scale}` ({SCALES[source]:,} images; predictions {preds.stat().st_size / 2**20:.0f} MiB). "
        f"Machine: {machine()}.",
        "",
        "| contender | wall (median) | peak memory (PSS) | native is faster by | native memory ratio |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in sorted(results.items(), key=lambda item: item[1] is floor):  # the floor last
        speed = "" if r is native else f"{r['wall'] / native['wall']:.1f}x"
        memory = "" if r is native else f"{native['memory'] / r['memory']:.2f}"
        runs = f"{r['runs']} run{'s' if r['runs'] > 1 else ''}"
        lines.append(f"| {name} | {r['wall']:.2f} s ({runs}) | {r['memory']:.0f} MiB | {speed} | {memory} |")
    lines += ["", f"native / floor wall: {native['wall'] / floor['wall']:.2f}x"]
    if HOTCOCO in results:
        hot = results[HOTCOCO]
        lines.append(f"native / hotcoco: wall {native['wall'] / hot['wall']:.2f}x, "
                     f"peak memory {native['memory'] / hot['memory']:.2f}x")
    if REFERENCE in results:
        lines.append("native and reference agree on every statistic to 1e-9.")
    table = "\n".join(lines)
    print(table)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / f"{args.scale}.md").write_text(
        f"# {args.scale}\n\n`python benchmarks/run.py {' '.join(sys.argv[1:])}`\n\n{table}\n")


if __name__ == "__main__":
    main()
