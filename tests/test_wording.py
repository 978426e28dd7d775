"""engine.analysis.wording: the counted noun every surface prints ("1 allocation period")."""

from __future__ import annotations

import pytest

from engine.plural import counted


@pytest.mark.parametrize(
    ("n", "noun", "plural", "expected"),
    [
        (1, "allocation period", None, "1 allocation period"),
        (2, "allocation period", None, "2 allocation periods"),
        (0, "decision", None, "0 decisions"),
        (12_345, "debtor", None, "12,345 debtors"),
        (1, "stratum", "strata", "1 stratum"),
        (3, "stratum", "strata", "3 strata"),
    ],
)
def test_the_noun_agrees_with_its_count(
    n: int, noun: str, plural: str | None, expected: str
) -> None:
    assert counted(n, noun, plural) == expected
