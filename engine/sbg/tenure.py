"""Subscriber tenure tables: validation, and simulation from the sBG model."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from engine.sbg.closed_form import _check_shape_params

#: Columns of a tenure table, as pymc-marketing's ``ShiftedBetaGeoModel`` expects them.
TENURE_COLUMNS = ("customer_id", "recency", "T", "cohort")


def _rows(mask: npt.ArrayLike, frame: pd.DataFrame) -> str:
    """``N row(s) (index a, b, ...)``: how many rows ``mask`` flags, and the first five labels."""
    flags = np.asarray(mask, dtype=bool)
    labels = [repr(label) for label in frame.index[flags][:5]]
    more = ", ..." if int(flags.sum()) > 5 else ""
    return f"{int(flags.sum())} row(s) (index {', '.join(labels)}{more})"


def validate_tenure_table(tenure: pd.DataFrame) -> None:
    """Check a subscriber tenure table; raise ``ValueError`` naming every problem found.

    One row per customer; columns (as pymc-marketing's ``ShiftedBetaGeoModel`` expects):

    - ``customer_id``: unique, not null;
    - ``T``: periods the customer's cohort has been observed, a whole number >= 2, the same
      for every customer of a cohort;
    - ``recency``: the last period in which the customer was active, a whole number with
      ``1 <= recency <= T``. ``recency == T``: still alive (lifetime >= T, censored; ``T - 1``
      renewals made); ``recency = t < T``: churned at the end of period ``t``;
    - ``cohort``: acquisition cohort label, not null.

    Other columns are ignored.
    """
    if not isinstance(tenure, pd.DataFrame):
        raise TypeError(f"tenure must be a pandas DataFrame, got {type(tenure).__name__}")
    missing = [column for column in TENURE_COLUMNS if column not in tenure.columns]
    if missing:
        raise ValueError(
            f"tenure table is missing column(s) {', '.join(map(repr, missing))}; "
            f"expected {', '.join(TENURE_COLUMNS)}"
        )
    if len(tenure) == 0:
        raise ValueError("tenure table has no rows")
    problems: list[str] = []
    ids = tenure["customer_id"]
    if ids.isna().any():
        problems.append(f"customer_id is missing in {_rows(ids.isna(), tenure)}")
    duplicated = ids.duplicated(keep=False) & ids.notna()
    if duplicated.any():
        problems.append(f"customer_id must be unique; repeated in {_rows(duplicated, tenure)}")
    whole: dict[str, bool] = {}
    for column in ("recency", "T"):
        values = tenure[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            problems.append(f"{column} must be numeric, got dtype {values.dtype}")
            whole[column] = False
            continue
        numbers = values.astype(np.float64)
        bad = ~np.isfinite(numbers) | (numbers != np.floor(numbers))
        if bad.any():
            problems.append(f"{column} must be a whole number; it is not in {_rows(bad, tenure)}")
        whole[column] = not bad.any()
    if whole["recency"] and (tenure["recency"] < 1).any():
        problems.append(f"recency must be >= 1; below 1 in {_rows(tenure['recency'] < 1, tenure)}")
    if whole["T"] and (tenure["T"] < 2).any():
        short = tenure["T"] < 2
        problems.append(
            f"T must be >= 2 (a renewal must be observable); below 2 in {_rows(short, tenure)}"
        )
    if whole["recency"] and whole["T"]:
        late = tenure["recency"] > tenure["T"]
        if late.any():
            problems.append(f"recency must not exceed T; it does in {_rows(late, tenure)}")
    cohorts = tenure["cohort"]
    if cohorts.isna().any():
        problems.append(f"cohort is missing in {_rows(cohorts.isna(), tenure)}")
    elif whole["T"]:
        counts = tenure.groupby("cohort", sort=True)["T"].nunique()
        mixed = [str(label) for label in counts.index[counts.to_numpy() > 1]]
        if mixed:
            problems.append(
                "T must be the same for every customer of a cohort; cohort(s) with several T: "
                + ", ".join(mixed[:5])
                + (", ..." if len(mixed) > 5 else "")
            )
    if problems:
        raise ValueError("invalid tenure table: " + "; ".join(problems))


def simulate_tenure_table(
    *,
    alpha: float,
    beta: float,
    customers: int,
    periods: int,
    rng: np.random.Generator,
    cohort: str = "cohort-0",
    first_id: int = 0,
) -> pd.DataFrame:
    """Simulate one cohort's tenure table from the sBG model.

    Each customer draws ``theta ~ Beta(alpha, beta)`` and a churn period
    ``t ~ Geometric(theta)`` on ``1, 2, ...`` (F&H 2007, eq. 1); the table records
    ``recency = min(t, periods)`` and ``T = periods``. Concatenate tables (with distinct
    ``first_id``) for several cohorts.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id`` (``first_id``, ``first_id + 1``, ...), ``recency``, ``T``,
        ``cohort``; see :func:`validate_tenure_table`.
    """
    _check_shape_params(alpha, beta)
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    if periods < 2:
        raise ValueError(f"periods must be >= 2, got {periods}")
    theta = rng.beta(alpha, beta, size=customers)
    uniform = 1.0 - rng.random(customers)  # in (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        # Inverse CDF of the geometric: P(t > k) = (1 - theta)^k. theta = 0 (underflow for
        # tiny alpha) never churns; theta = 1 churns in period 1.
        lifetime = np.ceil(np.log(uniform) / np.log1p(-theta))
    lifetime = np.where(theta > 0, lifetime, periods)
    recency = np.clip(np.nan_to_num(lifetime, nan=1.0), 1, periods).astype(np.int64)
    return pd.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + customers, dtype=np.int64),
            "recency": recency,
            "T": np.full(customers, periods, dtype=np.int64),
            "cohort": cohort,
        }
    )
