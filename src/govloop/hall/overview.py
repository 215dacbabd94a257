"""Read models of the live hall: what the display board, kiosk and manager see."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now, to_local
from govloop.core.models import User
from govloop.hall import repository as repo
from govloop.hall import snapshot_cache
from govloop.hall.models import EventKind, HallEvent, ServiceItem, Ticket, TicketStatus, Window
from govloop.hall.notifications import masked_phone
from govloop.hall.service import service_day
from govloop.hall.waits import TicketPosition, ahead_per_item, estimate_wait
from govloop.org import service as org_service
from govloop.org.models import Hall


def call_text(code: str, window_number: int) -> str:
    return f"请 {code} 号到 {window_number} 号窗口"


# What of an event's detail the public feed (display boards, "my ticket" pages, pads)
# carries: numbers and windows, as the board shows them. Not the priority lane, channel,
# outcome or reasons, which say something about the person or the staff member.
PUBLIC_DETAIL = frozenset(
    {"code", "window", "recall", "requeued", "late", "from_window", "to_window", "to_code"}
)


def event_out(event: HallEvent) -> dict[str, Any]:
    detail = {k: v for k, v in (event.detail or {}).items() if k in PUBLIC_DETAIL}
    body: dict[str, Any] = {
        "id": event.id,
        "kind": event.kind,
        "at": to_local(event.at).isoformat(),
        "ticket_id": event.ticket_id,
        "item_id": event.item_id,
        "window_id": event.window_id,
        "code": detail.get("code"),
        "window": detail.get("window"),
        "detail": detail,
    }
    if event.kind in ("ticket.called", "ticket.recalled") and detail.get("code"):
        body["text"] = call_text(detail["code"], int(detail["window"]))
    return body


def display_snapshot(*, session: Session, hall: Hall) -> dict[str, Any]:
    """Per item the people a new ticket would have ahead (等候人数可见, the number the slip
    then shows), windows and the latest calls; computed once per change of the hall
    (``snapshot_cache``). The dict is shared: read it, do not modify it."""
    day = service_day(hall)
    last_id = repo.last_event_id(session, hall_id=hall.id)
    return snapshot_cache.cached(
        hall_id=hall.id,
        day=day,
        last_event_id=last_id,
        compute=lambda: _display_snapshot(session, hall, day, last_id),
    )


def _display_snapshot(session: Session, hall: Hall, day: date, last_id: int) -> dict[str, Any]:
    counts = repo.waiting_counts(session, hall_id=hall.id, service_date=day)
    ahead = ahead_per_item(session=session, hall=hall, day=day)
    items = {i.id: i for i in repo.active_items(session)}
    served = set(ahead)  # every item some window of the hall serves
    waiting = [
        {
            "item_code": items[i].code,
            "item_name": items[i].name,
            "prefix": items[i].ticket_prefix,
            "waiting": ahead.get(i, 0),
        }
        for i in sorted(served & items.keys(), key=lambda i: (-ahead.get(i, 0), items[i].code))
    ]  # longest queues first: the board shows those when not every item fits
    start_of_day = now() - timedelta(hours=18)
    calls = [event_out(e) for e in repo.recent_calls(session, hall_id=hall.id, since=start_of_day)]
    open_windows = [w for w in repo.windows_of_hall(session, hall.id) if w.active]
    staff_ids = {w.staff_id for w in open_windows if w.staff_id}
    staff_names = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(staff_ids))).all()
        if staff_ids
        else []
    )
    windows = [
        {
            "number": w.number,
            "name": w.name,
            "state": w.state,
            "is_general": w.is_general,
            "staff": staff_names.get(w.staff_id) if w.staff_id else None,
        }
        for w in open_windows
    ]
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "service_date": day.isoformat(),
        "waiting": waiting,
        "waiting_total": sum(counts.values()),
        "recent_calls": calls,
        "windows": windows,
        "last_event_id": last_id,
    }


def item_catalogue(*, session: Session, hall: Hall) -> list[dict[str, Any]]:
    """Items the hall serves, grouped by department, for the kiosk."""
    served = set().union(*repo.item_map_of_hall(session, hall.id).values())
    departments = {d.id: d for d in org_service.departments(session)}
    counts = ahead_per_item(session=session, hall=hall, day=service_day(hall))
    groups: dict[int, dict[str, Any]] = {}
    for item in repo.active_items(session):
        if item.id not in served:
            continue
        dept = departments[item.department_id]
        group = groups.setdefault(dept.id, {"code": dept.code, "name": dept.name, "items": []})
        group["items"].append(item_out(item) | {"waiting": counts.get(item.id, 0)})
    return sorted(groups.values(), key=lambda g: g["code"])


def item_out(item: ServiceItem) -> dict[str, Any]:
    return {
        "code": item.code,
        "name": item.name,
        "prefix": item.ticket_prefix,
        "promised_minutes": item.promised_minutes,
        "department_id": item.department_id,
    }


@dataclass(frozen=True)
class ItemInfo:
    id: int
    code: str
    name: str
    department_id: int
    department: str
    promised_minutes: int


@dataclass(frozen=True)
class WindowInfo:
    id: int
    number: int
    name: str
    is_general: bool
    active: bool
    item_ids: frozenset[int]


@dataclass(frozen=True)
class HallLayoutInfo:
    """What analysis needs to know about a hall: its items and which window serves what."""

    hall_id: int
    code: str
    name: str
    items: dict[int, ItemInfo]
    windows: list[WindowInfo]


def hall_layout(*, session: Session, hall: Hall) -> HallLayoutInfo:
    skills = repo.item_map_of_hall(session, hall.id)
    departments = {d.id: d.name for d in org_service.departments(session)}
    served = set().union(*skills.values()) if skills else set()
    items = {
        i.id: ItemInfo(
            i.id, i.code, i.name, i.department_id, departments[i.department_id], i.promised_minutes
        )
        for i in repo.active_items(session)
        if i.id in served
    }
    windows = [
        WindowInfo(w.id, w.number, w.name, w.is_general, w.active, frozenset(skills.get(w.id, ())))
        for w in repo.windows_of_hall(session, hall.id)
    ]
    return HallLayoutInfo(hall.id, hall.code, hall.name, items, windows)


# --- page read models ------------------------------------------------------------------


def hall_directory(*, session: Session) -> list[dict[str, Any]]:
    """Every hall with its active windows, for the home page."""
    return [
        {
            "code": hall.code,
            "name": hall.name,
            "opens_at": hall.opens_at,
            "closes_at": hall.closes_at,
            "windows": [
                {"number": w.number, "name": w.name}
                for w in repo.windows_of_hall(session, hall.id)
                if w.active
            ],
        }
        for hall in session.scalars(select(Hall).order_by(Hall.code))
    ]


def _window_numbers(session: Session, hall_id: int) -> dict[int, int]:
    return {w.id: w.number for w in repo.windows_of_hall(session, hall_id)}


def _wait_range(position: TicketPosition) -> dict[str, Any]:
    """The estimate as whole minutes for people: a range, or unknown."""
    wait = position.wait
    if not wait.known or wait.low_s is None or wait.high_s is None:
        return {"known": False}
    expected = wait.expected_s or 0.0
    if expected <= 0:
        return {"known": True, "now": True}
    low = max(1, math.floor(wait.low_s / 60.0))
    high = max(low, math.ceil(wait.high_s / 60.0))
    return {"known": True, "now": False, "low": low, "high": high}


def ticket_card(
    *,
    session: Session,
    ticket: Ticket,
    position: TicketPosition | None = None,
    holder: bool = False,
) -> dict[str, Any]:
    """One ticket as its citizen sees it (slip, "my ticket" page) and staff (window panel,
    rating pad). The secret link (``public_id``) only with ``holder``: the slip handed to
    whoever took the ticket and the pages reached by that link."""
    item = session.get(ServiceItem, ticket.item_id)
    numbers = _window_numbers(session, ticket.hall_id)
    if position is None and ticket.status == TicketStatus.WAITING:
        position = estimate_wait(session=session, ticket=ticket)
    card: dict[str, Any] = {
        "code": ticket.code,
        "public_id": ticket.public_id if holder else None,
        "status": ticket.status,
        "item_code": item.code if item else "",
        "item_name": item.name if item else "",
        "priority": ticket.priority,
        "channel": ticket.channel,
        "service_date": ticket.service_date,
        "issued_at": ticket.issued_at,
        "arrived_at": ticket.arrived_at,
        "called_at": ticket.called_at,
        "started_at": ticket.started_at,
        "finished_at": ticket.finished_at,
        "window": numbers.get(ticket.window_id) if ticket.window_id else None,
        "target_window": numbers.get(ticket.target_window_id) if ticket.target_window_id else None,
        "outcome": ticket.outcome,
        "closed_reason": ticket.closed_reason,
        "recall_count": ticket.recall_count,
        "no_show_count": ticket.no_show_count,
        "waited_minutes": _minutes_between(ticket.arrived_at, ticket.called_at or now()),
        # 到号提醒, for the ticket's holder only: the phone masked, at how many ahead
        "turn_notify": {
            "phone": masked_phone(ticket.notify_phone),
            "ahead": ticket.notify_ahead,
            "sent": ticket.turn_notified_at is not None,
        }
        if holder and ticket.notify_phone
        else None,
    }
    if position is not None:
        card.update(
            {
                "position": position.ahead + 1,
                "ahead": position.ahead,
                "estimate": _wait_range(position),
            }
        )
    return card


# What anyone who knows a ticket's printed number may see (the board shows the numbers).
PUBLIC_CARD = frozenset(
    {
        "code",
        "status",
        "item_code",
        "item_name",
        "service_date",
        "issued_at",
        "called_at",
        "finished_at",
        "window",
        "target_window",
        "position",
        "ahead",
        "estimate",
    }
)


def public_ticket_card(*, session: Session, ticket: Ticket) -> dict[str, Any]:
    """A ticket looked up by its printed number: where it stands, for anyone. No link, and
    nothing about the person (priority lane, outcome, reason)."""
    card = ticket_card(session=session, ticket=ticket)
    public = {k: v for k, v in card.items() if k in PUBLIC_CARD}
    return public | {"public_id": None, "priority": None, "outcome": None, "closed_reason": None}


def _minutes_between(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return max(0, int((end - start).total_seconds() // 60))


def _eligible_for_window(ticket: Ticket, window: Window, item_ids: set[int]) -> bool:
    return ticket.item_id in item_ids and ticket.target_window_id in (None, window.id)


def window_panel(*, session: Session, hall: Hall, window: Window, viewer: User) -> dict[str, Any]:
    """The window workbench: who is signed in, the current ticket and the window's queue."""
    item_ids = set(repo.item_ids_of_window(session, window))
    day = service_day(hall)
    queue = [
        t
        for t in repo.waiting_tickets(session, hall_id=hall.id, service_date=day)
        if _eligible_for_window(t, window, item_ids)
    ]
    items = {i.id: i for i in repo.active_items(session)}
    current = repo.active_ticket_of_window(session, window.id)
    staff = session.get(User, window.staff_id) if window.staff_id else None
    served_today = session.scalar(
        select(func.count(HallEvent.id)).where(
            HallEvent.hall_id == hall.id,
            HallEvent.window_id == window.id,
            HallEvent.kind == EventKind.FINISHED,
            HallEvent.at >= _day_start(day),
        )
    )
    served_items = [items[i] for i in sorted(item_ids) if i in items]
    return {
        "window": {
            "number": window.number,
            "name": window.name,
            "state": window.state,
            "state_since": window.state_since,
            "is_general": window.is_general,
        },
        "staff_name": staff.display_name if staff else None,
        "mine": window.staff_id == viewer.id,
        "occupied_by_other": window.staff_id is not None and window.staff_id != viewer.id,
        "current": ticket_card(session=session, ticket=current) if current else None,
        "queue_length": len(queue),
        "queue_preview": [
            {
                "code": t.code,
                "item_name": items[t.item_id].name if t.item_id in items else "",
                "priority": t.priority,
                "waited_minutes": _minutes_between(t.arrived_at, now()),
            }
            for t in queue[:6]
        ],
        "served_today": int(served_today or 0),
        "served_items": [item_out(i) for i in served_items],
        "transfer_items": [item_out(i) for i in items.values()],
        "transfer_windows": [
            {"number": w.number, "name": w.name}
            for w in repo.windows_of_hall(session, hall.id)
            if w.active and w.id != window.id
        ],
    }


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=local_tz())


