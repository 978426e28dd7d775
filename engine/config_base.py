"""Shared by the experiment models: the frozen base model and cross-field errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


def _invalid(field: str, message: str) -> PydanticCustomError:
    """A cross-field error that the loader can pin to ``field`` (dotted, relative to the model).

    Model validators only know the model's own location; passing the field in the context lets
    :mod:`engine.loader` point at the line that holds it instead of the top of the mapping.
    """
    return PydanticCustomError("cross_field", "{message}", {"message": message, "field": field})


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
