"""Promotion verbs: promote, run-cycle, rollback, schedule.

Exit codes (also in each verb's --help): 0 every experiment was evaluated (whatever it
decided); 1 at least one experiment failed (the others still ran), a refused operation or an
unreachable database; 2 invalid input (unknown experiment, bad option), nothing written.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
from dataclasses import dataclass
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any

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
    emit_line,
    errors,
    open_database,
    parse_time,
    read_database,
    resolve_as_of,
    user_errors,
)
from engine.settings import DEFAULT_DATABASE_URL, WEBHOOK_ENV

if TYPE_CHECKING:
    from engine.service.promotion import CycleResult, PromotionResult

JOB_EXIT_CODES = (
    "Exit codes: 0 every experiment evaluated; 1 an experiment failed (the others still ran), "
    "was refused, or the database is unreachable; 2 invalid input."
)
JobJsonOption = Annotated[
    bool,
    typer.Option(
        "--json",
        help="One JSON line per event (decision, skipped, error), for schedulers and log "
        "shippers (docs/cli.md); default: one line of text each.",
    ),
]
WebhookOption = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        metavar="URL",
        envvar=WEBHOOK_ENV,
        help="URL that receives each stored decision as JSON (after commit).",
    ),
]


@dataclass(frozen=True)
class JobLog:
    """How promote, run-cycle and schedule report: a line of text per event, or with
    ``--json`` one JSON line (``event``: started, decision, skipped, error, stopped)."""

    as_json: bool

    def decision(self, result: PromotionResult, **extra: Any) -> None:
        from engine.service.allocation import AllocationInfo

        if self.as_json:
            payload = result.payload()
            payload.pop("numbers")
            payload.pop("explanation")
            emit_line({"event": "decision", "level": "info", **payload, **extra})
            return
        d = result.decision
        prefix = "DRY RUN, nothing written: " if result.dry_run else ""
        if result.repeated:
            prefix = "already decided today, nothing changed: "
        update = extra.get("update")
        if isinstance(update, AllocationInfo):
            what = f"allocation v{update.version} " + (
                f"unchanged ({update.unchanged})" if update.unchanged else "updated"
            )
            console.print(f"{result.experiment_key}: {escape(what)}", highlight=False)
        console.print(
            f"{prefix}{result.experiment_key}: {d.action} ({d.reason}): {escape(d.explanation)}",
            highlight=False,
        )
        if result.allocation_version is not None:
            after = d.new_champion or d.champion
            stopped = f", stopped {', '.join(d.stopped_arms)}" if d.stopped_arms else ""
            console.print(f"  champion {after}{stopped}: allocation v{result.allocation_version}")

    def event(self, event: str, message: str, **fields: Any) -> None:
        if self.as_json:
            emit_line({"event": event, "level": "info", **fields})
        else:
            console.print(message, highlight=False, markup=False)

    def error(self, key: str, exc: BaseException, **fields: Any) -> None:
        """What failed, in one line, without secrets (service.describe redacts passwords)."""
        message = service.describe(exc)
        if self.as_json:
            line = {"event": "error", "level": "error", "experiment": key, **fields}
            errors.print(
                json.dumps(line | {"error": message}, sort_keys=True, default=str),
                markup=False,
                highlight=False,
            )
        else:
            errors.print(f"error: {key}: {message}", markup=False, highlight=False)


def _notify(url: str | None, result: PromotionResult) -> None:
    from engine.service.webhook import post_decision

    if url and not result.dry_run and not result.repeated:
        post_decision(url, result.payload())


@app.command(epilog=JOB_EXIT_CODES)
@user_errors
def promote(
    key: Annotated[
        str | None, typer.Argument(metavar="[KEY]", help="Experiment key (or --all).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every running experiment in the database.")
    ] = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, write nothing.")] = False,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON line per decision (docs/cli.md); default: text."),
    ] = False,
    webhook: WebhookOption = None,
) -> None:
    """Apply the promotion rule: promote, continue, stop_arm or inconclusive (audited)."""
    if (key is None) == (not all_):
        errors.print("[red]error:[/red] give an experiment KEY or --all (not both)")
        raise typer.Exit(2)
    # A dry run writes nothing: it must not create a database either.
    engine = read_database(db) if dry_run else open_database(db)
    now = resolve_as_of(as_of)
    log = JobLog(as_json)
    keys = [key or ""]
    if all_:
        keys = [s.key for s in service.list_experiments(engine) if s.status == "running"]
    failed = 0
    for name in keys:
        try:
            result = service.evaluate_promotion(
                engine, experiment_key=name, now=now, dry_run=dry_run
            )
        except service.UnknownExperimentError:
            raise
        except (service.ServiceError, ValueError, service.StorageError) as exc:
            if not all_:
                raise
            failed += 1
            log.error(name, exc)
            continue
        if as_json:
            emit_line(result.payload())
        else:
            log.decision(result)
        _notify(webhook, result)
    if failed:
        raise typer.Exit(1)


@app.command("run-cycle", epilog=JOB_EXIT_CODES)
@user_errors
def run_cycle(
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    webhook: WebhookOption = None,
    as_json: JobJsonOption = False,
) -> None:
    """Update allocations, then evaluate promotions, for every running experiment (the
    scheduled job; draft, paused and stopped experiments are skipped).

    One line per experiment (text, or JSON with --json); a failure in one experiment is
    reported and the others still run. A second run on the same UTC day changes nothing.
    """
    engine = open_database(db)
    now = resolve_as_of(as_of)
    log = JobLog(as_json)
    failed = 0
    for summary in service.list_experiments(engine):
        if summary.status != "running":
            log.event(
                "skipped",
                f"{summary.key}: skipped ({summary.status})",
                experiment=summary.key,
                status=summary.status,
            )
            continue
        try:
            cycle = service.run_cycle(engine, experiment_key=summary.key, now=now)
        except Exception as exc:
            failed += 1
            log.error(summary.key, exc)
            continue
        if as_json:
            log.decision(cycle.promotion, update_version=cycle.allocation.version)
        else:
            log.decision(cycle.promotion, update=cycle.allocation)
        _notify(webhook, cycle.promotion)
    if failed:
        raise typer.Exit(1)


@app.command(epilog="Exit codes: 0 restored; 1 refused (e.g. already in force); 2 invalid input.")
@user_errors
def rollback(
    key: KeyArgument,
    to: Annotated[
        int, typer.Option("--to", metavar="VERSION", help="Allocation version to restore.")
    ],
    note: Annotated[str, typer.Option(metavar="TEXT", help="Why, for the audit record.")] = "",
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    webhook: WebhookOption = None,
    as_json: JsonOption = False,
) -> None:
    """Restore an earlier allocation (champion, weights, stopped arms) as a new version."""
    from engine.service.rollback import rollback_allocation
    from engine.service.webhook import post_decision

    result = rollback_allocation(
        open_database(db), experiment_key=key, to_version=to, now=resolve_as_of(as_of), note=note
    )
    payload = {
        "experiment": key,
        "action": "rollback",
        "from_version": result.from_version,
        "to_version": result.to_version,
        "allocation_version": result.new_version,
        "champion_before": result.champion_before,
        "champion_after": result.champion_after,
        "audit_id": result.audit_id,
    }
    if as_json:
        emit_json(payload)
    else:
        console.print(
            f"{key}: allocation v{result.new_version} restores v{result.to_version} "
            f"(champion {result.champion_before} -> {result.champion_after}; "
            f"audit #{result.audit_id})"
        )
    if webhook:
        post_decision(webhook, payload)


@app.command(epilog="Exit codes: 0 stopped cleanly (signal or --max-cycles); 1 database error.")
@user_errors
def schedule(
    db: DbOption = DEFAULT_DATABASE_URL,
    max_cycles: Annotated[
        int | None, typer.Option(metavar="N", help="Stop after this many experiment cycles.")
    ] = None,
    now: Annotated[
        datetime | None,
        typer.Option(
            "--now",
            metavar="TIME",
            parser=parse_time,
            help="Simulate the clock from this time (ISO 8601; no offset: UTC): jump to each "
            "fire time, no waiting.",
        ),
    ] = None,
    webhook: WebhookOption = None,
    as_json: JobJsonOption = False,
) -> None:
    """Run each experiment's cycle when its promotion.schedule cron expression fires (UTC).

    For machines without cron; stops cleanly on SIGINT or SIGTERM (a running cycle finishes
    or rolls back as a whole). Prints "started" once its signal handlers are in place.
    """
    from engine.service.scheduler import RealClock, SimulatedClock, run_schedule

    engine = open_database(db)
    stop = threading.Event()
    log = JobLog(as_json)

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("dunning.schedule").info("signal %s: stopping", signum)
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def report(key: str, fire: datetime, outcome: CycleResult | Exception) -> None:
        if isinstance(outcome, Exception):
            log.error(key, outcome, fired=fire.isoformat())
            return
        if as_json:
            log.decision(outcome.promotion, fired=fire, update_version=outcome.allocation.version)
        else:
            log.decision(outcome.promotion, update=outcome.allocation)
        _notify(webhook, outcome.promotion)

    clock = RealClock() if now is None else SimulatedClock(parse_time(now))
    # Tells a supervisor (and the tests) that the signal handlers are in place.
    log.event("started", "schedule started: waiting for the next fire time (UTC)")
    try:
        ran = run_schedule(engine, clock=clock, stop=stop, report=report, max_cycles=max_cycles)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.event("stopped", f"schedule stopped after {ran} cycle(s)", cycles=ran)
