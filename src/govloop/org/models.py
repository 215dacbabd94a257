"""Organisation tables: departments, halls and memberships (department and hall)."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from govloop.core.db import Base, JSONType

# Minutes a ticket's queue rank is moved ahead of its arrival time, per category.
# A regular ticket that has waited longer than the boost is still called first, so
# priority never starves the regular queue. Configurable per hall.
DEFAULT_PRIORITY_RULE: dict[str, int] = {
    "elderly": 60,
    "disabled": 60,
    "pregnant": 60,
    "military": 60,
    "appointment": 45,
    "carried_over": 240,
}


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The department above this one in the organisation tree (None: a top-level department).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    # Nothing with history is deleted: an archived department keeps its items and orders.
    archived: Mapped[bool] = mapped_column(Boolean, default=False)


class Hall(Base):
    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(300))
    # "lat,lng" (WGS-84) for the map of nearby halls
    location: Mapped[str | None] = mapped_column(String(60))
    # First opening and last closing of a working day; ``sessions`` holds the periods in
    # between (a lunch break splits the day). Kept in step by org.hours.
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    closes_at: Mapped[time] = mapped_column(Time, default=time(17, 0))
    # [["09:00", "12:00"], ["13:30", "17:00"]]; None: one period, opens_at to closes_at
    sessions: Mapped[list[list[str]] | None] = mapped_column(JSONType)
    # ISO weekdays (6 Saturday, 7 Sunday) the hall serves beyond the working days
    weekend_days: Mapped[list[int]] = mapped_column(JSONType, default=list)
    # ISO dates closed beyond the holiday calendar, and extra working days
    closed_days: Mapped[list[str]] = mapped_column(JSONType, default=list)
    extra_days: Mapped[list[str]] = mapped_column(JSONType, default=list)
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    # Refuse tickets outside opening hours and on non-working days.
    enforce_hours: Mapped[bool] = mapped_column(Boolean, default=True)
    priority_rule: Mapped[dict[str, Any]] = mapped_column(
        JSONType, default=lambda: dict(DEFAULT_PRIORITY_RULE)
    )
    # A first no-show puts the ticket back in the queue this many times (过号重排).
    no_show_grace_recalls: Mapped[int] = mapped_column(Integer, default=1)
    appointment_early_minutes: Mapped[int] = mapped_column(Integer, default=30)
    appointment_late_minutes: Mapped[int] = mapped_column(Integer, default=15)


class DepartmentMember(Base):
    """Which department a handler acts for."""

    __tablename__ = "hotline_department_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)


class HallMember(Base):
    """Which halls a staff member works in (a manager may run several)."""

    __tablename__ = "hall_members"
    __table_args__ = (UniqueConstraint("user_id", "hall_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)


class ConfigVersion(Base):
    """The state of one configured object that figures depend on (a hall's opening hours, a
    window's items), in force from a day until the next version. A version for a future day
    is a scheduled change (``scheduled_id``): plans for that day already see it. Objects
    are named by their business keys, so a scheduled hall or window that does not exist yet
    has versions too."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "key", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # hall_hours, window
    key: Mapped[str] = mapped_column(String(120))  # hall code; "HALL/3" for a window
    hall_code: Mapped[str] = mapped_column(String(32), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    scheduled_id: Mapped[int | None] = mapped_column(Integer, index=True)
