"""Contact rules checked at assignment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, model_validator

from engine.config.base import _Frozen, _invalid


class QuietHours(_Frozen):
    """No contact between ``start`` and ``end`` local time (may wrap midnight)."""

    start: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "21:00"
    end: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "08:00"
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Stockholm.")

    @model_validator(mode="after")
    def _known_zone(self) -> QuietHours:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _invalid("timezone", f"unknown time zone {self.timezone!r}") from None
        return self

    def contains(self, when: datetime) -> bool:
        """Whether the aware time ``when`` falls in the quiet hours, in their time zone."""
        local = when.astimezone(ZoneInfo(self.timezone)).strftime("%H:%M")
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end  # wraps midnight


class Compliance(_Frozen):
    """Contact rules checked at assignment (e.g. US Regulation F: 7 calls in 7 days)."""

    contact_cap_per_7_days: Annotated[
        int | None, Field(ge=0, description="Most contacts in any rolling 7 days.")
    ] = None
    quiet_hours: QuietHours | None = None
    fallback_arm: str = Field(
        description="Arm given instead when a contacting arm would break a rule; must not "
        "contact the debtor."
    )
