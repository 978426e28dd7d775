"""``dunning pause|resume|stop KEY``: the lifecycle verbs, audited like a promotion."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    AsOfOption,
    DbOption,
    JsonOption,
    KeyArgument,
    app,
    console,
    emit_json,
    login_name,
    open_database,
    resolve_as_of,
    user_errors,
)
from engine.settings import DEFAULT_DATABASE_URL

EPILOG = (
    "Exit codes: 0 done (or already so: nothing written); 1 refused (a stopped experiment "
    "stays stopped) or a database error; 2 unknown experiment."
)
WHAT = {
    "pause": "Pause an experiment: new debtors are left out and the scheduled jobs skip it; "
    "assigned debtors keep their arm and their outcomes keep maturing.",
    "resume": "Resume a paused (or draft) experiment: it assigns debtors and runs its cycle again.",
    "stop": "Stop an experiment for good: nobody new enters and its split is frozen; "
    "outcomes keep maturing for the analysis.",
}


def _register(verb: str) -> None:

    @app.command(verb, help=WHAT[verb], epilog=EPILOG)
    @user_errors
    def command(
        key: KeyArgument,
        note: Annotated[
            str, typer.Option("--note", metavar="TEXT", help="Why, for the audit trail.")
        ] = "",
        by: Annotated[
            str | None,
            typer.Option("--by", metavar="NAME", help="Who, for the audit trail [default: login]."),
        ] = None,
        db: DbOption = DEFAULT_DATABASE_URL,
        as_of: AsOfOption = None,
        as_json: JsonOption = False,
    ) -> None:
        from engine.lifecycle import VERBS

        change = service.set_status(
            open_database(db),
            experiment_key=key,
            status=VERBS[verb],
            now=resolve_as_of(as_of),
            by=by or login_name(),
            note=note,
            source=f"dunning {verb}",
        )
        if as_json:
            emit_json(
                {
                    "experiment": key,
                    "status_before": change.before,
                    "status": change.after,
                    "changed": change.changed,
                    "audit_id": change.audit_id,
                    "decided_at": change.decided_at,
                    "by": change.by,
                    "note": change.note,
                }
            )
            return
        if not change.changed:
            console.print(f"{key} is already {change.after}; nothing written")
            return
        console.print(
            f"{key}: {change.before} -> {change.after} (audit #{change.audit_id}, by "
            f"{escape(change.by or 'unknown')}{': ' + escape(note) if note else ''})"
        )


# The verbs of engine.lifecycle.VERBS, named here: that module loads the experiment models,
# which `dunning --help` does not need (a test checks the two agree).
for _verb in ("pause", "resume", "stop"):
    _register(_verb)
