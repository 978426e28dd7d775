"""Display constants shared by the dashboard's formatting and pages."""

from __future__ import annotations

DEFAULT_DATABASE_URL = "sqlite:///var/demo.sqlite3"
DASH = "—"
MINUS = "\u2212"  # typographic minus for signed amounts
NO_BREAK_DASH = "\u2060\u2013\u2060"  # en dash between word joiners: no line break
NBSP = "\u00a0"
WORD_JOINER = "\u2060"  # invisible; forbids a line break where it stands
RUN_HINT = (
    "Run `make demo` for a simulated experiment, or `dunning sync` to load an experiment file."
)
EMPTY_HINT = f"No experiments in the database yet. {RUN_HINT}"
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
