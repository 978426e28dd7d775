"""Challenger vs champion: the one estimand every surface reads.

"Is arm k better than the champion on metric M, and by how much?" has one answer in this
engine, computed here: the promotion rule, ``dunning analyze`` (both its Bayesian and its
frequentist columns), ``dunning report``, the demo and every dashboard page read it.

Estimand
--------
The difference a population would see: over the randomised debtors whose outcome has matured,

    theta_k = sum_s W_s (mu_ks - mu_cs),        W_s = N_s / sum_s' N_s',

where ``s`` runs over the strata (the debtor segments when the allocation depends on the
segment, else one stratum), ``N_s`` counts the stratum's randomised matured units over *all*
arms, and ``mu_as`` is the mean outcome the stratum's units would have under arm ``a``. The
weights are population shares, never the arms' own traffic: a per-segment bandit that gives a
challenger most of the traffic where it looks good cannot tilt the answer towards those
segments (the Cochran-Mantel-Haenszel weights ``n_c n_k / (n_c + n_k)`` did exactly that).

Estimator
---------
Within a stratum the split changes with every allocation version; each unit carries the
probability ``p_i`` with which it got its arm (the propensity stored at assignment). The
stratum's mean under arm ``a`` is the Hajek (self-normalised inverse-probability) mean of the
arm's units,

    m_as = sum_i y_i / p_i / sum_i 1 / p_i          (Hajek 1971; Horvitz & Thompson 1952),

which is consistent for ``mu_as`` whatever the allocation did over time (within one allocation
period it is the plain cell mean, and the estimator is the post-stratified difference of
Miratrix, Sekhon & Yu 2013). It is the SNIPS estimate of the policy "always arm a" of
off-policy evaluation, restricted to the stratum. ``theta_k`` is estimated by
``sum_s W_s (m_ks - m_cs)``.

Variance (linearisation of the ratio, with the usual ``n / (n - 1)`` correction):

    V(m_as) = n / (n - 1) * sum_i (y_i - m_as)^2 / p_i^2 / (sum_i 1 / p_i)^2,
    V(theta_k) = sum_s W_s^2 (V(m_ks) + V(m_cs)).

With one allocation period this is ``s^2 / n`` per arm, the unequal-variance (Welch) form:
the single-stratum interval equals statsmodels' ``CompareMeans.zconfint_diff(usevar=
"unequal")`` (tested).

Support
-------
A cell enters the comparison of arm k with the champion when *both* had traffic in it
(probability > 0), whatever the other arms did, so an arm stopped on day 62 does not freeze
the others' figures. A stratum enters when both arms have units in those cells. Units outside
(an arm added later, a stratum one of the two never reached) are reported as the uncovered
share (``coverage``); debtors sent to a fallback arm by a contact rule are not randomised and
never enter (the service leaves them out and counts them apart).

Small strata
------------
A stratum in which an arm has fewer than :data:`SMALL_STRATUM` units, or whose units all have
the same 0/1 outcome, takes the arm's pooled within-stratum variance (degrees-of-freedom
weighted over its strata) instead of its own: a stratum of three debtors who all paid says
little about the spread, and a zero variance there would make the interval too narrow. No
prior is involved, so the number of strata does not change the answer.

Repeat cases
------------
A customer late again opens a new dunning case but keeps the arm of its first case, so the
customer, not the case, is the randomised unit. :meth:`Cells.clustered` carries per-customer
sums (cases ``M``, outcome total ``Y`` and their squares and product); the stratum mean is then
the mean per case, ``sum w Y / sum w M``, and its variance sums each customer's residual
``Y - m M`` before squaring (the cluster-robust linearisation; equal to statsmodels'
cluster-robust OLS with the per-arm ``G / (G - 1)`` correction, tested). Counting the cases as
independent draws would make the interval too narrow: in an A/A simulation with 1-3 cases per
customer and an intra-customer correlation of 0.5, its 95% interval covers 87.8% of the time,
the customer-level one 94.8% (``tests/stats/test_repeat_cases.py``).

Two views of one estimate
-------------------------
*Frequentist*: the Wald interval ``theta +- z V^(1/2)``, the two-sided z-test and Holm's
adjustment across challengers (:func:`holm_adjusted`). *Bayesian*: with a flat prior the
posterior of ``theta_k`` is ``N(estimate, V)`` to first order (Bernstein-von Mises), so the
95% credible interval *is* the 95% confidence interval; P(beat champion), the expected loss of
switching and P(best) (:func:`prob_best`) are read off that posterior. The promotion rule puts
its always-valid confidence sequence (:mod:`engine.promotion.sequential`) on the same estimate
and variance. The simulation tests check the coverage of the 95% interval (93-97%), including
designs with many strata of 2-5 units, and that the rule promotes a challenger that is worse on
average at most ``alpha`` of the time under a per-segment bandit with heterogeneous effects.
"""

from engine.stats.comparison.cells import Cells
from engine.stats.comparison.estimate import (
    CHAMPION,
    NO_DATA,
    NO_OVERLAP,
    NOT_ESTIMABLE,
    OK,
    REASONS,
    SMALL_STRATUM,
    ArmStrata,
    Comparison,
    arm_strata,
    compare,
)
from engine.stats.comparison.views import holm, holm_adjusted, prob_best

__all__ = [
    "CHAMPION",
    "NOT_ESTIMABLE",
    "NO_DATA",
    "NO_OVERLAP",
    "OK",
    "REASONS",
    "SMALL_STRATUM",
    "ArmStrata",
    "Cells",
    "Comparison",
    "arm_strata",
    "compare",
    "holm",
    "holm_adjusted",
    "prob_best",
]
