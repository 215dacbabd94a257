"""Read models of ratings and rectification cases for pages and the API (no rules here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, now
from govloop.core.models import User
from govloop.hall import service as hall_service
from govloop.hall.models import Ticket
from govloop.org.models import Hall
from govloop.ratings import rectification, service
from govloop.ratings.models import (
    CaseStatus,
    Rating,
    RatingEvent,
    RectificationCase,
    Survey,
    SurveyResponse,
)


def rating_for_ticket(*, session: Session, ticket_id: int) -> Rating | None:
    return session.scalar(select(Rating).where(Rating.ticket_id == ticket_id))


def ticket_rating_state(*, session: Session, ticket: Ticket) -> str:
    """``rateable``, ``rated`` or ``not_finished``: what a rating link can offer."""
    if rating_for_ticket(session=session, ticket_id=ticket.id) is not None:
        return "rated"
    visit = hall_service.visit_context(session=session, ticket=ticket)
    return "rateable" if visit.status in service.RATEABLE_STATUSES else "not_finished"


def pad_ticket(*, session: Session, hall: Hall, window_number: int) -> Ticket | None:
    """What the window's rating pad asks about: the window's latest finished visit today,
    while it is unrated and recent."""
    ticket = hall_service.last_finished_ticket(
        session=session, hall=hall, window_number=window_number
    )
    if ticket is None or ticket.finished_at is None:
        return None
    if now() - ticket.finished_at > timedelta(minutes=PAD_PROMPT_MINUTES):
        return None
    if rating_for_ticket(session=session, ticket_id=ticket.id) is not None:
        return None
    return ticket


def staff_name(*, session: Session, user_id: int | None) -> str | None:
    user = session.get(User, user_id) if user_id else None
    return user.display_name if user else None


def _hall_names(session: Session, kind: str, ids: set[int]) -> dict[int, str]:
    return hall_service.display_names(session=session, kind=kind, ids=set(ids))


def _names(session: Session, model: Any, ids: set[int], column: str = "name") -> dict[int, str]:
    # Read-only lookup of display names by primary key (users).
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(select(model.id, getattr(model, column)).where(model.id.in_(ids)))
    return {i: n for i, n in rows}


@dataclass(frozen=True)
class CaseView:
    """A rectification case as the pages show it, with names instead of ids."""

    case: RectificationCase
    rating: Rating
    overdue: dict[str, bool]
    hall: str | None
    unit: str | None
    staff: str | None
    window: str | None
    item: str | None
    ticket_code: str | None

    @property
    def is_overdue(self) -> bool:
        return any(self.overdue.values())


def _case_views(
    session: Session, pairs: list[tuple[RectificationCase, Rating]], today: date
) -> list[CaseView]:
    halls = _hall_names(session, "hall", {r.hall_id for _, r in pairs if r.hall_id})
    units = _hall_names(
        session, "department", {c.department_id for c, _ in pairs if c.department_id}
    )
    users = _names(session, User, {c.staff_id for c, _ in pairs if c.staff_id}, "display_name")
    windows = _hall_names(session, "window", {r.window_id for _, r in pairs if r.window_id})
    items = _hall_names(session, "item", {r.item_id for _, r in pairs if r.item_id})
    tickets = _hall_names(session, "ticket", {r.ticket_id for _, r in pairs if r.ticket_id})
    return [
        CaseView(
            case=c,
            rating=r,
            overdue=rectification.is_overdue(c, today),
            hall=halls.get(r.hall_id) if r.hall_id else None,
            unit=units.get(c.department_id) if c.department_id else None,
            staff=users.get(c.staff_id) if c.staff_id else None,
            window=windows.get(r.window_id) if r.window_id else None,
            item=items.get(r.item_id) if r.item_id else None,
            ticket_code=tickets.get(r.ticket_id) if r.ticket_id else None,
        )
        for c, r in pairs
    ]


def case_views(
    *,
    session: Session,
    hall_id: int | None = None,
    open_only: bool = False,
    overdue_only: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[CaseView]:
    """Cases, newest first, optionally only open or overdue ones rated in [start, end)."""
    stmt = select(RectificationCase, Rating).join(Rating, Rating.id == RectificationCase.rating_id)
    if hall_id is not None:
        stmt = stmt.where(Rating.hall_id == hall_id)
    if open_only or overdue_only:
        stmt = stmt.where(RectificationCase.status.in_(rectification.OPEN_STATUSES))
    if start is not None:
        stmt = stmt.where(Rating.rated_at >= start)
    if end is not None:
        stmt = stmt.where(Rating.rated_at < end)
    pairs = [(c, r) for c, r in session.execute(stmt.order_by(RectificationCase.id.desc())).all()]
    views = _case_views(session, pairs, local_today())
    return [v for v in views if v.is_overdue] if overdue_only else views


def case_view(*, session: Session, case_id: int) -> CaseView:
    case, rating = rectification.get_case(session=session, case_id=case_id, lock=False)
    return _case_views(session, [(case, rating)], local_today())[0]


@dataclass(frozen=True)
class TimelineEntry:
    kind: str
    at: datetime
    actor: str | None
    detail: dict[str, Any]


def case_timeline(*, session: Session, case: RectificationCase) -> list[TimelineEntry]:
    """The rating's events, oldest first: submitted, opened, every case transition."""
    events = list(
        session.scalars(
            select(RatingEvent)
            .where(RatingEvent.rating_id == case.rating_id)
            .order_by(RatingEvent.at, RatingEvent.id)
        )
    )
    actors = _names(session, User, {e.actor_id for e in events if e.actor_id}, "display_name")
    return [
        TimelineEntry(
            kind=e.kind,
            at=e.at,
            actor=actors.get(e.actor_id) if e.actor_id else None,
            detail=e.detail or {},
        )
        for e in events
    ]


