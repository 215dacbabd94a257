"""Scenarios of `govloop bench eta`: a hall, its day and its citizens, in YAML.

A few are shipped in ``scenarios/`` and found by name (``district``); any other file is
found by its path. Files are checked with pydantic; every problem is reported as
:class:`ScenarioError` with the file and the field, never as a traceback.
"""

from __future__ import annotations

import itertools
from datetime import date, time
from pathlib import Path
from typing import Any, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

SCENARIO_DIR = Path(__file__).parent / "scenarios"


class ScenarioError(ValueError):
    """A scenario that cannot be read or does not make sense; the message says why."""


def _parse_clock(text: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day like 08:30") from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Period(Strict):
    """``"08:30-12:00"`` in the file."""

    start: time
    end: time

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            start, sep, end = value.partition("-")
            if not sep:
                raise ValueError(f"{value!r} is not a period like 08:30-12:00")
            return {"start": _parse_clock(start.strip()), "end": _parse_clock(end.strip())}
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError(f"{self.start:%H:%M}-{self.end:%H:%M} ends before it starts")
        return self

    @property
    def start_s(self) -> float:
        return self.start.hour * 3600.0 + self.start.minute * 60.0

    @property
    def end_s(self) -> float:
        return self.end.hour * 3600.0 + self.end.minute * 60.0

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class Item(Strict):
    code: str = Field(pattern=r"^[A-Z][A-Z0-9]{0,15}$", description="item code, e.g. HJ01")
    name: str | None = None
    prefix: str = Field(pattern=r"^[A-Z]{1,2}$", description="ticket prefix, e.g. A")
    share: float = Field(gt=0, description="relative share of walk-in arrivals")
    handling_minutes: float = Field(gt=0, le=240, description="mean handling time")
    handling_cv: float = Field(ge=0.1, le=3.0, description="coefficient of variation")
    promised_minutes: int | None = Field(None, ge=1, le=240)


class Windows(Strict):
    """One or more windows alike: the items they serve (or all, ``general``) and how fast
    their clerks are (a handling-time multiplier per window, 1.0 = the item's mean)."""

    count: int = Field(1, ge=1, le=100)
    items: list[str] = Field(default_factory=list)
    general: bool = False
    speed: list[float] | float = 1.0

    @model_validator(mode="after")
    def _what_it_serves(self) -> Self:
        if self.general and self.items:
            raise ValueError("a general window serves every item: give general or items")
        if not self.general and not self.items:
            raise ValueError("give the items the window serves, or general: true")
        speeds = self.speed if isinstance(self.speed, list) else [self.speed]
        if isinstance(self.speed, list) and len(self.speed) != self.count:
            raise ValueError(f"speed lists {len(self.speed)} values for {self.count} windows")
        if any(not 0.2 <= s <= 5.0 for s in speeds):
            raise ValueError("speed must be between 0.2 and 5.0")
        return self

    def speeds(self) -> list[float]:
        return list(self.speed) if isinstance(self.speed, list) else [self.speed] * self.count


class Arrivals(Strict):
    """Walk-in arrivals per hour for the whole hall, by time of day (Poisson)."""

    period: Period
    per_hour: float = Field(ge=0, le=5000)

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        # "09:00-10:00": 80
        if isinstance(value, dict) and len(value) == 1:
            ((key, rate),) = value.items()
            if key not in ("period", "per_hour"):
                return {"period": key, "per_hour": rate}
        return value


class Citizens(Strict):
    priority_share: float = Field(0.05, ge=0, le=0.5, description="walk-ins with 绿色通道")
    # Absent when called: base chance, growing with the hours waited; after a requeue.
    absent_base: float = Field(0.03, ge=0, le=0.9)
    absent_per_hour: float = Field(0.05, ge=0, le=2.0)
    absent_after_requeue: float = Field(0.5, ge=0, le=1.0)
    # How long a clerk waits for an absent citizen before marking the no-show.
    call_timeout_seconds: float = Field(90.0, ge=5, le=900)
    # From the call to the citizen at the counter.
    walk_up_seconds: tuple[float, float] = (15.0, 45.0)
    # A clerk's pause between finishing and calling the next ticket.
    call_gap_seconds: tuple[float, float] = (3.0, 12.0)

    @field_validator("walk_up_seconds", "call_gap_seconds")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= value[0] <= value[1] <= 600:
            raise ValueError("give [low, high] seconds with 0 ≤ low ≤ high ≤ 600")
        return value


class Pauses(Strict):
    """Windows pause between tickets (a break, a phone call): a Poisson rate per window-hour
    and a uniform duration. ``lunch``: windows pause through the hall's break."""

    per_hour: float = Field(0.0, ge=0, le=6)
    minutes: tuple[float, float] = (5.0, 15.0)
    lunch: bool = True

    @field_validator("minutes")
    @classmethod
    def _range(cls, value: tuple[float, float]) -> tuple[float, float]:
        if not 0 < value[0] <= value[1] <= 120:
            raise ValueError("give [low, high] minutes with 0 < low ≤ high ≤ 120")
        return value


class Appointments(Strict):
    """Bookable slots of some items; checked in on time, a booking jumps ahead."""

    items: list[str] = Field(min_length=1)
    slot_minutes: int = Field(30, ge=10, le=120)
    per_slot: int = Field(2, ge=1, le=50, description="capacity of each slot")
    fill: float = Field(0.8, ge=0, le=1, description="share of the capacity booked")
    late_share: float = Field(0.1, ge=0, le=1, description="check in too late: regular ticket")
    missed_share: float = Field(0.1, ge=0, le=1, description="never come")


class Scenario(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    description: str = ""
    days: int = Field(3, ge=1, le=60, description="days scored")
    warmup_days: int = Field(1, ge=0, le=10, description="days run first, not scored")
    start_date: date = date(2025, 3, 3)
    hours: list[Period] = Field(min_length=1)
    no_show_grace_recalls: int = Field(1, ge=0, le=5)
    priority_rule: dict[str, float] | None = None
    day_volume_sd: float = Field(0.08, ge=0, le=1, description="log-sd of a day's volume")
    items: list[Item] = Field(min_length=1)
    windows: list[Windows] = Field(min_length=1)
    arrivals: list[Arrivals] = Field(min_length=1)
    citizens: Citizens = Citizens()
    pauses: Pauses = Pauses()
    appointments: Appointments | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        codes = [i.code for i in self.items]
        prefixes = [i.prefix for i in self.items]
        for label, values in (("item code", codes), ("ticket prefix", prefixes)):
            twice = sorted({v for v in values if values.count(v) > 1})
            if twice:
                raise ValueError(f"{label} used twice: {', '.join(twice)}")
        known = set(codes)
        for n, group in enumerate(self.windows):
            unknown = sorted(set(group.items) - known)
            if unknown:
                raise ValueError(f"windows[{n}] serves unknown items: {', '.join(unknown)}")
        served = set().union(*(set(g.items) for g in self.windows))
        if not any(g.general for g in self.windows) and known - served:
            raise ValueError(f"no window serves: {', '.join(sorted(known - served))}")
        periods = sorted(self.hours, key=lambda p: p.start)
        for before, after in itertools.pairwise(periods):
            if after.start < before.end:
                raise ValueError(f"hours {before} and {after} overlap")
        for a in self.arrivals:
            if not any(p.start <= a.period.start and a.period.end <= p.end for p in periods):
                raise ValueError(f"arrivals {a.period} lie outside the opening hours")
        if self.appointments is not None:
            unknown = sorted(set(self.appointments.items) - known)
            if unknown:
                raise ValueError(f"appointments for unknown items: {', '.join(unknown)}")
        if self.priority_rule is not None:
            allowed = {"elderly", "disabled", "pregnant", "military", "appointment"}
            unknown = sorted(set(self.priority_rule) - allowed)
            if unknown:
                raise ValueError(
                    f"priority_rule: unknown categories {', '.join(unknown)} "
                    f"(known: {', '.join(sorted(allowed))})"
                )
        return self

    @property
    def periods(self) -> list[Period]:
        return sorted(self.hours, key=lambda p: p.start)

    def window_count(self) -> int:
        return sum(g.count for g in self.windows)

    def nominal_peak_load(self) -> float:
        """Offered load of the busiest arrival period from the scenario alone: walk-in
        work per hour over the windows' hours (mean speed), before any randomness."""
        items = self.items
        total = sum(i.share for i in items)
        mean_s = sum(i.share * i.handling_minutes * 60.0 for i in items) / total
        speeds = [s for g in self.windows for s in g.speeds()]
        mean_s *= sum(speeds) / len(speeds)
        mean_s += sum(self.citizens.walk_up_seconds) / 2
        peak = max(a.per_hour for a in self.arrivals)
        return peak * mean_s / 3600.0 / self.window_count()


def shipped() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SCENARIO_DIR.glob("*.yaml"))}


def _format(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem["loc"]) or "(top level)"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)


def load_scenario(ref: str) -> Scenario:
    """A shipped scenario by name, or any YAML file by path."""
    known = shipped()
    path = known.get(ref) or Path(ref)
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {ref!r}: not a shipped name ({', '.join(known)}) nor an existing file"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ScenarioError(f"{path}: a scenario is a mapping of fields (name, hours, items…)")
    raw.setdefault("name", path.stem.lower())
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {exc.error_count()} problem(s):\n{_format(exc)}") from None
