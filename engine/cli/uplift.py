"""``dunning uplift fit``: fit a router on a randomised log, write its model file, show its OPE."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from engine.cli.common import (
    OverwriteOption,
    app,
    check_output_paths,
    console,
    errors,
    user_errors,
)

if TYPE_CHECKING:
    from engine.batchio import OutputKind


def _router_file() -> OutputKind:
    from engine.batchio import OutputKind
    from engine.batchio.outputs import JSON_SUFFIXES, json_like
    from engine.uplift.stored import FORMAT

    return OutputKind("router model", JSON_SUFFIXES, json_like({"format": FORMAT}))


uplift_app = typer.Typer(help="Uplift routing challengers: fit a router from randomised logs.")
app.add_typer(uplift_app, name="uplift")


@uplift_app.command(
    "fit", epilog="Exit codes: 0 fitted and written; 2 an unusable LOG or a bad option."
)
@user_errors
def fit(
    log: Annotated[
        Path,
        typer.Argument(
            help="Randomised log: action, reward (0/1), propensity, debtor_type, amount_owed."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model file to write (JSON).")],
    soft_arm: Annotated[
        str, typer.Option(help="Arm for debtors likely to pay under it.")
    ] = "friendly_sms",
    default_arm: Annotated[
        str, typer.Option(help="Arm for everybody else (e.g. the champion).")
    ] = "direct_collection",
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="P(pay | soft arm) needed for the soft arm.")
    ] = 0.5,
    type_column: Annotated[str, typer.Option(help="Column of PAIR type codes.")] = "debtor_type",
    amount_column: Annotated[str, typer.Option(help="Column of amounts owed.")] = "amount_owed",
    interactions: Annotated[
        bool, typer.Option(help="Pairwise interactions of the type dimensions.")
    ] = True,
    seed: Annotated[int, typer.Option(help="Seed of the cross-fitting folds and bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the model file's JSON.")] = False,
    overwrite: OverwriteOption = False,
) -> None:
    """Fit a T-learner router on LOG, write it to --output and print its off-policy value.

    The value is a cross-fitted doubly robust estimate on LOG (with its effective sample size),
    next to every "everybody gets this arm" policy estimated the same way.
    """
    import numpy as np

    from engine import uplift
    from engine.batchio import Output, write_text
    from engine.uplift_io import read_uplift_log

    check_output_paths([Output(output, _router_file())], inputs=[log], overwrite=overwrite)
    data = read_uplift_log(log, type_column=type_column, amount_column=amount_column)
    try:
        model = uplift.fit_routing_model(
            data.inputs,
            data.actions,
            data.rewards,
            data.propensities,
            arms=data.arms,
            features=uplift.pair_features(
                type_column=type_column, amount_column=amount_column, interactions=interactions
            ),
            rule=uplift.ThresholdRule(
                soft_arm=soft_arm, default_arm=default_arm, threshold=threshold
            ),
            source=data.source,
            source_sha256=data.sha256,
            reward_name="paid within the pay window",
            rng=np.random.default_rng(seed),
            seed=seed,
        )
    except ValueError as exc:
        errors.print(f"[red]error:[/red] {escape(str(log))}: {escape(str(exc))}")
        raise typer.Exit(2) from None
    text = uplift.dump_routing_model(model)
    write_text(text, output)
    if as_json:
        typer.echo(json.dumps(json.loads(text), indent=2))
        return
    evaluation = model.evaluation
    assert evaluation is not None  # fit_routing_model always evaluates
    table = Table("policy", "routed share", "DR value", "95% CI", "ESS share")
    rows = [("router", evaluation.router)] + [
        (f"everybody {escape(arm)}", est) for arm, est in evaluation.baselines.items()
    ]
    for label, est in rows:
        share = (
            escape(", ".join(f"{a} {s:.0%}" for a, s in evaluation.routed_share.items() if s > 0))
            if label == "router"
            else ""
        )
        table.add_row(
            label,
            share,
            f"{est.value:.4f}",
            f"[{est.ci_low:.4f}, {est.ci_high:.4f}]",
            f"{est.ess_share:.0%}",
        )
    console.print(table)
    console.print(
        f"{data.rewards.size:,} decisions of {escape(data.source)}; {evaluation.n_folds}-fold "
        f"cross-fitted DR, seed {seed}; model {model.content_hash[:12]} -> {escape(str(output))}"
    )
