"""Who may enter an experiment: rules over columns of the debtor file (evaluated by
:mod:`engine.eligibility`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from engine.config.base import _Frozen, _invalid


class EligibilityRule(_Frozen):
    """One filter on a debtor attribute (a column of the debtor file); a debtor enters the
    experiment only if every rule passes.

    ``min``/``max`` compare numbers (inclusive); ``one_of``/``none_of`` compare the text of the
    cell exactly (case-sensitive). A missing value (an empty cell, a null) fails the rule unless
    ``when_missing: include``. Evaluated by :mod:`engine.eligibility`.
    """

    column: Annotated[
        str, Field(min_length=1, description="Column of the debtor file, e.g. amount_owed.")
    ]
    min: Annotated[
        float | None, Field(allow_inf_nan=False, description="Smallest allowed value, inclusive.")
    ] = None
    max: Annotated[
        float | None, Field(allow_inf_nan=False, description="Largest allowed value, inclusive.")
    ] = None
    one_of: Annotated[
        tuple[str, ...] | None,
        Field(min_length=1, description="Allowed values, e.g. [DE, AT]."),
    ] = None
    none_of: Annotated[
        tuple[str, ...] | None,
        Field(min_length=1, description="Excluded values."),
    ] = None
    when_missing: Literal["exclude", "include"] = Field(
        default="exclude",
        description="A debtor without a value in the column: exclude (default) or include.",
    )

    @field_validator("one_of", "none_of", mode="before")
    @classmethod
    def _integers_as_text(cls, value: object) -> object:
        # `one_of: [1, 2]` for a code column: YAML reads integers; the file holds their text.
        if isinstance(value, list | tuple):
            if any(isinstance(v, bool) for v in value):
                raise ValueError('quote yes/no values ("no"): YAML reads them as true/false')
            return [str(v) if isinstance(v, int) else v for v in value]
        return value

    @model_validator(mode="after")
    def _check_conditions(self) -> EligibilityRule:
        numeric = self.min is not None or self.max is not None
        text = self.one_of is not None or self.none_of is not None
        if not numeric and not text:
            raise _invalid("column", "a rule needs a condition: min, max, one_of or none_of")
        if numeric and text:
            raise _invalid(
                "one_of" if self.one_of is not None else "none_of",
                "a rule compares numbers (min, max) or values (one_of, none_of), not both; "
                "write two rules",
            )
        if self.one_of is not None and self.none_of is not None:
            raise _invalid("none_of", "use one_of or none_of, not both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _invalid("max", f"max {self.max:g} is below min {self.min:g}")
        return self
