"""Pydantic schemas: the indicator framework file and the JSON the API returns."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DimensionCode = Literal["tangibles", "reliability", "responsiveness", "assurance", "empathy"]
ObjectKind = Literal["hall", "department", "window", "staff", "item", "device"]
Direction = Literal["higher", "lower"]

SERVQUAL_DIMENSIONS: tuple[str, ...] = (
    "tangibles",
    "reliability",
    "responsiveness",
    "assurance",
    "empathy",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Names(Strict):
    zh: str = Field(min_length=1, max_length=100)
    en: str = Field(min_length=1, max_length=100)


class DimensionSpec(Strict):
    code: DimensionCode
    name: Names
    weight: float = Field(gt=0)
    description: str = ""


class IndicatorSpec(Strict):
    """One node of the tree: a leaf indicator (with a formula) or a group of indicators."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: Names
    dimension: DimensionCode
    parent: str | None = None
    weight: float = Field(gt=0)
    applies_to: list[ObjectKind] = Field(default_factory=list)
    formula: str | None = None
    unit: str | None = Field(default=None, max_length=16)
    direction: Direction | None = None
    target: float | None = None
    source: list[str] = Field(default_factory=list)
    description: str = ""


class FrameworkFile(Strict):
    framework: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$")
    label: str = Field(default="", max_length=64)
    valid_from: date | None = None
    description: str = ""
    # Sibling weights add up to this: 1 (fractions) or 100 (percent).
    weight_total: Literal[1, 100] = 1
    dimensions: list[DimensionSpec]
    indicators: list[IndicatorSpec]


# --- API ---------------------------------------------------------------------------------


class FrameworkNodeOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    dimension: str
    parent: str | None
    weight: float
    is_group: bool
    applies_to: list[str]
    formula: str | None
    unit: str | None
    direction: str | None
    target: float | None
    source: list[str]
    description: str


class DimensionOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    weight: float


class FrameworkOut(BaseModel):
    name: str
    label: str
    version: int | None
    version_id: int | None
    sha256: str
    valid_from: date | None
    dimensions: list[DimensionOut]
    indicators: list[FrameworkNodeOut]


class IndicatorScoreOut(BaseModel):
    code: str
    value: float | None
    target: float | None
    score: float | None
    met: bool | None


class ObjectScoreOut(BaseModel):
    object_kind: str
    object_id: int
    label: str
    overall: float | None
    rank: int | None = None  # 1 = best overall score among the objects of this kind
    previous_overall: float | None = None  # overall score in the previous period
    dimensions: dict[str, float | None]
    indicators: list[IndicatorScoreOut]


class ScoresOut(BaseModel):
    hall: str
    object_kind: str
    period: str
    period_kind: str
    start: date
    end: date
    framework_version: int | None
    previous_period: str | None = None
    materialized: bool
    objects: list[ObjectScoreOut]
