"""The experiment analysis managers read: every KPI per arm with its uncertainty. Pure.

Inputs are outcome sums per (arm, allocation period) and the traffic weights of each period.
Periods with identical consecutive weights are merged (a fixed split is one stratum), then every
metric is estimated *within* periods and combined with period weights (post-stratification), so
a bandit that shifts traffic while the baseline drifts cannot bias the comparison; see
:mod:`engine.stats.strata`.

Per metric and arm the analysis reports the Bayesian posterior (mean, 95% credible interval,
uplift against the champion in absolute and relative terms, P(beat champion), P(best), expected
loss) and the frequentist cross-check (stratified z or Welch test, confidence interval, Holm-
adjusted p-value), plus a sample-ratio-mismatch check that knows the weights changed over time.

Metrics
-------
``pay_on_time``           share paid within the pay window (matured units)
``churn``                 share churned within the horizon (matured units; lower is better)
``collected_per_debtor``  amount collected within the window per matured debtor
``cases_per_1000``        collection cases opened per 1,000 assigned debtors (lower is better)
``reminders_per_1000``    reminders sent per 1,000 assigned debtors (lower is better)
``net_value_per_debtor``  collected - treatment cost - churn x residual CLV (derived)
``clv_per_debtor``        residual CLV at the arm's retention; its uplift is the CLV uplift

Net value combines two populations: collected over pay-matured units, churn over churn-matured
units (a subset). Their draws are combined as independent, which ignores the covariance of
payment and churn within a debtor; with the horizon much longer than the window this trades a
small covariance term for using every matured payment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from statsmodels.stats.proportion import confint_proportions_2indep

from engine.clv import clv_uplift_draws, hazard_ratio_draws
from engine.config import Experiment
from engine.metrics import ArmTotals
from engine.sbg import sbg_clv_draws
from engine.stats.bayes import compare, mean_draws, rate_draws
from engine.stats.frequentist import compare_to_champion
from engine.stats.srm import SRM_THRESHOLD, srm_check
from engine.stats.strata import MetricCells, group_periods, stratified_estimate

#: A stratum: an allocation version, or (segment, version) under per-segment allocation, where
#: the split differs by segment within a period. Sortable: a segment's periods stay in order.
Stratum = int | tuple[str, int]

#: Version of the JSON shape of :meth:`Analysis.to_dict` (bump on any breaking change).
SCHEMA_VERSION = 1
LEVEL = 0.95
NAN = float("nan")

MetricName = Literal[
    "pay_on_time",
    "churn",
    "collected_per_debtor",
    "cases_per_1000",
    "reminders_per_1000",
    "net_value_per_debtor",
    "clv_per_debtor",
]


@dataclass(frozen=True)
class MetricResult:
    """One metric of one arm. Uplifts are ``arm - champion`` in the metric's unit."""

    metric: str
    unit: str
    higher_is_better: bool
    units: int  # matured units behind the estimate
    immature_share: float
    estimate: float
    low: float
    high: float
    uplift: float
    uplift_low: float
    uplift_high: float
    relative_uplift: float
    relative_uplift_low: float
    relative_uplift_high: float
    prob_beat_champion: float
    prob_best: float
    expected_loss: float
    naive_estimate: float  # pooled over periods, for contrast; biased under a bandit
    freq_diff: float = NAN
    freq_low: float = NAN
    freq_high: float = NAN
    p_value: float = NAN
    p_holm: float = NAN
    freq_note: str = ""


@dataclass(frozen=True)
class ArmResult:
    arm: str
    label: str
    champion: bool
    traffic_share: float
    assigned: int
    cost_per_debtor: float
    totals: dict[str, float]  # to date: collection cases, reminders, collected, cost
    metrics: dict[str, MetricResult]


@dataclass(frozen=True)
class SrmSummary:
    observed: dict[str, float]
    expected: dict[str, float]
    chi2: float
    p_value: float
    flagged: bool
    threshold: float
    reason: str


