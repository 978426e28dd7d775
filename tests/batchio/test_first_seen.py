"""FirstSeen (repeated ids across the chunks of one file) against a plain dict over the whole
file: the same records flagged, each naming the line of its value's first record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.batchio.checks import FirstSeen
from engine.batchio.tables import TextTable


def _flagged(ids: list[str], sizes: list[int]) -> list[tuple[int, str]]:
    seen = FirstSeen()
    out, start = [], 0
    for size in [*sizes, len(ids)]:
        part = ids[start : start + size]
        if not part:
            continue
        lines = np.arange(start + 2, start + 2 + len(part), dtype=np.int64)  # header = line 1
        table = TextTable(Path("f.csv"), pd.DataFrame({"debtor_id": part}), lines)
        out += [(issue.line, issue.message) for issue in seen.repeats(table, "debtor_id")]
        start += len(part)
    return out


def _expected(ids: list[str]) -> list[tuple[int, str]]:
    first: dict[str, int] = {}
    out = []
    for i, value in enumerate(ids):
        line = i + 2
        if value == "":
            continue
        if value in first:
            out.append((line, f"duplicate debtor_id {value!r} (first on line {first[value]})"))
        else:
            first[value] = line
    return out


@settings(max_examples=200, deadline=None)
@given(
    ids=st.lists(
        st.sampled_from(["", "a", "b", "c", "d", "e", "f", "g", "h"]) | st.text(), max_size=60
    ),
    sizes=st.lists(st.integers(min_value=1, max_value=9), max_size=12),
)
def test_repeats_across_chunks_match_one_pass_over_the_file(
    ids: list[str], sizes: list[int]
) -> None:
    assert sorted(_flagged(ids, sizes)) == sorted(_expected(ids))
