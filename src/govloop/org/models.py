"""Organisation tables: departments, halls and department memberships."""

from __future__ import annotations

from datetime import time
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Time
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


class Hall(Base):
    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    opens_at: Mapped[time] = mapped_column(Time, default=time(9, 0))
    closes_at: Mapped[time] = mapped_column(Time, default=time(17, 0))
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
