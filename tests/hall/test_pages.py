"""Server-rendered pages of the hall: they call the services, refuse bad input kindly,
and never change state on a refusal."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hall import appointments, overview, service
from govloop.hall import day_close as hall_day_close
from govloop.hall import windows as hall_windows
from govloop.hall.models import Appointment, EventKind, HallEvent, Ticket
from govloop.org import service as org_service
from govloop.org.models import Hall
from tests.factories import add_quota, make_hall
from tests.web.helpers import csrf, htmx, sign_in

# 2026-11-23 is a Monday; 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TUESDAY = date(2026, 11, 24)
BASE = "/halls/H1"


@pytest.fixture
def client(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
            add_quota(s, world, "SB01", time(10, 0), time(10, 30), 2)
            add_quota(s, world, "SB01", time(9, 0), time(9, 30), 2)
        c = TestClient(create_app())
        c.clock = clock  # type: ignore[attr-defined]
        yield c


def counts() -> tuple[int, int, int]:
    with unit_of_work() as s:
        return (
            s.scalar(select(func.count()).select_from(Ticket)) or 0,
            s.scalar(select(func.count()).select_from(HallEvent)) or 0,
            s.scalar(select(func.count()).select_from(Appointment)) or 0,
        )


def ticket(code: str, day: date = date(2026, 11, 23)) -> Ticket:
    with unit_of_work() as s:
        t = s.scalar(select(Ticket).where(Ticket.code == code, Ticket.service_date == day))
        assert t is not None
        return t


def issue(code: str = "SB01", priority: str | None = None) -> str:
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        item = service.get_item(session=s, code=code)
        return service.issue_ticket(session=s, hall=hall, item=item, priority=priority).code


def kiosk_post(client, token: str, **data: str):
    return client.post(f"{BASE}/kiosk/tickets", data={"csrf_token": token, **data})


# --- public pages ----------------------------------------------------------------------


def test_public_pages_render_in_chinese(client):
    issue()
    pages = {
        f"{BASE}/kiosk": ["自助取号", "绿色通道", "老年人", "事项SB01", "等候 "],
        f"{BASE}/display": ["叫号信息", "请耐心等候叫号", "当前等候", "等候人数", "空闲"],
        f"{BASE}/my-ticket": ["我的排队", "查询"],
        f"{BASE}/appointments": ["预约办事", "选择事项和日期", "取消预约"],
    }
    for path, texts in pages.items():
        r = client.get(path)
        assert r.status_code == 200, path
        for text in texts:
            assert text in r.text, (path, text)
        assert "/static/vendor/htmx.min.js" in r.text


def test_display_shows_latest_call_and_uses_the_stream(client):
    issue()
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        staff = s.scalar(select(User).where(User.username == "staff1"))
        hall_windows.call_next(session=s, hall=hall, window_number=1, actor=staff)
    r = client.get(f"{BASE}/display")
    assert "请 A001 号到 1 号窗口" in r.text
    assert "display.js" in r.text and "live.js" in r.text


def test_unknown_hall_is_a_friendly_404(client):
    for path in ("kiosk", "display", "my-ticket", "appointments"):
        r = client.get(f"/halls/NOPE/{path}")
        assert r.status_code == 404
        assert "未找到服务大厅：NOPE" in r.text and "Traceback" not in r.text


# --- kiosk -----------------------------------------------------------------------------


def test_kiosk_form_issues_a_ticket_and_shows_the_slip(client):
    token = csrf(client, f"{BASE}/kiosk")
    r = kiosk_post(client, token, item_code="SB01", priority="elderly")
    assert r.status_code == 200
    for text in ("A001", "事项SB01", "老年人", "排队位次", "前面等候", "预计等候", "取号时间"):
        assert text in r.text, text
    t = ticket("A001")
    assert t.channel == "kiosk" and t.priority == "elderly" and t.status == "waiting"
    assert f"/t/{t.public_id}" in r.text
    assert "<svg" in r.text  # the QR code
    # Times on the slip are Shanghai time: 10:00, not 02:00 UTC.
    assert "2026-11-23 10:00" in r.text


def test_kiosk_htmx_returns_the_slip_fragment(client):
    token = csrf(client, f"{BASE}/kiosk")
    r = client.post(f"{BASE}/kiosk/tickets", data={"item_code": "GS01"}, headers=htmx(token))
    assert r.status_code == 200
    assert "<html" not in r.text and 'class="slip"' in r.text and "B001" in r.text


def test_slip_estimate_is_a_range_or_says_no_window_is_open(client):
    token = csrf(client, f"{BASE}/kiosk")
    for _ in range(4):
        kiosk_post(client, token, item_code="SB01")
    r = kiosk_post(client, token, item_code="SB01")
    assert re.search(r"约 \d+(–\d+)? 分钟", r.text), r.text
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        for number in (1, 3):
            w = service.get_window(session=s, hall=hall, number=number)
            hall_windows.sign_out(
                session=s,
                hall=hall,
                window_number=number,
                actor=s.get(User, w.staff_id),
            )
    r = kiosk_post(client, token, item_code="SB01")
    assert "暂无窗口开放" in r.text


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"item_code": "NOPE"}, 404, "未找到事项：NOPE"),
        ({"item_code": ""}, 400, "请选择要办理的事项"),
        ({"item_code": "SB01", "priority": "vip"}, 400, "未知的绿色通道类别"),
        ({"item_code": "SB01", "priority": "appointment"}, 400, "未知的绿色通道类别"),
    ],
)
def test_kiosk_bad_input_is_refused_and_changes_nothing(client, data, status, message):
    token = csrf(client, f"{BASE}/kiosk")
    before = counts()
    r = kiosk_post(client, token, **data)
    assert r.status_code == status
    assert message in r.text and "Traceback" not in r.text
    assert counts() == before


def test_kiosk_refuses_when_hall_is_closed(client):
    with unit_of_work() as s:
        org_service.get_hall(session=s, code="H1").enforce_hours = True
    token = csrf(client, f"{BASE}/kiosk")
    before = counts()
    client.clock.advance(days=-1)  # Sunday
    r = client.post(f"{BASE}/kiosk/tickets", data={"item_code": "SB01"}, headers=htmx(token))
    assert r.status_code == 422
    assert "不办公" in r.text and "<html" not in r.text
    assert counts() == before


def test_kiosk_post_without_csrf_is_refused(client):
    csrf(client, f"{BASE}/kiosk")  # the session exists, so the token is required
    before = counts()
    r = client.post(f"{BASE}/kiosk/tickets", data={"item_code": "SB01"})
    assert r.status_code == 403
    assert "CSRF" in r.text
    r = client.post(f"{BASE}/kiosk/tickets", data={"item_code": "SB01", "csrf_token": "forged"})
    assert r.status_code == 403
    assert counts() == before


def book(day: date = date(2026, 11, 23), slot: time = time(10, 0)) -> str:
    with unit_of_work() as s, frozen(datetime.combine(day, time(0, 0), tzinfo=UTC)):
        hall = org_service.get_hall(session=s, code="H1")
        return appointments.book(
            session=s,
            hall=hall,
            item=service.get_item(session=s, code="SB01"),
            day=day,
            slot_start=slot,
            citizen_name="张三",
            citizen_phone="13800138000",
        ).code


def test_kiosk_check_in_in_time_gives_priority_ticket(client):
    code = book()
    token = csrf(client, f"{BASE}/kiosk")
    r = client.post(f"{BASE}/kiosk/check-in", data={"code": code.lower(), "csrf_token": token})
    assert r.status_code == 200
    assert "签到成功" in r.text and "A001" in r.text
    assert ticket("A001").priority == "appointment"


def test_kiosk_late_check_in_says_it_became_a_regular_ticket(client):
    code = book(slot=time(9, 0))  # 09:00–09:30, grace 15 min: it is 10:00 now
    token = csrf(client, f"{BASE}/kiosk")
    r = client.post(f"{BASE}/kiosk/check-in", data={"code": code}, headers=htmx(token))
    assert r.status_code == 200
    assert "已转为普通号" in r.text
    assert ticket("A001").priority is None


def test_kiosk_check_in_unknown_code(client):
    token = csrf(client, f"{BASE}/kiosk")
    before = counts()
    r = client.post(f"{BASE}/kiosk/check-in", data={"code": "DEADBEEF"}, headers=htmx(token))
    assert r.status_code == 404 and "未找到该预约" in r.text
    assert counts() == before


# --- my ticket -------------------------------------------------------------------------


def test_my_ticket_by_code_and_short_link(client):
    issue()
    code = issue()
    r = client.get(f"{BASE}/my-ticket?code={code.lower()}")
    assert r.status_code == 200
    assert "A002" in r.text and "排队位次" in r.text and "前面等候" in r.text
    assert 'hx-get="/halls/H1/my-ticket/panel?code=A002"' in r.text
    public_id = ticket("A002").public_id
    r = client.get(f"/t/{public_id}")
    assert r.status_code == 200 and "A002" in r.text
    assert f'hx-get="/t/{public_id}/panel"' in r.text
    panel = client.get(f"/t/{public_id}/panel")
    assert panel.status_code == 200 and "<html" not in panel.text and "A002" in panel.text


def test_my_ticket_shows_the_window_when_called(client):
    code = issue()
    with unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        staff = s.scalar(select(User).where(User.username == "staff1"))
        hall_windows.call_next(session=s, hall=hall, window_number=1, actor=staff)
    r = client.get(f"{BASE}/my-ticket/panel?code={code}")
    assert "轮到您了" in r.text and "请 A001 号到 1 号窗口" in r.text


@pytest.mark.parametrize(
    ("code", "status", "message"),
    [("??", 400, "号码格式不正确"), ("A999", 404, "今天没有 A999 号")],
)
def test_my_ticket_bad_code_is_friendly(client, code, status, message):
    r = client.get(f"{BASE}/my-ticket", params={"code": code})
    assert r.status_code == status
    assert message in r.text and 'name="code"' in r.text  # the form is offered again


def test_unknown_short_link(client):
    r = client.get("/t/not-a-ticket")
    assert r.status_code == 404 and "未找到该号票" in r.text


# --- window workbench ------------------------------------------------------------------


def test_window_page_redirects_to_login(client):
    r = client.get(f"{BASE}/windows/1", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=/halls/H1/windows/1"


def test_window_page_renders_for_staff(client):
    issue()
    sign_in(client, "staff1")
    r = client.get(f"{BASE}/windows/1")
    assert r.status_code == 200
    for text in ("1号窗口", "窗口工作台", "叫下一号", "本窗口等候", "A001", "签退窗口"):
        assert text in r.text, text


def act(client, token: str, action: str, window: int = 1, **data: str):
    return client.post(f"{BASE}/windows/{window}/{action}", data=data, headers=htmx(token))


def test_window_actions_through_the_page(client):
    issue()
    issue()
    issue("GS01")
    token = sign_in(client, "staff1")

    r = act(client, token, "call-next")
    assert r.status_code == 200 and "<html" not in r.text
    assert "已叫号 A001" in r.text and "开始办理" in r.text and "重呼" in r.text
    r = act(client, token, "recall")
    assert "已重呼 A001" in r.text and ticket("A001").recall_count == 1
    r = act(client, token, "start")
    assert "开始办理 A001" in r.text and ticket("A001").status == "serving"
    for label in ("办结", "需补正材料", "转介他处"):
        assert label in r.text
    r = act(client, token, "finish", outcome="needs_documents")
    assert "A001 已办结" in r.text
    assert ticket("A001").outcome == "needs_documents"

    act(client, token, "call-next")  # A002
    r = act(client, token, "no-show")
    assert "A002 未到，已过号重排" in r.text and ticket("A002").status == "waiting"

    act(client, token, "call-next")  # A002 again
    r = act(client, token, "transfer", to_item_code="GS01", to_window="2")
    assert "A002 已转移" in r.text
    moved = ticket("A002")
    assert moved.status == "waiting" and moved.target_window_id is not None

    r = act(client, token, "pause", reason="短暂休息")
    assert "窗口已暂停" in r.text and "恢复服务" in r.text
    r = act(client, token, "resume")
    assert "窗口已恢复服务" in r.text
    r = act(client, token, "sign-out")
    assert "已签退 1 号窗口" in r.text and "签入本窗口" in r.text
    r = act(client, token, "sign-in")
    assert "已签入 1 号窗口" in r.text

    with unit_of_work() as s:
        kinds = [k for (k,) in s.execute(select(HallEvent.kind).order_by(HallEvent.id))]
    for kind in (EventKind.RECALLED, EventKind.FINISHED, EventKind.REQUEUED, EventKind.TRANSFERRED):
        assert kind.value in kinds


def test_window_action_without_htmx_redirects_back(client):
    issue()
    token = sign_in(client, "staff1")
    r = client.post(
        f"{BASE}/windows/1/call-next", data={"csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"{BASE}/windows/1"
    assert ticket("A001").status == "called"


def test_window_action_without_csrf_changes_nothing(client):
    issue()
    sign_in(client, "staff1")
    before = counts()
    r = client.post(f"{BASE}/windows/1/call-next", headers={"HX-Request": "true"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert counts() == before and ticket("A001").status == "waiting"


def test_staff_acting_on_another_window_gets_the_service_message(client):
    issue("GS01")
    token = sign_in(client, "staff1")
    before = counts()
    r = act(client, token, "call-next", window=2)
    assert r.status_code == 403
    assert "您没有签入 2 号窗口，不能在该窗口操作" in r.text
    assert counts() == before
    page = client.get(f"{BASE}/windows/2")
    assert page.status_code == 200 and "本窗口已有其他工作人员签入" in page.text


@pytest.mark.parametrize(
    ("path", "data", "status", "message"),
    [
        ("windows/99/call-next", {}, 404, "未找到 99 号窗口"),
        ("windows/1/launch", {}, 400, "未知的窗口操作"),
        ("windows/1/finish", {"outcome": "great"}, 400, "未知的办理结果"),
        ("windows/1/transfer", {"to_window": "x"}, 400, "窗口号必须是正整数"),
        ("windows/1/transfer", {}, 400, "请指定转移到的事项或窗口"),
        ("windows/1/recall", {}, 422, "窗口当前没有叫到的号"),
        ("windows/1/sign-in", {}, 200, "已签入 1 号窗口"),
    ],
)
def test_window_bad_input_is_friendly(client, path, data, status, message):
    issue()
    token = sign_in(client, "staff1")
    before = counts()
    r = client.post(f"{BASE}/{path}", data=data, headers=htmx(token))
    assert r.status_code == status, r.text
    assert message in r.text and "Traceback" not in r.text
    assert counts() == before


def test_non_htmx_error_is_a_full_friendly_page(client):
    token = sign_in(client, "staff1")
    r = client.post(f"{BASE}/windows/1/recall", data={"csrf_token": token})
    assert r.status_code == 422
    assert "<html" in r.text and "窗口当前没有叫到的号" in r.text
    assert "staff1" in r.text  # the header still shows who is signed in


# --- manager console -------------------------------------------------------------------


def test_manager_page_is_refused_to_window_staff(client):
    sign_in(client, "staff1")
    r = client.get(f"{BASE}/manage")
    assert r.status_code == 403
    assert "您没有执行此操作的权限" in r.text
    token = csrf(client, "/")
    before = counts()
    r = client.post(f"{BASE}/manage/close-day", data={"reason": "x", "csrf_token": token})
    assert r.status_code == 403 and counts() == before


def test_manager_page_renders_live_view_and_charts(client):
    issue()
    issue("GS01", priority="elderly")
    sign_in(client, "manager")
    r = client.get(f"{BASE}/manage")
    assert r.status_code == 200
    for text in ("大厅管理", "等候人数", "各事项等候人数", "今日每半小时取号量", "日终闭厅"):
        assert text in r.text, text
    assert "echarts.min.js" in r.text and 'id="chart-arrivals"' in r.text
    assert "A001" in r.text and "B001" in r.text and "老年人" in r.text
    live = client.get(f"{BASE}/manage/live")
    assert live.status_code == 200 and "<html" not in live.text and "manage-data" in live.text


def test_manager_closes_the_day_carrying_one_over(client):
    for _ in range(3):
        issue()
    token = sign_in(client, "manager")
    r = client.post(
        f"{BASE}/manage/close-day",
        data={"reason": "系统维护", "carry_over": ["A002"]},
        headers=htmx(token),
    )
    assert r.status_code == 200
    assert "2026-11-23 已日终闭厅" in r.text and "A002 → A001 (2026-11-24)" in r.text
    assert ticket("A001").status == "closed" and ticket("A001").closed_reason == "系统维护"
    assert ticket("A003").status == "closed"
    assert ticket("A002").status == "carried_over"
    assert ticket("A001", TUESDAY).priority == "carried_over"


def test_manager_close_day_bad_input(client):
    issue()
    token = sign_in(client, "manager")
    before = counts()
    r = client.post(
        f"{BASE}/manage/close-day",
        data={"reason": "x", "carry_over": ["A999"]},
        headers=htmx(token),
    )
    assert r.status_code == 400 and "这些号不在等候中：A999" in r.text
    r = client.post(f"{BASE}/manage/close-day", data={"reason": " "}, headers=htmx(token))
    assert r.status_code == 400 and "请填写闭厅原因" in r.text
    assert counts() == before


def test_manager_sweeps_missed_appointments(client):
    code = book(slot=time(9, 0))
    token = sign_in(client, "manager")
    r = client.post(f"{BASE}/manage/sweep-appointments", headers=htmx(token))
    assert r.status_code == 200 and code in r.text and "已标记爽约的预约：1" in r.text


# --- appointments ----------------------------------------------------------------------


def test_appointment_page_lists_days_and_slots(client):
    r = client.get(f"{BASE}/appointments", params={"item": "SB01", "day": "2026-11-23"})
    assert r.status_code == 200
    assert "09:00–09:30" in r.text and "已过" in r.text  # 09:30 has passed at 10:00
    assert "10:00–10:30" in r.text and "余 2 个" in r.text
    assert "周二" in r.text and "休" in r.text  # Saturday is shown as a day off


def test_book_and_cancel_an_appointment(client):
    token = csrf(client, f"{BASE}/appointments")
    r = client.post(
        f"{BASE}/appointments",
        data={
            "item_code": "SB01",
            "day": TUESDAY.isoformat(),
            "slot_start": "10:00",
            "name": "李四",
            "phone": "139 0013 9000",
            "csrf_token": token,
        },
    )
    assert r.status_code == 200
    assert "预约成功" in r.text and "2026-11-24 周二" in r.text and "10:00–10:30" in r.text
    code = re.search(r"data-appointment-code>([0-9A-F]{8})<", r.text).group(1)
    r = client.post(f"{BASE}/appointments/cancel", data={"code": code, "csrf_token": token})
    assert r.status_code == 200 and f"预约 {code} 已取消" in r.text
    with unit_of_work() as s:
        assert appointments.get_appointment(session=s, code=code).status == "cancelled"


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"phone": "12345"}, 400, "手机号码格式不正确"),
        ({"name": " "}, 400, "请填写姓名"),
        ({"day": "2026-13-45"}, 400, "请选择日期"),
        ({"slot_start": ""}, 400, "请选择预约时段"),
        ({"slot_start": "13:00"}, 404, "没有可预约时段"),
        ({"day": "2026-11-28"}, 422, "不是工作日"),
        ({"day": "2027-01-30"}, 422, "天内的时段"),
        ({"item_code": "NOPE"}, 404, "未找到事项"),
    ],
)
def test_booking_bad_input_is_shown_inline_and_changes_nothing(client, changes, status, message):
    token = csrf(client, f"{BASE}/appointments")
    data = {
        "item_code": "SB01",
        "day": TUESDAY.isoformat(),
        "slot_start": "10:00",
        "name": "李四",
        "phone": "13900139000",
        "csrf_token": token,
    } | changes
    before = counts()
    r = client.post(f"{BASE}/appointments", data=data)
    assert r.status_code == status, r.text
    assert message in r.text and "预约办事" in r.text  # the booking page again
    assert counts() == before


def test_cancel_unknown_appointment_is_inline(client):
    token = csrf(client, f"{BASE}/appointments")
    r = client.post(f"{BASE}/appointments/cancel", data={"code": "NOPE", "csrf_token": token})
    assert r.status_code == 404 and "未找到该预约" in r.text and "取消预约" in r.text


def test_appointment_day_outside_horizon_is_explained(client):
    r = client.get(f"{BASE}/appointments", params={"item": "SB01", "day": "2027-03-01"})
    assert r.status_code == 422 and "只能预约今天起 14 天内的时段" in r.text


# --- English -------------------------------------------------------------------------


def test_pages_switch_to_english(client):
    issue()
    client.cookies.set("lang", "en")
    assert "Take a ticket" in client.get(f"{BASE}/kiosk").text
    assert "Now calling" in client.get(f"{BASE}/display").text
    assert "Position in queue" in client.get(f"{BASE}/my-ticket?code=A001").text
    assert "Book an appointment" in client.get(f"{BASE}/appointments").text
    token = csrf(client, f"{BASE}/kiosk")
    assert "Your number" in kiosk_post(client, token, item_code="SB01").text


# --- read models ---------------------------------------------------------------------


def test_arrivals_per_slot_are_read_from_the_event_log(client):
    issue()
    client.clock.advance(minutes=35)
    issue("GS01")
    issue("GS01")
    with unit_of_work() as s:
        hall = s.scalar(select(Hall).where(Hall.code == "H1"))
        manager = s.scalar(select(User).where(User.username == "manager"))
        hall_day_close.close_day(session=s, hall=hall, actor=manager, carry_over_all=True)
        arrivals = overview.arrivals_by_slot(session=s, hall=hall)
    slots = arrivals["slots"]
    assert slots[0] == "09:00" and slots[-1] == "16:30"
    assert arrivals["total"] == 3  # carried-over tickets are not arrivals
    series = arrivals["series"]["kiosk"]
    assert series[slots.index("10:00")] == 1 and series[slots.index("10:30")] == 2


def test_wait_range_in_minutes(client):
    issue()
    with unit_of_work() as s:
        t = s.scalar(select(Ticket).where(Ticket.code == "A001"))
        card = overview.ticket_card(session=s, ticket=t)
    assert card["position"] == 1 and card["ahead"] == 0
    assert card["estimate"] == {"known": True, "now": True}  # an idle window serves it
    assert card["issued_at"] == MONDAY_10 and card["window"] is None
    assert timedelta(0) <= MONDAY_10 - card["arrived_at"]


def test_the_kiosk_tile_display_and_slip_count_the_same_people_ahead(client):
    # window 3 is general: GS01 tickets compete with SB01 for it (window 1 serves SB01 only)
    for _ in range(4):
        issue("GS01")
    kiosk = client.get(f"{BASE}/kiosk").text
    assert 'data-item-waiting="SB01">4<' in kiosk
    board = client.get("/api/v1/halls/H1").json()
    assert {w["item_code"]: w["waiting"] for w in board["waiting"]}["SB01"] == 4
    token = csrf(client, f"{BASE}/kiosk")
    slip = kiosk_post(client, token, item_code="SB01").text
    ahead = slip.split("People ahead of you")[-1] if "People ahead" in slip else slip
    assert re.search(r"前面等候</dt><dd>4</dd>", slip), ahead[:300]


def test_an_over_long_name_is_refused_with_the_form_kept(client):
    token = csrf(client, f"{BASE}/appointments")
    before = counts()
    r = client.post(
        f"{BASE}/appointments",
        data={
            "item_code": "SB01",
            "day": TUESDAY.isoformat(),
            "slot_start": "10:00",
            "name": "张" * 120,
            "phone": "139 0013 9001",
            "csrf_token": token,
        },
    )
    assert r.status_code == 400 and "不超过 50 个字" in r.text
    assert "139 0013 9001" in r.text  # what was typed is still there
    assert counts() == before
