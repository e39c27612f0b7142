"""``--diagnose`` as tables: per part, keypoint error rates (overall and the five worst keypoints), AP after
each cumulative fix, and (whole skeleton) the parts mirrored or taken from another person.

Values stay raw (fractions, counts); the writers decide how they read.  Counts are those of
coco-analyze's area range 'all' ([32^2, 1e5^2]), as every title says.
"""
from __future__ import annotations

from ..diagnosis import AREA_NOTE, ERROR_TYPES, STEPS, Diagnosis, PartDiagnosis
from ..diagnosis.report import error_rates, step_stats, worst_keypoints
from .model import Cell, Column, Kind, Table

WORST_SHOWN = 5
ERROR_COLUMNS = (Column("keypoints", Kind.TEXT, "left"), *(Column(e, Kind.FRACTION) for e in ERROR_TYPES),
                 Column("classified", Kind.COUNT))
FIX_COLUMNS = (Column("after fixing", Kind.TEXT, "left"), Column("AP", Kind.FRACTION), Column("AP50", Kind.FRACTION),
               Column("AP75", Kind.FRACTION), Column("APm", Kind.FRACTION), Column("APl", Kind.FRACTION))
WHOLE_PART_COLUMNS = (Column("part", Kind.TEXT, "left"), Column("analysed", Kind.COUNT),
                      Column("mirrored", Kind.COUNT), Column("from another person", Kind.COUNT))


def error_table(part: PartDiagnosis, prefix: str = "") -> Table:
    """Share of each error type among the classified keypoints: all of them, then the worst keypoints."""
    counts = part.error_counts
    rates = error_rates(counts)
    total = counts.sum(axis=1)
    overall = error_rates(total[:, None])[:, 0]
    rows: list[tuple[Cell, ...]] = [("all", *(float(v) for v in overall), int(total.sum()))]
    rows += [(part.keypoints[k], *(float(v) for v in rates[:, k]), int(counts[:, k].sum()))
             for k in worst_keypoints(part, WORST_SHOWN)]
    title = (f"{prefix}{part.part}: keypoint errors of {part.analysed:,} matched predictions, overall and the "
             f"{WORST_SHOWN} worst keypoints ({AREA_NOTE})")
    return Table(ERROR_COLUMNS, tuple(rows), title)


def fix_table(part: PartDiagnosis, prefix: str = "") -> Table:
    """AP after each cumulative fix: AP, AP50, AP75 in 'all', AP in 'medium' and 'large'."""
    ranges = part.ranges
    rows = []
    for step in STEPS:
        stats = step_stats(ranges["all"].steps[step], part.thresholds)
        rows.append((step, stats["AP"], stats["AP50"], stats["AP75"],
                     *(step_stats(ranges[a].steps[step], part.thresholds)["AP"] for a in ("medium", "large"))))
    missed = part.instances["false_negatives"]
    background = part.instances["false_positives"]
    scoring = part.instances["scoring_errors"]
    title = (f"{prefix}{part.part}: AP after each cumulative fix (each row fixes one more error type)\n"
             f"missed at every OKS: {missed['count']:,} people | background at every OKS: "
             f"{background['count']:,} predictions | ranking errors (OKS >= .5): "
             f"{scoring['original_score']:,}, {scoring['optimal_score']:,} with optimal scores")
    return Table(FIX_COLUMNS, tuple(rows), title)


def whole_part_table(part: PartDiagnosis, prefix: str = "") -> Table:
    """Matched predictions whose part is mostly inversions (mirrored) or mostly swaps (from another person)."""
    rows = tuple((name, c["analysed"], c["mirrored"], c["from_another_person"]) for name, c in part.whole_parts.items())
    title = (f"{prefix}{part.part}: parts mostly mirrored (e.g. a hand on the other hand) or mostly taken from "
             "another person")
    return Table(WHOLE_PART_COLUMNS, rows, title)


def part_tables(part: PartDiagnosis, prefix: str = "") -> list[Table]:
    """One part's tables: error rates, AP after each fix, and whole parts where counted."""
    tables = [error_table(part, prefix), fix_table(part, prefix)]
    return tables + [whole_part_table(part, prefix)] if part.whole_parts else tables


def diagnosis_tables(diagnosis: Diagnosis, name: str = "") -> list[Table]:
    """Every part's tables, in part order; ``name`` (a run's, when comparing) prefixes the titles."""
    prefix = f"{name}: " if name else ""
    return [table for part in diagnosis.parts.values() for table in part_tables(part, prefix)]


__all__ = ["diagnosis_tables", "part_tables"]
