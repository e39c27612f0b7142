"""Command line: parse options, call the library, format the result. Nothing else."""
from __future__ import annotations

import sys
import time

import click

from . import __version__
from .errors import InputError
from .evaluate import evaluate
from .protocol import builtin_names
from .report import header, stats_table, to_json

EPILOG = """\b
Examples:
  halpe-eval val_gt.json results.json
  halpe-eval val_gt.json results.json --format json --output scores.json
  halpe-eval val_gt.json results.json --backend reference   # run halpecocotools itself

\b
Exit status: 0 success, 2 usage error or unreadable/malformed input.
"""


def _fail(message: str) -> None:
    click.echo(f"halpe-eval: error: {message}", err=True)
    sys.exit(2)


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.argument("gt", metavar="GT.json")
@click.argument("preds", metavar="PRED.json")
@click.option(
    "--protocol", "-p", metavar="NAME|FILE", default=None,
    help=f"Protocol: {', '.join(builtin_names())}, or a protocol file (TOML/JSON, see docs/protocols.md). "
    "Default: detected from the GT.",
)
@click.option(
    "--backend", type=click.Choice(["native", "reference"]), default="native", show_default=True,
    help="native: this package's engine; reference: halpecocotools itself (slow).",
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
@click.option("--quiet", "-q", is_flag=True, help="No warnings on stderr.")
@click.version_option(__version__, prog_name="halpe-eval")
def main(gt, preds, protocol, backend, fmt, output, split_hands, sigmas_file, allow_unknown_images, quiet):
    """Score whole-body keypoint predictions (COCO results) against COCO-format ground truth.

    Prints OKS AP/AR per part (body, foot, face, hands, wholebody) with the
    official evaluator's conventions; numbers are percentages, '-' is undefined.
    """
    tic = time.perf_counter()
    try:
        if backend == "reference":
            from .reference import evaluate_reference

            if sigmas_file or allow_unknown_images:
                raise InputError("--sigmas and --allow-unknown-images are not available with --backend reference")
            result = evaluate_reference(gt, preds, protocol, split_hands=split_hands)
        else:
            result = evaluate(gt, preds, protocol, split_hands=split_hands, sigmas=sigmas_file,
                              allow_unknown_images=allow_unknown_images)
    except InputError as exc:
        _fail(str(exc))
    except MemoryError:
        _fail("out of memory while evaluating; try smaller input files")
    seconds = time.perf_counter() - tic

    if not quiet:
        for warning in result.warnings:
            click.echo(f"halpe-eval: warning: {warning}", err=True)
    document = to_json(result, version=__version__)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(document + "\n")
        except OSError as exc:
            _fail(f"{output}: cannot write ({exc.strerror})")
    if fmt == "json":
        click.echo(document)
    elif fmt == "csv":
        click.echo(stats_table(result, "csv"))
    else:
        click.echo(header(result, seconds, backend))
        click.echo(stats_table(result, fmt))


if __name__ == "__main__":  # pragma: no cover
    main()
