"""Batch files in and out: ``dunning assign`` and ``dunning ingest``.

Bad rows are set aside in a rejects file and the good rows are loaded in one transaction.
Exit codes: 0 every row loaded; 3 the good rows loaded, some rows rejected; 2 nothing loaded
(the file as a whole is unusable, every row was rejected, or ``--strict`` and a row was
rejected); 1 a refused operation or an unreachable database.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from engine import service
from engine.cli.common import (
    AsOfOption,
    DbOption,
    JsonOption,
    KeyArgument,
    OverwriteOption,
    app,
    check_output_paths,
    console,
    emit_json,
    errors,
    open_database,
    parse_time,
    resolve_as_of,
    user_errors,
)
from engine.plural import counted
from engine.settings import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from engine.batchio import Output, OutputKind, Rejects
    from engine.batchio.outputs import TableWriter
    from engine.service.answers import AssignResult

#: Exit code of a run that loaded the good rows and rejected others.
EXIT_PARTIAL = 3
BATCH_EXIT_CODES = (
    "Exit codes: 0 every row loaded; 3 the good rows loaded, the bad ones set aside in the "
    "rejects file; 2 nothing loaded (an unusable file, every row rejected, or --strict); "
    "1 refused, or a database error."
)
#: Rejected rows printed on stderr; the rejects file has them all.
SHOWN_REJECTS = 20

RejectsOption = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        metavar="FILE",
        help="Where to write the rejected rows (CSV) [default: <input name>.rejects.csv next "
        "to the input]; written on every run, header only when nothing was rejected.",
    ),
]
StrictOption = Annotated[
    bool, typer.Option("--strict", help="Load nothing if any row is rejected (exit code 2).")
]


#: The output of ``assign``; its first column is the experiment's unit, whatever its name.
def treatments_file() -> OutputKind:
    """The output of ``assign``; its first column is the experiment's unit, whatever its
    name. (A function: the batch file module loads pandas, which ``--help`` must not.)"""
    from engine.batchio import OutputKind
    from engine.batchio.outputs import TABLE_SUFFIXES, columns_like

    return OutputKind(
        "treatments file",
        TABLE_SUFFIXES,
        columns_like(("status", "arm", "treatment", "propensity", "allocation_version", "new")),
    )


def _rejects_output(input_path: Path, target: Path | None) -> Output:
    from engine.batchio import Output, default_rejects_path
    from engine.batchio.rejects import REJECTS_FILE

    path = target if target is not None else default_rejects_path(input_path)
    return Output(path, REJECTS_FILE, "--rejects")


def _set_aside(rejects: Rejects, records: int, path: Path, *, strict: bool) -> Path:
    """Write the rejects file and report the rejected rows; stop (exit 2) when nothing will be
    loaded. Returns the rejects file's path."""
    rejects.write(path)
    if not rejects.count:
        return path
    for issue in rejects.issues[:SHOWN_REJECTS]:
        errors.print(str(issue), markup=False, highlight=False)
    if len(rejects.issues) > SHOWN_REJECTS:
        errors.print(f"... and {len(rejects.issues) - SHOWN_REJECTS:,} more problem(s)")
    summary = f"{rejects.count:,} of {records:,} row(s) rejected, listed in {escape(str(path))}"
    if strict or rejects.count == records:
        errors.print(f"[red]{summary}; nothing was loaded.[/red]", highlight=False)
        raise typer.Exit(2)
    left = records - rejects.count
    errors.print(f"[yellow]{summary}; the other {left:,} are loaded.[/yellow]", highlight=False)
    return path


def _treatments(result: AssignResult, unit: str, case: str | None = None) -> pd.DataFrame:
    """The output file: one row per debtor row (with ``unit.case``: per case) that was not
    rejected."""
    import numpy as np
    import pandas as pd

    out = ~result.eligible
    cases = {} if case is None else {case: result.case_id}
    return pd.DataFrame(
        {
            unit: result.debtor_id,
            **cases,
            "status": np.where(result.eligible, "assigned", "ineligible"),
            "arm": result.arm,
            # What to do with the debtor: the arm's treatment, or the one a router arm chose.
            "treatment": result.treatment,
            "propensity": np.where(out, np.nan, result.propensity),
            "allocation_version": pd.Series(result.allocation_version, dtype="Int64").mask(out),
            "experiment_version": pd.Series(result.experiment_version, dtype="Int64").mask(out),
            "holdout": pd.Series(result.holdout, dtype="boolean").mask(out),
            "new": result.new,
            "reason": result.reason,
        }
    )


def _treatments_schema(unit: str, case: str | None = None) -> pa.Schema:
    """Column types of the treatments file (Parquet), fixed before the first chunk."""
    import pyarrow as pa

    cases = [] if case is None else [(case, pa.string())]
    return pa.schema(
        [
            (unit, pa.string()),
            *cases,
            ("status", pa.string()),
            ("arm", pa.string()),
            ("treatment", pa.string()),
            ("propensity", pa.float64()),
            ("allocation_version", pa.int64()),
            ("experiment_version", pa.int64()),
            ("holdout", pa.bool_()),
            ("new", pa.bool_()),
            ("reason", pa.string()),
        ]
    )


def _open_output(path: Path, schema: pa.Schema) -> TableWriter:
    from engine.batchio import OutputWriteError
    from engine.batchio.outputs import TableWriter

    try:
        return TableWriter(path, schema)
    except OutputWriteError as exc:
        errors.print(f"[red]{escape(str(exc))}.[/red] Nothing was stored.", highlight=False)
        raise typer.Exit(1) from None


