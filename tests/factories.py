"""Test data builders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import time
from typing import Any

import pytest
from sqlalchemy.orm import Session

from govloop.core.auth import Role, create_user
from govloop.core.errors import RecordedRefusal
from govloop.core.models import User
from govloop.hall import windows as hall_windows
from govloop.hall.models import AppointmentQuota, ServiceItem, Window, window_items
from govloop.org.models import Department, Hall

PASSWORD = "correct-horse-battery"


@dataclass
class HallWorld:
    hall: Hall
    items: dict[str, ServiceItem]
    windows: dict[int, Window]
    staff: dict[int, User] = field(default_factory=dict)
    manager: User | None = None


def make_user(session: Session, username: str, role: Role = Role.WINDOW_STAFF) -> User:
    return create_user(session=session, username=username, password=PASSWORD, role=role.value)


def make_hall(
    session: Session,
    *,
    code: str = "H1",
    items: dict[str, str] | None = None,
    windows: dict[int, list[str] | None] | None = None,
    staffed: bool = True,
    **hall_options: object,
) -> HallWorld:
    """items: code → prefix; windows: number → item codes (None = general window)."""
    items = items or {"SB01": "A", "GS01": "B"}
    windows = windows or {1: ["SB01"], 2: ["GS01"], 3: None}
    dept = Department(code="D1", name="测试部门")
    session.add(dept)
    session.flush()
    hall = Hall(code=code, name="测试大厅", **({"enforce_hours": False} | hall_options))
    session.add(hall)
    made_items = {}
    for code_, prefix in items.items():
        item = ServiceItem(
            code=code_,
            name=f"事项{code_}",
            department_id=dept.id,
            ticket_prefix=prefix,
            promised_minutes=10,
        )
        session.add(item)
        made_items[code_] = item
    session.flush()
    made_windows = {}
    for number, codes in windows.items():
        window = Window(
            hall_id=hall.id, number=number, name=f"{number}号窗口", is_general=codes is None
        )
        session.add(window)
        session.flush()
        for c in codes or []:
            session.execute(
                window_items.insert().values(window_id=window.id, item_id=made_items[c].id)
            )
        made_windows[number] = window
    world = HallWorld(hall=hall, items=made_items, windows=made_windows)
    if staffed:
        for number in windows:
            user = make_user(session, f"staff{number}")
            hall_windows.sign_in(session=session, hall=hall, window_number=number, actor=user)
            world.staff[number] = user
    world.manager = make_user(session, "manager", Role.HALL_MANAGER)
    session.flush()
    return world


def add_quota(
    session: Session, world: HallWorld, item_code: str, start: time, end: time, capacity: int
) -> AppointmentQuota:
    quota = AppointmentQuota(
        hall_id=world.hall.id,
        item_id=world.items[item_code].id,
        weekday=None,
        slot_start=start,
        slot_end=end,
        capacity=capacity,
    )
    session.add(quota)
    session.flush()
    return quota


def refusal(call: Callable[..., object], **kwargs: Any) -> RecordedRefusal:
    """The recorded refusal ``call(**kwargs)`` raises; the test fails if it returns."""
    with pytest.raises(RecordedRefusal) as caught:
        call(**kwargs)
    return caught.value
