"""Package front doors that import a name's module on first use (PEP 562).

``engine.service``, ``engine.batchio`` and the other front doors re-export many names; loading
every module behind them on ``import`` would make each CLI verb pay for the statistics stack
(start-up time, ``benchmarks/bench_startup.py``). Each package lists its names and their
modules and takes its ``__getattr__`` and ``__dir__`` from :func:`exports`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps each public name to the
    module that defines it."""
    namespace = vars(sys.modules[package])

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value  # later lookups find it and skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", names))

    return __getattr__, __dir__
