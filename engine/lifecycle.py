"""An experiment's lifecycle: draft -> running <-> paused -> stopped.

Only a running experiment assigns debtors and takes part in scheduled jobs (``run-cycle``,
``schedule``, ``promote --all``); a draft or paused one leaves every new debtor out with the
reason, and a stopped one is over for good. The status in force is the file's ``status`` until
``dunning pause|resume|stop`` (or an edit of ``status`` in the file) records a change in the audit
trail; the latest such record wins.
"""

from __future__ import annotations

from typing import Final

from engine.config import Status

#: The lifecycle verbs and the status each puts in force.
VERBS: Final[dict[str, Status]] = {"pause": "paused", "resume": "running", "stop": "stopped"}


def transition_problem(current: str, target: str) -> str | None:
    """Why ``current`` may not become ``target`` (None: allowed). A stopped experiment stays
    stopped: its debtors' outcomes keep maturing, but reopening it would mix two runs."""
    if current == "stopped" and target != "stopped":
        return (
            "it is stopped, and a stopped experiment stays stopped; "
            "start a new experiment key to run it again"
        )
    return None


def transition_verb(before: str, after: str) -> str:
    """How the audit trail names a status change (``running`` -> ``paused``: ``paused``)."""
    if after == "running":
        return "started" if before == "draft" else "resumed"
    return {"paused": "paused", "stopped": "stopped", "draft": "made a draft"}[after]
