"""PR-curve plots (optional: needs matplotlib, ``pip install 'halpe-eval[plot]'``)."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .errors import InputError
from .results import EvalResult

FIGSIZE, DPI = (6.4, 4.8), 100  # 640 x 480 pixels


def plot_pr_curves(results: Sequence[EvalResult], names: Sequence[str], out_dir) -> list[Path]:
    """One PNG per part: precision over recall at OKS 0.50, 0.75 and the mean over 0.50:0.95,
    area range 'all', averaged over categories; every run on the same axes."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InputError("--plot needs matplotlib: pip install 'halpe-eval[plot]'") from None
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out_dir}: cannot create the plot directory ({exc.strerror})") from None
    params = results[0].protocol.params
    t50, t75 = params.threshold_index(0.5), params.threshold_index(0.75)
    recall_points = params.recall_thresholds
    written = []
    protocol = results[0].protocol.name
    for part in results[0].parts:
        fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
        for run, (result, name) in enumerate(zip(results, names)):
            precision = _category_mean(result.parts[part].precision)  # (T, R)
            colour = f"C{run}"
            prefix = f"{name}: " if len(results) > 1 else ""
            ax.plot(recall_points, precision[t50], color=colour, linestyle="-", label=f"{prefix}OKS 0.50")
            ax.plot(recall_points, precision[t75], color=colour, linestyle="--", label=f"{prefix}OKS 0.75")
            ax.plot(recall_points, precision.mean(axis=0), color=colour, linestyle=":",
                    label=f"{prefix}OKS 0.50:0.95")
        ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="recall", ylabel="precision",
               title=f"{protocol} {part}: {', '.join(names)}")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize="small")
        path = out_dir / f"pr_{part}.png"
        fig.savefig(path, dpi=DPI)
        plt.close(fig)
        written.append(path)
    return written


def _category_mean(precision: np.ndarray) -> np.ndarray:
    """(T, R) precision for area 'all', mean over categories with data (0 where none has)."""
    p = precision[..., 0]  # (T, R, K) or, for a mean part, (C, T, R, K)
    if p.ndim == 4:
        p = np.moveaxis(p, 0, -1).reshape(p.shape[1], p.shape[2], -1)
    defined = p > -1
    total = np.where(defined, p, 0).sum(axis=-1)
    count = defined.sum(axis=-1)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)
