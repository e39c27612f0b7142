"""PR-curve plots (optional: needs matplotlib, ``pip install 'halpe-eval[plot]'``).

One PNG per part; every run on the same axes in a colour of the Okabe-Ito palette
(distinguishable with the common colour-vision deficiencies), each curve labelled
with its AP. The axes start a little below 0 so that a curve at precision 0 is not
hidden under the frame.

With ``--diagnose``, coco-analyze's error plots too: per part and OKS threshold (.50, .75,
.95), the PR curve after each cumulative fix, the band a fix gains filled in its colour
(coco-analyze's colours), the AP after each fix in the legend (area range 'all').
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .results import EvalResult

FIGSIZE, DPI = (6.4, 4.8), 100  # 640 x 480 pixels
# Okabe & Ito (2008), "Color Universal Design", ordered for contrast on white (yellow, the faintest, last).
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
MARGIN = 0.02  # the axes show [-MARGIN, 1 + MARGIN]: a curve on 0 or 1 stays in sight
MARKER_EVERY = 10  # one marker per this many recall points (101 in COCO)


@dataclass(frozen=True)
class Curve:
    """One precision-over-recall curve of a run: its legend label, its line style and marker, its values."""

    label: str
    linestyle: str
    marker: str
    precision: np.ndarray  # one value per recall point; NaN where no category has GT


def part_curves(result: EvalResult, part: str) -> list[Curve]:
    """The curves of one part (area range 'all', averaged over categories): at OKS 0.50 and 0.75, and the mean
    of every threshold's curve (not a threshold of its own), each with its AP: the mean precision over the
    recall points, as cocoeval's AP."""
    params = result.protocol.params
    precision = _category_mean(result.parts[part].precision)  # (T, R)
    t50, t75 = params.threshold_index(0.5), params.threshold_index(0.75)
    low, high = params.oks_thresholds[0], params.oks_thresholds[-1]
    return [
        Curve(f"OKS 0.50 ({_ap(precision[t50])})", "-", "o", precision[t50]),
        Curve(f"OKS 0.75 ({_ap(precision[t75])})", "--", "s", precision[t75]),
        Curve(f"mean over OKS {_short(low)}:{_short(high)} ({_ap(precision.mean(axis=0))})", ":", "^",
              precision.mean(axis=0)),
    ]


def draw_part(ax: Any, results: Sequence[EvalResult], names: Sequence[str], part: str) -> None:
    """Every run's curves of ``part`` on the matplotlib axes ``ax``, with the legend and the title."""
    recall_points = results[0].protocol.params.recall_thresholds
    for run, (result, name) in enumerate(zip(results, names)):
        prefix = f"{name}: " if len(results) > 1 else ""
        colour = OKABE_ITO[run % len(OKABE_ITO)]
        curves = part_curves(result, part)
        for number, curve in enumerate(curves):
            first_marker = (run * len(curves) + number) * MARKER_EVERY // (len(results) * len(curves))  # apart
            ax.plot(recall_points, curve.precision, color=colour, linestyle=curve.linestyle, marker=curve.marker,
                    markersize=4, markevery=(first_marker, MARKER_EVERY), label=prefix + curve.label)
    ax.set(xlim=(-MARGIN, 1 + MARGIN), ylim=(-MARGIN, 1 + MARGIN), xlabel="recall", ylabel="precision",
           title=f"{results[0].protocol.name} {part}: {', '.join(names)}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")


FIX_COLOURS = {"baseline": "#FFFFFF", "miss": "#F2E394", "swap": "#F2AE72", "inversion": "#D96459",
               "jitter": "#8C4646", "score": "#4F82BD", "background": "#8063A3", "false_negative": "#2E8B57"}
DIAGNOSIS_OKS = (0.5, 0.75, 0.95)


def draw_fixes(ax: Any, part: Any, oks: float) -> None:
    """coco-analyze's plot of one part at one threshold: a curve per cumulative fix, each fix's gain filled."""
    from matplotlib.patches import Patch

    thresholds = [round(t, 2) for t in part.thresholds]
    t = thresholds.index(round(oks, 2))
    recall_points = np.linspace(0, 1, part.ranges["all"].steps["baseline"].precision.shape[1])
    previous, handles = None, []
    for step, colour in FIX_COLOURS.items():
        precision = _category_mean(part.ranges["all"].steps[step].precision[t][None, :, :, None])[0]
        ax.plot(recall_points, precision, color="black", linewidth=1)
        if previous is not None:
            ax.fill_between(recall_points, previous, precision, where=precision >= previous, facecolor=colour,
                            interpolate=True)
        handles.append(Patch(facecolor=colour, edgecolor="black", label=f"{step}: {_ap(precision)[3:]}"))
        previous = precision
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="recall", ylabel="precision", title=f"{part.part}, OKS {oks:.2f}")
    ax.grid(alpha=0.3)
    ax.legend(handles=handles[::-1], loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize="x-small",
              title="AP after fixing (area all)")


def plot_diagnoses(diagnoses: Sequence[Any], names: Sequence[str], out_dir) -> list[Path]:
    """One PNG per run and part, ``fixes_<part>.png`` (``fixes_<run>_<part>.png`` comparing runs) in ``out_dir``."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    written = []
    for name, diagnosis in zip(names, diagnoses):
        for part in diagnosis.parts.values():
            fig, axes = plt.subplots(1, len(DIAGNOSIS_OKS), figsize=(FIGSIZE[0] * 2, FIGSIZE[1] * 1.3), dpi=DPI)
            for ax, oks in zip(axes, DIAGNOSIS_OKS):
                draw_fixes(ax, part, oks)
            fig.tight_layout()
            run = f"{name}_" if len(diagnoses) > 1 else ""
            path = out_dir / f"fixes_{run}{part.part}.png"
            fig.savefig(path, dpi=DPI)
            plt.close(fig)
            written.append(path)
    return written


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend, or an input error saying how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'halpe-eval[plot]'") from None
    return plt


def plot_pr_curves(results: Sequence[EvalResult], names: Sequence[str], out_dir) -> list[Path]:
    """One PNG per part, ``pr_<part>.png`` in ``out_dir`` (created if needed); the paths written."""
    plt = _pyplot()
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the plot directory ({exc.strerror})") from None
    written = []
    for part in results[0].parts:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        draw_part(ax, results, names, part)
        path = out_dir / f"pr_{part}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    return written


def _ap(precision: np.ndarray) -> str:
    """'AP 40.5' (percent), 'AP -' where undefined."""
    return "AP -" if np.isnan(precision).all() else f"AP {100 * float(np.mean(precision)):.1f}"


def _short(threshold: float) -> str:
    """0.5 as '.50', as COCO writes its threshold range."""
    return f"{threshold:.2f}".lstrip("0")


def _category_mean(precision: np.ndarray) -> np.ndarray:
    """(T, R) precision for area 'all', mean over categories with data (NaN where none has)."""
    p = precision[..., 0]  # (T, R, K) or, for a mean part, (C, T, R, K)
    if p.ndim == 4:
        p = np.moveaxis(p, 0, -1).reshape(p.shape[1], p.shape[2], -1)
    defined = p > -1
    total = np.where(defined, p, 0).sum(axis=-1)
    count = defined.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)
