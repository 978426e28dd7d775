"""Which module of :mod:`engine.cli` defines each verb, and the app that imports only that one.

Building the command line costs for every module imported (the libraries it loads, ~30 ms for
the command modules alone) and for every command turned into a click command (~50 ms for all
of them): ``dunning assign`` needs one module and one command. :class:`VerbApp` therefore
imports the module of the verb it is asked to run, and every module when anything else reads
its commands: ``dunning --help``, an unknown verb (click suggests the nearest), ``typer``'s
test runner, :func:`typer.main.get_command`. A verb missing from :data:`MODULES` still works,
after importing every module (tests/test_startup.py checks that each verb is listed).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib import import_module
from typing import Any

import typer
from typer.models import CommandInfo, TyperInfo

#: The command modules in the order their verbs appear in ``dunning --help``.
ORDER: tuple[str, ...] = tuple(
    f"engine.cli.{name}"
    for name in (
        "experiments",
        "loop",
        "promotion",
        "lifecycle",
        "batch",
        "reports",
        "ope",
        "uplift",
        "demo",
        "database",
    )
)
_VERBS: dict[str, tuple[str, ...]] = {
    "experiments": ("validate", "schema", "sync", "history"),
    "loop": ("update",),
    "promotion": ("promote", "run-cycle", "rollback", "schedule"),
    "lifecycle": ("pause", "resume", "stop"),
    "batch": ("assign", "ingest"),
    "reports": ("list", "report", "outcomes", "analyze"),
    "ope": ("ope",),
    "uplift": ("uplift",),
    "demo": ("demo",),
    "database": ("db",),
}
#: Verb (or group of verbs, as ``db``) -> the module that registers it on the app.
MODULES: dict[str, str] = {
    verb: f"engine.cli.{module}" for module, verbs in _VERBS.items() for verb in verbs
}


def module_of(args: Sequence[str]) -> str | None:
    """The module that defines the verb of ``args`` (the command line after ``dunning``);
    None when every module is needed: no verb (``--help``, ``--version``, nothing) or an
    unknown one."""
    if not args or args[0].startswith("-"):
        return None
    return MODULES.get(args[0])


class VerbApp(typer.Typer):
    """A Typer app whose command modules are imported when needed (see the module doc)."""

    def __init__(self, **settings: Any) -> None:
        self._one_verb = False  # while running one verb: its module's commands suffice
        self._loading = False
        super().__init__(**settings)

    def load_all(self) -> None:
        """Import every command module (each registers its verbs when imported)."""
        if self._loading:
            return
        self._loading = True
        try:
            for module in ORDER:
                import_module(module)
        finally:
            self._loading = False

    def _full(self) -> bool:
        if not self._one_verb:
            self.load_all()
        return not self._one_verb

    @property
    def registered_commands(self) -> list[CommandInfo]:
        if self._full():
            # --help lists verbs by module, whichever module a verb run imported first.
            self._commands.sort(key=lambda c: _rank(c.callback))
        return self._commands

    @registered_commands.setter
    def registered_commands(self, value: list[CommandInfo]) -> None:
        self._commands = value

    @property
    def registered_groups(self) -> list[TyperInfo]:
        self._full()
        return self._groups

    @registered_groups.setter
    def registered_groups(self, value: list[TyperInfo]) -> None:
        self._groups = value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        argv = kwargs.get("args", args[0] if args else None)
        module = module_of(list(sys.argv[1:] if argv is None else argv))
        if module is None:
            return super().__call__(*args, **kwargs)
        self._one_verb = True  # before the import: registering a verb reads the commands
        try:
            import_module(module)
            return super().__call__(*args, **kwargs)
        finally:
            self._one_verb = False


def _rank(callback: object) -> int:
    module = getattr(callback, "__module__", None)
    return ORDER.index(module) if module in ORDER else len(ORDER)
