"""Command line: parse options, call the library, hand the results to :mod:`halpe_eval.output`, print, and set
the exit status (0 success, 1 a ``--fail-under`` or ``--max-drop`` gate failed, 2 usage error or bad input).
Nothing else."""
from __future__ import annotations

import contextlib
import gc
import os
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from . import __version__
from .cli_checks import (
    PROG,
    Run,
    ShardRun,
    check_analyses,
    check_combinations,
    check_stats,
    checked_names,
    chosen_stats,
    expected_stat_names,
    fail,
    limits,
    shard_run,
)
from .errors import InputError
from .gate import gate_failures
from .output import WRITERS, Report
from .output.builders import DEFAULT_COMPARE_STATS
from .output.progress import ProgressBar
from .pipeline import evaluate
from .protocol import Protocol, builtin_names
from .reading.ground_truth import GroundTruth, load_ground_truth
from .reading.predictions import Predictions, load_shards
from .reading.sharing import stop_unadopted
from .results import EvalResult

if TYPE_CHECKING:
    from .bootstrap import Bootstrap

EPILOG = """\b
Examples:
  halpe-eval gt.json results.json                          # table of AP/AR per part
  halpe-eval gt.json results.json --format json -o scores.json
  halpe-eval gt.json results.json --fail-under wholebody.AP=0.45 --fail-under hands.AP50=30%
  halpe-eval gt.json base.json new.json --name base --name new   # compare runs
  halpe-eval gt.json base.json new.json --fail-under wholebody.AP=0.45   # gates new.json only
  halpe-eval gt.json base.json new.json --max-drop wholebody.AP=0.5%     # new may lose at most 0.5 points
  halpe-eval gt.json base.json new.json --bootstrap 1000   # is the difference more than noise?
  halpe-eval gt.json results.json --per-keypoint --top 10  # which keypoints are weak
  halpe-eval gt.json results.json --per-image images.csv   # which images hurt
  halpe-eval gt.json results.json --plot plots/            # PR curves (pip install 'halpe-eval[plot]')
  halpe-eval gt.json results.json --backend reference      # the official evaluator itself
  halpe-eval gt.json results.json --slice-by scene         # every statistic per images[].scene value
  halpe-eval gt.json results.json --slice-by crowdIndex=0.2,0.8   # per numeric range of a field

\b
Exit status: 0 success, 1 a --fail-under or --max-drop gate failed,
2 usage error or unreadable/malformed input.
"""


class OneLineErrors(click.Command):
    """A command whose usage and parameter errors are one stderr line with a hint (exit 2), where click
    prints a block of four; ``--help``, ``--version`` and the command's own exit statuses pass through."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:  # the caller handles click's exceptions
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            status = super().main(args, prog_name, complete_var, False, **extra)  # an int from --help or --version
        except click.UsageError as exc:
            fail(f"{_one_line(exc)} (see {PROG} --help)", prefix="usage error", status=exc.exit_code)
        except click.ClickException as exc:
            fail(_one_line(exc), status=exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(status if isinstance(status, int) else 0)


def _one_line(exc: click.ClickException) -> str:
    """Click's message on one line, without its final full stop."""
    return " ".join(exc.format_message().split()).removesuffix(".")