@dataclass(frozen=True)
class HoldoutComparison:
    """Pay-on-time of the bandit's debtors against the randomized holdout (the champion only):
    the value of the bandit policy itself (as Eppo and Statsig evaluate bandits)."""

    bandit_units: int
    holdout_units: int
    bandit_rate: float
    holdout_rate: float
    uplift: float  # bandit - holdout, posterior mean
    uplift_low: float
    uplift_high: float
    prob_bandit_better: float
    freq_low: float  # Wald interval of the difference
    freq_high: float


def compare_holdout(
    bandit: ArmTotals, holdout: ArmTotals, *, rng: np.random.Generator, draws: int = 20_000
) -> HoldoutComparison | None:
    """Bandit traffic vs holdout on pay-on-time; None without matured holdout units.

    Membership is a random hash independent of time and arm, so the two groups are concurrent
    random samples and their pooled rates compare without stratification.
    """
    if holdout.pay_matured == 0 or bandit.pay_matured == 0:
        return None
    b = rng.beta(1 + bandit.paid, 1 + bandit.pay_matured - bandit.paid, draws)
    h = rng.beta(1 + holdout.paid, 1 + holdout.pay_matured - holdout.paid, draws)
    diff = b - h
    low, high = confint_proportions_2indep(
        bandit.paid, bandit.pay_matured, holdout.paid, holdout.pay_matured, method="wald"
    )
    return HoldoutComparison(
        bandit_units=bandit.pay_matured,
        holdout_units=holdout.pay_matured,
        bandit_rate=bandit.paid / bandit.pay_matured,
        holdout_rate=holdout.paid / holdout.pay_matured,
        uplift=float(diff.mean()),
        uplift_low=float(np.quantile(diff, (1 - LEVEL) / 2)),
        uplift_high=float(np.quantile(diff, (1 + LEVEL) / 2)),
        prob_bandit_better=float(np.mean(diff > 0)),
        freq_low=float(low),
        freq_high=float(high),
    )


