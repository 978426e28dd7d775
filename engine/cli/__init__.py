"""The ``dunning`` command: thin edge over :mod:`engine.service`.

Every verb parses its arguments, calls one service function and renders the result. Input
mistakes (bad YAML, bad CSV rows, unknown experiment) print a clear message and exit with
code 2 (1 for a refused operation or an unreachable database); never a traceback.
"""

# Each module registers its verbs on `app` when imported, in this order in `--help`.
# isort: off
from engine.cli import experiments, loop, promotion, lifecycle, batch, reports, ope, uplift, demo  # noqa: F401
from engine.cli import database  # noqa: F401

# isort: on
from engine.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()
