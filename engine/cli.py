"""The ``dunning`` command: thin edge over :mod:`engine.service`.

Every verb parses its arguments, calls one service function and renders the result. Input
mistakes (bad YAML, bad CSV rows, unknown experiment) print a clear message and exit with
code 2 (1 for a refused operation or an unreachable database); never a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from engine import ope, service
from engine.batchio import InputFileError, read_debtors, read_events, read_tenure, write_csv
from engine.loader import ConfigError, load_all, load_experiment
from engine.ope_io import read_ope_inputs
from engine.render import analysis_tables, kpi_table, promotion_table, segment_table
from engine.settings import DEFAULT_DATABASE_URL, Settings

app = typer.Typer(
    help="Champion/challenger experimentation engine for dunning.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Tables need up to 150 columns; a pipe or CI log has no terminal width to ask for.
# soft_wrap: a message line (file:line: field: problem) must stay one line, whatever the width.
console = Console(width=None if Console().is_terminal else 160, soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")

#: Where the demo writes unless told otherwise; recreated on each run.
DEMO_DATABASE_URL = "sqlite:///var/demo.sqlite3"

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="DATABASE_URL",
        help="Database URL (SQLite file or postgresql+psycopg://...).",
        show_default=True,
    ),
]
AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        help="Evaluate as of this UTC time (default: now).",
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"],
    ),
]


def _as_of(value: datetime | None) -> datetime:
    if value is None:
        return service.utc_now()
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the engine's user-facing errors into a message and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ConfigError, InputFileError) as exc:
            for issue in exc.issues:
                errors.print(str(issue), markup=False, highlight=False)
            errors.print(f"[red]{len(exc.issues)} problem(s); nothing was changed.[/red]")
            raise typer.Exit(2) from None
        except (service.UnknownExperimentError, service.UnknownSegmentError) as exc:
            errors.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except service.ServiceError as exc:
            errors.print(f"[red]refused:[/red] {escape(str(exc))}")
            raise typer.Exit(1) from None
        except OperationalError as exc:
            errors.print(f"[red]database error:[/red] {escape(str(exc.orig))}")
            raise typer.Exit(1) from None

    return wrapper


def _db(url: str) -> Engine:
    return service.open_db(url)


@app.command()
@user_errors
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Experiment files or folders.")],
) -> None:
    """Check experiment files; print every problem as file:line:column: field: message."""
    for loaded in load_all(paths):
        experiment = loaded.experiment
        console.print(
            f"[green]ok[/green] {loaded.path}: {experiment.key} "
            f"({len(experiment.arms)} arms, champion {experiment.champion}, "
            f"policy {experiment.allocation.policy})"
        )


@app.command()
@user_errors
def sync(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Experiment files or folders [$DUNNING_EXPERIMENTS_DIR or experiments/]."
        ),
    ] = None,
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Store experiment files in the database; a changed file becomes a new version."""
    loaded = load_all(paths or [Path(Settings.from_env().experiments_dir)])
    engine = _db(db)
    for item in loaded:
        result = service.sync_experiment(engine, item, now=service.utc_now())
        state = "new version" if result.created else "unchanged"
        console.print(
            f"{item.path}: {result.key} v{result.version} ({state}, {result.content_hash[:12]})"
        )


