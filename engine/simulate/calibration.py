"""Debtor types, arms and the calibrated default parameters of the simulation.

The defaults are calibrated on the DOMAIN notes summarised in the README; see each constant and
the model description in :mod:`engine.simulate`.
"""

from __future__ import annotations

import itertools
import math

# The 16 PAIR Finance types (DOMAIN.md, Ghaffari, Kaniewicz & Stricker 2021): willing/defiant,
# able/insolvent, organised/chaotic, emotional/rational. Order: W before D, A before I, ...
DEBTOR_TYPES: tuple[str, ...] = tuple("".join(c) for c in itertools.product("WD", "AI", "OC", "ER"))

ARMS: tuple[str, ...] = ("direct_collection", "friendly_sms", "no_action", "discount_nudge")

# Primary KPI "pay-on-time": paid within 14 days after entering the experiment (DOMAIN.md, KPIs).
PAY_ON_TIME_WINDOW_DAYS: float = 14.0

_ID_DIGITS = 9  # "D000000123": prefix + zero-padded index


def _flags(t: str) -> tuple[bool, bool, bool, bool]:
    """Return (willing, able, organised, emotional) for a 4-letter type code."""
    return t[0] == "W", t[1] == "A", t[2] == "O", t[3] == "E"


def _expit(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


# ---------------------------------------------------------------------------------------------
# Default calibration
# ---------------------------------------------------------------------------------------------


def _default_type_shares() -> dict[str, float]:
    # DOMAIN.md (PAIR Finance study, ~400,000 debtors): five types cover about 63% of debtors.
    # Shares of the five are illustrative but realistic; they sum to 0.63.
    big = {"WAOE": 0.16, "WACE": 0.14, "WAOR": 0.13, "DICE": 0.11, "DICR": 0.09}
    rest = [t for t in DEBTOR_TYPES if t not in big]
    # The other 11 types share the remaining 37% equally (no published split).
    shares = {t: (1.0 - sum(big.values())) / len(rest) for t in rest}
    shares.update(big)
    return {t: shares[t] for t in DEBTOR_TYPES}


def _default_base_pay_prob() -> dict[str, float]:
    # P(pay within 60 days | no_action) per type, additive on the log-odds scale over the four
    # dimensions. Calibrated so that overall pay-within-14 under no_action is ~0.54 (Tulsa RCT:
    # 48% paid on time without a text; late payers of subscriptions are largely forgetful or
    # organised-late and pay by themselves, DOMAIN.md "many debtors pay anyway"), willing/able/
    # organised types pay far more than defiant/insolvent/chaotic ones, and DICE/DICR rarely pay
    # (~0.14 within 14 days; DOMAIN.md: "rejects every solution, no contact").
    out: dict[str, float] = {}
    for t in DEBTOR_TYPES:
        willing, able, organised, _ = _flags(t)
        x = -1.35 + 1.5 * willing + 1.5 * able + 0.6 * organised
        if not willing and not able:
            x -= 0.3  # defiant AND insolvent: no contact at all (DOMAIN.md, DICE/DICR)
        out[t] = _expit(x)
    return out


def _sms_shift(t: str) -> float:
    willing, able, organised, _ = _flags(t)
    if not willing and not able:
        # Defiant-insolvent types ignore reminders (DOMAIN.md DICE/DICR; Karlan, Morten & Zinman
        # 2016 and Bursztyn et al. 2019: a plain reminder can do nothing).
        return 0.0
    # Small eventual-payment lift, larger for chaotic/forgetful types whom a reminder reminds.
    # Most of the SMS effect on pay-within-14 comes from faster payment (delay median 3.8 vs 5
    # days). Result: +5 to +9 pp per non-DI type, ~+5 pp overall (DOMAIN.md: +3 to +12 pp,
    # mode ~+5; Tulsa 48% -> 60%; Cadena & Schoar 2011 +7-9%).
    return 0.03 + 0.22 * (not organised)


def _discount_shift(t: str) -> float:
    willing, able, _, emotional = _flags(t)
    if not willing and not able:
        # DICE "rejects every solution ... even with fee reductions" (DOMAIN.md): no extra effect.
        return _sms_shift(t)
    # The nudge is a reminder (same lift as the SMS) plus an offer that works on rational debtors,
    # most on rational AND able ones (Cadena & Schoar 2011: discount about as effective as SMS,
    # strongest for rational, able payers; DOMAIN.md WAOR "responds to discount offers").
    # Result: overall ~+2.3 pp over friendly_sms on pay-within-14, WAOR +5.3 pp.
    return _sms_shift(t) + (not emotional) * (0.10 + 0.90 * able)


def _collection_shift(t: str) -> float:
    willing, able, _, _ = _flags(t)
    # Collection converts part of the would-not-pay debtors. Calibrated so that among collection
    # payers ~80% would have paid anyway under no_action (Billogram/Hallon, DOMAIN.md); a bit
    # stronger on defiant-insolvent debtors, whom only enforcement moves.
    return 0.85 + 0.45 * (not willing and not able)


def _default_amount_multiplier() -> dict[str, float]:
    # DICR "refuses solutions, large debts" (DOMAIN.md): median amount 1.8x the others.
    return {t: (1.8 if t == "DICR" else 1.0) for t in DEBTOR_TYPES}


# ---------------------------------------------------------------------------------------------
# Repeat cases (engine.simulate.cases): is the next monthly invoice overdue too?
# ---------------------------------------------------------------------------------------------
# No published study reports repeat lateness per debtor type or per dunning arm; the figures
# below are stated assumptions, chosen to be plausible against what is published:
# * Monthly billers see a large share of their late payers late again within a quarter (the
#   seeds of issue 14); here about 41% of late payers are late on the next invoice under
#   no_action. A customer who pays an invoice on time can relapse later, much less often than
#   one who was just late (a log-odds gap of 2: WAOE ~3% a month, DICE ~27%).
# * Cadena & Schoar 2011 measured late payment of monthly loan instalments: SMS reminders and
#   an on-time-payment incentive each cut late instalments by a similar amount (7-9%). So the
#   reminder and the discount arms lower repeat lateness, the discount a little more for the
#   rational, able types it reaches (DOMAIN.md WAOR), and neither moves defiant-insolvent debtors
#   (DOMAIN.md DICE/DICR; Bursztyn et al. 2019: a plain reminder can do nothing).
# * Friction in dunning drives customers away (Billogram: churn 5x after a collection case); the
#   same friction is assumed to raise repeat lateness after an agency case (the agency's fees
#   land on the next bill; a customer who feels chased stops cooperating).


def _default_base_late_again_prob() -> dict[str, float]:
    # P(next invoice overdue | this one was, no_action) per type, additive on the log-odds scale:
    # organised, willing and able customers were late by oversight and rarely again (~0.18);
    # chaotic ones often (WACE ~0.35); defiant-insolvent ones mostly (DICE/DICR ~0.73).
    out: dict[str, float] = {}
    for t in DEBTOR_TYPES:
        willing, able, organised, _ = _flags(t)
        out[t] = _expit(1.0 - 0.9 * willing - 0.7 * able - 0.9 * organised)
    return out


def _sms_late_again_shift(t: str) -> float:
    willing, able, _, _ = _flags(t)
    if not willing and not able:
        return 0.0  # reminders do not reach defiant-insolvent debtors
    # About -4 pp on a base of ~0.35: the order of the Cadena & Schoar 2011 reminder effect.
    return -0.2


def _discount_late_again_shift(t: str) -> float:
    willing, able, _, emotional = _flags(t)
    if not willing and not able:
        return 0.0
    # The reminder's effect plus the incentive's, strongest for rational, able customers.
    return _sms_late_again_shift(t) - (not emotional) * (0.1 + 0.2 * able)


def _collection_late_again_shift(t: str) -> float:
    # Friction raises repeat lateness (assumption, see above): about +12 pp on a base of ~0.35.
    return 0.5
