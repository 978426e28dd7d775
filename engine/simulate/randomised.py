"""A simulated randomised phase: debtors, uniformly random arms, and whether they paid in time.

The training data of an uplift router (:mod:`engine.uplift`): every arm with the same known
propensity, so the logs support any routing policy and its value has an exact truth here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.simulate.calibration import ARMS, PAY_ON_TIME_WINDOW_DAYS
from engine.simulate.debtors import sample_debtors
from engine.simulate.responses import simulate_responses
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario


def randomised_log(
    n: int,
    *,
    rng: np.random.Generator,
    arms: tuple[str, ...] = ARMS,
    window_days: float = PAY_ON_TIME_WINDOW_DAYS,
    scenario: Scenario = DEFAULT_SCENARIO,
) -> pd.DataFrame:
    """``n`` logged decisions in the format of ``dunning uplift fit`` / ``dunning ope``.

    Returns
    -------
    pandas.DataFrame
        Columns ``debtor_id, debtor_type, amount_owed, action, reward`` (1 if paid within
        ``window_days``) and ``propensity`` (``1 / len(arms)``), one row per debtor.
    """
    batch = sample_debtors(n, rng=rng, scenario=scenario)
    action = np.asarray(arms, dtype=np.str_)[rng.integers(0, len(arms), size=n)]
    responses = simulate_responses(batch, action, rng=rng, scenario=scenario)
    with np.errstate(invalid="ignore"):  # NaN delay (did not pay) compares False
        paid = responses.pay_delay_days <= window_days
    return pd.DataFrame(
        {
            "debtor_id": batch.debtor_id,
            "debtor_type": batch.debtor_type,
            "amount_owed": batch.amount_owed,
            "action": action,
            "reward": paid.astype(np.int64),
            "propensity": np.full(n, 1.0 / len(arms)),
        }
    )
