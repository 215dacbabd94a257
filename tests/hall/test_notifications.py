"""The hall's SMS: appointment booked and its reminder, "your turn is near", the rating
invitation. Each written once per event, in the transaction of the change, on both
databases; nothing without a phone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest
from govloop.core.settings import get_settings
from govloop.hall import appointments, jobs, service
from govloop.hall import windows as hall_windows
from govloop.hall.models import Ticket
from govloop.notify.models import Notification
from tests.factories import add_quota, make_hall
from tests.web.helpers import csrf

# Monday 2026-11-23, 10:00 in Shanghai
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PHONE = "13800138000"


def _messages(template: str | None = None) -> list[Notification]:
    with unit_of_work() as s:
        stmt = select(Notification).order_by(Notification.id)
        if template is not None:
            stmt = stmt.where(Notification.template == template)
        return list(s.scalars(stmt))


@pytest.fixture
def hall(db):
    with frozen(MONDAY_10), unit_of_work() as s:
        world = make_hall(s)
        add_quota(s, world, "SB01", time(10, 0), time(11, 0), 5)
    return world


def _serve(s, world, number: int) -> Ticket:
    """Call the next ticket at a window, start it and finish it."""
    args = {"session": s, "hall": world.hall, "window_number": number, "actor": world.staff[number]}
    ticket = hall_windows.call_next(**args)
    hall_windows.start_service(**args)
    hall_windows.finish_service(**args)
    return ticket


# --- appointments --------------------------------------------------------------------


def test_booking_writes_one_confirmation_to_the_citizen(hall):
    with frozen(MONDAY_10), unit_of_work() as s:
        appointment = appointments.book(
            session=s,
            hall=hall.hall,
            item=hall.items["SB01"],
            day=MONDAY_10.date(),
            slot_start=time(10, 0),
            citizen_name="张三",
            citizen_phone="138 0013 8000",
        )
        appointment_id, code = appointment.id, appointment.code
    [message] = _messages()
    assert message.template == "appointment_booked"
    assert message.recipient == PHONE
    assert (message.case_type, message.case_id) == ("appointment", appointment_id)
    assert message.event_key == f"appointment:{appointment_id}:booked"
    assert code in message.body and "测试大厅" in message.body and "事项SB01" in message.body
    assert "张三" not in message.body  # the minimum: no name


def test_booking_refused_writes_nothing(hall):
    with frozen(MONDAY_10), unit_of_work() as s, pytest.raises(BadRequest):
        appointments.book(
            session=s,
            hall=hall.hall,
            item=hall.items["SB01"],
            day=MONDAY_10.date(),
            slot_start=time(10, 0),
            citizen_name="张三",
            citizen_phone="12345",
        )
    assert _messages() == []


def _book_for(s, world, day, phone):
    return appointments.book(
        session=s,
        hall=world.hall,
        item=world.items["SB01"],
        day=day,
        slot_start=time(10, 0),
        citizen_name="李四",
        citizen_phone=phone,
    )


def test_reminder_the_day_before_once_from_nine_and_not_for_todays_bookings(hall):
    wednesday = MONDAY_10.date() + timedelta(days=2)
    with frozen(MONDAY_10), unit_of_work() as s:
        early = _book_for(s, hall, wednesday, PHONE).id
        also_thursday = _book_for(s, hall, wednesday + timedelta(days=1), "13900139000").id
    tuesday_8 = MONDAY_10 + timedelta(days=1, hours=-2)  # 08:00 local: too early
    with frozen(tuesday_8), unit_of_work() as s:
        jobs.run_all_halls(session=s)
    assert _messages("appointment_reminder") == []
    tuesday_10 = MONDAY_10 + timedelta(days=1)
    with frozen(tuesday_10), unit_of_work() as s:
        late = _book_for(s, hall, wednesday, "13700137000").id  # booked the day before
        report = jobs.run_all_halls(session=s)
    assert len(report[0]["reminded"]) == 1
    # the duty runs every half minute: a second and third run write nothing more
    for _ in range(2):
        with frozen(tuesday_10 + timedelta(minutes=5)), unit_of_work() as s:
            assert jobs.run_all_halls(session=s)[0]["reminded"] == []
    [reminder] = _messages("appointment_reminder")
    assert reminder.recipient == PHONE
    assert (reminder.case_type, reminder.case_id) == ("appointment", early)
    assert "11月25日" in reminder.body
    assert {late, also_thursday}.isdisjoint({m.case_id for m in _messages("appointment_reminder")})


def test_a_cancelled_appointment_is_not_reminded(hall):
    wednesday = MONDAY_10.date() + timedelta(days=2)
    with frozen(MONDAY_10), unit_of_work() as s:
        code = _book_for(s, hall, wednesday, PHONE).code
        appointments.cancel(session=s, code=code)
    with frozen(MONDAY_10 + timedelta(days=1)), unit_of_work() as s:
        assert jobs.run_all_halls(session=s)[0]["reminded"] == []
    assert _messages("appointment_reminder") == []


# --- "your turn is near" -------------------------------------------------------------


def _issue(s, world, n: int, **kwargs) -> list[Ticket]:
    item = world.items["SB01"]
    return [service.issue_ticket(session=s, hall=world.hall, item=item, **kwargs) for _ in range(n)]


def test_turn_near_fires_once_when_a_call_leaves_the_chosen_number_ahead(hall):
    with frozen(MONDAY_10), unit_of_work() as s:
        _issue(s, hall, 5)
        [mine] = _issue(s, hall, 1, notify_phone="+86 138-0013-8000", notify_ahead=3)
        assert (mine.notify_phone, mine.notify_ahead) == (PHONE, 3)
        ticket_id = mine.id
    with frozen(MONDAY_10 + timedelta(minutes=1)), unit_of_work() as s:
        _serve(s, hall, 1)  # 4 ahead now
    assert _messages("turn_near") == []
    with frozen(MONDAY_10 + timedelta(minutes=2)), unit_of_work() as s:
        _serve(s, hall, 3)  # 3 ahead: the threshold
        assert s.get(Ticket, ticket_id).turn_notified_at is not None
    with frozen(MONDAY_10 + timedelta(minutes=3)), unit_of_work() as s:
        _serve(s, hall, 1)  # 2 ahead: told already
        _serve(s, hall, 3)
    [message] = _messages("turn_near")
    assert message.recipient == PHONE
    assert (message.case_type, message.case_id) == ("ticket", ticket_id)
    assert "A006" in message.body and "前面还有3人" in message.body


def test_turn_near_counts_the_queue_as_the_ticket_page_does(hall):
    """Tickets of another item that the general window also serves are ahead too."""
    with frozen(MONDAY_10), unit_of_work() as s:
        service.issue_ticket(session=s, hall=hall.hall, item=hall.items["GS01"])
        service.issue_ticket(session=s, hall=hall.hall, item=hall.items["GS01"])
        [mine] = _issue(s, hall, 1, notify_phone=PHONE, notify_ahead=1)
        mine_id = mine.id
    with frozen(MONDAY_10 + timedelta(minutes=1)), unit_of_work() as s:
        _serve(s, hall, 2)  # window 2 (GS01 only) takes B001: one B ticket still ahead
    [message] = _messages("turn_near")
    assert message.case_id == mine_id and "前面还有1人" in message.body


def test_no_phone_no_message_and_a_bad_phone_is_refused(hall):
    with frozen(MONDAY_10), unit_of_work() as s:
        _issue(s, hall, 3)
        with pytest.raises(BadRequest) as refused:
            _issue(s, hall, 1, notify_phone="0591-1234567")
        assert refused.value.code == "invalid_phone"
        with pytest.raises(BadRequest) as refused:
            _issue(s, hall, 1, notify_phone=PHONE, notify_ahead=0)
        assert refused.value.code == "bad_notify_ahead"
    with frozen(MONDAY_10 + timedelta(minutes=1)), unit_of_work() as s:
        for _ in range(3):
            _serve(s, hall, 1)
    assert _messages() == []


def test_kiosk_form_and_api_take_the_optional_phone(hall):
    client = TestClient(create_app(run_jobs=False))
    with frozen(MONDAY_10):
        page = client.get("/halls/H1/kiosk")
        assert page.status_code == 200
        assert 'name="notify_phone"' in page.text and "到号短信提醒" in page.text
        token = csrf(client, "/halls/H1/kiosk")
        slip = client.post(
            "/halls/H1/kiosk/tickets",
            data={
                "item_code": "SB01",
                "csrf_token": token,
                "notify_phone": "13800138000",
                "notify_ahead": "2",
            },
        )
        assert slip.status_code == 200, slip.text
        assert "138****8000" in slip.text and "13800138000" not in slip.text
        bad = client.post(
            "/halls/H1/kiosk/tickets",
            data={"item_code": "SB01", "csrf_token": token, "notify_phone": "110"},
        )
        assert bad.status_code == 400
        api = TestClient(create_app(run_jobs=False))  # no page session: no CSRF
        r = api.post(
            "/api/v1/halls/H1/tickets",
            json={"item_code": "SB01", "notify_phone": "13900139000", "notify_ahead": 1},
        )
        assert r.status_code == 201, r.text
        assert api.post(
            "/api/v1/halls/H1/tickets", json={"item_code": "SB01", "notify_ahead": 11}
        ).status_code in (400, 422)
    with unit_of_work() as s:
        asked = {
            t.code: (t.notify_phone, t.notify_ahead)
            for t in s.scalars(select(Ticket).order_by(Ticket.id))
        }
    assert asked == {"A001": (PHONE, 2), "A002": ("13900139000", 1)}


# --- rating invitation ---------------------------------------------------------------


def test_rating_invitation_after_a_finished_ticket_with_a_phone_only(hall):
    with frozen(MONDAY_10), unit_of_work() as s:
        [mine] = _issue(s, hall, 1, notify_phone=PHONE)
        _issue(s, hall, 1)  # no phone
        public_id, mine_id = mine.public_id, mine.id
    with frozen(MONDAY_10 + timedelta(minutes=5)), unit_of_work() as s:
        _serve(s, hall, 1)
        _serve(s, hall, 1)
    [invitation] = _messages("rating_invitation")
    assert invitation.recipient == PHONE
    assert (invitation.case_type, invitation.case_id) == ("ticket", mine_id)
    base = get_settings().public_base_url.rstrip("/")
    assert f"{base}/r/{public_id}" in invitation.body


def test_rating_invitation_goes_to_the_appointment_phone(hall):
    with frozen(MONDAY_10), unit_of_work() as s:
        code = _book_for(s, hall, MONDAY_10.date(), "13900139000").code
        _appointment, ticket, late = appointments.check_in(session=s, hall=hall.hall, code=code)
        assert not late
        ticket_id = ticket.id
    with frozen(MONDAY_10 + timedelta(minutes=5)), unit_of_work() as s:
        assert _serve(s, hall, 1).id == ticket_id
    [invitation] = _messages("rating_invitation")
    assert invitation.recipient == "13900139000" and invitation.case_id == ticket_id
    assert [m.template for m in _messages()] == ["appointment_booked", "rating_invitation"]


def test_close_day_forgets_the_phones_left_at_the_kiosk(db):
    from datetime import UTC, datetime

    from sqlalchemy import select

    from govloop.core.clock import frozen
    from govloop.core.db import unit_of_work
    from govloop.hall import day_close
    from govloop.hall import service as hall_service
    from govloop.hall.models import Ticket
    from tests.factories import make_hall

    with frozen(datetime(2026, 11, 23, 2, 0, tzinfo=UTC)), unit_of_work() as s:
        world = make_hall(s)
        hall_service.issue_ticket(
            session=s, hall=world.hall, item=world.items["SB01"], notify_phone="13800138000"
        )
        day_close.close_day(session=s, hall=world.hall, actor=None)
        assert s.scalars(select(Ticket.notify_phone)).all() == [None]
