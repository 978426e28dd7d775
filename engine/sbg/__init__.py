"""Shifted-beta-geometric (sBG) churn: residual value with heterogeneous customers, and fitting.

Model (Fader & Hardie 2007, "How to project customer retention", J. Interactive Marketing
21(1)): at the end of each period (a month for monthly billing) a customer alive churns with
probability ``theta``, constant for the customer; ``theta ~ Beta(alpha, beta)`` across customers.
With ``B`` the beta function and ``t = 1, 2, ...`` the period in which a customer churns,

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)          (F&H 2007, eq. 5)
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta)        (F&H 2007, eq. 6)
    r_t      = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)   (F&H 2007, eq. 8)

Retention rises with tenure: the customers who stay have low ``theta``. A customer who has made
``n`` renewals has ``theta | n ~ Beta(alpha, beta + n)``, and Fader & Hardie (2010,
"Customer-base valuation in a contractual setting: the perils of ignoring heterogeneity",
Marketing Science 29(1), eq. 6) give the discounted expected residual lifetime

    DERL(d | alpha, beta, n) = (beta + n) / (alpha + beta + n)
                               * 2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d)),

the expected discounted number of future renewals, valued just before the next renewal decision
(the first renewal undiscounted).

Convention of this module: money values follow :func:`engine.clv.residual_clv` -- a customer
alive now pays the margin ``m`` at the end of each future period survived, discounted one period
per period, so the value is ``m * DERL / (1 + d)``; as ``alpha, beta -> infinity`` with
``beta / (alpha + beta) = r`` it tends to the constant-retention ``m r / (1 + d - r)``.

Fitting uses pymc-marketing's ``ShiftedBetaGeoModel`` (imported lazily: pymc is slow to import).

Submodules: :mod:`~engine.sbg.closed_form` (survival, retention, DERL series),
:mod:`~engine.sbg.tenure` (tenure-table validation and simulation), :mod:`~engine.sbg.fit`
(the pymc-marketing fit and :class:`SbgFit`).
"""

from __future__ import annotations

from engine.sbg.closed_form import (
    FloatArray,
    sbg_derl,
    sbg_expected_residual_lifetime,
    sbg_retention,
    sbg_survival,
)
from engine.sbg.fit import SbgFit, fit_sbg
from engine.sbg.tenure import TENURE_COLUMNS, simulate_tenure_table, validate_tenure_table

__all__ = [
    "TENURE_COLUMNS",
    "FloatArray",
    "SbgFit",
    "fit_sbg",
    "sbg_derl",
    "sbg_expected_residual_lifetime",
    "sbg_retention",
    "sbg_survival",
    "simulate_tenure_table",
    "validate_tenure_table",
]