def arrivals_by_slot(
    *, session: Session, hall: Hall, day: date | None = None, slot_minutes: int = 30
) -> dict[str, Any]:
    """Tickets issued per slot of the day, by channel, read from the event log.

    Carried-over tickets are numbered the evening before and are not arrivals.
    """
    day = day or service_day(hall)
    start = _day_start(day)
    rows = session.execute(
        select(HallEvent.at, HallEvent.detail).where(
            HallEvent.hall_id == hall.id,
            HallEvent.kind == EventKind.ISSUED,
            HallEvent.at >= start,
            HallEvent.at < start + timedelta(days=1),
        )
    ).all()
    counts: dict[tuple[int, str], int] = {}
    first = hall.opens_at.hour * 60 + hall.opens_at.minute
    last = hall.closes_at.hour * 60 + hall.closes_at.minute
    for at, detail in rows:
        channel = (detail or {}).get("channel") or "kiosk"
        if channel == "carry_over":
            continue
        local = to_local(at)
        minute = local.hour * 60 + local.minute
        slot = minute - minute % slot_minutes
        first, last = min(first, slot), max(last, slot + slot_minutes)
        counts[(slot, channel)] = counts.get((slot, channel), 0) + 1
    first -= first % slot_minutes
    slots = list(range(first, last, slot_minutes))
    channels = sorted({c for _, c in counts})
    return {
        "day": day.isoformat(),
        "slots": [f"{s // 60:02d}:{s % 60:02d}" for s in slots],
        "series": {c: [counts.get((s, c), 0) for s in slots] for c in channels},
        "total": sum(counts.values()),
    }


