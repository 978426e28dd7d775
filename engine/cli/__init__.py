"""The ``dunning`` command: thin edge over :mod:`engine.service`.

Every verb parses its arguments, calls one service function and renders the result. Input
mistakes (bad YAML, bad CSV rows, unknown experiment) print a clear message and exit with
code 2 (1 for a refused operation or an unreachable database); never a traceback.
"""

# Each command module registers its verbs on `app` when imported; `app` imports the module of
# the verb it runs, or all of them for --help (engine.cli.verbs: start-up time).
from engine.cli.common import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover - console entry point
    app()