def case_summary(*, session: Session, hall_id: int | None) -> dict[str, int]:
    """Open cases and how many are past a deadline, for the manager's dashboard."""
    today = local_today()
    views = case_views(session=session, hall_id=hall_id, open_only=True)
    return {
        "open": len(views),
        "overdue": sum(1 for v in views if v.is_overdue),
        "overdue_callback": sum(1 for v in views if v.overdue["callback"]),
        "overdue_rectification": sum(1 for v in views if v.overdue["rectification"]),
        "appealed": sum(1 for v in views if v.case.status == CaseStatus.APPEALED),
        "due_today": sum(
            1
            for v in views
            if not v.is_overdue
            and today in (v.case.callback_due, v.case.rectification_due)
            and v.case.status in (CaseStatus.OPEN, CaseStatus.CALLED_BACK)
        ),
    }


@dataclass(frozen=True)
class SurveyRow:
    survey: Survey
    responses: int
    hall: str | None


def list_surveys(*, session: Session) -> list[SurveyRow]:
    """Every SERVQUAL survey, newest first, with its hall and number of responses."""
    responses = (
        select(SurveyResponse.survey_id, func.count().label("n"))
        .group_by(SurveyResponse.survey_id)
        .subquery()
    )
    rows = session.execute(
        select(Survey, func.coalesce(responses.c.n, 0))
        .outerjoin(responses, responses.c.survey_id == Survey.id)
        .order_by(Survey.created_at.desc(), Survey.id.desc())
    ).all()
    halls = _hall_names(session, "hall", {s.hall_id for s, _ in rows if s.hall_id})
    return [
        SurveyRow(survey=s, responses=int(n), hall=halls.get(s.hall_id) if s.hall_id else None)
        for s, n in rows
    ]


# A rating pad asks about a finished visit only this long; after that the citizen has
# surely left the window and the pad goes back to idle.
PAD_PROMPT_MINUTES = 15
