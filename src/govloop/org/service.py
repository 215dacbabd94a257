"""Lookups every domain needs: a hall or a department by code, people's display names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from govloop.core.errors import NotFound
from govloop.core.models import User
from govloop.org.models import Department, DepartmentMember, Hall, HallMember

# built once: every hall route runs it
_HALL_BY_CODE = select(Hall).where(Hall.code == bindparam("code"))


def hall_by_code(session: Session, code: str) -> Hall | None:
    return session.scalar(_HALL_BY_CODE, {"code": code})


def get_hall(*, session: Session, code: str) -> Hall:
    hall = hall_by_code(session, code)
    if hall is None:
        raise NotFound(f"未找到服务大厅：{code}", code="hall_not_found")
    return hall


def halls(session: Session) -> Sequence[Hall]:
    return session.scalars(select(Hall).order_by(Hall.code)).all()


def get_department(*, session: Session, code: str) -> Department:
    department = session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise NotFound(f"未找到部门：{code}", code="department_not_found")
    return department


def departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.code)).all()


def user_names(*, session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Display names (the user name when none is set) of the given users, for history tables."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(User.id, User.display_name, User.username).where(User.id.in_(wanted))
    )
    return {uid: display or username for uid, display, username in rows}


def department_of(session: Session, user: User) -> int | None:
    """The department a handler acts for (None: not a member of any)."""
    return session.scalar(
        select(DepartmentMember.department_id).where(DepartmentMember.user_id == user.id)
    )


_MEMBER_HALL_CODES = (
    select(Hall.code)
    .join(HallMember, HallMember.hall_id == Hall.id)
    .where(HallMember.user_id == bindparam("user_id"))
)


def may_act_in_hall(session: Session, user_id: int, code: str) -> bool:
    """A staff member who belongs to some halls acts in those only; one who belongs to none
    (a city-wide role) in every hall. An unknown hall is left to the route (its 404)."""
    halls = session.scalars(_MEMBER_HALL_CODES, {"user_id": user_id}).all()
    if not halls or code in halls:
        return True
    return hall_by_code(session, code) is None
