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
from datetime import datetime
from types import FrameType
from typing import Annotated, Any

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    AsOfOption,
    DbOption,
    app,
    console,
    errors,
    open_database,
    resolve_as_of,
    user_errors,
)
from engine.service.promotion import CycleResult, PromotionResult
from engine.service.rollback import rollback_allocation
from engine.service.scheduler import RealClock, SimulatedClock, run_schedule
from engine.service.webhook import post_decision
from engine.settings import DEFAULT_DATABASE_URL, WEBHOOK_ENV

EXIT_CODES = (
    "Exit codes: 0 every experiment evaluated; 1 an experiment failed (the others still ran) "
    "or the database is unreachable; 2 invalid input."
)
WebhookOption = Annotated[
    str | None,
    typer.Option(
        "--webhook",
        envvar=WEBHOOK_ENV,
        help="URL that receives each stored decision as JSON (after commit).",
    ),
]


def _plain(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _line(**fields: Any) -> str:
    """One structured log line (JSON, sorted keys, ISO 8601 times) for log shippers."""
    return json.dumps(fields, sort_keys=True, default=_plain)


def _log_error(exc: BaseException, **fields: Any) -> None:
    """One JSON error line on stderr: what failed, in one line, without secrets."""
    line = _line(event="error", level="error", **fields, error=service.describe(exc))
    errors.print(line, markup=False, highlight=False)


def _log_decision(result: PromotionResult, **extra: Any) -> None:
    payload = result.payload()
    payload.pop("numbers")
    payload.pop("explanation")
    console.print(
        _line(event="decision", level="info", **payload, **extra), markup=False, highlight=False
    )


def _notify(url: str | None, result: PromotionResult) -> None:
    if url and not result.dry_run and not result.repeated:
        post_decision(url, result.payload())


def _human(result: PromotionResult) -> None:
    d = result.decision
    prefix = "DRY RUN, nothing written: " if result.dry_run else ""
    if result.repeated:
        prefix = "already decided today, nothing changed: "
    console.print(
        f"{prefix}{result.experiment_key}: {d.action} ({d.reason}): {escape(d.explanation)}"
    )
    if result.allocation_version is not None:
        after = d.new_champion or d.champion
        stopped = f", stopped {', '.join(d.stopped_arms)}" if d.stopped_arms else ""
        console.print(f"  champion {after}{stopped}: allocation v{result.allocation_version}")


@app.command(epilog=EXIT_CODES)
@user_errors
def promote(
    key: Annotated[str | None, typer.Argument(help="Experiment key (or --all).")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every running experiment in the database.")
    ] = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per decision.")] = False,
    webhook: WebhookOption = None,
) -> None:
    """Apply the promotion rule: promote, continue, stop_arm or inconclusive (audited)."""
    if (key is None) == (not all_):
        errors.print("[red]error:[/red] give an experiment KEY or --all (not both)")
        raise typer.Exit(2)
    engine = open_database(db, read_only=dry_run)
    now = resolve_as_of(as_of)
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
            _log_error(exc, experiment=name)
            continue
        if as_json:
            console.print(json.dumps(result.payload(), sort_keys=True), markup=False)
        else:
            _human(result)
        _notify(webhook, result)
    if failed:
        raise typer.Exit(1)


@app.command("run-cycle", epilog=EXIT_CODES)
@user_errors
def run_cycle(
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    webhook: WebhookOption = None,
) -> None:
    """Update allocations, then evaluate promotions, for every running experiment (the
    scheduled job; draft, paused and stopped experiments are skipped).

    One JSON log line per decision on stdout; a failure in one experiment is logged and the
    others still run. A second run on the same UTC day changes nothing.
    """
    engine = open_database(db)
    now = resolve_as_of(as_of)
    failed = 0
    for summary in service.list_experiments(engine):
        if summary.status != "running":
            console.print(
                _line(event="skipped", experiment=summary.key, status=summary.status),
                markup=False,
                highlight=False,
            )
            continue
        try:
            cycle = service.run_cycle(engine, experiment_key=summary.key, now=now)
        except Exception as exc:
            failed += 1
            _log_error(exc, experiment=summary.key)
            continue
        _log_decision(cycle.promotion, update_version=cycle.allocation.version)
        _notify(webhook, cycle.promotion)
    if failed:
        raise typer.Exit(1)


@app.command(epilog="Exit codes: 0 restored; 1 refused (e.g. already in force); 2 invalid input.")
@user_errors
def rollback(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    to: Annotated[int, typer.Option("--to", help="Allocation version to restore.")],
    note: Annotated[str, typer.Option(help="Why, for the audit record.")] = "",
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    webhook: WebhookOption = None,
) -> None:
    """Restore an earlier allocation (champion, weights, stopped arms) as a new version."""
    result = rollback_allocation(
        open_database(db), experiment_key=key, to_version=to, now=resolve_as_of(as_of), note=note
    )
    console.print(
        f"{key}: allocation v{result.new_version} restores v{result.to_version} "
        f"(champion {result.champion_before} -> {result.champion_after}; audit #{result.audit_id})"
    )
    if webhook:
        post_decision(
            webhook,
            {
                "experiment": key,
                "action": "rollback",
                "from_version": result.from_version,
                "to_version": result.to_version,
                "allocation_version": result.new_version,
                "champion_before": result.champion_before,
                "champion_after": result.champion_after,
                "audit_id": result.audit_id,
            },
        )


@app.command(epilog="Exit codes: 0 stopped cleanly (signal or --max-cycles); 1 database error.")
@user_errors
def schedule(
    db: DbOption = DEFAULT_DATABASE_URL,
    max_cycles: Annotated[
        int | None, typer.Option(help="Stop after this many experiment cycles.")
    ] = None,
    now: Annotated[
        datetime | None,
        typer.Option(
            "--now",
            help="Simulate the clock from this UTC time: jump to each fire time, no waiting.",
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
        ),
    ] = None,
    webhook: WebhookOption = None,
) -> None:
    """Run each experiment's cycle when its promotion.schedule cron expression fires (UTC).

    For machines without cron; stops cleanly on SIGINT or SIGTERM (a running cycle finishes
    or rolls back as a whole).
    """
    engine = open_database(db)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("dunning.schedule").info("signal %s: stopping", signum)
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}

    def report(key: str, fire: datetime, outcome: CycleResult | Exception) -> None:
        if isinstance(outcome, Exception):
            _log_error(outcome, experiment=key, fired=fire)
            return
        _log_decision(outcome.promotion, fired=fire, update_version=outcome.allocation.version)
        _notify(webhook, outcome.promotion)

    clock = RealClock() if now is None else SimulatedClock(resolve_as_of(now))
    # Tells a supervisor (and the tests) that the signal handlers are in place.
    console.print(_line(event="started", level="info"), markup=False, highlight=False)
    try:
        ran = run_schedule(engine, clock=clock, stop=stop, report=report, max_cycles=max_cycles)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(_line(event="stopped", level="info", cycles=ran), markup=False, highlight=False)
