"""``--report FILE.html``: one self-contained page (inline style, plots as data URIs) a person reads in a browser.

It shows the scores, then per part the diagnosis tables and coco-analyze-style plots (when matplotlib is
installed), and ends with the definitions the tables link to.  Values read as in the table format
(percentages with one decimal, '-' where undefined).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from ..diagnosis import AREA_NOTE
from .builders import report_statistics
from .diagnosis_tables import part_tables
from .model import Report, Table
from .people import shown_rows

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; } h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; }
th { background: #eef2f7; } td { text-align: right; } td.text { text-align: left; }
p.title { white-space: pre-line; font-weight: 600; margin-bottom: 0.2em; }
img { max-width: 100%; border: 1px solid #ddd; }
dt { font-weight: 600; margin-top: 0.6em; }
"""
DEFINITIONS = (
    ("good", "the keypoint's best similarity (KS) is above 0.85, on the matched person"),
    ("jitter", "0.5 &le; KS &lt; 0.85 on the matched person: right place, not precise enough"),
    ("inversion", "KS &ge; 0.5 on the matched person mirrored: left for right (a hand on the other hand, "
                  "a face mirrored)"),
    ("swap", "KS &ge; 0.5 on another person, as is or mirrored"),
    ("miss", "KS &lt; 0.5 everywhere"),
    ("after fixing", "each row moves one more error type to the ground truth (miss, swap, inversion, jitter), "
                     "then replaces the scores by the optimal ones (score), ignores predictions matching nobody "
                     "(background) and people nobody found (false_negative); a fixed keypoint lands at KS "
                     "t^(1/4), as in coco-analyze"),
    ("area range", AREA_NOTE),
)
COCO_ANALYZE = "https://github.com/matteorr/coco-analyze"


def table_html(table: Table) -> str:
    """A table with its title above it; text columns left-aligned, headers linked to their definitions."""
    defined = {name for name, _ in DEFINITIONS}
    head = "".join(f'<th><a href="#def-{html.escape(h)}">{html.escape(h)}</a></th>' if h in defined
                   else f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"text" if column.align == "left" else "num"}">{html.escape(text)}</td>'
                         for text, column in zip(row, table.columns)) + "</tr>"
        for row in shown_rows(table))
    title = f'<p class="title">{html.escape(table.title)}</p>' if table.title else ""
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plots(report: Report) -> dict[tuple[int, str], str]:
    """(run, part) -> PNG data URI of the fix plots, or {} without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return {}
    from ..plot import DIAGNOSIS_OKS, DPI, FIGSIZE, draw_fixes

    out = {}
    for run, diagnosis in enumerate(report.diagnoses or ()):
        for part in diagnosis.parts.values():
            fig, axes = plt.subplots(1, len(DIAGNOSIS_OKS), figsize=(FIGSIZE[0] * 2, FIGSIZE[1] * 1.3), dpi=DPI)
            for ax, oks in zip(axes, DIAGNOSIS_OKS):
                draw_fixes(ax, part, oks)
            fig.tight_layout()
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=DPI)
            plt.close(fig)
            out[run, part.part] = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return out


def page(report: Report) -> str:
    """The whole page as text."""
    sections: list[Any] = [f"<h1>halpe-eval report: {html.escape(report.results[0].protocol.name)}</h1>",
                           table_html(report_statistics(report))]
    plots = _plots(report)
    comparing = len(report.results) > 1
    for run, (name, diagnosis) in enumerate(zip(report.names, report.diagnoses or ())):
        sections.append(f"<h2>Why it scores what it scores{': ' + html.escape(name) if comparing else ''}</h2>")
        prefix = f"{name}: " if comparing else ""
        for part in diagnosis.parts.values():
            sections.append(f"<h3>{html.escape(part.part)}</h3>")
            sections += [table_html(t) for t in part_tables(part, prefix)]
            if (run, part.part) in plots:
                sections.append(f'<img alt="{html.escape(part.part)}: precision/recall after each fix" '
                                f'src="{plots[run, part.part]}">')
    if report.diagnoses and not plots:
        sections.append("<p>Plots need matplotlib: pip install 'halpe-eval[plot]'.</p>")
    terms = "".join(f'<dt id="def-{html.escape(name)}">{html.escape(name)}</dt><dd>{text}</dd>'
                    for name, text in DEFINITIONS)
    sections.append(f'<h2 id="definitions">Definitions</h2><p>After <a href="{COCO_ANALYZE}">coco-analyze</a> '
                    "(Ronchi &amp; Perona, ICCV 2017); halpe-eval's docs/diagnosis.md writes them out.</p>"
                    f"<dl>{terms}</dl>")
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>halpe-eval report</title>'
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")


def write_html_report(report: Report, path: str) -> None:
    Path(path).write_text(page(report), encoding="utf-8")


__all__ = ["page", "write_html_report"]
