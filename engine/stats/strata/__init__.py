"""Post-stratification by allocation period: estimates that a bandit's changing traffic cannot bias.

Why stratify
------------
Under a bandit the share of traffic an arm receives changes from one allocation period to the
next. If the baseline drifts at the same time (fewer debtors pay on time in a downturn), the
pooled mean of an arm averages over *its own* mix of periods, and two arms are compared on
different mixes: Simpson's paradox. GrowthBook and Optimizely analyse bandits per allocation
period for this reason. Within one period assignment is a plain randomised experiment, so the
difference of cell means is unbiased for that period; a weighted average of the per-period
estimates with weights that do not depend on the arm is then unbiased for the average effect.

Estimator (Miratrix, Sekhon & Yu 2013, "Adjusting treatment effect estimates by
post-stratification in randomized experiments", JRSS B 75(2), eq. 2-3)::

    mean_a = sum_p w_p * ybar_ap,      w_p = N_p / N
    var_a  = sum_p w_p**2 * s2_ap / n_ap

where ``N_p`` is the number of matured units of period ``p`` over *all* arms (the population the
experiment saw in that period), ``n_ap`` the matured units of arm ``a`` in period ``p`` and
``s2_ap`` the variance of one unit's outcome in that cell.

Robustness rules (documented because they change numbers a manager reads)
-------------------------------------------------------------------------
* **Empty cells.** A period in which an arm has no matured unit says nothing about that arm in
  that period, and imputing it would bring the drift back. Such a period is dropped and the
  weights renormalised over the remaining periods (the *support*). The support is computed over
  the arms passed in, so every estimate in one call is on the same periods and arm means are
  comparable. To compare a pair on the largest support, pass only that pair
  (``cells.take_arms([champion, arm])``); :func:`stratified_difference` does exactly that.
  An arm with no matured unit at all is ignored when the support is chosen and gets NaN.
* **Small cells, binary metric.** ``p_hat * (1 - p_hat)`` is a poor variance in a cell with few
  units and is zero when the cell rate is 0 or 1 (a Wald interval of zero width). Such cells
  (fewer than ``small_cell`` units, or a rate of exactly 0 or 1) use the arm's pooled rate
  ``r_a * (1 - r_a)`` instead.
* **Small cells, means.** The sample variance needs two units and is noisy with few. Cells
  with fewer than ``small_cell`` units (at least 2 are always required) use the arm's pooled
  within-period variance ``sum_p SS_ap / sum_p (n_ap - 1)``, which removes the drift between
  periods. Its degrees of freedom enter the Welch-Satterthwaite formula once per arm.

With a single period every rule reduces to the textbook estimate: the stratified mean equals
the pooled mean and the variance equals ``p_hat (1 - p_hat) / n`` (binary) or ``s2 / n``.

Layout: :mod:`.cells` (the :class:`MetricCells` value object), :mod:`.periods` (traffic weights,
period grouping, support and stratum weights), :mod:`.variances` (per-cell variances with the
small-cell rules) and :mod:`.estimates` (stratified means and differences).
"""

from engine.stats.strata.cells import BoolArray as BoolArray
from engine.stats.strata.cells import FloatArray as FloatArray
from engine.stats.strata.cells import IntArray as IntArray
from engine.stats.strata.cells import MetricCells
from engine.stats.strata.cells import _as_float_array as _as_float_array
from engine.stats.strata.estimates import (
    StratifiedDifference,
    StratifiedEstimate,
    stratified_difference,
    stratified_estimate,
)
from engine.stats.strata.periods import _WEIGHT_SUM_TOL as _WEIGHT_SUM_TOL
from engine.stats.strata.periods import (
    comparison_support,
    group_periods,
    period_weights,
    validate_weights,
)
from engine.stats.strata.variances import SMALL_CELL, CellVariances, cell_variances

__all__ = [
    "SMALL_CELL",
    "CellVariances",
    "MetricCells",
    "StratifiedDifference",
    "StratifiedEstimate",
    "cell_variances",
    "comparison_support",
    "group_periods",
    "period_weights",
    "stratified_difference",
    "stratified_estimate",
    "validate_weights",
]
