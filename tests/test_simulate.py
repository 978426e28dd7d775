"""Tests for engine.simulate: calibration on DOMAIN.md, coupling, reproducibility, validation."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from engine.simulate import (
    ARMS,
    DEBTOR_TYPES,
    DEFAULT_SCENARIO,
    ArmModel,
    DebtorBatch,
    Responses,
    sample_debtors,
    simulate_responses,
    true_churn_rate,
    true_pay_rate,
    would_have_paid_anyway_share,
)

N_BIG = 200_000


def pay14(arm: str, debtor_type: str | None = None) -> float:
    return true_pay_rate(arm, window_days=14.0, debtor_type=debtor_type)


@pytest.fixture(scope="module")
def big_batch() -> DebtorBatch:
    return sample_debtors(N_BIG, rng=np.random.default_rng(20240601))


@pytest.fixture(scope="module")
def big_responses(big_batch: DebtorBatch) -> tuple[np.ndarray, Responses]:
    rng = np.random.default_rng(7)
    arms = np.array(ARMS)[rng.integers(0, len(ARMS), len(big_batch))]
    return arms, simulate_responses(big_batch, arms, rng=rng)


# --- Constants and scenario ---------------------------------------------------------------------


def test_types_and_arms() -> None:
    assert len(DEBTOR_TYPES) == 16
    assert len(set(DEBTOR_TYPES)) == 16
    for t in DEBTOR_TYPES:
        assert (t[0], t[1], t[2], t[3]) in {
            (a, b, c, d) for a in "WD" for b in "AI" for c in "OC" for d in "ER"
        }
    assert ARMS == ("direct_collection", "friendly_sms", "no_action", "discount_nudge")
    assert set(DEFAULT_SCENARIO.arms) == set(ARMS)


def test_type_shares_default() -> None:
    s = DEFAULT_SCENARIO.type_shares
    assert math.isclose(sum(s.values()), 1.0, abs_tol=1e-9)
    # DOMAIN.md: five types cover about 63% of debtors.
    five = sum(s[t] for t in ("WAOE", "WACE", "WAOR", "DICE", "DICR"))
    assert five == pytest.approx(0.63, abs=0.01)


def test_validate_rejects_bad_shares() -> None:
    bad = dict(DEFAULT_SCENARIO.type_shares)
    bad["WAOE"] += 0.1
    with pytest.raises(ValueError, match="sum to 1"):
        replace(DEFAULT_SCENARIO, type_shares=bad)
    missing = dict(DEFAULT_SCENARIO.type_shares)
    del missing["DICR"]
    with pytest.raises(ValueError, match="DICR"):
        replace(DEFAULT_SCENARIO, type_shares=missing)
    DEFAULT_SCENARIO.validate()  # the default is consistent


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_pay_prob": {**DEFAULT_SCENARIO.base_pay_prob, "WAOE": 1.0}},
        {"pay_horizon_days": 0.0},
        {"base_monthly_churn": -0.1},
        {"amount_median": 0.0},
        {"type_amount_multiplier": {"XXXX": 2.0}},
        {"arms": {"no_action": ArmModel({}, delay_median_days=-1.0, delay_shape=2.0)}},
        {"arms": {"x": ArmModel({}, delay_median_days=5.0, delay_shape=2.0, discount=1.0)}},
        {"arms": {}},
    ],
)
def test_validate_rejects_other_inconsistencies(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"must|unknown|required"):
        replace(DEFAULT_SCENARIO, **kwargs)  # type: ignore[arg-type]


def test_scenario_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DEFAULT_SCENARIO.pay_horizon_days = 3.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEFAULT_SCENARIO.type_shares["WAOE"] = 0.5  # type: ignore[index]


# --- Analytic calibration (DOMAIN.md) -------------------------------------------------------------


def test_no_action_pay_on_time_overall() -> None:
    # Tulsa 48% without a text; subscription late payers pay a lot by themselves: ~0.55 (+-0.04).
    assert pay14("no_action") == pytest.approx(0.55, abs=0.04)


def test_types_order_and_defiant_insolvent_rarely_pay() -> None:
    for t in ("DICE", "DICR"):
        assert 0.10 <= pay14("no_action", t) <= 0.20
    for t in ("WAOE", "WACE", "WAOR"):
        assert pay14("no_action", t) > 0.6
        assert pay14("no_action", t) > pay14("no_action", "DICE") + 0.4


def test_sms_lift() -> None:
    overall = pay14("friendly_sms") - pay14("no_action")
    assert overall == pytest.approx(0.05, abs=0.015)  # published mode ~+5 pp
    for t in DEBTOR_TYPES:
        lift = pay14("friendly_sms", t) - pay14("no_action", t)
        if t.startswith("DI"):
            assert 0.0 <= lift <= 0.03, t  # defiant-insolvent: near zero
        else:
            assert 0.03 <= lift <= 0.12, t  # +3 to +12 pp per type
    # Larger for chaotic (C) than for organised (O) types, all else equal.
    for t in DEBTOR_TYPES:
        if t[2] == "O" and not t.startswith("DI"):
            chaotic = t[:2] + "C" + t[3]
            assert pay14("friendly_sms", chaotic) - pay14("no_action", chaotic) > pay14(
                "friendly_sms", t
            ) - pay14("no_action", t)


def test_discount_is_best_on_pay_on_time() -> None:
    gap = pay14("discount_nudge") - pay14("friendly_sms")
    assert 0.015 <= gap <= 0.03
    rates = {a: pay14(a) for a in ARMS}
    assert max(rates, key=rates.__getitem__) == "discount_nudge"
    assert pay14("discount_nudge", "WAOR") - pay14("friendly_sms", "WAOR") >= 0.05
    assert pay14("discount_nudge", "DICE") <= pay14("friendly_sms", "DICE") + 1e-12


def test_direct_collection_slow_but_highest_eventually() -> None:
    assert pay14("direct_collection") < pay14("friendly_sms")
    assert pay14("direct_collection") < pay14("discount_nudge")
    r60 = {a: true_pay_rate(a, window_days=60.0) for a in ARMS}
    assert max(r60, key=r60.__getitem__) == "direct_collection"
    # Median delay 12-16 days given payment within the horizon.
    m = DEFAULT_SCENARIO.arms["direct_collection"].delay_median_days
    assert 12.0 <= m <= 16.0


def test_would_have_paid_anyway() -> None:
    # Billogram/Hallon: about 80% of collection cases would have paid anyway.
    assert 0.75 <= would_have_paid_anyway_share() <= 0.85
    assert would_have_paid_anyway_share() == pytest.approx(0.80, abs=0.02)


def test_true_pay_rate_edges() -> None:
    for arm in ARMS:
        assert true_pay_rate(arm, window_days=0.0) == 0.0
        assert true_pay_rate(arm, window_days=1e9) == pytest.approx(
            true_pay_rate(arm, window_days=DEFAULT_SCENARIO.pay_horizon_days)
        )
        rates = [true_pay_rate(arm, window_days=w) for w in (1, 7, 14, 30, 60)]
        assert rates == sorted(rates)
        overall = sum(DEFAULT_SCENARIO.type_shares[t] * pay14(arm, t) for t in DEBTOR_TYPES)
        assert overall == pytest.approx(pay14(arm), rel=1e-12)
    with pytest.raises(ValueError, match="XXXX"):
        true_pay_rate("no_action", window_days=14.0, debtor_type="XXXX")


def test_churn_calibration() -> None:
    h30 = DEFAULT_SCENARIO.days_per_month
    base = true_churn_rate("no_action", horizon_days=h30)
    assert base == pytest.approx(1 - math.exp(-0.025), rel=1e-9)  # 2.5% monthly hazard
    lam = 0.025 / h30
    for arm, hr in (("friendly_sms", 2.0), ("direct_collection", 5.0), ("discount_nudge", 1.8)):
        for h in (60.0, 90.0):
            assert true_churn_rate(arm, horizon_days=h) == pytest.approx(
                1 - math.exp(-hr * lam * h), rel=1e-9
            )
    assert true_churn_rate("no_action", horizon_days=0.0) == 0.0


# --- Simulation vs analytic truth -----------------------------------------------------------------


def _within_3se(k: int, n: int, p: float) -> bool:
    se = math.sqrt(p * (1 - p) / n)
    return abs(k / n - p) <= 3 * se + 1e-12


def test_simulated_pay_rates_match_truth(big_responses: tuple[np.ndarray, Responses]) -> None:
    arms, r = big_responses
    for arm in ARMS:
        mask = arms == arm
        n = int(mask.sum())
        for w in (7.0, 14.0, 60.0):
            k = int(np.sum(r.pay_delay_days[mask] <= w))
            assert _within_3se(k, n, true_pay_rate(arm, window_days=w)), (arm, w, k / n)


def test_simulated_churn_matches_truth(big_responses: tuple[np.ndarray, Responses]) -> None:
    arms, r = big_responses
    for arm in ARMS:
        mask = arms == arm
        n = int(mask.sum())
        for h in (60.0, 90.0):
            k = int(np.sum(r.churn_delay_days[mask] <= h))
            assert _within_3se(k, n, true_churn_rate(arm, horizon_days=h)), (arm, h)
        assert int(r.churned[mask].sum()) == int(np.sum(r.churn_delay_days[mask] <= 90.0))


def test_per_type_simulated_rate(big_batch: DebtorBatch) -> None:
    r = simulate_responses(big_batch, "discount_nudge", rng=np.random.default_rng(3))
    for t in ("WAOR", "DICE"):
        mask = big_batch.debtor_type == t
        k = int(np.sum(r.pay_delay_days[mask] <= 14.0))
        p = true_pay_rate("discount_nudge", window_days=14.0, debtor_type=t)
        assert _within_3se(k, int(mask.sum()), p)


def test_coupling_would_have_paid_anyway(big_batch: DebtorBatch) -> None:
    # Same seed -> same latent uniforms -> potential outcomes of the same debtor under two arms.
    dc = simulate_responses(big_batch, "direct_collection", rng=np.random.default_rng(11))
    na = simulate_responses(big_batch, "no_action", rng=np.random.default_rng(11))
    # Monotone coupling: nobody pays under no_action but not under collection.
    assert not np.any(na.paid & ~dc.paid)
    share = float(na.paid[dc.paid].mean())
    truth = would_have_paid_anyway_share()
    n = int(dc.paid.sum())
    assert abs(share - truth) <= 3 * math.sqrt(truth * (1 - truth) / n)
    # Also exact for a 14-day horizon.
    dc14, na14 = dc.pay_delay_days <= 14.0, na.pay_delay_days <= 14.0
    truth14 = would_have_paid_anyway_share(horizon_days=14.0)
    n14 = int(dc14.sum())
    assert abs(float(na14[dc14].mean()) - truth14) <= 3 * math.sqrt(truth14 * (1 - truth14) / n14)


def test_type_shares_chi_square(big_batch: DebtorBatch) -> None:
    observed = np.array([np.sum(big_batch.debtor_type == t) for t in DEBTOR_TYPES])
    expected = np.array([DEFAULT_SCENARIO.type_shares[t] for t in DEBTOR_TYPES]) * N_BIG
    assert stats.chisquare(observed, expected).pvalue > 0.001


def test_amounts(big_batch: DebtorBatch) -> None:
    a = big_batch.amount_owed
    assert np.all(a > 0)
    assert np.allclose(a, np.round(a, 2))
    # Monthly subscription invoices: median ~45, mean ~60.
    assert 42.0 <= float(np.median(a)) <= 50.0
    assert 55.0 <= float(a.mean()) <= 66.0
    dicr = big_batch.debtor_type == "DICR"
    assert np.median(a[dicr]) > 1.5 * np.median(a[~dicr])  # DICR: large debts


def test_amount_paid_and_flags(big_batch: DebtorBatch) -> None:
    rng = np.random.default_rng(5)
    arms = np.array(ARMS)[rng.integers(0, len(ARMS), len(big_batch))]
    r = simulate_responses(big_batch, arms, rng=rng)
    owed = big_batch.amount_owed
    assert np.all(r.amount_paid[~r.paid] == 0.0)
    full = r.paid & (arms != "discount_nudge")
    assert np.allclose(r.amount_paid[full], owed[full])
    disc = r.paid & (arms == "discount_nudge")
    early = disc & (r.pay_delay_days <= 14.0)
    assert np.allclose(r.amount_paid[early], np.round(owed[early] * 0.95, 2))
    assert np.allclose(r.amount_paid[disc & ~early], owed[disc & ~early])
    assert np.array_equal(r.reminder_sent, np.isin(arms, ["friendly_sms", "discount_nudge"]))
    assert np.array_equal(r.collection_case, arms == "direct_collection")
    assert np.nanmax(r.pay_delay_days) <= DEFAULT_SCENARIO.pay_horizon_days
    assert np.nanmin(r.pay_delay_days) > 0.0


# --- Reproducibility, ids, errors -----------------------------------------------------------------


def test_same_seed_identical_different_seed_differs() -> None:
    def run(seed: int) -> tuple[DebtorBatch, Responses]:
        rng = np.random.default_rng(seed)
        b = sample_debtors(500, rng=rng)
        arms = np.array(ARMS)[rng.integers(0, 4, 500)]
        return b, simulate_responses(b, arms, rng=rng)

    (b1, r1), (b2, r2), (b3, r3) = run(1), run(1), run(2)
    for f in ("debtor_id", "debtor_type", "amount_owed"):
        assert np.array_equal(getattr(b1, f), getattr(b2, f))
    for f in Responses.__dataclass_fields__:
        assert np.array_equal(getattr(r1, f), getattr(r2, f), equal_nan=f.endswith("days"))
    assert not np.array_equal(b1.amount_owed, b3.amount_owed)
    assert not np.array_equal(r1.paid, r3.paid)


def test_ids_unique_consecutive() -> None:
    b = sample_debtors(1000, rng=np.random.default_rng(0), start_index=123, prefix="X")
    assert len(b) == 1000
    assert b.debtor_id[0] == "X000000123"
    assert len(set(b.debtor_id.tolist())) == 1000
    assert [int(s[1:]) for s in b.debtor_id.tolist()] == list(range(123, 1123))
    empty = sample_debtors(0, rng=np.random.default_rng(0))
    assert len(empty) == 0
    assert empty.debtor_id.shape == (0,)


def test_unknown_arm_raises() -> None:
    b = sample_debtors(3, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="email_blast") as exc:
        simulate_responses(
            b, np.array(["no_action", "email_blast", "no_action"]), rng=np.random.default_rng(0)
        )
    for arm in ARMS:
        assert arm in str(exc.value)
    with pytest.raises(ValueError, match="email_blast"):
        true_pay_rate("email_blast", window_days=14.0)
    with pytest.raises(ValueError, match="shape"):
        simulate_responses(b, np.array(["no_action"] * 2), rng=np.random.default_rng(0))


def test_custom_arm_via_scenario() -> None:
    letter = ArmModel(dict.fromkeys(DEBTOR_TYPES, 0.1), delay_median_days=6.0, delay_shape=2.0)
    sc = replace(DEFAULT_SCENARIO, arms={**DEFAULT_SCENARIO.arms, "letter": letter})
    b = sample_debtors(100, rng=np.random.default_rng(0), scenario=sc)
    r = simulate_responses(b, "letter", rng=np.random.default_rng(0), scenario=sc)
    assert len(r) == 100
    assert true_pay_rate("letter", window_days=60.0, scenario=sc) > true_pay_rate(
        "no_action", window_days=60.0, scenario=sc
    )


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=40),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    start=st.integers(min_value=0, max_value=10**6),
    horizon=st.floats(min_value=0.0, max_value=400.0),
)
def test_property_shapes_dtypes_nan(n: int, seed: int, start: int, horizon: float) -> None:
    rng = np.random.default_rng(seed)
    b = sample_debtors(n, rng=rng, start_index=start)
    arms = np.array(ARMS)[rng.integers(0, len(ARMS), n)]
    r = simulate_responses(b, arms, rng=rng, churn_horizon_days=horizon)
    assert b.debtor_id.shape == b.debtor_type.shape == b.amount_owed.shape == (n,)
    assert b.debtor_id.dtype.kind == "U"
    assert b.debtor_type.dtype.kind == "U"
    assert b.amount_owed.dtype == np.float64
    assert set(b.debtor_type.tolist()) <= set(DEBTOR_TYPES)
    for f in ("paid", "churned", "reminder_sent", "collection_case"):
        arr = getattr(r, f)
        assert arr.shape == (n,)
        assert arr.dtype == np.bool_
    for f in ("pay_delay_days", "amount_paid", "churn_delay_days"):
        arr = getattr(r, f)
        assert arr.shape == (n,)
        assert arr.dtype == np.float64
    assert np.array_equal(np.isnan(r.pay_delay_days), ~r.paid)
    assert np.array_equal(np.isnan(r.churn_delay_days), ~r.churned)
    assert not np.any(np.isnan(r.amount_paid))
    assert np.all(r.churn_delay_days[r.churned] <= horizon)
    assert np.all(r.amount_paid[r.paid] > 0)


def test_a_late_fee_adds_to_what_payers_pay(big_batch: DebtorBatch) -> None:
    base = DEFAULT_SCENARIO.arms["friendly_sms"]
    sc = replace(
        DEFAULT_SCENARIO, arms={**DEFAULT_SCENARIO.arms, "sms_fee": replace(base, fee=5.0)}
    )
    plain = simulate_responses(big_batch, "friendly_sms", rng=np.random.default_rng(4))
    fee = simulate_responses(big_batch, "sms_fee", rng=np.random.default_rng(4), scenario=sc)
    np.testing.assert_array_equal(fee.paid, plain.paid)  # same coupled draws: the same payers
    np.testing.assert_allclose(fee.amount_paid[fee.paid], plain.amount_paid[plain.paid] + 5.0)
    assert (fee.amount_paid[~fee.paid] == 0).all()
    with pytest.raises(ValueError, match="fee"):
        replace(DEFAULT_SCENARIO, arms={"x": replace(base, fee=-1.0)})
