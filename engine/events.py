"""Outcome events as the engine receives them: a validated, columnar batch. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt


def to_datetime64(when: datetime) -> np.datetime64:
    """An aware datetime as naive-UTC ``datetime64[us]`` (numpy has no time zones)."""
    if when.utcoffset() is None:
        raise ValueError(f"datetime {when} has no time zone; the engine works in UTC")
    return np.datetime64(when.astimezone(UTC).replace(tzinfo=None), "us")


def to_datetimes(values: npt.NDArray[np.datetime64]) -> list[datetime]:
    """Naive-UTC ``datetime64`` values as aware UTC datetimes, for the database."""
    return [v.replace(tzinfo=UTC) for v in values.astype("datetime64[us]").tolist()]


EventKind = Literal["payment", "reminder", "collection_case", "churn", "inquiry"]
EVENT_KINDS: tuple[EventKind, ...] = ("payment", "reminder", "collection_case", "churn", "inquiry")


@dataclass(frozen=True)
class EventBatch:
    """n outcome events, one per index.

    Attributes
    ----------
    event_id
        Shape (n,), unique per event across all files: re-sending an event changes nothing.
    debtor_id
        Shape (n,).
    kind
        Shape (n,), one of :data:`EVENT_KINDS`.
    amount
        Shape (n,), currency amount for payments; NaN for other kinds.
    occurred_at
        Shape (n,), ``datetime64[us]``, naive UTC.
    case_id
        Shape (n,), the dunning case the event belongs to, None where the event names none
        (it is then matched by debtor and time); None for the whole batch: no event names one.
    """

    event_id: npt.NDArray[np.object_]
    debtor_id: npt.NDArray[np.object_]
    kind: npt.NDArray[np.object_]
    amount: npt.NDArray[np.float64]
    occurred_at: npt.NDArray[np.datetime64]
    case_id: npt.NDArray[np.object_] | None = None

    def __post_init__(self) -> None:
        n = len(self.event_id)
        if self.case_id is None:
            object.__setattr__(self, "case_id", np.full(n, None, dtype=object))
        for name in ("debtor_id", "kind", "amount", "occurred_at", "case_id"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"EventBatch.{name} has {len(getattr(self, name))} rows, not {n}")
        unknown = set(self.kind.tolist()) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds: {', '.join(sorted(map(repr, unknown)))}")
        payments = self.kind == "payment"
        if np.any(payments & ~(np.isfinite(self.amount) & (self.amount > 0))):
            raise ValueError("every payment needs a positive amount")

    @classmethod
    def empty(cls) -> EventBatch:
        none = np.array([], dtype=object)
        return cls(none, none, none, np.array([]), np.array([], dtype="datetime64[us]"))

    @classmethod
    def concat(cls, batches: Sequence[EventBatch]) -> EventBatch:
        """One batch with the rows of ``batches`` in order."""
        if not batches:
            return cls.empty()
        return cls(
            np.concatenate([b.event_id for b in batches]),
            np.concatenate([b.debtor_id for b in batches]),
            np.concatenate([b.kind for b in batches]),
            np.concatenate([b.amount for b in batches]),
            np.concatenate([b.occurred_at.astype("datetime64[us]") for b in batches]),
            np.concatenate([b.cases for b in batches]),
        )

    def __len__(self) -> int:
        return len(self.event_id)

    @property
    def cases(self) -> npt.NDArray[np.object_]:
        """``case_id``, never None (the constructor fills it)."""
        assert self.case_id is not None
        return self.case_id

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> EventBatch:
        """The sub-batch at ``index`` (integer positions or a boolean mask)."""
        return EventBatch(
            self.event_id[index],
            self.debtor_id[index],
            self.kind[index],
            self.amount[index],
            self.occurred_at[index],
            self.cases[index],
        )
