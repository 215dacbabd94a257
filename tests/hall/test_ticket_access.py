"""Who may act on a ticket. The printed number (A001) is public — numbers are sequential
and the display board calls them out — so by number anyone sees only where a ticket
stands, and only staff act. The citizen acts through the ticket's secret link (the QR code
on the slip, ``public_id``), which only the reply to whoever took the ticket carries."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import overview
from govloop.hall import repository as repo
from govloop.hall.models import Appointment, EventKind, HallEvent, Ticket
from govloop.org import service as org_service
from govloop.org.models import Hall
from govloop.ratings.models import Rating, RectificationCase
from tests.factories import add_quota, make_hall, make_user
from tests.web.helpers import csrf, htmx

# 2026-11-23 is a Monday; 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
API = "/api/v1/halls/H1"
MINE = "/api/v1/tickets"
PAGES = "/halls/H1"


@pytest.fixture
def api(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
            add_quota(s, world, "SB01", time(10, 0), time(10, 30), 2)
            s.add(Hall(code="H2", name="第二大厅", enforce_hours=False))
            tokens = {
                n: issue_api_token(session=s, user=u, name="t") for n, u in world.staff.items()
            }
            tokens["auditor"] = issue_api_token(
                session=s, user=make_user(s, "auditor", Role.AUDITOR), name="t"
            )
            staff_ids = {n: u.id for n, u in world.staff.items()}
        client = TestClient(create_app())
        client.tokens = tokens  # type: ignore[attr-defined]
        client.staff_ids = staff_ids  # type: ignore[attr-defined]
        client.clock = clock  # type: ignore[attr-defined]
        yield client


def auth(client, who):
    return {"Authorization": f"Bearer {client.tokens[who]}"}


def take(client, item: str = "SB01", **extra) -> dict:
    """A citizen takes a ticket; the reply is their slip."""
    r = client.post(f"{API}/tickets", json={"item_code": item, **extra})
    assert r.status_code == 201, r.text
    return r.json()


def serve_next(client, window: int = 1) -> dict:
    for action in ("call-next", "start", "finish"):
        r = client.post(f"{API}/windows/{window}/{action}", headers=auth(client, window))
        assert r.status_code == 200, r.text
    return r.json()


def state() -> tuple[object, ...]:
    """Events, ratings, rectification cases and tickets per status."""
    with unit_of_work() as s:
        statuses = s.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all()
        return (
            s.scalar(select(func.count()).select_from(HallEvent)) or 0,
            s.scalar(select(func.count()).select_from(Rating)) or 0,
            s.scalar(select(func.count()).select_from(RectificationCase)) or 0,
            sorted((status, int(n)) for status, n in statuses),
        )


def status_of(code: str) -> str:
    with unit_of_work() as s:
        found = s.scalar(select(Ticket.status).where(Ticket.code == code))
        assert found is not None
        return found


# --- cancelling ------------------------------------------------------------------------


def test_anonymous_cancel_by_number_is_refused_and_says_how(api):
    take(api)
    take(api)
    before = state()
    for code in ("A001", "A002"):  # a script walking the sequential numbers
        r = api.post(f"{API}/tickets/{code}/cancel")
        assert r.status_code == 401
        assert r.json()["error"] == "not_authenticated" and "二维码" in r.json()["message"]
    assert status_of("A001") == status_of("A002") == "waiting"
    assert state() == before
    # A number that does not exist is refused the same way: nothing learned about it.
    unknown = api.post(f"{API}/tickets/A999/cancel")
    assert (unknown.status_code, unknown.json()) == (401, r.json())


def test_staff_without_window_rights_cannot_cancel_by_number(api):
    take(api)
    before = state()
    r = api.post(f"{API}/tickets/A001/cancel", headers=auth(api, "auditor"))
    assert r.status_code == 403 and r.json()["error"] == "permission_denied"
    assert status_of("A001") == "waiting" and state() == before


def test_staff_cancel_by_number_is_recorded_with_who_did_it(api):
    slip = take(api)
    r = api.post(f"{API}/tickets/A001/cancel", headers=auth(api, 2))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "cancelled" and body["closed_reason"] == "staff"
    assert "public_id" not in body and slip["public_id"] not in r.text
    with unit_of_work() as s:
        event = s.scalar(select(HallEvent).where(HallEvent.kind == EventKind.CANCELLED))
        assert event is not None and event.staff_id == api.staff_ids[2]
    r = api.post(f"{API}/tickets/A999/cancel", headers=auth(api, 2))
    assert r.status_code == 404 and r.json()["error"] == "ticket_not_found"


def test_citizen_cancels_through_the_secret_link(api):
    mine = take(api)
    take(api)
    assert api.get(f"{API}/tickets/A002").json()["position"] == 2
    r = api.post(f"{MINE}/{mine['public_id']}/cancel")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["closed_reason"] == "citizen"
    assert api.get(f"{API}/tickets/A002").json()["position"] == 1  # the next one moved up
    assert api.get(f"{MINE}/{mine['public_id']}").json()["status"] == "cancelled"
    before = state()
    again = api.post(f"{MINE}/{mine['public_id']}/cancel")
    assert again.status_code == 422 and again.json()["error"] == "ticket_not_waiting"
    assert state() == before


@pytest.mark.parametrize("link", ["A001", "a001", "1", "not-a-ticket"])
def test_a_guessed_link_acts_on_nothing(api, link):
    take(api)
    before = state()
    r = api.post(f"{MINE}/{link}/cancel")
    assert r.status_code == 404 and r.json()["error"] == "ticket_not_found"
    assert api.get(f"{MINE}/{link}").status_code == 404
    assert status_of("A001") == "waiting" and state() == before


def test_the_link_shows_the_citizen_their_own_ticket(api):
    slip = take(api, priority="elderly")
    assert slip["public_id"]  # the reply to whoever took the ticket carries its link
    r = api.get(f"{MINE}/{slip['public_id']}")
    assert r.status_code == 200
    body = r.json()
    assert body["code"] == "A001" and body["public_id"] == slip["public_id"]
    assert body["priority"] == "elderly" and body["position"] == 1


# --- looking up by number --------------------------------------------------------------


def test_lookup_by_number_shows_where_it_stands_and_nothing_secret(api):
    slip = take(api, priority="elderly")
    r = api.get(f"{API}/tickets/A001")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {
        "code",
        "status",
        "item_id",
        "service_date",
        "position",
        "ahead",
        "estimate",
    }
    assert body["status"] == "waiting" and body["position"] == 1 and body["estimate"]["known"]
    assert slip["public_id"] not in r.text and "elderly" not in r.text
    # Staff with hall rights see the visit's details, still without the citizen's link.
    r = api.get(f"{API}/tickets/A001", headers=auth(api, "auditor"))
    assert r.json()["priority"] == "elderly" and slip["public_id"] not in r.text


def test_lookup_of_a_finished_visit_leaks_no_way_to_rate_it(api):
    slip = take(api)
    serve_next(api)
    r = api.get(f"{API}/tickets/A001")
    assert r.status_code == 200 and r.json()["status"] == "finished"
    assert "public_id" not in r.json() and "outcome" not in r.json()
    assert slip["public_id"] not in r.text


def test_staff_replies_never_carry_the_citizens_link(api):
    slip = take(api)
    for action in ("call-next", "recall", "start", "finish"):
        r = api.post(f"{API}/windows/1/{action}", headers=auth(api, 1))
        assert r.status_code == 200, r.text
        assert "public_id" not in r.json() and slip["public_id"] not in r.text, action


# --- rating ----------------------------------------------------------------------------


def test_rating_with_a_guessed_number_is_impossible(api):
    slip = take(api)
    serve_next(api)
    bad = {"level": 1, "channel": "qr", "comment": "态度差"}
    before = state()
    leaked = api.get(f"{API}/tickets/A001").json().get("public_id")
    assert leaked is None
    for guess in ("A001", "a001", "H1-A001", "1"):
        r = api.post(f"/api/v1/ratings/tickets/{guess}", json=bad)
        assert r.status_code == 404 and r.json()["error"] == "ticket_not_found", guess
    assert state() == before  # no rating, no rectification case against the clerk
    # The citizen, with the slip's link, rates once.
    r = api.post(f"/api/v1/ratings/tickets/{slip['public_id']}", json={"level": 5})
    assert r.status_code == 201, r.text


# --- appointments ----------------------------------------------------------------------


def test_appointment_cancel_only_in_its_own_hall(api):
    booking = {
        "item_code": "SB01",
        "day": "2026-11-23",
        "slot_start": "10:00",
        "name": "张三",
        "phone": "13800138000",
    }
    code = api.post(f"{API}/appointments", json=booking).json()["code"]
    r = api.post(f"/api/v1/halls/H2/appointments/{code}/cancel")
    assert r.status_code == 404 and r.json()["error"] == "appointment_not_found"
    with unit_of_work() as s:
        assert s.scalar(select(Appointment.status).where(Appointment.code == code)) == "booked"
    r = api.post(f"{API}/appointments/{code}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


def test_check_in_reply_is_the_holders_slip(api):
    booking = {
        "item_code": "SB01",
        "day": "2026-11-23",
        "slot_start": "10:00",
        "name": "张三",
        "phone": "13800138000",
    }
    code = api.post(f"{API}/appointments", json=booking).json()["code"]
    ticket = api.post(f"{API}/appointments/check-in", json={"code": code}).json()["ticket"]
    assert api.get(f"{MINE}/{ticket['public_id']}").json()["code"] == ticket["code"]
    assert "priority" not in api.get(f"{API}/tickets/{ticket['code']}").json()


# --- the live feed ---------------------------------------------------------------------


def test_live_feed_names_numbers_and_windows_not_people(api):
    take(api, priority="disabled")
    api.post(f"{API}/windows/2/pause", headers=auth(api, 2), json={"reason": "身体不适"})
    with unit_of_work(readonly=True) as s:
        hall = org_service.get_hall(session=s, code="H1")
        events = [overview.event_out(e) for e in repo.events_after(s, hall_id=hall.id, after_id=0)]
    issued = next(e for e in events if e["kind"] == "ticket.issued")
    assert issued["code"] == "A001" and issued["detail"] == {"code": "A001"}
    text = repr(events)
    for private in ("disabled", "身体不适", "priority", "reason", "channel"):
        assert private not in text, private


# --- pages -----------------------------------------------------------------------------


def test_my_ticket_by_number_offers_no_link_and_no_lane(api):
    slip = take(api, priority="elderly")
    waiting = api.get(f"{PAGES}/my-ticket?code=A001")
    assert waiting.status_code == 200 and "排队位次" in waiting.text
    assert "老年人" not in waiting.text and "/cancel" not in waiting.text
    serve_next(api)
    for path in (f"{PAGES}/my-ticket?code=A001", f"{PAGES}/my-ticket/panel?code=A001"):
        r = api.get(path)
        assert r.status_code == 200 and "已办结" in r.text
        assert slip["public_id"] not in r.text and "/r/" not in r.text
        assert "请扫描号票上的二维码" in r.text  # how the citizen rates instead
    # The link on the slip opens the citizen's own page, with the rating button.
    r = api.get(f"/t/{slip['public_id']}")
    assert f'href="/r/{slip["public_id"]}?via=my_ticket"' in r.text and "老年人" in r.text


def test_citizen_gives_up_the_ticket_from_the_link_page(api):
    slip = take(api)
    link = f"/t/{slip['public_id']}"
    page = api.get(link)
    assert f'hx-post="{link}/cancel"' in page.text and "取消排队" in page.text
    token = csrf(api, link)
    r = api.post(f"{link}/cancel", headers=htmx(token))
    assert r.status_code == 200 and "<html" not in r.text
    assert "已取消" in r.text and "取号人本人取消" in r.text
    assert status_of("A001") == "cancelled"
    # Done again (the page was stale): the rule's reason, nothing changed.
    before = state()
    r = api.post(f"{link}/cancel", headers=htmx(token))
    assert r.status_code == 422 and "只有等候中的号可以取消" in r.text
    assert state() == before


def test_link_page_cancel_without_htmx_redirects_and_needs_csrf(api):
    slip = take(api)
    link = f"/t/{slip['public_id']}"
    csrf(api, link)
    r = api.post(f"{link}/cancel", follow_redirects=False)
    assert r.status_code == 403 and status_of("A001") == "waiting"
    token = csrf(api, link)
    r = api.post(f"{link}/cancel", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == link
    assert "取号人本人取消" in api.get(link).text
    assert status_of("A001") == "cancelled"
    r = api.post("/t/A002/cancel", data={"csrf_token": token})
    assert r.status_code == 404 and "未找到该号票" in r.text