@dataclass(frozen=True)
class Analysis:
    """The whole analysis of one experiment (or one segment of it)."""

    experiment: str
    name: str
    experiment_version: int
    currency: str
    as_of: datetime
    champion: str
    segments: tuple[str, ...] | None  # None: all debtors
    strata: int
    pay_window_days: int
    churn_horizon_days: int
    seed: int
    clv_model: str
    srm: SrmSummary
    arms: list[ArmResult] = field(default_factory=list)
    holdout: HoldoutComparison | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able shape, versioned by ``schema_version`` (NaN becomes null)."""
        data = asdict(self)
        data["as_of"] = self.as_of.isoformat()
        data["segments"] = list(self.segments) if self.segments is not None else None
        return {"schema_version": SCHEMA_VERSION, **_json_safe(data)}


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return None if not np.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


# -- assembling cells ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """Every ArmTotals field as a (k, p) array, plus the weights of the (merged) periods."""

    fields: dict[str, npt.NDArray[np.float64]]
    weights: npt.NDArray[np.float64]

    def cells(
        self, n: str, total: str, total_sq: str | None = None, *, scale: float = 1.0
    ) -> MetricCells:
        sums = self.fields[total] * scale
        if total_sq is None:
            return MetricCells(self.fields[n], sums, sums, binary=True)
        return MetricCells(self.fields[n], sums, self.fields[total_sq] * scale**2, binary=False)


def _grid(
    arms: Sequence[str],
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
) -> _Grid:
    versions = sorted({version for _, version in totals})
    if not versions:
        versions = [max(weights)] if weights else []
    missing = [v for v in versions if v not in weights]
    if missing:
        raise ValueError(f"no weights for allocation version(s) {missing}")
    w = np.array([[weights[v].get(arm, 0.0) for v in versions] for arm in arms], dtype=float)
    empty = ArmTotals()
    names = [f.name for f in fields(ArmTotals)]
    raw = {
        name: np.array(
            [[float(getattr(totals.get((arm, v), empty), name)) for v in versions] for arm in arms],
            dtype=float,
        ).reshape(len(arms), len(versions))
        for name in names
    }
    if not versions:
        return _Grid(raw, w.reshape(len(arms), 0))
    labels = group_periods(w)
    merged = {}
    for name, values in raw.items():
        merged[name] = np.stack(
            [values[:, labels == label].sum(axis=1) for label in np.unique(labels)], axis=1
        )
    first = [int(np.flatnonzero(labels == label)[0]) for label in np.unique(labels)]
    return _Grid(merged, w[:, first])


def pay_on_time_draws(
    experiment: Experiment,
    *,
    totals: Mapping[tuple[str, Stratum], ArmTotals],
    weights: Mapping[Stratum, Mapping[str, float]],
    rng: np.random.Generator,
    draws: int,
) -> dict[str, npt.NDArray[np.float64]]:
    """Arm -> draws (draws,) of its stratified pay-on-time rate, normal approximation.

    The daily promotion check may face hundreds of (segment, period) strata; the stratified
    estimate is then a weighted sum of many independent cell means, which the central limit
    theorem makes normal, and drawing from N(mean, variance) costs nothing next to a Beta draw
    per cell. :func:`analyze` keeps the exact per-cell Beta posteriors.
    """
    grid = _grid(experiment.arm_keys, totals, weights)
    estimate = stratified_estimate(grid.cells("pay_matured", "paid"))
    sd = np.sqrt(np.nan_to_num(estimate.variance, nan=0.25))
    mean = np.nan_to_num(estimate.mean, nan=0.5)  # an arm with no data: the uniform prior
    samples = mean + sd * rng.standard_normal((draws, len(experiment.arm_keys)))
    return {arm: samples[:, a] for a, arm in enumerate(experiment.arm_keys)}


# -- the analysis ------------------------------------------------------------------------------


def _metric(
    name: str,
    unit: str,
    *,
    draws: npt.NDArray[np.float64],
    champion: int,
    higher_is_better: bool,
    units: npt.NDArray[np.float64],
    assigned: npt.NDArray[np.float64],
    naive: npt.NDArray[np.float64],
    cells: MetricCells | None,
) -> list[MetricResult]:
    bayes = compare(draws, champion=champion, higher_is_better=higher_is_better, level=LEVEL)
    freq = compare_to_champion(cells, champion=champion, level=LEVEL) if cells else None
    rows = []
    for a, b in enumerate(bayes):
        f = freq[a] if freq is not None else None
        rows.append(
            MetricResult(
                metric=name,
                unit=unit,
                higher_is_better=higher_is_better,
                units=int(units[a]),
                immature_share=1.0 - units[a] / assigned[a] if assigned[a] else NAN,
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
                naive_estimate=float(naive[a]),
                freq_diff=f.diff if f else NAN,
                freq_low=f.ci_low if f else NAN,
                freq_high=f.ci_high if f else NAN,
                p_value=f.p_value if f else NAN,
                p_holm=f.p_holm if f else NAN,
                freq_note=(f.reason if f else "derived metric: Bayesian figures only"),
            )
        )
    return rows


def _ratio(num: npt.NDArray[np.float64], den: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    with np.errstate(invalid="ignore", divide="ignore"):
        result: npt.NDArray[np.float64] = np.where(den > 0, num / np.maximum(den, 1), np.nan)
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
    grid = _grid(arms, totals, weights)
    f = grid.fields
    rng = np.random.default_rng(seed)
    alloc = experiment.allocation
    assigned = f["assigned"].sum(axis=1)

    pay = grid.cells("pay_matured", "paid")
    churn = grid.cells("churn_matured", "churned")
    collected = grid.cells("pay_matured", "collected", "collected_sq")
    cases = grid.cells("assigned", "collection_cases", "collection_cases_sq", scale=1000.0)
    reminders = grid.cells("assigned", "reminders", "reminders_sq", scale=1000.0)

    prior = {"prior_alpha": alloc.prior_alpha, "prior_beta": alloc.prior_beta}
    pay_draws = rate_draws(pay, rng=rng, draws=draws, **prior)
    churn_draws = rate_draws(churn, rng=rng, draws=draws)
    collected_draws = mean_draws(collected, rng=rng, draws=draws)
    case_draws = mean_draws(cases, rng=rng, draws=draws)
    reminder_draws = mean_draws(reminders, rng=rng, draws=draws)

    clv = experiment.clv
    horizon = experiment.metrics.churn_horizon_days
    base_clv = clv.residual_value()
    cost = np.array([experiment.arm(a).cost for a in arms])
    if sbg is None:
        uplift = clv_uplift_draws(
            churn_draws=churn_draws,
            champion=c,
            horizon_days=horizon,
            margin=clv.monthly_margin,
            retention=clv.monthly_retention,
            discount_rate=clv.monthly_discount_rate,
        )
        clv_draws = base_clv + uplift
        clv_model = f"constant retention {clv.monthly_retention:g}/month"
    else:
        ratios = hazard_ratio_draws(churn_draws=churn_draws, champion=c, horizon_days=horizon)
        clv_draws = sbg_clv_draws(
            *sbg,
            ratios,
            margin=clv.monthly_margin,
            discount_rate=clv.monthly_discount_rate,
        )
        base_clv = float(clv_draws[0, c])  # the champion's hazard ratio is exactly 1
        clv_model = f"shifted-beta-geometric alpha={sbg[0]:.4g} beta={sbg[1]:.4g}"
    # A churned debtor takes the residual CLV of a subscriber with them.
    net_draws = collected_draws - cost - base_clv * churn_draws

    naive_pay = _ratio(f["paid"].sum(1), f["pay_matured"].sum(1))
    naive_churn = _ratio(f["churned"].sum(1), f["churn_matured"].sum(1))
    naive_collected = _ratio(f["collected"].sum(1), f["pay_matured"].sum(1))
    per_arm: list[list[MetricResult]] = [
        _metric(
            "pay_on_time",
            "share",
            draws=pay_draws,
            champion=c,
            higher_is_better=True,
            units=f["pay_matured"].sum(1),
            assigned=assigned,
            naive=naive_pay,
            cells=pay,
        ),
        _metric(
            "churn",
            "share",
            draws=churn_draws,
            champion=c,
            higher_is_better=False,
            units=f["churn_matured"].sum(1),
            assigned=assigned,
            naive=naive_churn,
            cells=churn,
        ),
        _metric(
            "collected_per_debtor",
            experiment.currency,
            draws=collected_draws,
            champion=c,
            higher_is_better=True,
            units=f["pay_matured"].sum(1),
            assigned=assigned,
            naive=naive_collected,
            cells=collected,
        ),
        _metric(
            "cases_per_1000",
            "per 1,000 debtors",
            draws=case_draws,
            champion=c,
            higher_is_better=False,
            units=assigned,
            assigned=assigned,
            naive=1000 * _ratio(f["collection_cases"].sum(1), assigned),
            cells=cases,
        ),
        _metric(
            "reminders_per_1000",
            "per 1,000 debtors",
            draws=reminder_draws,
            champion=c,
            higher_is_better=False,
            units=assigned,
            assigned=assigned,
            naive=1000 * _ratio(f["reminders"].sum(1), assigned),
            cells=reminders,
        ),
        _metric(
            "net_value_per_debtor",
            experiment.currency,
            draws=net_draws,
            champion=c,
            higher_is_better=True,
            units=f["churn_matured"].sum(1),
            assigned=assigned,
            naive=naive_collected - cost - base_clv * naive_churn,
            cells=None,
        ),
        _metric(
            "clv_per_debtor",
            experiment.currency,
            draws=clv_draws,
            champion=c,
            higher_is_better=True,
            units=f["churn_matured"].sum(1),
            assigned=assigned,
            naive=np.full(len(arms), np.nan),
            cells=None,
        ),
    ]  # fmt: skip (one call per line reads as a table)

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
        churn_horizon_days=horizon,
        seed=seed,
        clv_model=clv_model,
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
                metrics={rows[a].metric: rows[a] for rows in per_arm},
            )
            for a, arm in enumerate(arms)
        ],
        holdout=compare_holdout(*holdout, rng=rng) if holdout is not None else None,
    )