@app.command()
@user_errors
def assign(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    input: Annotated[Path, typer.Option("--input", "-i", help="Debtors CSV.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Treatments CSV to write.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Assign the debtors of a file to arms (sticky) and write their treatments."""
    engine = _db(db)
    experiment = service.current_experiment(engine, experiment_key=key)
    debtors = read_debtors(input, segment_column=experiment.segment)
    result = service.assign_debtors(
        engine,
        experiment_key=key,
        debtor_ids=debtors.debtor_id,
        segments=debtors.segment,
        amounts_owed=debtors.amount_owed,
        now=_as_of(as_of),
    )
    write_csv(
        pd.DataFrame(
            {
                "debtor_id": result.debtor_id,
                "arm": result.arm,
                "propensity": result.propensity,
                "allocation_version": result.allocation_version,
                "new": result.new,
                "holdout": result.holdout,
                "reason": result.reason,
            }
        ),
        output,
    )
    console.print(
        f"{len(result.debtor_id):,} debtors: {result.new_count:,} newly assigned, "
        f"{len(result.debtor_id) - result.new_count:,} kept their arm -> {output}"
    )


@app.command()
@user_errors
def ingest(
    path: Annotated[Path, typer.Argument(help="Events CSV.")],
    db: DbOption = DEFAULT_DATABASE_URL,
) -> None:
    """Load outcome events; a re-sent event id changes nothing."""
    events = read_events(path)
    result = service.ingest_events(_db(db), events, now=service.utc_now())
    console.print(
        f"{result.received:,} events: {result.inserted:,} new, {result.duplicates:,} already known"
    )


@app.command()
@user_errors
def update(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    seed: Annotated[int | None, typer.Option(help="Monte Carlo seed (default: fresh).")] = None,
) -> None:
    """Recompute the traffic split from matured outcomes (a new allocation version)."""
    info = service.update_allocation(_db(db), experiment_key=key, now=_as_of(as_of), seed=seed)
    shares = ", ".join(f"{arm} {100 * w:.1f}%" for arm, w in info.weights.items())
    console.print(f"{key}: allocation v{info.version} ({info.matured_units:,} matured): {shares}")
    console.print(f"  {escape(info.reason)} (seed {info.seed})")


@app.command()
@user_errors
def promote(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Decide, write nothing.")] = False,
    seed: Annotated[int | None, typer.Option(help="Monte Carlo seed (default: fresh).")] = None,
) -> None:
    """Apply the promotion rule; a promotion switches the champion (audited)."""
    result = service.evaluate_promotion(
        _db(db), experiment_key=key, now=_as_of(as_of), seed=seed, dry_run=dry_run
    )
    decision = result.decision
    prefix = "DRY RUN, nothing written: " if dry_run else ""
    console.print(
        f"{prefix}{key}: {decision.action} ({decision.reason}): {escape(decision.explanation)}"
    )
    if result.allocation_version is not None:
        console.print(
            f"  new champion {decision.new_champion}: allocation v{result.allocation_version}"
        )


@app.command("run-cycle")
@user_errors
def run_cycle(
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Update allocations and evaluate promotions for every experiment (the scheduled job).

    A failure in one experiment is reported and the others still run; the exit code is 1 if
    any failed.
    """
    engine = _db(db)
    now = _as_of(as_of)
    failed = 0
    for summary in service.list_experiments(engine):
        try:
            cycle = service.run_cycle(engine, experiment_key=summary.key, now=now)
        except (service.ServiceError, ValueError) as exc:
            failed += 1
            errors.print(f"[red]{summary.key}: failed:[/red] {escape(str(exc))}")
            continue
        decision = cycle.promotion.decision
        console.print(
            f"{summary.key}: allocation v{cycle.allocation.version}; "
            f"{decision.action} ({decision.reason})"
        )
    if failed:
        raise typer.Exit(1)


@app.command("list")
@user_errors
def list_(db: DbOption = DEFAULT_DATABASE_URL) -> None:
    """List the experiments in the database."""
    for item in service.list_experiments(_db(db)):
        console.print(
            f"{item.key} v{item.version}: {item.name}; champion {item.champion}; "
            f"{item.assigned:,} debtors; allocation v{item.allocation_version}"
        )


@app.command()
@user_errors
def report(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Print the KPI table per arm and the promotion log."""
    engine = _db(db)
    now = _as_of(as_of) if as_of else service.default_as_of(engine, experiment_key=key)
    result = service.experiment_report(engine, experiment_key=key, now=now, only_promotions=True)
    console.print(kpi_table(result))
    console.print(promotion_table(result.promotions))


@app.command()
@user_errors
def outcomes(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    debtor: Annotated[
        list[str] | None, typer.Option("--debtor", "-d", help="Only these debtor ids.")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write all rows to this CSV.")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows to print without --output.")] = 20,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Per-debtor outcomes: arm, propensity, versions, payment, churn, cost and CLV."""
    engine = _db(db)
    now = _as_of(as_of) if as_of else service.default_as_of(engine, experiment_key=key)
    rows = service.assignment_outcomes(
        engine,
        experiment_key=key,
        now=now,
        debtor_ids=debtor,
        limit=None if output else limit,
    )
    frame = pd.DataFrame(
        [{**vars(r.outcome), "treatment_cost": r.treatment_cost, "clv": r.clv} for r in rows]
    )
    if output is not None:
        write_csv(frame, output)
        console.print(f"{len(frame):,} assignments -> {output}")
    elif frame.empty:
        console.print("no assignments")
    else:
        console.print(frame.to_string(index=False), markup=False, highlight=False)


@app.command()
@user_errors
def analyze(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    segment: Annotated[
        list[str] | None,
        typer.Option("--segment", "-s", help="Only debtors of this segment (repeatable)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output (docs/analysis-json.md).")
    ] = False,
    by_segment: Annotated[
        bool,
        typer.Option(
            "--by-segment", help="Pay-on-time per segment x arm (hierarchical model) instead."
        ),
    ] = False,
    tenure: Annotated[
        Path | None,
        typer.Option(
            help="Subscriber tenure CSV: value CLV with a fitted shifted-beta-geometric model."
        ),
    ] = None,
    cohort: Annotated[
        str | None, typer.Option(help="Cohort of the tenure table to use (if several).")
    ] = None,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
) -> None:
    """Every KPI per arm with 95% intervals, Bayesian and frequentist, and the SRM check."""
    engine = _db(db)
    now = _as_of(as_of) if as_of else service.default_as_of(engine, experiment_key=key)
    if by_segment:
        fit = service.segment_model(engine, experiment_key=key, now=now)
        if as_json:
            typer.echo(json.dumps(fit.to_dict(), indent=2, allow_nan=False))
        else:
            console.print(segment_table(fit))
            console.print(f"{fit.method} fit in {fit.seconds:.2f} s; seed {fit.seed}")
        return
    churn_model = None
    if tenure is not None:
        subscribers = read_tenure(tenure)
        with errors.status(f"fitting the churn model to {len(subscribers):,} subscribers..."):
            churn_model = service.fit_churn_model(subscribers)
        if cohort is not None and cohort not in churn_model.cohorts:
            raise service.ServiceError(
                f"cohort {cohort!r} is not in {tenure}; cohorts: {', '.join(churn_model.cohorts)}"
            )
        if cohort is None and len(churn_model.cohorts) > 1:
            raise service.ServiceError(
                f"{tenure} has cohorts {', '.join(churn_model.cohorts)}: choose one with --cohort"
            )
    result = service.analyze_experiment(
        engine,
        experiment_key=key,
        now=now,
        segments=segment,
        churn_model=churn_model,
        cohort=cohort,
    )
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
        return
    scope = f"segment(s) {', '.join(result.segments)}" if result.segments else "all debtors"
    console.print(
        f"[bold]{result.name}[/bold] ({result.experiment} v{result.experiment_version}), {scope}, "
        f"as of {result.as_of:%Y-%m-%d %H:%M} UTC; champion {result.champion} (*); "
        f"{result.strata} allocation strata; Monte Carlo seed {result.seed}; "
        f"CLV model: {result.clv_model}"
    )
    for table in analysis_tables(result):
        console.print(table)
    if result.holdout is not None:
        h = result.holdout
        console.print(
            f"Bandit vs randomized holdout (champion only), pay on time: "
            f"{100 * h.bandit_rate:.1f}% of {h.bandit_units:,} vs {100 * h.holdout_rate:.1f}% of "
            f"{h.holdout_units:,}; uplift {100 * h.uplift:+.2f} pp "
            f"[{100 * h.uplift_low:+.2f}, {100 * h.uplift_high:+.2f}], "
            f"P(bandit better) {h.prob_bandit_better:.3f}"
        )
    srm = result.srm
    verdict = "[red]MISMATCH[/red]" if srm.flagged else "[green]healthy[/green]"
    counts = ", ".join(
        f"{arm} {srm.observed[arm]:,.0f}/{srm.expected[arm]:,.0f}" for arm in srm.observed
    )
    console.print(
        f"Sample ratio check (observed/expected from each period's weights): {verdict}, "
        f"p = {srm.p_value:.4g} (flags below {srm.threshold:g}); {counts}"
        + (f"; {escape(srm.reason)}" if srm.reason else "")
    )


@app.command("ope")
@user_errors
def ope_command(
    log: Annotated[
        Path,
        typer.Argument(
            help="Logged decisions: action, reward, propensity, context (.csv/.parquet)."
        ),
    ],
    target: Annotated[
        Path,
        typer.Option("--target", help="Target policy: one row per LOG row, one column per arm."),
    ],
    estimator: Annotated[
        ope.Estimator,
        typer.Option(help="ipw | snips | dr (dr needs reward_hat_<arm> columns in LOG)."),
    ] = "snips",
    clip: Annotated[float | None, typer.Option(help="Cap on importance weights, e.g. 100.")] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Estimate a target policy's value from logged decisions before any debtor gets it."""
    name = estimator
    data = read_ope_inputs(log, target, estimator=name)
    rng = np.random.default_rng(seed)
    result = ope.evaluate(
        data.actions,
        data.rewards,
        data.propensities,
        data.target,
        estimator=name,
        reward_model=data.reward_model,
        clip=clip,
        rng=rng,
    )
    logging_value = ope.value_of_logging_policy(data.rewards, rng=rng)
    if as_json:

        def clean(estimate: ope.OpeEstimate) -> dict[str, object]:
            values = dataclasses.asdict(estimate) | {"ess_share": estimate.ess_share}
            return {
                k: None if isinstance(v, float) and not math.isfinite(v) else v
                for k, v in values.items()
            }

        payload = {
            "schema_version": 1,
            "arms": list(data.arms),
            "seed": seed,
            "target": clean(result),
            "logging": clean(logging_value),
        }
        typer.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    table = Table("policy", "estimator", "value", "95% CI", "std error", "ESS (share)", "clipped")
    for label, e in (("target", result), ("logging (on-policy)", logging_value)):
        table.add_row(
            label,
            e.estimator,
            f"{e.value:.4f}",
            f"[{e.ci_low:.4f}, {e.ci_high:.4f}]",
            f"{e.std_error:.4f}",
            f"{e.ess:,.0f} ({e.ess_share:.0%})",
            f"{e.n_clipped:,}" + (f" at {e.clip:g}" if e.clip is not None else ""),
        )
    console.print(table)
    console.print(f"{result.n:,} decisions; arms {', '.join(data.arms)}; bootstrap seed {seed}")


def _reset_demo_database(url: str, *, reset: bool) -> None:
    parsed = make_url(url)
    if url == DEMO_DATABASE_URL or (reset and parsed.get_backend_name() == "sqlite"):
        if parsed.database and parsed.database != ":memory:":
            for suffix in ("", "-wal", "-shm"):
                Path(parsed.database + suffix).unlink(missing_ok=True)
    elif reset:
        from engine.store.db import drop_schema, make_db

        drop_schema(make_db(url))


@app.command()
@user_errors
def demo(
    experiment: Annotated[Path, typer.Option(help="Experiment file to run.")] = Path(
        "experiments/dunning_channels.yaml"
    ),
    days: Annotated[int, typer.Option(min=1, help="Days to simulate.")] = 90,
    per_day: Annotated[int, typer.Option(min=1, help="Overdue debtors per day.")] = 2_000,
    seed: Annotated[int, typer.Option(help="Seed of the whole simulation.")] = 2026,
    db: Annotated[
        str, typer.Option("--db", help="Database URL; the default demo file is recreated.")
    ] = DEMO_DATABASE_URL,
    reset: Annotated[
        bool, typer.Option("--reset", help="Drop all engine tables of --db first.")
    ] = False,
) -> None:
    """Simulate days of overdue debtors through the real loop and report what happened."""
    from engine.demo import DayProgress, default_start, run_demo

    loaded = load_experiment(experiment)
    _reset_demo_database(db, reset=reset)
    engine = _db(db)
    if service.has_assignments(engine, experiment_key=loaded.experiment.key):
        raise service.ServiceError(
            f"{db} already holds debtors of {loaded.experiment.key!r}; pass --reset to start over"
        )
    console.print(
        f"Simulating {days} days x {per_day:,} overdue debtors of {loaded.experiment.key} "
        f"into {db} (seed {seed})"
    )
    with Progress(
        TextColumn("day"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("demo", total=days, status="")

        def on_day(day: DayProgress) -> None:
            progress.update(
                task,
                completed=day.day,
                status=f"champion {day.champion}, most traffic {day.leader}",
            )

        result = run_demo(
            engine,
            loaded,
            days=days,
            debtors_per_day=per_day,
            seed=seed,
            start=default_start(days),
            on_day=on_day,
        )
    console.print(kpi_table(result.report, truth=result.true_pay_on_time))
    promotions = [p for p in result.report.promotions if p.action == "promote"]
    if promotions:
        console.print(promotion_table(promotions))
    else:
        console.print("No promotion: the champion kept its title.")
    final = max(result.report.kpis, key=lambda row: row.traffic_share)
    verdict = "agrees" if final.arm == result.true_best else "does NOT agree"
    best_rate = result.true_pay_on_time[result.true_best]
    console.print(
        f"True best arm on pay-on-time: {result.true_best} ({100 * best_rate:.1f}%); the bandit's "
        f"final traffic favours {final.arm} ({100 * final.traffic_share:.0f}%): it {verdict}."
    )
    clv_note = [r for r in result.report.kpis if not r.champion and not math.isnan(r.clv_uplift)]
    if clv_note:
        best_clv = max(clv_note, key=lambda row: row.clv_uplift)
        console.print(
            f"Highest CLV uplift vs champion: {best_clv.arm} "
            f"({best_clv.clv_uplift:+,.0f} {result.report.currency} per debtor): churn matters."
        )
    console.print(
        f"{result.debtors:,} debtors, {result.events:,} events in {result.seconds:.1f} s. "
        "See it in the dashboard: make dashboard"
    )


def main() -> None:  # pragma: no cover - console entry point
    app()
