"""Treatment arms, including router (policy) arms."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from engine.config.base import CONTACT_CHANNELS, KEY_PATTERN, Channel, _Frozen, _invalid_all
from engine.uplift.stored import RoutingModel


class Router(_Frozen):
    """``router: {model: models/router.json, treatments: [direct_collection, friendly_sms]}``."""

    model: str = Field(
        min_length=1,
        description="Router model file written by `dunning uplift fit` (JSON), relative to the "
        "experiment file.",
    )
    treatments: Annotated[tuple[str, ...], Field(min_length=2)] = Field(
        description="The arms whose treatments the router gives: exactly those of its rule."
    )
    # Hidden from the JSON Schema: editors must not suggest writing it by hand.
    fitted: SkipJsonSchema[RoutingModel | None] = Field(
        default=None,
        description="The model file's content, read by the loader (not written in YAML); part "
        "of the experiment's content hash, so a new model is a new experiment version.",
    )


class Arm(_Frozen):
    """One treatment arm, e.g. ``friendly_sms``."""

    key: Annotated[str, Field(pattern=KEY_PATTERN, description="Stable identifier of the arm.")]
    label: str | None = Field(default=None, description="Human-readable name for reports.")
    champion: bool = Field(
        default=False, description="True for exactly one arm: the current strategy."
    )
    channel: Channel = Field(
        default="none",
        description="How the treatment reaches the debtor: sms, email, letter and phone contact "
        "the debtor (contact caps and quiet hours apply), agency hands the case to a collection "
        "agency, none does nothing.",
    )
    cost: Annotated[float, Field(ge=0, description="Cost per treated debtor, in the currency.")] = (
        0.0
    )
    discount: Annotated[
        float,
        Field(ge=0, lt=1, description="Share of the amount owed waived when paid in the window."),
    ] = 0.0
    fee: Annotated[
        float,
        Field(ge=0, description="Late fee added to the amount owed, in the currency."),
    ] = 0.0
    contacts_debtor: bool = Field(
        default=False,
        description="The arm sends a message to the debtor (reminder, offer); defaults to "
        "whether the channel contacts the debtor.",
    )
    opens_collection_case: bool = Field(
        default=False,
        description="The arm hands the case to a collection agency; defaults to channel: agency.",
    )

    router: Router | None = Field(
        default=None,
        description="A policy arm: each debtor who draws it gets one of the listed arms' "
        "treatments, chosen by a stored fitted routing model from the debtor's covariates.",
    )

    @model_validator(mode="before")
    @classmethod
    def _flags_from_channel(cls, data: Any) -> Any:
        # The channel implies the flags; writing them as well is allowed when they agree.
        if isinstance(data, dict) and isinstance(data.get("channel"), str):
            data = dict(data)
            data.setdefault("contacts_debtor", data["channel"] in CONTACT_CHANNELS)
            data.setdefault("opens_collection_case", data["channel"] == "agency")
        return data

    @model_validator(mode="after")
    def _flags_agree(self) -> Arm:
        problems = []
        if self.channel != "none" and self.contacts_debtor != (self.channel in CONTACT_CHANNELS):
            problems.append(
                (
                    "contacts_debtor",
                    f"contacts_debtor: {self.contacts_debtor} contradicts channel: {self.channel}",
                )
            )
        if self.channel != "none" and self.opens_collection_case != (self.channel == "agency"):
            problems.append(
                (
                    "opens_collection_case",
                    f"opens_collection_case: {self.opens_collection_case} "
                    f"contradicts channel: {self.channel}",
                )
            )
        if self.router is not None:
            # Cost, contacts and collection cases are those of the treatment each debtor gets.
            problems.extend(
                (
                    name,
                    f"a router arm has no treatment of its own; {name} comes from the "
                    "treatment each debtor is routed to",
                )
                for name in (
                    "channel",
                    "cost",
                    "discount",
                    "fee",
                    "contacts_debtor",
                    "opens_collection_case",
                )
                if getattr(self, name) not in (0, False, "none")
            )
        if problems:
            raise _invalid_all(problems)
        return self

    @property
    def display_name(self) -> str:
        return self.label or self.key
