"""Feature encodings of a stored router: how input columns become the model's covariates.

A stored router (:mod:`engine.uplift.stored`) must turn the columns of an assignment file
(``debtor_type``, ``amount_owed``) into exactly the covariates it was fitted on, without the
code that built them at training time. Each feature therefore carries its own encoding:

``letter``   1.0 when the column's string has ``value`` at ``position``, 0.0 when it has
             ``other`` there (the two poles of a PAIR Finance dimension, e.g. W/D).
``log``      natural log of a positive number (amount owed).
``numeric``  a finite number as is.
``product``  the product of two earlier features (interactions).

A row whose inputs cannot be encoded (missing value, unknown letter, amount <= 0) is *invalid*,
not an error: the router gives such a debtor its default treatment, a deterministic function
of what is known, so the stored propensity stays the true probability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

# The feature models are part of the experiment config: `dunning validate` builds them and
# needs neither numpy nor pandas (~0.15 s and ~0.5 s to import); encoding rows imports them.
if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from engine.uplift.covariates import FloatArray

    BoolArray = npt.NDArray[np.bool_]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LetterFeature(_Frozen):
    """1.0 if ``column[position] == value``, 0.0 if it is ``other``; else the row is invalid."""

    encoding: Literal["letter"] = "letter"
    name: str
    column: str
    position: Annotated[int, Field(ge=0)]
    value: Annotated[str, Field(min_length=1, max_length=1)]
    other: Annotated[str, Field(min_length=1, max_length=1)]


class LogFeature(_Frozen):
    """Natural log of ``column``; a missing or non-positive value makes the row invalid."""

    encoding: Literal["log"] = "log"
    name: str
    column: str


class NumericFeature(_Frozen):
    """``column`` as a number; a missing or non-finite value makes the row invalid."""

    encoding: Literal["numeric"] = "numeric"
    name: str
    column: str


class ProductFeature(_Frozen):
    """The product of two features listed before this one."""

    encoding: Literal["product"] = "product"
    name: str
    of: tuple[str, str]


Feature = Annotated[
    LetterFeature | LogFeature | NumericFeature | ProductFeature, Field(discriminator="encoding")
]


def input_columns(features: Sequence[Feature]) -> tuple[str, ...]:
    """The input columns the features read, in first-use order."""
    seen: dict[str, None] = {}
    for f in features:
        if not isinstance(f, ProductFeature):
            seen.setdefault(f.column, None)
    return tuple(seen)


def check_features(features: Sequence[Feature]) -> None:
    """Raise ``ValueError`` on duplicate names or a product of unknown / later features."""
    names: list[str] = []
    for f in features:
        if f.name in names:
            raise ValueError(f"duplicate feature name {f.name!r}")
        if isinstance(f, ProductFeature):
            missing = [part for part in f.of if part not in names]
            if missing:
                raise ValueError(
                    f"feature {f.name!r}: product of {missing}, which are not earlier features"
                )
        if isinstance(f, LetterFeature) and f.value == f.other:
            raise ValueError(f"feature {f.name!r}: value and other must differ")
        names.append(f.name)


def _strings(values: npt.ArrayLike) -> npt.NDArray[np.str_]:
    import numpy as np
    import pandas as pd

    raw = pd.Series(np.asarray(values, dtype=object))
    return raw.where(raw.notna(), "").astype(str).to_numpy(dtype=np.str_)


def encode(
    features: Sequence[Feature], inputs: Mapping[str, npt.ArrayLike], n: int
) -> tuple[pd.DataFrame, BoolArray]:
    """Covariates of ``n`` rows from their input columns, and which rows are valid.

    Parameters
    ----------
    features
        The encodings, in the model's column order.
    inputs
        Column name -> shape (n,) values. A column the features need but ``inputs`` lacks makes
        every row invalid (e.g. an assignment file without ``amount_owed``).
    n
        Number of rows.

    Returns
    -------
    tuple
        ``(covariates (n, d) with invalid rows set to 0, valid (n,))``.
    """
    import numpy as np
    import pandas as pd

    valid = np.ones(n, dtype=bool)
    columns: dict[str, FloatArray] = {}
    for f in features:  # a dozen features, each vectorised over rows
        if isinstance(f, ProductFeature):
            columns[f.name] = columns[f.of[0]] * columns[f.of[1]]
            continue
        if f.column not in inputs:
            valid[:] = False
            columns[f.name] = np.zeros(n)
            continue
        raw = inputs[f.column]
        if isinstance(f, LetterFeature):
            # Few distinct codes (16 debtor types): decide per distinct code, gather per row.
            codes, uniques = pd.factorize(_strings(raw))
            letter = pd.Series(uniques, dtype=object).str[f.position].fillna("")
            value_of = (letter == f.value).to_numpy(dtype=bool)
            other_of = (letter == f.other).to_numpy(dtype=bool)
            is_value, is_other = value_of[codes], other_of[codes]
            valid &= is_value | is_other
            columns[f.name] = is_value.astype(np.float64)
            continue
        number = pd.to_numeric(pd.Series(np.asarray(raw, dtype=object)), errors="coerce")
        x = number.to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(x) & ((x > 0.0) if isinstance(f, LogFeature) else True)
        valid &= ok
        safe = np.where(ok, x, 1.0)
        columns[f.name] = np.log(safe) if isinstance(f, LogFeature) else safe
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n))
    frame.loc[~valid, :] = 0.0
    return frame, valid


def pair_features(
    *,
    type_column: str = "debtor_type",
    amount_column: str = "amount_owed",
    interactions: bool = True,
) -> tuple[Feature, ...]:
    """The encodings of :func:`engine.uplift.debtor_covariates`: the four PAIR Finance poles
    (W, A, O, E at positions 0-3 of the type code), their pairwise products, log amount."""
    from engine.uplift.covariates import DIMENSIONS

    poles = (("W", "D"), ("A", "I"), ("O", "C"), ("E", "R"))
    out: list[Feature] = [
        LetterFeature(name=name, column=type_column, position=i, value=v, other=o)
        for i, (name, (v, o)) in enumerate(zip(DIMENSIONS, poles, strict=True))
    ]
    if interactions:
        for i, first in enumerate(DIMENSIONS):
            for second in DIMENSIONS[i + 1 :]:
                out.append(ProductFeature(name=f"{first}:{second}", of=(first, second)))
    out.append(LogFeature(name="log_amount", column=amount_column))
    return tuple(out)