@click.command(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("gt", metavar="GT.json")
@click.argument("preds", metavar="PRED.json [PRED2.json ...]", nargs=-1)
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
@click.option("--split-hands", is_flag=True,
              help="Add left_hand and right_hand rows (protocols with such rows; a warning otherwise).")
@click.option("--sigmas", "sigmas_file", metavar="FILE", default=None,
              help="JSON list of OKS sigmas replacing the protocol's (one per keypoint).")
@click.option("--allow-unknown-images", is_flag=True,
              help="Drop predictions on images the GT does not have (with a warning) instead of failing.")
@click.option("--fail-under", "gates", metavar="PART.STAT=VALUE", multiple=True,
              help="Exit 1 if PART.STAT is below VALUE (fraction, or percent with %). Repeatable. "
              "Comparing runs, it applies to every run but the first (the baseline).")
@click.option("--max-drop", "max_drop_specs", metavar="PART.STAT=VALUE", multiple=True,
              help="Comparing runs: exit 1 if a run after the first (the baseline) is below the baseline's "
              "PART.STAT by more than VALUE (fraction, or percentage points with %). Repeatable.")
@click.option("--bootstrap", "resamples", type=click.IntRange(min=2), metavar="N", default=None,
              help="Confidence intervals from N resamples of the images (1000 is usual): each statistic's and, "
              "comparing runs, each paired difference's, marked ▲/▼ when it excludes 0.")
@click.option("--ci", "ci_percent", type=click.FloatRange(0, 100, min_open=True, max_open=True), metavar="PERCENT",
              default=None, help="With --bootstrap: the intervals' level in percent (default 95).")
@click.option("--seed", type=int, default=None,
              help="With --bootstrap: the resampling seed (default 0); the same seed gives the same intervals.")
@click.option("--shards", "shard_patterns", metavar="'GLOB'", multiple=True,
              help="Score every file matching GLOB (quoted; in name order, rank10 after rank9) as one run, e.g. "
              "the prediction files of several ranks. Repeatable: one run each, after the PRED files.")
@click.option("--name", "names", metavar="NAME", multiple=True,
              help="Name of each run, in the order of the PRED files then --shards (default: file stem or "
              "pattern). Repeatable.")
@click.option("--stats", metavar="AP,AR,...", default=None,
              help=f"Statistics to show (default: all; {','.join(DEFAULT_COMPARE_STATS)} when comparing runs).")
@click.option("--per-keypoint", is_flag=True,
              help="Add a per-keypoint breakdown over the pairs matched at OKS 0.5 (wholebody, or the largest "
              "part). With --format csv, the per-keypoint table is the output (a run column when comparing).")
@click.option("--top", type=click.IntRange(min=1), metavar="N", default=None,
              help="With --per-keypoint: only the N weakest keypoints, weakest first (default: all, in skeleton "
              "order).")
@click.option("--per-image", "per_image_file", metavar="FILE.csv", default=None,
              help="Write per-image, per-part counts, matches and mean OKS to FILE.csv.")
@click.option("--plot", "plot_dir", metavar="DIR", default=None, help="Write PR-curve PNGs, one per part, to DIR.")
@click.option("--slice-by", "slice_by", metavar="FIELD[=EDGES]", default=None,
              help="Also score each slice of the images by an images[] field: one slice per value (scene), or "
              "between increasing numeric edges (crowdIndex=0.2,0.8: <0.2, 0.2-0.8, >=0.8). Re-accumulated from "
              "the same matches.")
@click.option("--diagnose", is_flag=True,
              help="Add coco-analyze's keypoint error diagnosis per part: error rates (good, jitter, inversion, "
              "swap, miss) and AP after each cumulative fix (docs/diagnosis.md); with --plot, its PR plots too.")
@click.option("--report", "report_file", metavar="FILE.html", default=None,
              help="Write one self-contained HTML page with the scores and the diagnosis (implies --diagnose).")
@click.option("--profile", is_flag=True, help="Print the time of each stage on stderr.")
@click.option("--quiet", "-q", is_flag=True, help="No warnings or progress on stderr.")
@click.version_option(__version__, prog_name="halpe-eval")
def main(gt, preds, protocol, backend, fmt, output, split_hands, sigmas_file, allow_unknown_images, gates,
         max_drop_specs, resamples, ci_percent, seed, shard_patterns, names, stats, per_keypoint, top,
         per_image_file, plot_dir, slice_by, diagnose, report_file, profile, quiet):
    """Score whole-body keypoint predictions (COCO results) against COCO-format ground truth.

    Prints OKS AP/AR per part (body, foot, face, hands, wholebody) with the
    official evaluator's conventions; numbers are percentages, '-' is undefined.
    Several PRED files are compared against one parse of the GT, the first
    being the baseline.
    """
    stats = chosen_stats(stats, protocol, gt)
    preds = [*preds, *(shard_run(pattern) for pattern in shard_patterns)]
    names = checked_names(names, preds)
    check_combinations(gt, preds, backend, sigmas_file, allow_unknown_images, per_keypoint, top, per_image_file)
    diagnose = diagnose or report_file is not None
    check_analyses(backend, slice_by, diagnose, resamples, ci_percent, seed, max_drop_specs, len(preds))
    for option, specs in (("--fail-under", gates), ("--max-drop", max_drop_specs)):
        if specs:  # the syntax and statistics now, the part names once the rows are known
            limits(option, specs, expected_stat_names(protocol, gt))
    write = WRITERS[fmt]  # imported now, while the forked reader parses the predictions (tabulate: ~25 ms)
    tic = time.perf_counter()
    results = _score(gt, preds, protocol, backend, quiet, split_hands=split_hands, sigmas=sigmas_file,
                     allow_unknown_images=allow_unknown_images,
                     keep_matches=bool(per_keypoint or per_image_file or resamples), slice_by=slice_by)
    seconds = time.perf_counter() - tic
    used = results[0].protocol  # given or detected
    thresholds, max_drops = (limits(option, specs, used.params.stat_names, list(results[0].parts),
                                     used.split_hands_rows)
                             for option, specs in (("--fail-under", gates), ("--max-drop", max_drop_specs)))
    check_stats(stats, used.params.stat_names)
    if not quiet:
        _print_warnings(results, _option_warnings(used, split_hands))
    if profile:
        _print_profile(results, names)
    keypoints = _per_keypoint(results) if per_keypoint else None
    shown_seconds = seconds if fmt == "table" and sys.stdout.isatty() else None  # else the same bytes every time
    diagnoses = _diagnoses(results) if diagnose else None
    boot = _bootstrap(results, resamples, ci_percent, seed) if resamples else None
    report = Report(results, names, stats, keypoints, shown_seconds, backend, top, diagnoses, boot)
    _write_files(report, output, per_image_file, plot_dir, report_file)
    click.echo(write(report, sys.stdout.isatty()))
    failed = gate_failures(results, names, thresholds, max_drops)
    for line in failed:
        click.echo(line, err=True)
    sys.exit(1 if failed else 0)


def _diagnoses(results: Sequence[EvalResult]) -> list:
    from .diagnosis import diagnose

    return [diagnose(result) for result in results]


def _per_keypoint(results: Sequence[EvalResult]) -> list:
    from .breakdown import per_keypoint

    return [per_keypoint(result) for result in results]


def _bootstrap(results: Sequence[EvalResult], resamples: int, ci_percent: float | None,
               seed: int | None) -> Bootstrap:
    """The intervals of ``--bootstrap``; a bug of ours is one line and exit 2, as in :func:`_score`."""
    from .bootstrap import DEFAULT_LEVEL, bootstrap

    level = DEFAULT_LEVEL if ci_percent is None else ci_percent / 100
    with _one_line_errors("out of memory while resampling; try fewer --bootstrap resamples"):
        return bootstrap(results, resamples, level, 0 if seed is None else seed)


def _score(gt: str, preds: Sequence[Run], protocol: str | None, backend: str, quiet: bool,
           **options) -> list[EvalResult]:
    """Every run, with progress on a terminal; an input error or a bug of ours is one line and exit 2."""
    # Python warnings (numpy's overflow notes, the oracles' own) stay off stderr; ours are in the result.
    with _one_line_errors("out of memory while evaluating; try smaller input files"), \
            ProgressBar(sys.stderr, len(preds), hidden=quiet) as bar, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _evaluate_all(gt, preds, protocol, backend, bar, **options)


@contextlib.contextmanager
def _one_line_errors(out_of_memory: str) -> Iterator[None]:
    """An input error, running out of memory (``out_of_memory`` says what to try) or a bug of ours: one
    line on stderr and exit 2, never a traceback."""
    try:
        yield
    except InputError as exc:
        fail(str(exc))
    except MemoryError:
        fail(out_of_memory)
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        fail(f"{type(exc).__name__}: {exc}; please report it with the command line", prefix="internal error")


def _evaluate_all(gt: str, preds: Sequence[Run], protocol: str | None, backend: str, bar: ProgressBar,
                  **options) -> list[EvalResult]:
    """The runs in order, each driving its share of the progress bar."""
    if backend == "reference":
        from .oracles.driver import evaluate_reference

        results = []
        for i, p in enumerate(preds):
            bar.run(i)("official evaluator", 0.0)
            results.append(evaluate_reference(gt, p, protocol, split_hands=options["split_hands"]))
            bar.run(i)("done", 1.0)
        return results
    if len(preds) == 1 and not isinstance(preds[0], ShardRun):  # evaluate() reads the GT while parsing them
        return [evaluate(gt, preds[0], protocol, progress=bar.run(0), **options)]
    bar.run(0)("reading ground truth", 0.0)
    ground_truth = load_ground_truth(gt, protocol)  # parsed once for every run
    return [evaluate(ground_truth, _shards_read(p, ground_truth, options) if isinstance(p, ShardRun) else p,
                     protocol, progress=bar.run(i), **options) for i, p in enumerate(preds)]


def _shards_read(run: ShardRun, ground_truth: GroundTruth, options: dict) -> Predictions:
    return load_shards(list(run.files), ground_truth, run.pattern, options["allow_unknown_images"])


def _option_warnings(protocol: Protocol, split_hands: bool) -> list[str]:
    """Options that change nothing for the protocol used."""
    if split_hands and not protocol.split_hands_rows:
        return [f"--split-hands adds nothing for protocol {protocol.name}: it has no split-hands rows"]
    return []


def _print_warnings(results: Sequence[EvalResult], option_warnings: Sequence[str]) -> None:
    """The options' warnings, then the inputs' (the GT's once, not once per run)."""
    for warning in dict.fromkeys([*option_warnings, *(w for result in results for w in result.warnings)]):
        click.echo(f"{PROG}: warning: {warning}", err=True)


def _print_profile(results: Sequence[EvalResult], names: Sequence[str]) -> None:
    for name, result in zip(names, results):
        run = f" {name}" if len(results) > 1 else ""
        stages = "  ".join(f"{stage} {seconds:.3f}s" for stage, seconds in result.timings.items())
        click.echo(f"{PROG}: profile{run}: {stages}  total {sum(result.timings.values()):.3f}s", err=True)


def _write_files(report: Report, output: str | None, per_image_file: str | None,
                 plot_dir: str | None, report_file: str | None = None) -> None:
    """``--output``, ``--per-image``, ``--plot`` and ``--report``, before anything is printed; a failure is exit 2."""
    writing = None
    try:
        if output is not None:
            writing = output
            Path(output).write_text(WRITERS["json"](report, False) + "\n", encoding="utf-8")
        if per_image_file is not None:
            writing = per_image_file
            from .output.per_image import write_per_image

            write_per_image(per_image_file, report.results, report.names)
        if plot_dir is not None:
            from .plot import plot_pr_curves

            writing = plot_dir
            plot_pr_curves(report.results, report.names, plot_dir)
            if report.diagnoses:
                from .plot import plot_diagnoses

                plot_diagnoses(report.diagnoses, report.names, plot_dir)
        if report_file is not None:
            from .output.html_report import write_html_report

            writing = report_file
            write_html_report(report, report_file)
    except InputError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{exc.filename or writing}: cannot write ({exc.strerror or exc})")


def run() -> NoReturn:
    """The ``halpe-eval`` command: :func:`main` in a process of its own, where everything loaded before
    scoring (the modules, ~25k objects) stays until the end; frozen out of every cyclic collection (and so
    out of the forked reader's copy-on-write pages), which saves ~50 ms of a COCO-17 val-size run.

    The process then leaves without tearing the interpreter down (freeing every module and array: ~25 ms
    of a COCO-17 val-size run): the files the command writes are closed by then, so only the standard
    streams are flushed.  An exception that is not an exit status still ends the usual way.
    """
    gc.freeze()
    gc.enable()  # off while halpe_eval.launch imported the modules
    code: object = 0
    try:
        main()
    except SystemExit as done:
        code = done.code
    status = code if isinstance(code, int) else 0 if code is None else 1
    if not isinstance(code, (int, type(None))):
        print(code, file=sys.stderr)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader has gone: as click does, a quiet status 1
        status = 1
    sys.stderr.flush()
    stop_unadopted()  # a reader forked by halpe_eval.launch for a run that did not read its file
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    run()
