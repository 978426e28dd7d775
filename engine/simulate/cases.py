"""Repeat dunning cases: customers billed every month, and late again.

Pure core: numpy only, no I/O; every draw comes from the injected ``numpy.random.Generator``.

Model
-----
A subscriber is billed every ``Scenario.billing_period_days`` (30) days. The engine sees a
customer when an invoice is overdue: the customer's first overdue invoice is its first case (the
day it enters the experiment), and every later overdue invoice is a new case of the same
customer, with its own id (:func:`case_ids`). After a case, the next invoice is due
``billing_period_days`` later and is overdue with probability

    ``q[a, t] = expit(logit(base_late_again_prob[t]) + late_again_log_odds_shift[a][t])``

for a customer of type ``t`` whose case got arm ``a``; an invoice after one paid on time is
overdue with the lower relapse probability (the same log-odds less ``relapse_log_odds_gap``).
A customer who has churned is billed no more: the churn time is drawn once, at the first case
(:attr:`Responses.churn_time_days`, exponential), and only invoices due before it are sent.
One uniform per invoice billed, drawn in a fixed order, so a seed reproduces every case.

Each case responds to its arm with fresh draws of the payment model of
:mod:`engine.simulate` (same type, same monthly amount: the same plan); the customer's churn is
the first case's only.

Truth. A case is *late again* when the customer's next case opens within N days. The churn
hazard is constant (memoryless), so for EVERY case of a type-``t`` customer under arm ``a`` it is
``q[a, t] * S`` with ``S = exp(-hazard[a, t] * billing_period_days)`` (alive at the next bill)
when ``billing_period_days <= N < 2 * billing_period_days``; longer N add the relapse paths
(:func:`engine.simulate.truth.true_late_again_rate`, exact). That population truth averages the
types over the customer shares. The engine's late-again rate is a share of cases: it weighs the
types by their expected matured cases, and persistent late payers have more of them
(:func:`engine.simulate.truth.true_case_late_again_rate`, exact given who entered when).

Assumptions (stated, not published; see :mod:`engine.simulate.calibration` for the numbers)
-------------------------------------------------------------------------------------------
* Friction in dunning raises repeat lateness: after an agency case the next invoice is overdue
  more often (log-odds +0.5); a reminder or a discount lowers it (Cadena & Schoar 2011: both cut
  late monthly instalments by similar amounts), neither reaches defiant-insolvent types.
* Churn also ends the billing, so an arm that drives customers away shows fewer repeat cases:
  ``late_again`` is read next to the churn guardrail, never alone.
* Whether the next invoice is overdue does not depend on whether this case was paid, and later
  cases respond to the arm as the first did (no fatigue, no learning).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from engine.simulate.debtors import DebtorBatch, _type_index, sample_debtors
from engine.simulate.responses import Responses, simulate_responses
from engine.simulate.scenario import DEFAULT_SCENARIO, Scenario


def case_ids(debtor_id: NDArray[np.str_], case_number: NDArray[np.int64]) -> NDArray[np.str_]:
    """The invoice id of each case: the customer's id and the case's number, ``D000000123-2``."""
    if debtor_id.size == 0:  # np.char on empty input keeps a zero-width dtype
        return np.empty(0, dtype=np.str_)
    return np.asarray(
        np.char.add(np.char.add(debtor_id, "-"), case_number.astype(np.str_)), dtype=np.str_
    )


@dataclass(frozen=True)
class CaseBatch:
    """Cases opened on one day, one per overdue invoice, shape (n,) each.

    ``customer`` is the position of a repeat case's customer in its :class:`Biller`, -1 for a
    first case (a customer the biller does not know yet).
    """

    case_id: NDArray[np.str_]
    debtors: DebtorBatch
    case_number: NDArray[np.int64]
    customer: NDArray[np.intp]

    def __len__(self) -> int:
        return len(self.debtors)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> CaseBatch:
        d = self.debtors
        return CaseBatch(
            self.case_id[index],
            DebtorBatch(d.debtor_id[index], d.debtor_type[index], d.amount_owed[index]),
            self.case_number[index],
            self.customer[index],
        )

    @staticmethod
    def concat(first: CaseBatch, second: CaseBatch) -> CaseBatch:
        a, b = first.debtors, second.debtors
        return CaseBatch(
            np.concatenate([first.case_id, second.case_id]).astype(np.str_),
            DebtorBatch(
                np.concatenate([a.debtor_id, b.debtor_id]).astype(np.str_),
                np.concatenate([a.debtor_type, b.debtor_type]).astype(np.str_),
                np.concatenate([a.amount_owed, b.amount_owed]),
            ),
            np.concatenate([first.case_number, second.case_number]),
            np.concatenate([first.customer, second.customer]),
        )


def first_cases(batch: DebtorBatch) -> CaseBatch:
    """New customers' first overdue invoices as cases (number 1)."""
    number = np.ones(len(batch), dtype=np.int64)
    return CaseBatch(
        case_ids(batch.debtor_id, number), batch, number, np.full(len(batch), -1, dtype=np.intp)
    )


