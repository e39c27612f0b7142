"""Command line: parse options, call the library, hand the results to :mod:`halpe_eval.output`, print, and set
the exit status (0 success, 1 a ``--fail-under`` threshold failed, 2 usage error or bad input). Nothing else."""
from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Callable, NoReturn

import click

from . import __version__, breakdown
from .errors import InputError
from .evaluate import evaluate
from .gate import Threshold, failures, parse_threshold
from .output import WRITERS, Report, write_per_image
from .output.builders import DEFAULT_COMPARE_STATS
from .protocol import COCO_STAT_NAMES, builtin_names, load_protocol
from .reading.ground_truth import load_ground_truth
from .results import EvalResult

EPILOG = """\b
Examples:
  halpe-eval gt.json results.json                          # table of AP/AR per part
  halpe-eval gt.json results.json --format json -o scores.json
  halpe-eval gt.json results.json --fail-under wholebody.AP=0.45 --fail-under hands.AP50=30%
  halpe-eval gt.json base.json new.json --name base --name new   # compare runs
  halpe-eval gt.json results.json --per-keypoint           # which keypoints are weak
  halpe-eval gt.json results.json --per-image images.csv   # which images hurt
  halpe-eval gt.json results.json --plot plots/            # PR curves (pip install 'halpe-eval[plot]')
  halpe-eval gt.json results.json --backend reference      # the official evaluator itself

\b
Exit status: 0 success, 1 a --fail-under threshold failed,
2 usage error or unreadable/malformed input.
"""

Step = Callable[..., None]  # progress callback: step(stage, fraction of this run done)


def _fail(message: str, prefix: str = "error") -> NoReturn:
    click.echo(f"halpe-eval: {prefix}: {message}", err=True)
    sys.exit(2)


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("gt", metavar="GT.json")
@click.argument("preds", metavar="PRED.json [PRED2.json ...]", nargs=-1, required=True)
@click.option(
    "--protocol", "-p", metavar="NAME|FILE", default=None,
    help=f"Protocol: {', '.join(builtin_names())}, or a protocol file (TOML/JSON, see docs/protocols.md). "
    "Default: detected from the GT.",
)
@click.option(
    "--backend", type=click.Choice(["native", "reference"]), default="native", show_default=True,
    help="native: this package's engine; reference: the official evaluator itself (slow).",
)
@click.option(
    "--format", "fmt", type=click.Choice(list(WRITERS)), default="table", show_default=True,
    help="Output on stdout.",
)
@click.option("--output", "-o", metavar="FILE", default=None, help="Also write the JSON result to FILE.")
@click.option("--split-hands", is_flag=True, help="Add left_hand and right_hand rows.")
@click.option("--sigmas", "sigmas_file", metavar="FILE", default=None,
              help="JSON list of OKS sigmas replacing the protocol's (one per keypoint).")
@click.option("--allow-unknown-images", is_flag=True,
              help="Drop predictions on images the GT does not have (with a warning) instead of failing.")
@click.option("--fail-under", "gates", metavar="PART.STAT=VALUE", multiple=True,
              help="Exit 1 if PART.STAT is below VALUE (fraction, or percent with %). Repeatable.")
@click.option("--name", "names", metavar="NAME", multiple=True,
              help="Name of each run, in the order of the PRED files (default: file stem). Repeatable.")
@click.option("--stats", metavar="AP,AR,...", default=None,
              help=f"Statistics to show (default: all; {','.join(DEFAULT_COMPARE_STATS)} when comparing runs).")
@click.option("--per-keypoint", is_flag=True,
              help="Add a per-keypoint breakdown over the pairs matched at OKS 0.5 (wholebody, or the largest part).")
@click.option("--per-image", "per_image_file", metavar="FILE.csv", default=None,
              help="Write per-image, per-part counts, matches and mean OKS to FILE.csv.")
