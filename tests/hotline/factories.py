"""Hotline test data: the catalogue, a center agent and handlers for two departments."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.auth import Role, create_user
from govloop.core.models import User
from govloop.hotline.catalogue import seed_catalogue
from govloop.hotline.models import WorkOrder
from govloop.hotline.orders.intake import OrderInput, create_order
from govloop.org.models import Department, DepartmentMember

PASSWORD = "correct-horse-battery"


@dataclass
class HotlineWorld:
    agent: User
    handlers: dict[str, User]  # department code → handler
    departments: dict[str, int]  # department code → id
    categories: dict[str, int]  # category code → id


def build_world(session: Session) -> HotlineWorld:
    categories = seed_catalogue(session=session)
    departments = {d.code: d.id for d in session.scalars(select(Department))}
    agent = create_user(
        session=session,
        username="agent",
        password=PASSWORD,
        role=Role.HOTLINE_AGENT,
        display_name="坐席小王",
    )
    handlers = {}
    for code in ("CG", "SWJT", "HB"):
        user = create_user(
            session=session,
            username=f"handler-{code.lower()}",
            password=PASSWORD,
            role=Role.DEPARTMENT_HANDLER,
            display_name=f"{code} 承办人",
        )
        session.add(DepartmentMember(user_id=user.id, department_id=departments[code]))
        handlers[code] = user
    session.flush()
    return HotlineWorld(agent, handlers, departments, categories)


def new_order(session: Session, world: HotlineWorld, **overrides: object) -> WorkOrder:
    data = OrderInput(
        channel=str(overrides.pop("channel", "phone")),
        content=str(overrides.pop("content", "我家小区门口的工地夜间施工噪音很大，严重影响休息")),
        caller_name="张三",
        caller_phone="13800138000",
        district="鼓楼区",
        address="华大街道 湖东路 18 号",
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return create_order(session=session, data=data, actor=world.agent)