class Biller:
    """The subscription biller behind the cases: which treated customer is billed on which day,
    and whether the invoice is overdue. One row per customer whose first case was treated.

    A day runs :meth:`overdue` (today's bills; the overdue ones are the repeat cases), then the
    treatment of today's cases, then :meth:`record` (the arm each case got, a new customer's
    churn time).
    """

    def __init__(self, scenario: Scenario = DEFAULT_SCENARIO) -> None:
        self.scenario = scenario
        self._n = 0
        # Columns with spare capacity (doubled when full): a day appends its new customers
        # without copying every earlier one. Ids as objects: no fixed string width to outgrow.
        self._columns: dict[str, NDArray[Any]] = {
            "debtor_id": np.empty(0, dtype=object),
            "debtor_type": np.empty(0, dtype=object),
            "amount_owed": np.empty(0, dtype=np.float64),
            "type_index": np.empty(0, dtype=np.intp),
            "arm": np.empty(0, dtype=object),
            "churn_day": np.empty(0, dtype=np.float64),
            "next_bill_day": np.empty(0, dtype=np.int64),
            "last_overdue": np.empty(0, dtype=np.bool_),
            "cases": np.empty(0, dtype=np.int64),
            "entry_day": np.empty(0, dtype=np.int64),
        }

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> NDArray[Any]:
        """One column of the customers (a view, shape (len(self),)): ``debtor_id``, ``arm``,
        ``churn_day``, ``next_bill_day``, ``last_overdue``, ``cases``, ``entry_day`` (of the
        first case), ``type_index``, ..."""
        return self._columns[name][: self._n]

    def overdue(self, day: int, *, rng: np.random.Generator) -> CaseBatch:
        """Bill every customer due on ``day`` who has not churned; the overdue invoices are
        returned as the customers' next cases."""
        c = {name: self.column(name) for name in self._columns}
        billed = np.flatnonzero((c["next_bill_day"] == day) & (c["churn_day"] > day))
        u = rng.random(billed.size)
        p = np.empty(billed.size, dtype=np.float64)
        arms = c["arm"][billed]
        after_overdue = c["last_overdue"][billed]
        for arm in np.unique(arms).tolist():  # loop over arms, vectorised over customers
            on_arm = arms == arm
            for relapse in (False, True):
                mask = on_arm & (after_overdue != relapse)
                table = self.scenario.late_again_prob(str(arm), relapse=relapse)
                p[mask] = table[c["type_index"][billed[mask]]]
        late = u < p
        c["last_overdue"][billed] = late
        c["next_bill_day"][billed] = day + self.scenario.billing_period_days
        due = billed[late]
        number = c["cases"][due] + 1
        batch = DebtorBatch(
            c["debtor_id"][due].astype(np.str_),
            c["debtor_type"][due].astype(np.str_),
            c["amount_owed"][due],
        )
        return CaseBatch(case_ids(batch.debtor_id, number), batch, number, due)

    def record(
        self, cases: CaseBatch, arms: NDArray[np.str_], responses: Responses, *, day: int
    ) -> None:
        """Treated ``cases`` of ``day`` got ``arms`` and answered with ``responses``: repeat
        cases count and keep the arm given; first cases add their customers, who churn at the
        first case's churn time."""
        if not len(arms) == len(responses) == len(cases):
            raise ValueError(
                f"{len(cases)} cases, {len(arms)} arms and {len(responses)} responses differ"
            )
        arms = np.asarray(arms, dtype=object)
        repeat = cases.customer >= 0
        known = cases.customer[repeat]
        self.column("arm")[known] = arms[repeat]
        self.column("cases")[known] += 1
        new = ~repeat
        n = int(new.sum())
        b = cases.debtors
        # A zero hazard never churns (inf); 0/0 from a zero uniform is read the same way.
        churn = np.nan_to_num(responses.churn_time_days[new], nan=np.inf, posinf=np.inf)
        self._append(
            n,
            debtor_id=b.debtor_id[new],
            debtor_type=b.debtor_type[new],
            amount_owed=b.amount_owed[new],
            type_index=_type_index(b.debtor_type[new]),
            arm=arms[new],
            churn_day=day + churn,
            next_bill_day=np.full(n, day + self.scenario.billing_period_days),
            last_overdue=np.ones(n, dtype=np.bool_),
            cases=np.ones(n, dtype=np.int64),
            entry_day=np.full(n, day, dtype=np.int64),
        )

    def _append(self, n: int, **values: NDArray[Any]) -> None:
        end = self._n + n
        for name, column in self._columns.items():
            if end > column.size:
                grown = np.empty(max(end, 2 * column.size), dtype=column.dtype)
                grown[: self._n] = column[: self._n]
                self._columns[name] = column = grown
            column[self._n : end] = values[name]
        self._n = end


