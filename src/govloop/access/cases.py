"""Cases as access sees them: is the case open, is this staff member the one holding it,
which policy entry applies, and which subjects it concerns. Each domain answers for its own
cases through a lookup it registers; access never reads their tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access.models import CaseSubject, CaseType
from govloop.core.errors import NotFound, RuleViolation
from govloop.core.models import User


@dataclass(frozen=True)
class CaseInfo:
    case_type: str
    case_id: int
    open: bool
    held_by_user: bool
    policy_key: str | None  # item code, category group or task type
    label: str


# (session, case id, the staff member asking) -> the case as access sees it
CaseLookup = Callable[[Session, int, User], CaseInfo]
_LOOKUPS: dict[str, CaseLookup] = {}


def register_case_type(case_type: str, lookup: CaseLookup) -> None:
    """A domain answers for its own cases (hall: tickets, hotline: work orders, field: tasks);
    access sits below them and never reads their tables."""
    _LOOKUPS[case_type] = lookup


# (session, the policy's keys for this case type) -> key -> what it covers, in words
KeyLabeller = Callable[[Session, list[str]], dict[str, str]]
_KEY_LABELLERS: dict[str, KeyLabeller] = {}


def register_policy_keys(case_type: str, labeller: KeyLabeller) -> None:
    """A domain says in words what the policy's keys of its cases cover (GA: the 户政 items;
    inspection: 执法检查), so the public policy shows no codes."""
    _KEY_LABELLERS[case_type] = labeller


def policy_key_labels(*, session: Session, case_type: str, keys: list[str]) -> dict[str, str]:
    labeller = _KEY_LABELLERS.get(case_type)
    return labeller(session, keys) if labeller else {}


def case_info(*, session: Session, case_type: str, case_id: int, user: User) -> CaseInfo:
    lookup = _LOOKUPS.get(case_type)
    if lookup is None:
        raise RuleViolation(f"未知的办件类型：{case_type}", code="unknown_case_type")
    return lookup(session, case_id, user)


def subjects_of(*, session: Session, case_type: str, case_id: int) -> list[int]:
    return list(
        session.scalars(
            select(CaseSubject.master_id)
            .where(CaseSubject.case_type == case_type, CaseSubject.case_id == case_id)
            .order_by(CaseSubject.id)
        )
    )


def attach_subject(
    *, session: Session, case_type: str, case_id: int, master_id: int, role: str = "applicant"
) -> None:
    """Record that a case concerns a subject (e.g. the applicant identified at the window)."""
    if case_type not in set(CaseType):
        raise RuleViolation(f"未知的办件类型：{case_type}", code="unknown_case_type")
    exists = session.scalar(
        select(CaseSubject.id).where(
            CaseSubject.case_type == case_type,
            CaseSubject.case_id == case_id,
            CaseSubject.master_id == master_id,
        )
    )
    if exists is None:
        session.add(
            CaseSubject(case_type=case_type, case_id=case_id, master_id=master_id, role=role)
        )
        session.flush()


def require_case(info: CaseInfo | None) -> CaseInfo:
    if info is None:
        raise NotFound("未找到办件", code="unknown_case")
    return info
