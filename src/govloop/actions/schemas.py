"""Pydantic schemas of the actions API: what a manager decides, and the assessments.

Types are kept permissive on purpose (strings, lists, optional dates): the service
checks the meaning and explains every refusal in plain zh-CN words, for the API and
for the page forms alike.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScopeIn(BaseModel):
    """Where the action applies; empty lists mean the whole hall, every slot, every day."""

    model_config = ConfigDict(extra="forbid")

    items: list[str] = Field(default_factory=list, max_length=100)  # item codes
    windows: list[int] = Field(default_factory=list, max_length=100)  # window numbers
    slots: list[str] = Field(default_factory=list, max_length=48)  # "HH:MM", 30-minute slots
    weekdays: list[int] = Field(default_factory=list, max_length=7)  # 0 = Monday … 6 = Sunday


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=200)
    kind: str = Field("other", max_length=32)
    decision: str = Field("", max_length=4000)
    owner_id: int | None = None
    due_date: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    scope: ScopeIn = Field(default_factory=ScopeIn)
    indicators: list[str] = Field(default_factory=list, max_length=50)
    anomaly_id: int | None = None
    recommendation: dict[str, Any] | None = None


class StartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = None  # the day it actually started (default: today)
    note: str = Field("", max_length=2000)


class CompleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: date | None = None  # the day it was carried out (default: today)
    note: str = Field("", max_length=2000)


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field("", max_length=2000)


class MeasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    today: date | None = None  # measure as of this day (default: today); never later


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasonable: bool
    comment: str = Field("", max_length=2000)