@click.option("--plot", "plot_dir", metavar="DIR", default=None, help="Write PR-curve PNGs, one per part, to DIR.")
@click.option("--profile", is_flag=True, help="Print the time of each stage on stderr.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings or progress on stderr.")
@click.version_option(__version__, prog_name="halpe-eval")
def main(gt, preds, protocol, backend, fmt, output, split_hands, sigmas_file, allow_unknown_images, gates,
         names, stats, per_keypoint, per_image_file, plot_dir, profile, quiet):
    """Score whole-body keypoint predictions (COCO results) against COCO-format ground truth.

    Prints OKS AP/AR per part (body, foot, face, hands, wholebody) with the
    official evaluator's conventions; numbers are percentages, '-' is undefined.
    Several PRED files are compared against one parse of the GT.
    """
    stats = _chosen_stats(stats, protocol)
    names = _checked_names(names, preds)
    if backend == "reference" and (sigmas_file or allow_unknown_images or per_keypoint or per_image_file):
        raise click.UsageError(
            "--sigmas, --allow-unknown-images, --per-keypoint and --per-image need --backend native")
    if [gt, *preds, sigmas_file].count("-") > 1:
        raise click.UsageError("standard input ('-') can be read only once: give the other inputs as files")
    if gates:  # the syntax and statistics now, the part names once the rows are known
        _thresholds(gates, _expected_stat_names(protocol))
    tic = time.perf_counter()
    results = _score(gt, preds, protocol, backend, quiet, split_hands=split_hands, sigmas=sigmas_file,
                     allow_unknown_images=allow_unknown_images, keep_matches=bool(per_keypoint or per_image_file))
    seconds = time.perf_counter() - tic
    used = results[0].protocol  # given or detected
    thresholds = _thresholds(gates, used.params.stat_names, list(results[0].parts), used.split_hands_rows)
    _check_stats(stats, used.params.stat_names)
    if not quiet:
        _print_warnings(results)
    if profile:
        _print_profile(results, names)
    keypoints = [breakdown.per_keypoint(r) for r in results] if per_keypoint else None
    report = Report(results, names, stats, keypoints, seconds, backend)
    _write_files(report, output, per_image_file, plot_dir)
    click.echo(WRITERS[fmt](report, sys.stdout.isatty()))
    sys.exit(1 if _print_failures(results, names, thresholds) else 0)


def _expected_stat_names(protocol: str | None) -> tuple[str, ...]:
    """The statistics of the protocol given, else COCO's (those of every built-in protocol detected)."""
    if protocol is None:
        return COCO_STAT_NAMES
    try:
        return load_protocol(protocol).params.stat_names
    except InputError as exc:
        _fail(str(exc))


def _chosen_stats(value: str | None, protocol: str | None) -> tuple[str, ...]:
    """``--stats`` as names without repeats, () when not given."""
    if value is None:
        return ()
    stats = tuple(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))
    known = _expected_stat_names(protocol)
    if not stats:
        raise _bad_stats("no statistic given", known)
    _check_stats(stats, known)
    return stats


def _check_stats(stats: Sequence[str], known: Sequence[str]) -> None:
    unknown = [s for s in stats if s not in known]
    if unknown:
        raise _bad_stats(f"unknown statistic(s) {', '.join(unknown)}", known)


def _bad_stats(said: str, known: Sequence[str]) -> click.BadParameter:
    return click.BadParameter(f"{said}; choose from {', '.join(known)}", param_hint="'--stats'")


def _checked_names(names: Sequence[str], preds: Sequence[str]) -> list[str]:
    """``--name`` once per prediction file, each its own; else the file stems."""
    if names and len(names) != len(preds):
        raise click.UsageError(f"--name was given {len(names)} time(s) for {len(preds)} prediction file(s)")
    if len(set(names)) != len(names):
        raise click.UsageError("--name: each run needs its own name")
    return list(names) or _run_names(preds)


def _run_names(preds: Sequence[str]) -> list[str]:
    stems = [Path(p).name.split(".")[0] if p != "-" else "stdin" for p in preds]
    return stems if len(set(stems)) == len(stems) else [f"{i + 1}:{s}" for i, s in enumerate(stems)]


def _thresholds(gates: Sequence[str], stat_names: Sequence[str], parts: Sequence[str] | None = None,
                split_hands_rows: Sequence[str] = ()) -> list[Threshold]:
    try:
        return [parse_threshold(spec, stat_names, parts, split_hands_rows) for spec in gates]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fail-under'") from None


