"""The answer of an assignment chunk, one row per requested debtor: assembled per distinct id
from the newly drawn and the stored assignments, then spread back to the input's rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from engine.service.assignments import Drawn


@dataclass(frozen=True)
class AssignResult:
    """One row per requested debtor (input order).

    ``new`` is False for debtors who already had an arm (sticky assignment), for repeats of an
    id within the batch and for ineligible debtors. An ineligible debtor (``eligible`` False)
    has no arm (None), propensity NaN, versions 0, and the eligibility reason in ``reason``.
    """

    debtor_id: npt.NDArray[np.object_]
    arm: npt.NDArray[np.object_]
    propensity: npt.NDArray[np.float64]
    allocation_version: npt.NDArray[np.int64]
    new: npt.NDArray[np.bool_]
    holdout: npt.NDArray[np.bool_]  # in the randomized holdout
    #: Assigned: None, or why the debtor did not get the drawn arm (compliance);
    #: ineligible: why the debtor was left out.
    reason: npt.NDArray[np.object_]
    eligible: npt.NDArray[np.bool_]
    experiment_version: npt.NDArray[np.int64]
    treatment: npt.NDArray[np.object_]  # what to do: the arm, or the arm a router chose
    #: With ``unit.case``: each row's case id (input order) and how many cases were new (a
    #: case id stored already, as when a file is sent again, is kept as it is).
    case_id: npt.NDArray[np.object_] | None = None
    new_cases: int = 0

    @property
    def new_count(self) -> int:
        return int(self.new.sum())

    @property
    def ineligible_count(self) -> int:
        return int((~self.eligible).sum())


def positions(keys: npt.NDArray[np.object_], stored: pa.Table) -> npt.NDArray[np.intp]:
    """Row of each key in ``stored`` (-1 where absent), hashed in Arrow."""
    at = pc.index_in(pa.array(keys, pa.string()), value_set=stored.column("debtor_id"))
    return np.asarray(pc.fill_null(at, -1).to_numpy(zero_copy_only=False), dtype=np.intp)


class Answers:
    """Per distinct id of a chunk: the answer being assembled (columns of AssignResult)."""

    def __init__(self, why: npt.NDArray[np.object_]) -> None:
        m = len(why)
        self.arm = np.full(m, None, dtype=object)
        self.propensity = np.full(m, np.nan)
        self.allocation_version = np.zeros(m, dtype=np.int64)
        self.experiment_version = np.zeros(m, dtype=np.int64)
        self.holdout = np.zeros(m, dtype=bool)
        self.reason = why.copy()
        self.treatment = np.full(m, None, dtype=object)
        self.eligible = why == None  # noqa: E711 - elementwise
        self.new = np.zeros(m, dtype=bool)

    def put_new(
        self,
        where: npt.NDArray[np.intp],
        drawn: Drawn,
        inserted: npt.NDArray[np.bool_],
        constants: Mapping[str, Any],
    ) -> None:
        self.arm[where] = drawn.arm[inserted]
        self.propensity[where] = drawn.propensity[inserted]
        self.allocation_version[where] = constants["allocation_version"]
        self.experiment_version[where] = constants["experiment_version"]
        self.holdout[where] = drawn.holdout[inserted]
        self.reason[where] = drawn.reason[inserted]
        self.treatment[where] = drawn.treatment[inserted]
        self.eligible[where] = True
        self.new[where] = True

    def put_stored(
        self, where: npt.NDArray[np.intp], stored: pa.Table, rows: npt.NDArray[np.intp]
    ) -> None:
        def column(name: str) -> npt.NDArray[Any]:
            return np.asarray(stored.column(name).to_numpy(zero_copy_only=False))[rows]

        self.arm[where] = column("arm")
        self.propensity[where] = column("propensity")
        self.allocation_version[where] = column("allocation_version")
        self.experiment_version[where] = column("experiment_version")
        self.holdout[where] = column("holdout")
        self.reason[where] = column("reason")
        self.treatment[where] = column("treatment")
        self.eligible[where] = True

    def result(
        self,
        ids: npt.NDArray[np.object_],
        inverse: npt.NDArray[np.intp],
        is_new: npt.NDArray[np.bool_],
    ) -> AssignResult:
        return AssignResult(
            debtor_id=ids,
            arm=self.arm[inverse],
            propensity=self.propensity[inverse],
            allocation_version=self.allocation_version[inverse],
            new=is_new,
            holdout=self.holdout[inverse],
            reason=self.reason[inverse],
            eligible=self.eligible[inverse],
            experiment_version=self.experiment_version[inverse],
            treatment=self.treatment[inverse],
        )
