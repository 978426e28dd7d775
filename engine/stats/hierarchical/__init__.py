"""Hierarchical per-segment model of a rate: partial pooling across debtor types, per arm.

Model
-----
For each arm ``a`` separately (the arms share no parameters, so the joint posterior factorises
over arms), segments ``s = 1..S`` (the 16 debtor types) have pay-on-time rates drawn from a
common Beta population, the hierarchical Beta-Binomial model of Gelman et al., *Bayesian Data
Analysis*, 3rd ed. (BDA3), ch. 5, sec. 5.3 (the rat-tumour example)::

    y[s, a] ~ Binomial(n[s, a], theta[s, a])
    theta[s, a] ~ Beta(mu[a] * kappa[a], (1 - mu[a]) * kappa[a])
    mu[a] ~ Uniform(0, 1)                  # population mean rate of the arm
    v[a] = kappa[a] ** -0.5 ~ Uniform(0, 1)  # ~ between-segment spread, kappa >= 1

The hyperprior is BDA3's p(alpha, beta) ∝ (alpha + beta)^(-5/2) (eq. 5.9: uniform on
``(alpha / (alpha + beta), (alpha + beta)^(-1/2))``), restricted to ``kappa >= 1`` so that it is
proper. It is weakly informative: any population mean, any spread from complete pooling
(``v -> 0``) to segments as dispersed as a Beta with ``alpha + beta = 1``. ``sd(theta | mu, v)
~= v * sqrt(mu * (1 - mu))`` for small ``v``, so ``v`` reads as the between-segment spread.
A segment without data gets the population distribution: the pooled estimate with a wide
interval. Small segments are shrunk towards the arm's pooled mean, large ones barely move.

Fitting methods
---------------
``"exact"`` (and ``"auto"``). By conjugacy, ``theta | y, mu, kappa`` is
``Beta(mu kappa + y, (1 - mu) kappa + n - y)`` and ``p(mu, kappa | y)`` is known up to a
constant in closed form (BDA3 eq. 5.8, a product of Beta-Binomial likelihoods). We integrate
the two hyperparameters per arm numerically on a grid in ``(logit mu, log v)`` (BDA3 sec. 5.3
does the same), placed around the posterior mode and widened until the density on its edges is
below ``1e-9`` of the peak; the midpoint rule on this smooth, fast-decaying integrand is accurate
far beyond the tolerances below. Posterior means follow in closed form, equal-tailed intervals
are quantiles of the Beta mixture (safeguarded Newton on the mixture CDF), and
P(arm is best in segment) is Monte Carlo over joint draws (arms independent) from an injected
seed. ``kappa`` is truncated at ``1e10`` (``v >= 1e-5``): such a Beta is complete pooling for
any realistic count, and the discarded prior mass is ``1e-5``.

``"nuts"`` samples the same model (centred, PyMC's natural parameterisation) with PyMC's NUTS;
``"nutpie"`` samples it with nutpie, whose compiled model is cached per array shape and reused
with new data (``CompiledModel.with_data``). With hundreds to thousands of debtors per cell the
likelihood dominates and the centred parameterisation is the efficient one; the non-centred
one (Papaspiliopoulos, Roberts & Sköld 2007; Betancourt & Girolami 2015) helps when the data
are weak, and the exact path makes the choice moot.

Validation (``tests/stats/test_hierarchical.py``). The exact path IS the model of record, and it
is validated against NUTS on the same model: posterior means within ``MEAN_TOLERANCE`` (0.005)
and 95% interval endpoints within ``INTERVAL_TOLERANCE`` (0.01) in every cell with data (measured:
0.0035 and 0.004 against 4 x 2,500 NUTS draws); an empty cell, whose posterior is almost as wide
as the population, within 0.01 and 0.04, the size of the MCMC's own error of a tail quantile
there. Against an independent brute-force quadrature on (mu, v) it agrees to 1e-4.

Convergence is checked, never assumed (thresholds of Vehtari, Gelman, Simpson, Carpenter &
Bürkner 2021, "Rank-normalization, folding, and localization: an improved R-hat", *Bayesian
Analysis* 16(2)): every parameter needs rank-normalised split R-hat ``<= 1.01``, bulk and tail
effective sample size ``>= 400``, and the sampler must report no divergent transition. The exact
path is "converged" when its grid captured the posterior (edge density below ``1e-9`` of the
peak). A fit that fails its check is REFUSED: :func:`fit_segments` raises
:class:`NotConvergedError` with the reason and the diagnostics (``on_failure="raise"``, the
default). Batch jobs that must not stop may pass ``on_failure="return"`` and get a
:class:`SegmentFit` with ``converged=False`` and ``reason`` set, which they must check before
showing any number.

PyMC, PyTensor, ArviZ and nutpie are imported lazily inside the functions that need them, so
importing this package costs numpy and scipy only.

Layout: :mod:`.result` (the result value and the refusal), :mod:`.model` (input validation and
the PyMC model), :mod:`.exact` (the grid path), :mod:`.mcmc` (the NUTS and nutpie paths and
their convergence checks) and :mod:`.fit` (the public entry point :func:`fit_segments`).
"""

from engine.stats.hierarchical.exact import _LOG_EDGE as _LOG_EDGE
from engine.stats.hierarchical.exact import _MAX_GRID_ROUNDS as _MAX_GRID_ROUNDS
from engine.stats.hierarchical.exact import EDGE_DENSITY_MAX as EDGE_DENSITY_MAX
from engine.stats.hierarchical.exact import GRID_POINTS as GRID_POINTS
from engine.stats.hierarchical.exact import INTERVAL_TOLERANCE, MEAN_TOLERANCE
from engine.stats.hierarchical.exact import LOG_V_MIN as LOG_V_MIN
from engine.stats.hierarchical.exact import LOGIT_MU_MAX as LOGIT_MU_MAX
from engine.stats.hierarchical.exact import _ArmGrid as _ArmGrid
from engine.stats.hierarchical.exact import _curvature_sd as _curvature_sd
from engine.stats.hierarchical.exact import _fit_arm_exact as _fit_arm_exact
from engine.stats.hierarchical.exact import _fit_exact as _fit_exact
from engine.stats.hierarchical.exact import _hyper as _hyper
from engine.stats.hierarchical.exact import _log_posterior as _log_posterior
from engine.stats.hierarchical.exact import _mixture_quantiles as _mixture_quantiles
from engine.stats.hierarchical.fit import fit_segments
from engine.stats.hierarchical.mcmc import ESS_MIN, RHAT_MAX
from engine.stats.hierarchical.mcmc import _diagnose as _diagnose
from engine.stats.hierarchical.mcmc import _fit_mcmc as _fit_mcmc
from engine.stats.hierarchical.model import _nutpie_compiled as _nutpie_compiled
from engine.stats.hierarchical.model import _validate as _validate
from engine.stats.hierarchical.model import build_model
from engine.stats.hierarchical.result import FloatArray as FloatArray
from engine.stats.hierarchical.result import Method, NotConvergedError, SegmentFit
from engine.stats.hierarchical.result import _p_best_from_draws as _p_best_from_draws

__all__ = [
    "ESS_MIN",
    "INTERVAL_TOLERANCE",
    "MEAN_TOLERANCE",
    "RHAT_MAX",
    "Method",
    "NotConvergedError",
    "SegmentFit",
    "build_model",
    "fit_segments",
]
