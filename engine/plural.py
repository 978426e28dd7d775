"""Counts with their noun, for every surface (no dependency: the CLI's start-up stays light)."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``1 allocation period``, ``2 allocation periods``, ``1,000 debtors``: the noun agrees
    with the count (``plural`` for irregular ones, else ``noun + "s"``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
