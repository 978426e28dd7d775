"""The analysis itself: every metric through the one comparison, both readings of it, SRM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import numpy.typing as npt

from engine.analysis.clv import ClvFigures, ResidualValue, clv_figures
from engine.analysis.grid import CASE_METRICS, METRICS, StrataGrid, Stratum, strata_grid
from engine.analysis.holdout import compare_holdout
from engine.analysis.results import (
    LEVEL,
    NAN,
    Analysis,
    ArmResult,
    MetricResult,
    SrmSummary,
)
from engine.analysis.roles import metric_roles
from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.stats.comparison import (
    CHAMPION,
    NO_DATA,
    REASONS,
    Cells,
    Comparison,
    compare,
    holm_adjusted,
    prob_best,
)
from engine.stats.srm import SRM_THRESHOLD, srm_check

FloatArray = npt.NDArray[np.float64]

#: Which maturity a metric waits for: the pay window, the churn horizon, or none (treatment
#: counts are known as they are ingested).
_MATURES: dict[str, str | None] = {
    "pay_on_time": "pay",
    "collected_per_debtor": "pay",
    "churn": "churn",
    "net_value_per_debtor": "churn",
    "clv_per_debtor": "churn",
    "cases_per_1000": None,
    "reminders_per_1000": None,
    # A case's late-again window closes late_again_days after it opened; cases per customer
    # count the cases opened within the churn horizon.
    "late_again": "late_again",
    "cases_per_customer": "churn",
}
_LOWER_IS_BETTER = (
    "churn", "cases_per_1000", "reminders_per_1000", "late_again", "cases_per_customer"
)  # fmt: skip


@dataclass(frozen=True)
class Maturity:
    """Per arm, when its first assignment matures for payment and for churn, and (repeat
    cases) when its first case's late-again window closes."""

    pay: Mapping[str, datetime]
    churn: Mapping[str, datetime]
    late_again: Mapping[str, datetime] = field(default_factory=dict)

    def first(self, kind: str | None, arms: Sequence[str]) -> datetime | None:
        if kind is None:
            return None
        table = {"pay": self.pay, "churn": self.churn, "late_again": self.late_again}[kind]
        times = [table[a] for a in arms if a in table]
        return max(times) if len(times) == len(arms) else None


@dataclass(frozen=True)
class _Context:
    """What every metric's rows need besides the metric itself."""

    arms: Sequence[str]
    champion: int
    assigned: FloatArray
    maturity: Maturity
    as_of: datetime
    rng: np.random.Generator


def _status(
    metric: str, arm: int, comparison: Comparison, ctx: _Context
) -> tuple[str, str, date | None]:
    """Status, message and maturity date of one arm's figures (see ``results.Status``)."""
    arms, champion, assigned = ctx.arms, ctx.champion, ctx.assigned
    reason = int(comparison.reason[arm])
    if reason == CHAMPION and np.isfinite(comparison.level[arm]):
        return "champion", "", None
    if reason in (NO_DATA, CHAMPION):
        pair = [arms[arm]] if arm == champion else [arms[arm], arms[champion]]
        missing = [a for a in pair if assigned[arms.index(a)] == 0]
        if missing:
            return "no_units", f"no debtors assigned to {', '.join(missing)} yet", None
        when = ctx.maturity.first(_MATURES[metric], pair)
        if when is not None and when > ctx.as_of:
            return (
                "not_matured",
                f"not matured yet: the first cohort matures on {when:%Y-%m-%d}",
                when.date(),
            )
        return "not_matured", "not matured yet", None
    name = REASONS[reason]
    if name == "no_overlap":
        return name, f"{arms[arm]} and the champion never had traffic in the same stratum", None
    if name == "not_estimable":
        return name, "too few matured debtors for an interval", None
    return "ok", "", None