def _score(gt: str, preds: Sequence[str], protocol: str | None, backend: str, quiet: bool,
           **options) -> list[EvalResult]:
    """Every run, with progress on a terminal; an input error or a bug of ours is one line and exit 2."""
    try:
        # Python warnings (numpy's overflow notes, the oracles' own) stay off stderr; ours are in the result.
        with _progress(len(preds), quiet) as step, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _evaluate_all(gt, preds, protocol, backend, step, **options)
    except InputError as exc:
        _fail(str(exc))
    except MemoryError:
        _fail("out of memory while evaluating; try smaller input files")
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        _fail(f"{type(exc).__name__}: {exc}; please report it with the command line", prefix="internal error")


def _evaluate_all(gt: str, preds: Sequence[str], protocol: str | None, backend: str, step: Step,
                  **options) -> list[EvalResult]:
    if backend == "reference":
        from .oracles import evaluate_reference

        results = []
        for p in preds:
            results.append(evaluate_reference(gt, p, protocol, split_hands=options["split_hands"]))
            step("done", 1.0)
        return results
    options["progress"] = step
    if len(preds) == 1:  # evaluate() overlaps reading the GT with parsing the predictions
        return [evaluate(gt, preds[0], protocol, **options)]
    ground_truth = load_ground_truth(gt, protocol)  # parsed once for every run
    return [evaluate(ground_truth, p, protocol, **options) for p in preds]


@contextlib.contextmanager
def _progress(runs: int, quiet: bool) -> Iterator[Step]:
    """A progress bar on stderr when it is a terminal; yields the per-stage callback."""
    if quiet or not sys.stderr.isatty():
        yield lambda *_: None
        return
    with click.progressbar(length=100 * runs, label="evaluating", file=sys.stderr, show_percent=True,
                           item_show_func=lambda stage: stage) as bar:
        runs_done = [0]

        def step(stage: str = "", fraction: float = 1.0) -> None:
            target = int(100 * (runs_done[0] + fraction))
            bar.update(max(target - bar.pos, 0), stage)
            if fraction >= 1.0:
                runs_done[0] += 1

        yield step


def _print_warnings(results: Sequence[EvalResult]) -> None:
    """The GT's warnings once, not once per run."""
    for warning in dict.fromkeys(w for result in results for w in result.warnings):
        click.echo(f"halpe-eval: warning: {warning}", err=True)


def _print_profile(results: Sequence[EvalResult], names: Sequence[str]) -> None:
    for name, result in zip(names, results):
        run = f" {name}" if len(results) > 1 else ""
        stages = "  ".join(f"{stage} {seconds:.3f}s" for stage, seconds in result.timings.items())
        click.echo(f"halpe-eval: profile{run}: {stages}  total {sum(result.timings.values()):.3f}s", err=True)


def _write_files(report: Report, output: str | None, per_image_file: str | None,
                 plot_dir: str | None) -> None:
    """``--output``, ``--per-image`` and ``--plot``, before anything is printed; a failure is exit 2."""
    writing = None
    try:
        if output is not None:
            writing = output
            Path(output).write_text(WRITERS["json"](report, False) + "\n", encoding="utf-8")
        if per_image_file is not None:
            writing = per_image_file
            write_per_image(per_image_file, report.results, report.names)
        if plot_dir is not None:
            from .plot import plot_pr_curves

            writing = plot_dir
            plot_pr_curves(report.results, report.names, plot_dir)
    except InputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or writing}: cannot write ({exc.strerror or exc})")


def _print_failures(results: Sequence[EvalResult], names: Sequence[str], thresholds: Sequence[Threshold]) -> bool:
    """One ``FAIL`` line on stderr per threshold a run misses; whether any did."""
    failed = False
    for name, result in zip(names, results):
        for threshold, actual in failures(result, thresholds):
            run = f"{name}: " if len(results) > 1 else ""
            shown = "undefined" if actual is None else f"{actual:.3f}"
            click.echo(f"FAIL {run}{threshold} {shown} < {threshold.value:.3f}", err=True)
            failed = True
    return failed


if __name__ == "__main__":  # pragma: no cover
    main()
