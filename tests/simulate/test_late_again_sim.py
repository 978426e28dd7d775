"""The repeat-case simulator (engine.simulate.cases): monthly bills, repeat cases, the truth.

Tolerances. A customer's first case is one Bernoulli draw of the late-again truth (the
customers' types follow the type shares), independent across customers: its share is binomial,
so 4 standard errors ``sqrt(r (1 - r) / n)`` bound it (a false failure ~6e-5 per check). Later
cases are sequential Bernoulli trials of the same per-type rate (a case exists because the one
before was late again); their likelihood is the binomial one, so the same 4 standard errors
over the cases of one (arm, type) cell apply asymptotically.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from engine.simulate import (
    ARMS,
    DEBTOR_TYPES,
    DEFAULT_SCENARIO,
    Biller,
    CaseLog,
    case_log,
    first_cases,
    sample_debtors,
    simulate_responses,
    true_churn_rate,
    true_late_again_rate,
)
from engine.simulate.cases import next_opened_day

WINDOW = 45.0  # the YAML default of metrics.late_again_days
DAYS = 100
PERIOD = DEFAULT_SCENARIO.billing_period_days


@pytest.fixture(scope="module")
def log() -> CaseLog:
    return case_log(1200, days=DAYS, rng=np.random.default_rng(14), arms=ARMS)


def _within(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k / n - p) <= z * math.sqrt(p * (1 - p) / n)


def test_same_seed_same_cases_other_seed_differs() -> None:
    def run(seed: int) -> CaseLog:
        return case_log(200, days=40, rng=np.random.default_rng(seed), arms=ARMS)

    a, b, c = run(3), run(3), run(4)
    for name in CaseLog.__dataclass_fields__:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=name.endswith("day"))
    assert len(a) != len(c) or not np.array_equal(a.arm, c.arm)


def test_customers_get_one_two_and_three_cases_with_one_arm(log: CaseLog) -> None:
    ids, per_customer = np.unique(log.debtor_id, return_counts=True)
    counts = Counter(per_customer.tolist())
    assert counts[1] > counts[2] > counts[3] > 0
    assert counts[4] > 0  # customers of the first ten days: bills on e, e + 30, e + 60, e + 90
    assert max(counts) == 4
    assert len(ids) == 1200 * DAYS
    assert len(set(log.case_id.tolist())) == len(log), "a case id is one invoice"
    # Sticky: one arm per customer, whatever the number of cases.
    arms_per_customer = {
        (d, a) for d, a in zip(log.debtor_id.tolist(), log.arm.tolist(), strict=True)
    }
    assert len(arms_per_customer) == len(ids)
    # Cases are numbered 1, 2, 3 in the order they open, a whole number of months apart.
    order = np.lexsort((log.opened_day, log.debtor_id))
    d, n, day = log.debtor_id[order], log.case_number[order], log.opened_day[order]
    same = d[1:] == d[:-1]
    assert np.all(n[1:][same] == n[:-1][same] + 1)
    assert np.all(n[1:][~same] == 1)
    assert n[0] == 1
    gaps = (day[1:] - day[:-1])[same]
    assert np.all(gaps % PERIOD == 0)
    assert np.all(gaps > 0)
    second = np.flatnonzero(same)[0] + 1  # a customer's second case
    assert log.case_id[order][second] == f"{d[second]}-2"
    assert log.case_id[order][second - 1] == f"{d[second]}-1"


def test_first_cases_late_again_share_matches_the_truth(log: CaseLog) -> None:
    """First cases: one binomial draw per customer, types at their population shares."""
    first = (log.case_number == 1) & log.matured(WINDOW, as_of_day=DAYS)
    late = log.late_again(WINDOW)
    for arm in ARMS:
        cell = first & (log.arm == arm)
        truth = true_late_again_rate(arm, window_days=WINDOW)
        assert _within(int(late[cell].sum()), int(cell.sum()), truth), arm


def test_every_case_of_a_type_has_the_same_late_again_truth(log: CaseLog) -> None:
    matured = log.matured(WINDOW, as_of_day=DAYS)
    late = log.late_again(WINDOW)
    repeat = log.case_number >= 2
    checked = 0
    for arm in ARMS:
        for t in ("WAOE", "WACE", "WAOR", "DICE", "DICR"):
            truth = true_late_again_rate(arm, window_days=WINDOW, debtor_type=t)
            cell = matured & (log.arm == arm) & (log.debtor_type == t)
            assert _within(int(late[cell].sum()), int(cell.sum()), truth), (arm, t)
            again = cell & repeat  # the repeat cases alone: no drift with the case number
            if again.sum() >= 200:
                assert _within(int(late[again].sum()), int(again.sum()), truth), (arm, t)
                checked += 1
    assert checked >= 10


def test_relapses_count_when_the_window_spans_two_bills() -> None:
    """A window of 65 days sees the next bill and the one after: a customer who paid the next
    invoice on time may be late on the one after (the relapse path of the truth)."""
    log = case_log(800, days=100, rng=np.random.default_rng(65), arms=("no_action",))
    cell = log.matured(65.0, as_of_day=100)
    late = log.late_again(65.0)
    truth = true_late_again_rate("no_action", window_days=65.0)
    assert truth > true_late_again_rate("no_action", window_days=WINDOW) + 0.02
    assert _within(int(late[cell].sum()), int(cell.sum()), truth)


def test_truth_assumptions_friction_raises_repeat_lateness() -> None:
    rate = {arm: true_late_again_rate(arm, window_days=WINDOW) for arm in ARMS}
    # Stated assumptions: an agency case raises it, a reminder lowers it, the discount more.
    assert rate["direct_collection"] > rate["no_action"] > rate["friendly_sms"]
    assert rate["friendly_sms"] > rate["discount_nudge"]
    assert 0.35 <= rate["no_action"] <= 0.45  # a large share of late payers is late again
    # Defiant-insolvent types: reminders and offers do not reach them; only churn differs.
    for t in ("DICE", "DICR"):
        q = DEFAULT_SCENARIO.late_again_prob("no_action")[DEBTOR_TYPES.index(t)]
        for arm in ("friendly_sms", "discount_nudge"):
            assert DEFAULT_SCENARIO.late_again_prob(arm)[DEBTOR_TYPES.index(t)] == q


def test_truth_is_next_bill_overdue_times_alive() -> None:
    for arm in ARMS:
        assert true_late_again_rate(arm, window_days=PERIOD - 1) == 0.0
        alive = 1.0 - true_churn_rate(arm, horizon_days=PERIOD, debtor_type="WAOR")
        q = DEFAULT_SCENARIO.late_again_prob(arm)[DEBTOR_TYPES.index("WAOR")]
        assert true_late_again_rate(arm, window_days=WINDOW, debtor_type="WAOR") == (
            pytest.approx(q * alive, rel=1e-12)
        )
        overall = sum(
            DEFAULT_SCENARIO.type_shares[t]
            * true_late_again_rate(arm, window_days=WINDOW, debtor_type=t)
            for t in DEBTOR_TYPES
        )
        assert overall == pytest.approx(true_late_again_rate(arm, window_days=WINDOW))
        rates = [true_late_again_rate(arm, window_days=w) for w in (30, 59, 60, 90, 365)]
        assert rates == sorted(rates)
        assert rates[-1] < 1.0


def test_churned_customers_are_billed_no_more() -> None:
    rng = np.random.default_rng(0)
    always = dict.fromkeys(DEBTOR_TYPES, 0.999999)
    never_churn = replace(DEFAULT_SCENARIO, base_late_again_prob=always, base_monthly_churn=0.0)
    biller = Biller(never_churn)
    batch = first_cases(sample_debtors(50, rng=rng, scenario=never_churn))
    arms = np.full(50, "no_action")
    responses = simulate_responses(batch.debtors, arms, rng=rng, scenario=never_churn)
    biller.record(batch, arms, responses, day=0)
    assert np.all(np.isinf(biller.column("churn_day")))
    assert len(biller.overdue(PERIOD - 1, rng=rng)) == 0  # nobody's bill is due yet
    again = biller.overdue(PERIOD, rng=rng)
    assert np.array_equal(again.case_number, np.full(50, 2))
    assert np.array_equal(again.debtors.debtor_id, batch.debtors.debtor_id)
    assert np.array_equal(again.debtors.amount_owed, batch.debtors.amount_owed)  # same plan

    # Everybody churns within a day: no second bill goes out.
    churners = replace(DEFAULT_SCENARIO, base_late_again_prob=always, base_monthly_churn=500.0)
    biller = Biller(churners)
    responses = simulate_responses(batch.debtors, arms, rng=rng, scenario=churners)
    assert np.all(responses.churn_time_days < PERIOD)
    biller.record(batch, arms, responses, day=0)
    assert len(biller.overdue(PERIOD, rng=rng)) == 0


def test_a_repeat_case_takes_the_arm_it_was_given() -> None:
    """The biller follows the treatment each case got (the engine's answer), not a plan."""
    rng = np.random.default_rng(1)
    always = dict.fromkeys(DEBTOR_TYPES, 0.999999)
    sc = replace(DEFAULT_SCENARIO, base_late_again_prob=always, base_monthly_churn=0.0)
    biller = Biller(sc)
    batch = first_cases(sample_debtors(4, rng=rng, scenario=sc))
    arms = np.array(["no_action"] * 4)
    biller.record(batch, arms, simulate_responses(batch.debtors, arms, rng=rng, scenario=sc), day=0)
    again = biller.overdue(PERIOD, rng=rng)
    given = np.array(["direct_collection"] * 4)
    biller.record(again, given, simulate_responses(again.debtors, given, rng=rng), day=PERIOD)
    assert biller.column("arm").tolist() == ["direct_collection"] * 4
    assert biller.column("cases").tolist() == [2] * 4
    with pytest.raises(ValueError, match="differ"):
        biller.record(again, given[:2], simulate_responses(again.debtors, given, rng=rng), day=1)


def test_next_opened_day_per_customer() -> None:
    ids = np.array(["b", "a", "b", "a", "c"])
    days = np.array([30, 0, 0, 60, 5])
    np.testing.assert_array_equal(
        next_opened_day(ids, days), np.array([np.nan, 60, 30, np.nan, np.nan])
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"billing_period_days": 0}, "billing_period_days"),
        ({"billing_period_days": 30.5}, "billing_period_days"),
        ({"relapse_log_odds_gap": -1.0}, "relapse_log_odds_gap"),
        ({"base_late_again_prob": {**DEFAULT_SCENARIO.base_late_again_prob, "WAOE": 1.0}}, "WAOE"),
    ],
)
def test_scenario_rejects_bad_repeat_case_parameters(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        replace(DEFAULT_SCENARIO, **kwargs)  # type: ignore[arg-type]


def test_case_log_rejects_unknown_arms() -> None:
    with pytest.raises(ValueError, match="email_blast"):
        case_log(1, days=1, rng=np.random.default_rng(0), arms=("email_blast",))