def _finish_output(writer: TableWriter, what: str) -> None:
    """Rename the written file into place, once the database has committed."""
    from engine.batchio import OutputWriteError

    try:
        writer.finish()
    except OutputWriteError as exc:
        errors.print(
            f"[red]{escape(str(exc))}.[/red] The {what} are stored; run again with another "
            "--output (assignment is sticky: the same arms come back).",
            highlight=False,
        )
        raise typer.Exit(1) from None


@app.command(epilog=BATCH_EXIT_CODES)
@user_errors
def assign(
    key: KeyArgument,
    input: Annotated[
        Path, typer.Option("--input", "-i", metavar="FILE", help="Debtors (.csv or .parquet).")
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Treatments to write (.csv or .parquet)."
        ),
    ],
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    overwrite: OverwriteOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: AsOfOption = None,
    as_json: JsonOption = False,
) -> None:
    """Assign the eligible debtors of a file to arms (sticky) and write their treatments."""
    from engine.batchio import DebtorStream, Output, OutputWriteError
    from engine.progress import progress

    rejects_file = _rejects_output(input, rejects)
    outputs = [Output(output, treatments_file()), rejects_file]
    check_output_paths(outputs, inputs=[input], db=db, overwrite=overwrite)
    engine = open_database(db)
    experiment = service.current_experiment(engine, experiment_key=key)
    debtors = DebtorStream(
        input,
        segment_columns=experiment.segment_columns,
        eligibility=experiment.eligibility,
        id_column=experiment.customer_column,
        case_column=experiment.case_column,
    )
    unit, case = experiment.customer_column, experiment.case_column
    writer = _open_output(output, _treatments_schema(unit, case))
    total = new = ineligible = new_cases = 0
    try:
        with (
            progress("assign") as shown,
            service.assignment_job(engine, experiment_key=key, now=resolve_as_of(as_of)) as job,
        ):
            # With cases, a case id stored for another customer is set aside with its line.
            for chunk in debtors.chunks(None if case is None else job.foreign_cases):
                result = job.assign(
                    chunk.debtor_id,
                    chunk.segment,
                    chunk.amount_owed,
                    chunk.attributes,
                    chunk.case_id,
                    cases_screened=True,  # the reader set another customer's case ids aside
                )
                writer.write(_treatments(result, unit, case))
                total += len(result.debtor_id)
                new_cases += result.new_cases
                new += result.new_count
                ineligible += result.ineligible_count
                shown.update(done=debtors.table.done() / max(debtors.table.size, 1), rows=total)
            # Still inside the transaction: --strict or nothing good rolls it all back.
            rejects_path = _set_aside(
                debtors.rejects, debtors.records, rejects_file.path, strict=strict
            )
    except OutputWriteError as exc:
        writer.discard()
        errors.print(f"[red]{escape(str(exc))}.[/red] Nothing was stored.", highlight=False)
        raise typer.Exit(1) from None
    except BaseException:
        writer.discard()
        raise
    _finish_output(writer, "assignments")
    kept = total - new - ineligible
    if as_json:
        emit_json(
            {
                "experiment": key,
                "rows": debtors.records,
                "debtors": total,
                "new": new,
                "kept": kept,
                "ineligible": ineligible,
                **({} if case is None else {"new_cases": new_cases}),
                "rejected": debtors.rejects.count,
                "output": output,
                "rejects": rejects_path,
            }
        )
    elif case is not None:
        console.print(
            f"{total:,} cases ({new_cases:,} new): {new:,} customers newly assigned, "
            f"{kept:,} kept their customer's arm, {ineligible:,} ineligible "
            f"-> {escape(str(output))}"
        )
    else:
        console.print(
            f"{counted(total, 'debtor')}: {new:,} newly assigned, "
            f"{kept:,} kept their arm, {ineligible:,} ineligible -> {escape(str(output))}"
        )
    if debtors.rejects.count:
        raise typer.Exit(EXIT_PARTIAL)


@app.command(epilog=BATCH_EXIT_CODES)
@user_errors
def ingest(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Events (.csv or .parquet).")],
    rejects: RejectsOption = None,
    strict: StrictOption = False,
    overwrite: OverwriteOption = False,
    db: DbOption = DEFAULT_DATABASE_URL,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            metavar="TIME",
            parser=parse_time,
            help="Record the events as ingested at this time, ISO 8601 (no offset: UTC) "
            "[default: now]; not before the latest ingestion.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load outcome events; a re-sent event id changes nothing."""
    from engine.batchio import EventStream
    from engine.progress import progress

    rejects_file = _rejects_output(path, rejects)
    check_output_paths([rejects_file], inputs=[path], db=db, overwrite=overwrite)
    events = EventStream(path)
    engine = open_database(db)
    with (
        progress("ingest") as shown,
        service.ingestion_job(engine, now=resolve_as_of(as_of)) as job,
    ):
        # An event naming a case that is no stored case of its debtor is set aside.
        for chunk in events.chunks(job.unmatched_cases):
            job.ingest(chunk, cases_screened=True)  # the reader set unknown case ids aside
            shown.update(done=events.table.done() / max(events.table.size, 1), rows=job.received)
        # Still inside the transaction: --strict or nothing good rolls it all back.
        rejects_path = _set_aside(events.rejects, events.records, rejects_file.path, strict=strict)
    result = job.result
    if as_json:
        emit_json(
            {
                "rows": events.records,
                "received": result.received,
                "inserted": result.inserted,
                "duplicates": result.duplicates,
                "rejected": events.rejects.count,
                "rejects": rejects_path,
            }
        )
    else:
        console.print(
            f"{counted(result.received, 'event')}: {result.inserted:,} new, "
            f"{result.duplicates:,} already known"
        )
    if events.rejects.count:
        raise typer.Exit(EXIT_PARTIAL)