def _rows(
    metric: str,
    unit: str,
    comparison: Comparison,
    cells: Cells,
    ctx: _Context,
    clv: ClvFigures | None = None,
) -> list[MetricResult]:
    arms, champion, assigned = ctx.arms, ctx.champion, ctx.assigned
    higher = metric not in _LOWER_IS_BETTER
    low, high = comparison.interval(LEVEL)
    level_low, level_high = comparison.level_interval(LEVEL)
    rel, rel_low, rel_high = comparison.relative(LEVEL)
    p_beat = comparison.prob_positive()
    p_beat = p_beat if higher else 1.0 - p_beat
    loss = comparison.expected_loss(higher_is_better=higher)
    best = prob_best(comparison, champion=champion, higher_is_better=higher, rng=ctx.rng)
    p_value, p_holm = comparison.p_value(), holm_adjusted(comparison)
    units = comparison.units
    pooled_n = cells.case_sums()[0].sum(axis=-2)  # per case when a customer has several
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(pooled_n > 0, cells.total.sum(axis=-2) / pooled_n, np.nan)
    figures = {
        "estimate": comparison.level, "low": level_low, "high": level_high,
        "uplift": comparison.estimate, "uplift_low": low, "uplift_high": high,
        "prob_beat_champion": p_beat, "expected_loss": loss,
    }  # fmt: skip
    if clv is not None:  # a derived metric: the figures come from the CLV draws
        figures = {
            "estimate": clv.level, "low": clv.low, "high": clv.high,
            "uplift": clv.uplift, "uplift_low": clv.uplift_low, "uplift_high": clv.uplift_high,
            "prob_beat_champion": clv.prob_beat, "expected_loss": clv.expected_loss,
        }  # fmt: skip
        rel = rel_low = rel_high = np.full(len(arms), np.nan)
        p_value = p_holm = np.full(len(arms), np.nan)
        pooled = np.full(len(arms), np.nan)
    rows = []
    for a in range(len(arms)):
        status, message, when = _status(metric, a, comparison, ctx)
        is_champion = a == champion
        shown = status in ("ok", "champion")

        def pick(name: str, index: int = a, on: bool = shown) -> float:
            return float(figures[name][index]) if on else NAN

        has_level = np.isfinite(comparison.level[a]) and status != "not_matured"
        rows.append(
            MetricResult(
                metric=metric,
                unit=unit,
                higher_is_better=higher,
                status=status,
                message=message,
                units=int(units[a]),
                immature_share=1.0 - units[a] / assigned[a] if assigned[a] else NAN,
                estimate=pick("estimate", on=has_level),
                low=pick("low", on=has_level),
                high=pick("high", on=has_level),
                uplift=0.0 if is_champion and shown else pick("uplift"),
                uplift_low=NAN if is_champion else pick("uplift_low"),
                uplift_high=NAN if is_champion else pick("uplift_high"),
                relative_uplift=0.0 if is_champion and shown else float(rel[a]),
                relative_uplift_low=float(rel_low[a]),
                relative_uplift_high=float(rel_high[a]),
                coverage=1.0 if is_champion and shown else float(comparison.coverage[a]),
                prob_beat_champion=NAN if is_champion else pick("prob_beat_champion"),
                prob_best=float(best[a]) if shown and clv is None else NAN,
                expected_loss=0.0 if is_champion and shown else pick("expected_loss"),
                p_value=NAN if is_champion else float(p_value[a]),
                p_holm=NAN if is_champion else float(p_holm[a]),
                pooled_estimate=float(pooled[a]) if has_level else NAN,
                matures_on=when,
            )
        )
    return rows


def _metrics(
    experiment: Experiment,
    grid: StrataGrid,
    *,
    champion: int,
    assigned: FloatArray,
    maturity: Maturity,
    value: ResidualValue,
    as_of: datetime,
    rng: np.random.Generator,
    draws: int,
) -> dict[str, list[MetricResult]]:
    arms = experiment.arm_keys
    currency = experiment.currency
    units = {
        "pay_on_time": "share",
        "churn": "share",
        "collected_per_debtor": currency,
        "cases_per_1000": "per 1,000 debtors",
        "reminders_per_1000": "per 1,000 debtors",
        "late_again": "share",
        "cases_per_customer": "per customer",
    }
    ctx = _Context(arms, champion, assigned, maturity, as_of, rng)
    result: dict[str, list[MetricResult]] = {}
    comparisons: dict[str, Comparison] = {}
    # Repeat-case metrics exist only where the debtor file names a case: elsewhere every
    # debtor is one case and the analysis is exactly as it was.
    measured = METRICS | (CASE_METRICS if experiment.case_column is not None else {})
    for name, spec in measured.items():
        cells = grid.cells(spec)
        comparisons[name] = compare(cells, champion=champion)
        result[name] = _rows(name, units[name], comparisons[name], cells, ctx)
    residual = float(value.draws.mean())
    net = grid.net_value_cells(residual)
    result["net_value_per_debtor"] = _rows(
        "net_value_per_debtor", currency, compare(net, champion=champion), net, ctx
    )
    churn_cells = grid.cells(METRICS["churn"])
    figures = clv_figures(
        comparisons["churn"],
        value,
        champion=champion,
        horizon_days=experiment.metrics.churn_horizon_days,
        persistence_months=experiment.clv.effect_persistence_months,
        rng=rng,
        draws=draws,
    )
    result["clv_per_debtor"] = _rows(
        "clv_per_debtor", currency, comparisons["churn"], churn_cells, ctx, clv=figures
    )
    return result


