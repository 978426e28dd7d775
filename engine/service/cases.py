"""The cases of one assign chunk (``unit: {customer, case}``): the case ids checked, and a case
row for every row whose customer has an arm."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlmodel import Session

from engine.service.common import ServiceError
from engine.store import queries

if TYPE_CHECKING:
    from engine.config import Experiment
    from engine.service.answers import AssignResult

#: Which of the (case ids, debtor ids) the experiment stored for another customer.
ForeignCheck = Callable[[npt.NDArray[np.object_], npt.NDArray[np.object_]], npt.NDArray[np.bool_]]


def checked_case_ids(
    experiment: Experiment,
    ids: npt.NDArray[np.object_],
    case_ids: Sequence[str] | npt.NDArray[Any] | None,
    foreign: ForeignCheck | None,
) -> npt.NDArray[np.object_] | None:
    """The chunk's case ids as text (None for an experiment without cases). ``foreign``: which
    case ids the experiment stored for another customer; None when the caller refused those
    already, in this transaction.

    Raises
    ------
    ServiceError
        Case ids missing with ``unit.case``, given without it, empty, repeated, or stored by
        the experiment for another customer (a debtor file reader sets such rows aside first,
        with their lines; this guards the service's other callers).
    """
    key, column = experiment.key, experiment.case_column
    if column is None:
        if case_ids is not None:
            raise ServiceError(
                f"experiment {key!r} has one case per debtor (unit: "
                f"{experiment.customer_column}): it takes no case ids"
            )
        return None
    if case_ids is None:
        raise ServiceError(
            f"experiment {key!r} has unit.case {column!r}: every debtor row needs a case id"
        )
    cases = np.asarray(case_ids, dtype=object)
    if len(cases) != len(ids):
        raise ValueError("debtor_ids and case_ids must have the same length")
    if not len(cases):
        return cases
    cases = np.array([str(c) for c in cases], dtype=object)
    if (cases == "").any() or pd.Series(cases).duplicated().any():
        raise ServiceError(f"experiment {key!r}: case ids must be non-empty and unique")
    if foreign is None:
        return cases
    debtors = np.array([str(d) for d in ids], dtype=object)
    if foreign(cases, debtors).any():
        raise ServiceError(f"experiment {key!r}: a case id is already a case of another customer")
    return cases


def open_cases(
    session: Session,
    result: AssignResult,
    cases: npt.NDArray[np.object_],
    owed: npt.NDArray[np.float64],
    constants: dict[str, Any],
    stored: pa.Array,
) -> int:
    """A case row for every row whose customer has an arm, new or stored (a known customer's
    later case is in the experiment whatever the rules say now, as the customer is: intent to
    treat); a case stored already stays as it is. Returns how many cases were new.

    ``stored``: case ids the experiment is known to have stored for their customer (the check
    of the chunk found them: a file sent again); they are not sent to the store again. Any
    other stored one is kept by the store's unique key.

    Only customers known before the chunk are marked for the refresh of their cases: a new
    customer's cases all open now (no next case) and, if the customer has events, the
    assignment marked them already.
    """
    again = pc.is_in(pa.array(cases, pa.string()), value_set=stored)
    has_arm = np.flatnonzero(result.eligible & ~np.asarray(again, dtype=bool))
    rows = pa.table(
        {
            "case_id": pa.array(cases[has_arm], type=pa.string()),
            "debtor_id": pa.array([str(d) for d in result.debtor_id[has_arm]], type=pa.string()),
            "arm": pa.array(result.arm[has_arm], type=pa.string()),
            "amount_owed": pa.array(owed[has_arm], type=pa.float64(), from_pandas=True),
            # Not new: known before, or a later row of a customer new in this chunk (harmless).
            "touch": pa.array(~result.new[has_arm], type=pa.bool_()),
        }
    )
    return queries.insert_cases(session, rows, constants)