def next_opened_day(
    debtor_id: NDArray[np.str_], opened_day: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Per case, the day the same customer's next case opened; NaN for a customer's last."""
    order = np.lexsort((opened_day, debtor_id))
    ids, days = debtor_id[order], opened_day[order].astype(np.float64)
    following = np.full(ids.size, np.nan)
    same = ids[1:] == ids[:-1]
    following[:-1][same] = days[1:][same]
    out = np.empty(ids.size, dtype=np.float64)
    out[order] = following
    return out


@dataclass(frozen=True)
class CaseLog:
    """Every case of a simulated randomised period, shape (n,) each (see :func:`case_log`)."""

    case_id: NDArray[np.str_]
    debtor_id: NDArray[np.str_]
    debtor_type: NDArray[np.str_]
    arm: NDArray[np.str_]
    opened_day: NDArray[np.int64]
    case_number: NDArray[np.int64]
    next_opened_day: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.case_id.shape[0])

    def late_again(self, window_days: float) -> NDArray[np.bool_]:
        """The customer's next case opened within ``(opened, opened + window_days]``."""
        with np.errstate(invalid="ignore"):  # NaN (no next case) compares False
            return (self.next_opened_day - self.opened_day) <= window_days

    def matured(self, window_days: float, *, as_of_day: float) -> NDArray[np.bool_]:
        """Cases whose late-again window has closed by ``as_of_day``."""
        return self.opened_day + window_days <= as_of_day


def case_log(
    customers_per_day: int,
    *,
    days: int,
    rng: np.random.Generator,
    arms: tuple[str, ...],
    scenario: Scenario = DEFAULT_SCENARIO,
) -> CaseLog:
    """``days`` days of new late payers, each given a uniformly random arm for good (sticky),
    and all their cases: the simulator on its own, without the engine (tests, studies)."""
    if customers_per_day < 0 or days < 0:
        raise ValueError("customers_per_day and days must be >= 0")
    if not arms:
        raise ValueError("arms: at least one arm is required")
    unknown = sorted(set(arms) - set(scenario.arms))
    if unknown:
        raise ValueError(f"unknown arms {unknown}; the scenario has {sorted(scenario.arms)}")
    biller = Biller(scenario)
    parts: list[tuple[CaseBatch, NDArray[np.str_], int]] = []
    for day in range(days):
        new = first_cases(
            sample_debtors(
                customers_per_day,
                rng=rng,
                start_index=day * customers_per_day,
                scenario=scenario,
            )
        )
        cases = CaseBatch.concat(new, biller.overdue(day, rng=rng))
        given = np.asarray(arms, dtype=np.str_)[rng.integers(0, len(arms), len(new))]
        # Sticky: a repeat case keeps its customer's arm.
        repeat_arms = biller.column("arm")[cases.customer[len(new) :]].astype(np.str_)
        treatment = np.concatenate([given, repeat_arms])
        responses = simulate_responses(cases.debtors, treatment, rng=rng, scenario=scenario)
        biller.record(cases, treatment, responses, day=day)
        parts.append((cases, treatment.astype(np.str_), day))
    if not parts:
        empty = np.empty(0, dtype=np.str_)
        none = np.empty(0, dtype=np.int64)
        return CaseLog(empty, empty, empty, empty, none, none, np.empty(0))
    debtor_id = np.concatenate([c.debtors.debtor_id for c, _, _ in parts]).astype(np.str_)
    opened = np.concatenate([np.full(len(c), day, dtype=np.int64) for c, _, day in parts])
    return CaseLog(
        case_id=np.concatenate([c.case_id for c, _, _ in parts]).astype(np.str_),
        debtor_id=debtor_id,
        debtor_type=np.concatenate([c.debtors.debtor_type for c, _, _ in parts]).astype(np.str_),
        arm=np.concatenate([a for _, a, _ in parts]).astype(np.str_),
        opened_day=opened,
        case_number=np.concatenate([c.case_number for c, _, _ in parts]),
        next_opened_day=next_opened_day(debtor_id, opened),
    )


__all__ = [
    "Biller",
    "CaseBatch",
    "CaseLog",
    "case_ids",
    "case_log",
    "first_cases",
    "next_opened_day",
]
