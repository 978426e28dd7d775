"""Hierarchical segment model, 16 debtor types x 4 arms (:mod:`engine.stats.hierarchical`).

Data: the 16 PAIR types x 4 arms of :mod:`engine.simulate`, ``n`` per cell = type share x 20,000
units per arm, successes ~ Binomial(n, true pay-within-14-days rate), seed 2024.

Rows (the same statistical model on the same data in every row):

* ours: :func:`fit_segments` with ``method="auto"`` (the exact grid / conjugate path, validated
  against NUTS in ``tests/stats/test_hierarchical.py``), against PyMC's default sampler:
  ``pm.sample()`` with its defaults (NUTS, 1,000 tune + 1,000 draws, its default chains and
  cores, convergence checks on) on :func:`build_model`, the model in PyMC's natural centred
  form; only ``random_seed`` and ``progressbar=False`` are set.
* ours via nutpie (``method="nutpie"``, 4 chains x 1,000 draws after 1,000 tune, diagnostics
  checked), against the same ``pm.sample()``.

What is timed: every call end to end, as a caller in a long-running process sees it (model
build, compilation, sampling, summaries), best of ``REPEAT`` calls after one untimed warm-up
call of each contender. The warm-up fills PyTensor's on-disk C cache for ``pm.sample`` and
nutpie's per-process compiled-model cache (one numba compilation per table shape, reused with
new counts through ``CompiledModel.with_data``). ``pm.sample`` has no way to reuse its compiled
sampler, so its per-call graph compilation (about half its time) is part of its cost; the nutpie
row therefore also says what one cold nutpie compile costs, printed as a third row with compile
included on our side.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.harness import Comparison, best_of
from engine.simulate import ARMS, DEBTOR_TYPES, DEFAULT_SCENARIO, true_pay_rate
from engine.stats.hierarchical import Method, _nutpie_compiled, build_model, fit_segments

UNITS_PER_ARM = 20_000
SEED = 2024
REPEAT = 3
NAME = f"hierarchical model, {len(DEBTOR_TYPES)} types x {len(ARMS)} arms"
PEER = "PyMC default NUTS (pm.sample)"


def data() -> tuple[np.typing.NDArray[np.int64], np.typing.NDArray[np.int64]]:
    """Simulated (successes, n), shape (16, 4), from the engine's true pay-on-time rates."""
    rng = np.random.default_rng(SEED)
    n = np.rint(np.outer(DEFAULT_SCENARIO.shares(), np.full(len(ARMS), UNITS_PER_ARM)))
    truth = np.array(
        [[true_pay_rate(a, window_days=14.0, debtor_type=t) for a in ARMS] for t in DEBTOR_TYPES]
    )
    successes = rng.binomial(n.astype(np.int64), truth)
    return successes.astype(np.int64), n.astype(np.int64)


def run() -> list[Comparison]:
    import pymc as pm

    successes, n = data()

    def ours(method: Method) -> None:
        fit_segments(successes, n, segments=DEBTOR_TYPES, arms=ARMS, seed=SEED, method=method)

    def peer() -> None:
        with build_model(successes, n, segments=DEBTOR_TYPES, arms=ARMS):
            pm.sample(random_seed=SEED, progressbar=False)

    rows: list[Comparison] = []
    exact = best_of(lambda: ours("auto"), repeat=REPEAT + 1)
    peer_seconds = best_of(peer, repeat=REPEAT + 1)  # the first call warms the C cache
    rows.append(Comparison(NAME, exact, PEER, peer_seconds, limit=2.0))
    try:
        import nutpie  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:  # optional dependency: no nutpie row without it
        return rows
    _nutpie_compiled.cache_clear()
    start = time.perf_counter()
    ours("nutpie")  # cold: includes the numba compilation of the model
    cold = time.perf_counter() - start
    warm = best_of(lambda: ours("nutpie"), repeat=REPEAT)
    rows.append(Comparison(f"{NAME}, nutpie (compiled once)", warm, PEER, peer_seconds))
    rows.append(Comparison(f"{NAME}, nutpie incl. compile", cold, PEER, peer_seconds))
    return rows
