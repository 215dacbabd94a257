"""Request bodies of the matters API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MatterAcceptIn(_Body):
    applicant_name: str = Field(min_length=1, max_length=100)
    applicant_phone: str = Field(min_length=1, max_length=20)
    materials: list[str] = Field(default_factory=list, max_length=40)
    delivery_method: str = Field(default="pickup", max_length=16)
    delivery_name: str | None = Field(default=None, max_length=100)
    delivery_phone: str | None = Field(default=None, max_length=20)
    delivery_address: str | None = Field(default=None, max_length=300)


class MatterStepIn(_Body):
    note: str = Field(default="", max_length=2000)
    materials: list[str] = Field(default_factory=list, max_length=40)
    in_person: bool = False


class MatterDeliveryIn(_Body):
    method: str = Field(max_length=16)
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=20)
    address: str | None = Field(default=None, max_length=300)
