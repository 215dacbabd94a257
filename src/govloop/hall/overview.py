"""Read models of the live hall: what the display board, kiosk and manager see."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from govloop.core.clock import now, to_local
from govloop.core.models import User
from govloop.hall import repository as repo
from govloop.hall.models import Hall, HallEvent, ServiceItem
from govloop.hall.service import service_day


def call_text(code: str, window_number: int) -> str:
    return f"请 {code} 号到 {window_number} 号窗口"


def event_out(event: HallEvent) -> dict[str, Any]:
    detail = event.detail or {}
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
    """Waiting count per item (等候人数可见), windows and the latest calls."""
    day = service_day(hall)
    counts = repo.waiting_counts(session, hall_id=hall.id, service_date=day)
    items = {i.id: i for i in repo.active_items(session)}
    served = set().union(*repo.item_map_of_hall(session, hall.id).values())
    waiting = [
        {
            "item_code": items[i].code,
            "item_name": items[i].name,
            "prefix": items[i].ticket_prefix,
            "waiting": counts.get(i, 0),
        }
        for i in sorted(served & items.keys(), key=lambda i: items[i].code)
    ]
    start_of_day = now() - timedelta(hours=18)
    calls = [event_out(e) for e in repo.recent_calls(session, hall_id=hall.id, since=start_of_day)]
    staff_names = {u.id: u.display_name for u in session.query(User).all()}
    windows = [
        {
            "number": w.number,
            "name": w.name,
            "state": w.state,
            "is_general": w.is_general,
            "staff": staff_names.get(w.staff_id) if w.staff_id else None,
        }
        for w in repo.windows_of_hall(session, hall.id)
        if w.active
    ]
    return {
        "hall": {"code": hall.code, "name": hall.name},
        "service_date": day.isoformat(),
        "waiting": waiting,
        "waiting_total": sum(counts.values()),
        "recent_calls": calls,
        "windows": windows,
        "last_event_id": repo.last_event_id(session, hall_id=hall.id),
    }


def item_catalogue(*, session: Session, hall: Hall) -> list[dict[str, Any]]:
    """Items the hall serves, grouped by department, for the kiosk."""
    served = set().union(*repo.item_map_of_hall(session, hall.id).values())
    departments = {d.id: d for d in repo.departments(session)}
    counts = repo.waiting_counts(session, hall_id=hall.id, service_date=service_day(hall))
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
