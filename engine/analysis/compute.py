"""The analysis itself: draws per metric, both statistical schools, SRM, assembled per arm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from engine.analysis.grid import StrataGrid, Stratum, strata_grid
from engine.analysis.holdout import compare_holdout
from engine.analysis.results import LEVEL, NAN, Analysis, ArmResult, MetricResult, SrmSummary
from engine.analysis.roles import metric_roles
from engine.clv import clv_uplift_draws, hazard_ratio_draws
from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.sbg import sbg_clv_draws
from engine.stats.bayes import compare, mean_draws, rate_draws
from engine.stats.frequentist import compare_to_champion
from engine.stats.srm import SRM_THRESHOLD, srm_check
from engine.stats.strata import MetricCells

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class _Metric:
    """What one metric needs: its posterior draws (draws, k), the units behind it (k,), the
    pooled estimate for contrast (k,), and its cells when a frequentist test applies."""

    name: str
    unit: str
    higher_is_better: bool
    draws: FloatArray
    units: FloatArray
    naive: FloatArray
    cells: MetricCells | None = None


def _results(metric: _Metric, *, champion: int, assigned: FloatArray) -> list[MetricResult]:
    bayes = compare(
        metric.draws, champion=champion, higher_is_better=metric.higher_is_better, level=LEVEL
    )
    freq = (
        compare_to_champion(metric.cells, champion=champion, level=LEVEL)
        if metric.cells is not None
        else None
    )
    rows = []
    for a, b in enumerate(bayes):
        f = freq[a] if freq is not None else None
        units = metric.units[a]
        rows.append(
            MetricResult(
                metric=metric.name,
                unit=metric.unit,
                higher_is_better=metric.higher_is_better,
                units=int(units),
                immature_share=1.0 - units / assigned[a] if assigned[a] else NAN,
                estimate=b.mean,
                low=b.low,
                high=b.high,
                uplift=b.uplift,
                uplift_low=b.uplift_low,
                uplift_high=b.uplift_high,
                relative_uplift=b.rel_uplift,
                relative_uplift_low=b.rel_uplift_low,
                relative_uplift_high=b.rel_uplift_high,
                prob_beat_champion=b.p_beat,
                prob_best=b.p_best,
                expected_loss=b.expected_loss,
                naive_estimate=float(metric.naive[a]),
                freq_diff=f.diff if f else NAN,
                freq_low=f.ci_low if f else NAN,
                freq_high=f.ci_high if f else NAN,
                p_value=f.p_value if f else NAN,
                p_holm=f.p_holm if f else NAN,
                freq_note=(f.reason if f else "derived metric: Bayesian figures only"),
            )
        )
    return rows


def _ratio(num: FloatArray, den: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        result: FloatArray = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    return result


def _clv(
    experiment: Experiment,
    churn_draws: FloatArray,
    *,
    champion: int,
    sbg: tuple[float, float] | None,
) -> tuple[FloatArray, float, str]:
    """Draws (draws, k) of each arm's residual CLV, the champion's CLV, and the model used."""
    clv = experiment.clv
    horizon = experiment.metrics.churn_horizon_days
    if sbg is None:
        base = clv.residual_value()
        uplift = clv_uplift_draws(
            churn_draws=churn_draws,
            champion=champion,
            horizon_days=horizon,
            margin=clv.monthly_margin,
            retention=clv.monthly_retention,
            discount_rate=clv.monthly_discount_rate,
        )
        return base + uplift, base, f"constant retention {clv.monthly_retention:g}/month"
    ratios = hazard_ratio_draws(churn_draws=churn_draws, champion=champion, horizon_days=horizon)
    draws = sbg_clv_draws(
        *sbg, ratios, margin=clv.monthly_margin, discount_rate=clv.monthly_discount_rate
    )
    base = float(draws[0, champion])  # the champion's hazard ratio is exactly 1
    return draws, base, f"shifted-beta-geometric alpha={sbg[0]:.4g} beta={sbg[1]:.4g}"


def _metrics(
    experiment: Experiment,
    grid: StrataGrid,
    *,
    champion: int,
    rng: np.random.Generator,
    draws: int,
    sbg: tuple[float, float] | None,
) -> tuple[list[_Metric], str]:
    f = grid.fields
    alloc = experiment.allocation
    assigned = f["assigned"].sum(axis=1)
    pay_matured, churn_matured = f["pay_matured"].sum(1), f["churn_matured"].sum(1)
    pay = grid.cells("pay_matured", "paid")
    churn = grid.cells("churn_matured", "churned")
    collected = grid.cells("pay_matured", "collected", "collected_sq")
    cases = grid.cells("assigned", "collection_cases", "collection_cases_sq", scale=1000.0)
    reminders = grid.cells("assigned", "reminders", "reminders_sq", scale=1000.0)
    prior = {"prior_alpha": alloc.prior_alpha, "prior_beta": alloc.prior_beta}
    churn_draws = rate_draws(churn, rng=rng, draws=draws)
    collected_draws = mean_draws(collected, rng=rng, draws=draws)
    clv_draws, base_clv, clv_model = _clv(experiment, churn_draws, champion=champion, sbg=sbg)
    cost = _ratio(f["cost"].sum(1), assigned)
    naive_churn = _ratio(f["churned"].sum(1), churn_matured)
    naive_collected = _ratio(f["collected"].sum(1), pay_matured)
    currency = experiment.currency
    per_1000 = "per 1,000 debtors"
    return [
        _Metric(
            "pay_on_time",
            "share",
            True,
            rate_draws(pay, rng=rng, draws=draws, **prior),
            pay_matured,
            _ratio(f["paid"].sum(1), pay_matured),
            pay,
        ),
        _Metric("churn", "share", False, churn_draws, churn_matured, naive_churn, churn),
        _Metric(
            "collected_per_debtor",
            currency,
            True,
            collected_draws,
            pay_matured,
            naive_collected,
            collected,
        ),
        _Metric(
            "cases_per_1000",
            per_1000,
            False,
            mean_draws(cases, rng=rng, draws=draws),
            assigned,
            1000 * _ratio(f["collection_cases"].sum(1), assigned),
            cases,
        ),
        _Metric(
            "reminders_per_1000",
            per_1000,
            False,
            mean_draws(reminders, rng=rng, draws=draws),
            assigned,
            1000 * _ratio(f["reminders"].sum(1), assigned),
            reminders,
        ),
        # A churned debtor takes the residual CLV of a subscriber with them.
        _Metric(
            "net_value_per_debtor",
            currency,
            True,
            collected_draws - cost - base_clv * churn_draws,
            churn_matured,
            naive_collected - cost - base_clv * naive_churn,
        ),
        _Metric(
            "clv_per_debtor",
            currency,
            True,
            clv_draws,
            churn_matured,
            np.full(len(cost), np.nan),
        ),
    ], clv_model  # fmt: skip (one metric per entry reads as a table)


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
    sbg: tuple[float, float] | None = None,
    holdout: tuple[ArmTotals, ArmTotals] | None = None,
) -> Analysis:
    """Analyse one experiment from its outcome sums.

    Parameters
    ----------
    totals
        (arm, stratum) -> outcome sums as of ``as_of`` (matured units counted as in
        :class:`engine.metrics.ArmTotals`); a stratum is an allocation version, or a
        (segment, version) pair when the allocation differs by segment.
    weights
        Stratum -> traffic weights (the propensities) in force in it.
    seed
        Seed of the Monte Carlo draws (reported, so the figures can be reproduced).
    sbg
        ``(alpha, beta)`` of a shifted-beta-geometric churn model fitted on the subscriber base
        (:func:`engine.sbg.fit_sbg`): CLV then accounts for heterogeneous churn
        (:func:`engine.sbg.sbg_clv_draws`) instead of the configured constant retention.
    holdout
        Outcome sums (all arms) of the bandit's debtors and of the holdout's, when the
        experiment has a holdout: reported as :class:`HoldoutComparison`.
    """
    arms = experiment.arm_keys
    c = arms.index(champion)
    grid = strata_grid(arms, totals, weights)
    f = grid.fields
    rng = np.random.default_rng(seed)
    assigned = f["assigned"].sum(axis=1)
    metrics, clv_model = _metrics(experiment, grid, champion=c, rng=rng, draws=draws, sbg=sbg)
    per_metric = [_results(m, champion=c, assigned=assigned) for m in metrics]
    cost = _ratio(f["cost"].sum(1), assigned)
    # The multinomial form uses the exact covariance of the per-period multinomials: nominal
    # level under changing weights, where plain Pearson is conservative (engine.stats.srm).
    srm = (
        srm_check(f["assigned"], grid.weights, method="multinomial") if f["assigned"].size else None
    )
    return Analysis(
        experiment=experiment.key,
        name=experiment.name,
        experiment_version=experiment_version,
        currency=experiment.currency,
        as_of=as_of,
        champion=champion,
        segments=tuple(segments) if segments is not None else None,
        strata=int(grid.weights.shape[1]),
        pay_window_days=experiment.metrics.pay_window_days,
        churn_horizon_days=experiment.metrics.churn_horizon_days,
        seed=seed,
        clv_model=clv_model,
        metric_roles=dict(metric_roles(experiment)),
        srm=SrmSummary(
            observed=dict(zip(arms, map(float, srm.observed), strict=True)) if srm else {},
            expected=dict(zip(arms, map(float, srm.expected), strict=True)) if srm else {},
            chi2=srm.chi2 if srm else NAN,
            p_value=srm.p_value if srm else NAN,
            flagged=bool(srm.flagged) if srm else False,
            threshold=SRM_THRESHOLD,
            reason=srm.reason if srm else "no assignments",
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
                    "collection_cases": float(f["collection_cases"][a].sum()),
                    "reminders": float(f["reminders"][a].sum()),
                    "collected": float(f["collected"][a].sum()),
                    "treatment_cost": float(cost[a] * assigned[a]),
                },
                metrics={rows[a].metric: rows[a] for rows in per_metric},
            )
            for a, arm in enumerate(arms)
        ],
        holdout=compare_holdout(*holdout, rng=rng) if holdout is not None else None,
    )
