"""Uncertainty of the off-policy estimates: analytic standard error and bootstrap interval.

Uncertainty
-----------
``std_error`` is the analytic (influence-function) standard error: the sample standard deviation
of the per-decision terms over ``sqrt(n)`` for IPS and DR, and the delta-method (linearised ratio)
standard error for SNIPS. The interval is the bootstrap percentile interval (Efron & Tibshirani
1993) over ``n_boot`` resamples of the decisions, drawn with the injected generator in batches
that bound the memory (OBP's ``estimate_confidence_interval_by_bootstrap``). The effective sample
size of the (clipped) weights is Kish's ``(sum w)^2 / sum w^2`` (Kish 1965): ``n`` when all weights
are equal, small when a few decisions carry the estimate; it is the number to gate a promotion
on (a share of the log).
"""

from __future__ import annotations

import numpy as np

from engine.ope.estimate import FloatArray

DEFAULT_N_BOOT = 1000

# Bootstrap indices held at once (n_boot_batch * n); 4 million int64 = 32 MB.
_MAX_BOOT_CELLS = 4_000_000


def _bootstrap_ratio(
    num: FloatArray,
    den: FloatArray | None,
    *,
    rng: np.random.Generator,
    n_boot: int,
    level: float,
) -> tuple[float, float]:
    """Percentile interval of ``sum(num[idx]) / sum(den[idx])`` (``mean(num[idx])`` without
    ``den``) over ``n_boot`` resamples of the n decisions with replacement.

    All three estimators are a mean or a ratio of sums of per-decision terms, so resampling the
    terms is resampling the decisions. Batches of resamples bound the memory; the loop runs over
    batches, not decisions.
    """
    n = num.shape[0]
    batch = max(1, _MAX_BOOT_CELLS // n)
    stats = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, batch):
        stop = min(n_boot, start + batch)
        idx = rng.integers(0, n, size=(stop - start, n))
        top = num[idx].sum(axis=1)
        if den is None:
            stats[start:stop] = top / n
        else:
            bottom = den[idx].sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                # A resample without any positive weight has no SNIPS value: NaN, skipped below.
                stats[start:stop] = np.where(bottom > 0.0, top / bottom, np.nan)
    tail = (1.0 - level) / 2.0
    if np.all(np.isnan(stats)):
        return float("nan"), float("nan")
    low, high = np.nanquantile(stats, [tail, 1.0 - tail])
    return float(low), float(high)


def _mean_se(terms: FloatArray) -> float:
    n = terms.shape[0]
    return float(np.std(terms, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
