"""Off-policy evaluation of a policy from logged decisions."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.common import (
    app,
    console,
    user_errors,
)

if TYPE_CHECKING:
    from engine import ope


#: engine.ope.Estimator, spelled out: Typer reads an option's type when the CLI is imported,
#: and engine.ope loads numpy and the estimators (a test checks the two agree).
Estimator = Literal["ipw", "snips", "dr"]


@app.command("ope", epilog="Exit codes: 0 estimated; 2 an unusable LOG or TARGET file.")
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
        Estimator,
        typer.Option(help="ipw | snips | dr (dr needs reward_hat_<arm> columns in LOG)."),
    ] = "snips",
    clip: Annotated[float | None, typer.Option(help="Cap on importance weights, e.g. 100.")] = None,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Estimate a target policy's value from logged decisions before any debtor gets it."""
    import numpy as np

    from engine import ope
    from engine.analysis import json_safe
    from engine.ope_io import read_ope_inputs

    data = read_ope_inputs(log, target, estimator=estimator)
    rng = np.random.default_rng(seed)
    result = ope.evaluate(
        data.actions,
        data.rewards,
        data.propensities,
        data.target,
        estimator=estimator,
        reward_model=data.reward_model,
        clip=clip,
        rng=rng,
    )
    logging_value = ope.value_of_logging_policy(data.rewards, rng=rng)
    if as_json:

        def clean(estimate: ope.OpeEstimate) -> Any:
            return json_safe(dataclasses.asdict(estimate) | {"ess_share": estimate.ess_share})

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
    arms = escape(", ".join(data.arms))
    console.print(f"{result.n:,} decisions; arms {arms}; bootstrap seed {seed}")