def analyze(
    experiment: Experiment,
    *,
    champion: str,
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
    current_weights: Mapping[str, float],
    experiment_version: int,
    as_of: datetime,
    seed: int,
    segments: Sequence[str] | None = None,
    draws: int = 20_000,
    residual_value: ResidualValue | None = None,
    holdout: tuple[ArmTotals, ArmTotals] | None = None,
    constrained: Mapping[str, int] | None = None,
    maturity: Maturity | None = None,
) -> Analysis:
    """Analyse one experiment from its outcome sums.

    Parameters
    ----------
    totals
        (arm, cell) -> outcome sums of the *randomised* debtors as of ``as_of`` (matured units
        counted as in :class:`engine.metrics.ArmTotals`); a cell is an allocation version, or a
        (segment, version) pair when the allocation differs by segment (the segments are then
        the strata of the estimand, :mod:`engine.stats.comparison`).
    weights
        Cell -> each arm's assignment probability in it (the stored propensities).
    seed
        Seed of the Monte Carlo draws (P(best), CLV), reported so figures can be reproduced.
    residual_value
        Residual CLV of a customer who stays (constant retention from the experiment unless a
        shifted-beta-geometric fit gives it, :meth:`ResidualValue.from_sbg`).
    holdout
        Outcome sums (all arms) of the bandit's debtors and of the holdout's, when the
        experiment has a holdout: reported as :class:`HoldoutComparison`.
    constrained
        Debtors per arm that a contact rule sent to the fallback side: reported, never pooled.
    maturity
        Per arm, the first pay and churn due times ("not matured yet: ... matures on").
    """
    arms = experiment.arm_keys
    c = arms.index(champion)
    grid = strata_grid(arms, totals, weights)
    f = grid.fields
    rng = np.random.default_rng(seed)
    assigned = f["assigned"].sum(axis=0)
    value = residual_value if residual_value is not None else ResidualValue.constant(experiment.clv)
    when = maturity if maturity is not None else Maturity({}, {})
    per_metric = _metrics(
        experiment, grid, champion=c, assigned=assigned, maturity=when, value=value,
        as_of=as_of, rng=rng, draws=draws,
    )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.where(assigned > 0, f["cost"].sum(axis=0) / np.maximum(assigned, 1), np.nan)
    # The multinomial form uses the exact covariance of the per-cell multinomials: nominal
    # level under changing weights, where plain Pearson is conservative (engine.stats.srm).
    srm = srm_check(f["assigned"].T, grid.prob.T, method="multinomial") if grid.n_cells else None
    held_out = dict(constrained or {})
    roles = metric_roles(experiment)
    return Analysis(
        experiment=experiment.key,
        name=experiment.name,
        experiment_version=experiment_version,
        currency=experiment.currency,
        as_of=as_of,
        champion=champion,
        segments=tuple(segments) if segments is not None else None,
        strata=len(grid.strata),
        cells=grid.n_cells,
        pay_window_days=experiment.metrics.pay_window_days,
        churn_horizon_days=experiment.metrics.churn_horizon_days,
        seed=seed,
        clv=value.assumption(
            experiment.clv.effect_persistence_months, experiment.metrics.churn_horizon_days
        ),
        metric_roles=dict(roles),
        srm=SrmSummary(
            observed=dict(zip(arms, map(float, srm.observed), strict=True)) if srm else {},
            expected=dict(zip(arms, map(float, srm.expected), strict=True)) if srm else {},
            chi2=srm.chi2 if srm else NAN,
            p_value=srm.p_value if srm else NAN,
            flagged=bool(srm.flagged) if srm else False,
            threshold=SRM_THRESHOLD,
            reason=srm.reason if srm else "no assignments",
            constrained=sum(held_out.values()),
        ),
        arms=[
            ArmResult(
                arm=arm,
                label=experiment.arm(arm).display_name,
                champion=arm == champion,
                traffic_share=float(current_weights.get(arm, 0.0)),
                assigned=int(assigned[a]),
                cost_per_debtor=float(cost[a]),
                totals={
                    "collection_cases": float(f["collection_cases"][:, a].sum()),
                    "reminders": float(f["reminders"][:, a].sum()),
                    "collected": float(f["collected"][:, a].sum()),
                    "treatment_cost": float(f["cost"][:, a].sum()),
                },
                metrics={name: rows[a] for name, rows in per_metric.items()},
                constrained=int(held_out.get(arm, 0)),
            )
            for a, arm in enumerate(arms)
        ],
        holdout=compare_holdout(*holdout) if holdout is not None else None,
        first_pay_due=min(when.pay.values(), default=None),
        first_churn_due=min(when.churn.values(), default=None),
        late_again_days=experiment.late_again_window,
        first_late_again_due=min(when.late_again.values(), default=None),
    )