def manager_view(*, session: Session, hall: Hall) -> dict[str, Any]:
    """The manager's live view: windows with their current ticket, the queue, today's totals."""
    day = service_day(hall)
    items = {i.id: i for i in repo.active_items(session)}
    users = {u.id: u.display_name for u in session.scalars(select(User))}
    windows = []
    for w in repo.windows_of_hall(session, hall.id):
        if not w.active:
            continue
        current = repo.active_ticket_of_window(session, w.id)
        windows.append(
            {
                "number": w.number,
                "name": w.name,
                "state": w.state,
                "state_since": w.state_since,
                "is_general": w.is_general,
                "staff": users.get(w.staff_id) if w.staff_id else None,
                "current": current.code if current else None,
                "current_status": current.status if current else None,
            }
        )
    moment = now()
    waiting = [
        {
            "code": t.code,
            "item_name": items[t.item_id].name if t.item_id in items else "",
            "priority": t.priority,
            "channel": t.channel,
            "arrived_at": t.arrived_at,
            "waited_minutes": _minutes_between(t.arrived_at, moment),
        }
        for t in repo.waiting_tickets(session, hall_id=hall.id, service_date=day)
    ]
    kinds = dict(
        session.execute(
            select(HallEvent.kind, func.count(HallEvent.id))
            .where(
                HallEvent.hall_id == hall.id,
                HallEvent.at >= _day_start(day),
                HallEvent.kind.in_([EventKind.FINISHED, EventKind.NO_SHOW]),
            )
            .group_by(HallEvent.kind)
        ).all()
    )
    called = session.execute(
        select(Ticket.arrived_at, Ticket.called_at).where(
            Ticket.hall_id == hall.id,
            Ticket.service_date == day,
            Ticket.called_at.is_not(None),
        )
    ).all()
    waits = [(c - a).total_seconds() for a, c in called if c is not None and c >= a]
    issued = session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.hall_id == hall.id, Ticket.service_date == day, Ticket.channel != "carry_over"
        )
    )
    return {
        "windows": windows,
        "waiting": waiting,
        "summary": {
            "waiting": len(waiting),
            "open_windows": sum(1 for w in windows if w["state"] in ("idle", "serving")),
            "windows": len(windows),
            "issued": int(issued or 0),
            "finished": int(kinds.get(EventKind.FINISHED.value, 0)),
            "no_show": int(kinds.get(EventKind.NO_SHOW.value, 0)),
            "mean_wait_minutes": round(sum(waits) / len(waits) / 60.0, 1) if waits else None,
            "longest_wait_minutes": max((w["waited_minutes"] or 0 for w in waiting), default=0),
        },
    }
