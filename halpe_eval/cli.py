"""Command line: parse options, call the library, format the result. Nothing else."""
from __future__ import annotations

import contextlib
import csv
import sys
import time
import warnings
from pathlib import Path

import click

from . import __version__
from .protocol import COCO_STAT_NAMES as STAT_NAMES
from .errors import InputError
from .evaluate import evaluate
from .gate import failures, parse_threshold
from .load import load_ground_truth
from .protocol import builtin_names
from .report import compare_table, header, keypoint_table, stats_table, to_json

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

DEFAULT_COMPARE_STATS = ("AP", "AP50", "AP75", "AR")


def _fail(message: str, prefix: str = "error") -> None:
    click.echo(f"halpe-eval: {prefix}: {message}", err=True)
    sys.exit(2)


def _stat_list(ctx, param, value):
    if value is None:
        return None
    stats = list(dict.fromkeys(s.strip() for s in value.split(",") if s.strip()))
    unknown = [s for s in stats if s not in STAT_NAMES]
    if unknown or not stats:
        said = f"unknown statistic(s) {', '.join(unknown)}" if unknown else "no statistic given"
        raise click.BadParameter(f"{said}; choose from {', '.join(STAT_NAMES)}")
    return tuple(stats)


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
    "--format", "fmt", type=click.Choice(["table", "markdown", "csv", "json"]), default="table",
    show_default=True, help="Output on stdout.",
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
@click.option("--stats", callback=_stat_list, metavar="AP,AR,...", default=None,
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
    if names and len(names) != len(preds):
        raise click.UsageError(f"--name was given {len(names)} time(s) for {len(preds)} prediction file(s)")
    if len(set(names)) != len(names):
        raise click.UsageError("--name: each run needs its own name")
    names = list(names) or _run_names(preds)
    if backend == "reference" and (sigmas_file or allow_unknown_images or per_keypoint or per_image_file):
        raise click.UsageError(
            "--sigmas, --allow-unknown-images, --per-keypoint and --per-image need --backend native")
    if [gt, *preds, sigmas_file].count("-") > 1:
        raise click.UsageError("standard input ('-') can be read only once: give the other inputs as files")
    try:
        for spec in gates:  # the syntax now; the part names once the protocol is known
            parse_threshold(spec)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fail-under'") from None
    tic = time.perf_counter()
    try:
        # Python warnings (numpy's overflow notes, the oracles' own) stay off stderr; ours are in the result.
        with _progress(len(preds), quiet) as step, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = _evaluate_all(gt, preds, protocol, backend, step, split_hands=split_hands, sigmas=sigmas_file,
                                    allow_unknown_images=allow_unknown_images,
                                    keep_matches=bool(per_keypoint or per_image_file))
    except InputError as exc:
        _fail(str(exc))
    except MemoryError:
        _fail("out of memory while evaluating; try smaller input files")
    except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, not a traceback
        _fail(f"{type(exc).__name__}: {exc}; please report it with the command line", prefix="internal error")
    seconds = time.perf_counter() - tic
    try:
        thresholds = [parse_threshold(spec, list(results[0].parts)) for spec in gates]
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fail-under'") from None

    if not quiet:  # the GT's warnings once, not once per run
        for warning in dict.fromkeys(w for result in results for w in result.warnings):
            click.echo(f"halpe-eval: warning: {warning}", err=True)
    if profile:
        for name, result in zip(names, results):
            run = f" {name}" if len(results) > 1 else ""
            stages = "  ".join(f"{stage} {seconds:.3f}s" for stage, seconds in result.timings.items())
            click.echo(f"halpe-eval: profile{run}: {stages}  total {sum(result.timings.values()):.3f}s", err=True)
    keypoints = [_per_keypoint(r) for r in results] if per_keypoint else None
    document = to_json(results, names, keypoints, version=__version__)
    writing = None
    try:
        if output is not None:
            writing = output
            Path(output).write_text(document + "\n", encoding="utf-8")
        if per_image_file is not None:
            writing = per_image_file
            _write_per_image(per_image_file, results, names)
        if plot_dir is not None:
            from .plot import plot_pr_curves

            writing = plot_dir
            plot_pr_curves(results, names, plot_dir)
    except InputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or writing}: cannot write ({exc.strerror or exc})")

    colour = fmt == "table" and sys.stdout.isatty()
    if fmt == "json":
        click.echo(document)
    elif len(results) > 1:
        click.echo(compare_table(results, names, stats or DEFAULT_COMPARE_STATS, fmt, colour))
    else:
        if fmt != "csv":
            click.echo(header(results[0], seconds, backend))
        click.echo(stats_table(results[0], fmt, stats or STAT_NAMES))
    if keypoints and fmt != "json":
        for name, rows in zip(names, keypoints):
            click.echo("")
            click.echo(keypoint_table(rows, fmt, colour, title=f"per keypoint ({name})" if len(names) > 1 else None))

    failed = False
    for name, result in zip(names, results):
        for threshold, actual in failures(result, thresholds):
            run = f"{name}: " if len(results) > 1 else ""
            shown = "undefined" if actual is None else f"{actual:.3f}"
            click.echo(f"FAIL {run}{threshold} {shown} < {threshold.value:.3f}", err=True)
            failed = True
    sys.exit(1 if failed else 0)


def _run_names(preds) -> list:
    stems = [Path(p).name.split(".")[0] if p != "-" else "stdin" for p in preds]
    return stems if len(set(stems)) == len(stems) else [f"{i + 1}:{s}" for i, s in enumerate(stems)]


def _evaluate_all(gt, preds, protocol, backend, step, **options):
    if backend == "reference":
        from .reference import evaluate_reference

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
def _progress(runs: int, quiet: bool):
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


def _per_keypoint(result):
    from .breakdown import per_keypoint

    return per_keypoint(result)


def _write_per_image(path, results, names) -> None:
    from .breakdown import per_image

    fields = ["run", "image_id", "file_name", "part", "gt", "predictions", "matched_50", "matched_75", "mean_oks_50"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields if len(results) > 1 else fields[1:])
        writer.writeheader()
        for name, result in zip(names, results):
            for row in per_image(result):
                if len(results) > 1:
                    row = {"run": name, **row}
                writer.writerow({k: "" if v is None else v for k, v in row.items()})


if __name__ == "__main__":  # pragma: no cover
    main()
