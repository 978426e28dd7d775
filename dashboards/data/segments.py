"""Display tables of the segments page (debtor types)."""

from __future__ import annotations

import pandas as pd

from engine.stats.hierarchical import SegmentFit

from .analysis import _bounds, with_interval
from .constants import DASH, NBSP
from .format import pct

# -- segments --------------------------------------------------------------------------------

_TYPE_LETTERS = (
    {"W": "willing", "D": "defiant"},
    {"A": "able", "I": "insolvent"},
    {"O": "organised", "C": "chaotic"},
    {"E": "emotional", "R": "rational"},
)


def debtor_type(code: str) -> str:
    """``"WAOE"`` -> ``"willing, able, organised, emotional"``; other segment names: ``""``."""
    if len(code) != len(_TYPE_LETTERS) or any(
        c not in letters for c, letters in zip(code, _TYPE_LETTERS, strict=True)
    ):
        return ""
    return ", ".join(letters[c] for c, letters in zip(code, _TYPE_LETTERS, strict=True))


def segment_cells(fit: SegmentFit, labels: dict[str, str]) -> pd.DataFrame:
    """Long table for the heatmap: one row per (segment, arm), ``best`` marks the segment's
    most probable best arm."""
    rows = []
    for s, segment in enumerate(fit.segments):
        for a, arm in enumerate(fit.arms):
            best = fit.best_arm[s] == arm
            mean = float(fit.means[s, a])
            rows.append(
                {
                    "segment": segment,
                    "type": debtor_type(segment) or segment,
                    "arm": labels.get(arm, arm),
                    "mean": mean,
                    "low": float(fit.low[s, a]),
                    "high": float(fit.high[s, a]),
                    "p_best": float(fit.p_best[s, a]),
                    "best": best,
                    "text": f"★ {mean:.0%}" if best else f"{mean:.0%}",
                }
            )
    return pd.DataFrame(rows)


def segment_frame(fit: SegmentFit, labels: dict[str, str]) -> pd.DataFrame:
    """One row per segment: its type, then per arm mean [95% CrI] and P(best); the segment's
    best arm (highest P(best)) is starred."""
    level = f"{fit.level:.0%}"
    rows = []
    for s, segment in enumerate(fit.segments):
        row: dict[tuple[str, str], str] = {("", "Debtor type"): debtor_type(segment) or DASH}
        for a, arm in enumerate(fit.arms):
            label = labels.get(arm, arm)
            mean = pct(float(fit.means[s, a]))
            row[(label, f"Pay on time [{level} CrI]")] = with_interval(
                f"★{NBSP}{mean}" if fit.best_arm[s] == arm else mean,
                _bounds(float(fit.low[s, a]), float(fit.high[s, a]), "share", scale=100.0),
            )
            row[(label, "P(best)")] = pct(float(fit.p_best[s, a]), 0)
        rows.append(row)
    columns = pd.MultiIndex.from_tuples(list(rows[0]) if rows else [])
    index = pd.Index(list(fit.segments), name="Segment")
    return pd.DataFrame([list(r.values()) for r in rows], index=index, columns=columns)
