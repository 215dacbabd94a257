"""The kinds of configured objects the console edits one row at a time: which sheet of the
事项清单 each is, which columns make its key, and how it is archived."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from govloop.core.errors import BadRequest, NotFound
from govloop.core.i18n import N_
from govloop.core.models import User
from govloop.setup import archive, sheets


@dataclass(frozen=True)
class Kind:
    slug: str
    sheet: str
    title: str  # English msgid
    key_columns: tuple[str, ...]
    archiver: Callable[..., Any] | None = None

    @property
    def change_kind(self) -> str:
        """The object kind the change log files this kind's rows under."""
        return self.slug.removesuffix("s")

    def archive(self, session: Session, key: list[str], actor: User, source: str) -> None:
        if self.archiver is None:
            raise BadRequest("这类配置不能归档", code="not_archivable")
        if len(key) != len(self.key_columns) or not all(key):
            raise BadRequest("请指明要归档的对象", code="bad_key")
        self.archiver(session, key, actor, source)


def _item(session: Session, key: list[str], actor: User, source: str) -> None:
    archive.archive_item(session=session, code=key[0], actor=actor, source=source)


def _window(session: Session, key: list[str], actor: User, source: str) -> None:
    if not key[1].isdigit():
        raise BadRequest("窗口号应为正整数", code="bad_key")
    archive.archive_window(
        session=session, hall_code=key[0], number=int(key[1]), actor=actor, source=source
    )


def _department(session: Session, key: list[str], actor: User, source: str) -> None:
    archive.archive_department(session=session, code=key[0], actor=actor, source=source)


KINDS: dict[str, Kind] = {
    k.slug: k
    for k in (
        Kind("departments", sheets.DEPARTMENTS, N_("Departments"), ("部门编码",), _department),
        Kind("halls", sheets.HALLS, N_("Service halls"), ("大厅编码",)),
        Kind("items", sheets.ITEMS, N_("Service items"), ("事项编码",), _item),
        Kind("windows", sheets.WINDOWS, N_("Windows"), ("大厅编码", "窗口号"), _window),
        Kind(
            "quotas",
            sheets.QUOTAS,
            N_("Appointment quotas"),
            ("大厅编码", "事项编码", "星期", "时段"),
        ),
        Kind("users", sheets.USERS, N_("Staff"), ("用户名",)),
    )
}


def kind_of(slug: str) -> Kind:
    if slug not in KINDS:
        raise NotFound("没有这类配置", code="unknown_kind")
    return KINDS[slug]
