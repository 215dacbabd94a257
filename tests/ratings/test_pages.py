"""Pages of 好差评: the rating pad, rating by link, rectification cases with figures, the
manager's overdue panel and the SERVQUAL web survey. Refusals are friendly and write
nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.hall import service as hall
from govloop.hall import windows as hall_windows
from govloop.ingest.devices import service as devices
from govloop.ingest.models import DeviceKind
from govloop.org import service as org_service
from govloop.ratings import service as ratings
from govloop.ratings import servqual
from govloop.ratings import views as rating_views
from govloop.ratings.models import (
    Rating,
    RatingEvent,
    RectificationCase,
    Survey,
    SurveyResponse,
)
from govloop.ratings.service import RatingInput
from tests.factories import make_hall, make_user
from tests.web.helpers import csrf, htmx, sign_in

# 2026-11-23 is a Monday; 10:00 in Shanghai.
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
PAD = "/halls/H1/windows/1/pad"


@pytest.fixture
def client(db):
    with frozen(MONDAY_10) as clock:
        with unit_of_work() as s:
            make_hall(s)
            make_user(s, "manager2", Role.HALL_MANAGER)
            make_user(s, "agent", Role.HOTLINE_AGENT)
            pad_key = register_pad(s, "PJQ-01")
        c = TestClient(create_app())
        c.clock = clock  # type: ignore[attr-defined]
        pair(c, "PJQ-01", pad_key)
        yield c


def register_pad(s, code: str, hall_code: str = "H1") -> str:  # type: ignore[no-untyped-def]
    """A rating pad of the hall with a key; the key."""
    h = org_service.get_hall(session=s, code=hall_code)
    device = devices.register_device(
        session=s, code=code, kind=DeviceKind.RATING_PAD, name="评价器", hall_id=h.id
    )
    return devices.issue_device_key(session=s, device=device)


def pair(c: TestClient, code: str, key: str, path: str = PAD) -> Any:
    token = csrf(c, "/login")
    return c.post(
        f"{path}/pair",
        data={"device_code": code, "device_key": key, "csrf_token": token},
        follow_redirects=False,
    )


def serve(window: int = 1, item: str = "SB01") -> str:
    """Issue, call, serve and finish one ticket at ``window``; its public id."""
    with unit_of_work() as s:
        h = org_service.get_hall(session=s, code="H1")
        actor = s.get(User, hall.get_window(session=s, hall=h, number=window).staff_id)
        ticket = hall.issue_ticket(session=s, hall=h, item=hall.get_item(session=s, code=item))
        hall_windows.call_next(session=s, hall=h, window_number=window, actor=actor)
        hall_windows.start_service(session=s, hall=h, window_number=window, actor=actor)
        hall_windows.finish_service(session=s, hall=h, window_number=window, actor=actor)
        return ticket.public_id


def waiting_ticket() -> str:
    with unit_of_work() as s:
        h = org_service.get_hall(session=s, code="H1")
        return hall.issue_ticket(
            session=s, hall=h, item=hall.get_item(session=s, code="GS01")
        ).public_id


def rate(public_id: str, level: int, **kw) -> int:
    with unit_of_work() as s:
        ticket = hall.get_ticket_by_public_id(session=s, public_id=public_id)
        data = RatingInput(level=level, channel=kw.pop("channel", "pad"), **kw)
        return ratings.rate_ticket(session=s, ticket=ticket, data=data).id


def case_id_of(rating_id: int) -> int:
    with unit_of_work() as s:
        case_id = s.scalar(
            select(RectificationCase.id).where(RectificationCase.rating_id == rating_id)
        )
        assert case_id is not None
        return case_id


def counts() -> tuple[int, ...]:
    with unit_of_work() as s:
        return tuple(
            s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Rating, RatingEvent, RectificationCase, SurveyResponse, Survey)
        )


def only_rating() -> Rating:
    with unit_of_work() as s:
        rows = list(s.scalars(select(Rating)))
        assert len(rows) == 1
        return rows[0]


def case(case_id: int) -> RectificationCase:
    with unit_of_work() as s:
        found = s.get(RectificationCase, case_id)
        assert found is not None
        return found


# --- rating pad ------------------------------------------------------------------------


def test_unpaired_browser_sees_the_pairing_form_and_no_visit(client):
    public_id = serve()
    stranger = TestClient(client.app)
    r = stranger.get(PAD)
    assert r.status_code == 401
    assert "此评价器尚未配对" in r.text and public_id not in r.text
    assert stranger.get(f"{PAD}/panel").status_code == 401
    token = csrf(stranger, "/login")
    rated = stranger.post(f"{PAD}/rate", data={"code": "A001", "level": "1", "csrf_token": token})
    assert rated.status_code == 401 and counts()[0] == 0


def test_pairing_needs_the_pads_own_key_in_this_hall(client):
    with unit_of_work() as s:
        other_key = register_pad(s, "PJQ-02")
        kiosk = devices.register_device(
            session=s, code="QHJ-01", kind=DeviceKind.TICKET_MACHINE, name="取号机"
        )
        kiosk_key = devices.issue_device_key(session=s, device=kiosk)
    stranger = TestClient(client.app)
    for code, key in (("PJQ-02", "gd_wrong"), ("NOPE", other_key), ("QHJ-01", kiosk_key)):
        r = pair(stranger, code, key)
        assert r.status_code == 401 and "设备编码或设备密钥无效" in r.text
        assert stranger.get(PAD).status_code == 401
    ok = pair(stranger, "PJQ-02", other_key)
    assert ok.status_code == 303 and ok.headers["location"] == PAD
    assert stranger.get(PAD).status_code == 200
    # a new key unpairs every browser that held the old one
    with unit_of_work() as s:
        devices.issue_device_key(session=s, device=devices.get_device(session=s, code="PJQ-02"))
    assert stranger.get(PAD).status_code == 401


def test_pad_is_idle_until_a_visit_finishes_then_asks_about_it(client):
    r = client.get(PAD)
    assert r.status_code == 200
    assert "欢迎您对我们的服务进行评价" in r.text and 'data-pad-state="idle"' in r.text
    assert "1号窗口" in r.text and "staff1" in r.text  # the window and who is on duty
    assert "/static/js/pad.js" in r.text and 'hx-trigger="every 4s, refresh"' in r.text
    # Idle polling changes nothing: 204, no swap.
    assert client.get(f"{PAD}/panel?current=").status_code == 204

    public_id = serve()
    panel = client.get(f"{PAD}/panel?current=")
    assert panel.status_code == 200 and "<html" not in panel.text
    for text in ("A001", "事项SB01", "非常满意", "满意", "基本满意", "不满意", "非常不满意"):
        assert text in panel.text, text
    for tag in ("热情周到", "高效快捷", "一次办好", "等候太久", "态度不好", "材料要求不清"):
        assert tag in panel.text, tag
    # The pad names the visit by its number; the citizen's secret link stays off the pad.
    assert 'name="code" value="A001"' in panel.text and public_id not in panel.text
    # While it shows that visit, polling does not disturb the citizen.
    assert client.get(f"{PAD}/panel?current=A001").status_code == 204
    # Another window's pad stays idle.
    assert 'data-pad-state="idle"' in client.get("/halls/H1/windows/2/pad").text


def test_pad_rating_writes_one_pad_rating_and_opens_a_case_for_a_bad_one(client):
    serve()
    token = csrf(client, PAD)
    r = client.post(
        f"{PAD}/rate",
        data={
            "code": "A001",
            "level": "2",
            "tags": ["等候太久", "材料要求不清"],
            "comment": "等了一个小时",
            "phone": "138 0013 8000",
        },
        headers=htmx(token),
    )
    assert r.status_code == 200, r.text
    assert "感谢您的评价" in r.text and "1 个工作日内" in r.text
    assert 'data-pad-state="thanks"' in r.text and "<html" not in r.text
    rating = only_rating()
    assert rating.channel == "pad" and rating.level == 2
    assert rating.tags == ["等候太久", "材料要求不清"] and rating.comment == "等了一个小时"
    assert rating.real_name and rating.citizen_phone == "13800138000"
    assert counts()[2] == 1  # a rectification case
    # The pad goes back to idle: the visit is rated.
    assert 'data-pad-state="idle"' in client.get(f"{PAD}/panel").text


def test_pad_without_htmx_renders_the_whole_page(client):
    serve()
    token = csrf(client, PAD)
    r = client.post(f"{PAD}/rate", data={"code": "A001", "level": "5", "csrf_token": token})
    assert r.status_code == 200 and "<html" in r.text and "感谢您的评价" in r.text
    assert only_rating().level == 5 and counts()[2] == 0


def test_pad_second_rating_is_refused_kindly_and_writes_nothing(client):
    public_id = serve()
    rate(public_id, 4)
    before = counts()
    token = csrf(client, PAD)
    r = client.post(f"{PAD}/rate", data={"code": "A001", "level": "1"}, headers=htmx(token))
    assert r.status_code == 409
    assert "A001 号已评价过（一次一评）" in r.text and "Traceback" not in r.text
    assert counts() == before and only_rating().level == 4


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({}, 400, "请选择您对本次服务的满意程度"),
        ({"level": "9"}, 400, "评价等级必须是 1–5"),
        ({"level": "5", "phone": "12345"}, 400, "手机号码格式不正确"),
        ({"level": "5", "tags": ["随便写"]}, 400, "未知的评价标签"),
        ({"level": "5", "comment": "x" * 1001}, 422, "填写的内容不正确"),
    ],
)
def test_pad_bad_input_shows_the_form_again_and_writes_nothing(client, data, status, message):
    serve()
    token = csrf(client, PAD)
    before = counts()
    r = client.post(f"{PAD}/rate", data={"code": "A001", **data}, headers=htmx(token))
    assert r.status_code == status, r.text
    assert message in r.text
    if status != 422:  # the form comes back with what was entered
        assert 'name="code" value="A001"' in r.text
    assert counts() == before


def test_pad_refuses_a_visit_of_another_window(client):
    serve(window=2, item="GS01")
    token = csrf(client, PAD)
    before = counts()
    r = client.post(f"{PAD}/rate", data={"code": "B001", "level": "5"}, headers=htmx(token))
    assert r.status_code == 400 and "不是在本窗口办理的" in r.text
    assert counts() == before


def test_pad_forgets_a_visit_after_a_while(client):
    serve()
    client.clock.advance(minutes=rating_views.PAD_PROMPT_MINUTES + 1)
    assert 'data-pad-state="idle"' in client.get(PAD).text


def test_pad_post_without_csrf_is_refused(client):
    serve()
    before = counts()
    r = client.post(f"{PAD}/rate", data={"code": "A001", "level": "1"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert counts() == before


def test_pad_unknown_window_is_a_friendly_404_and_another_hall_is_not_paired(client):
    assert "未找到 99 号窗口" in client.get("/halls/H1/windows/99/pad").text
    # the pad is paired to H1: elsewhere it is just an unpaired browser
    r = client.get("/halls/NOPE/windows/1/pad")
    assert r.status_code == 401 and "此评价器尚未配对" in r.text


# --- rating link / QR code -------------------------------------------------------------


def test_link_page_rates_with_dimension_scores(client):
    public_id = serve()
    r = client.get(f"/r/{public_id}")
    assert r.status_code == 200
    for text in (
        "评价本次服务",
        "A001",
        "有形性",
        "可靠性",
        "响应性",
        "保证性",
        "关怀性",
        "提交评价",
    ):
        assert text in r.text, text
    assert f'action="/r/{public_id}"' in r.text  # the form posts back to its own link
    token = csrf(client, f"/r/{public_id}")
    r = client.post(
        f"/r/{public_id}",
        data={
            "csrf_token": token,
            "level": "5",
            "dim_tangibles": "4",
            "dim_empathy": "5",
            "dim_reliability": "",
            "tags": ["热情周到"],
        },
    )
    assert r.status_code == 200 and "感谢您的评价" in r.text
    assert f'href="/t/{public_id}"' in r.text  # back to "my ticket"
    rating = only_rating()
    assert rating.channel == "qr" and rating.level == 5
    assert rating.dimension_scores == {"tangibles": 4, "empathy": 5}
    assert rating.tags == ["热情周到"] and not rating.real_name


def test_link_from_my_ticket_is_recorded_as_that_channel(client):
    public_id = serve()
    panel = client.get(f"/t/{public_id}/panel")
    assert f'href="/r/{public_id}?via=my_ticket"' in panel.text and "评价本次服务" in panel.text
    page = client.get(f"/r/{public_id}?via=my_ticket")
    assert 'name="via" value="my_ticket"' in page.text
    token = csrf(client, f"/r/{public_id}")
    r = client.post(f"/r/{public_id}", data={"csrf_token": token, "level": "3", "via": "my_ticket"})
    assert r.status_code == 200
    assert only_rating().channel == "my_ticket"


def test_waiting_ticket_panel_offers_no_rating_link(client):
    public_id = waiting_ticket()
    assert "/r/" not in client.get(f"/t/{public_id}/panel").text


def test_link_already_rated_not_finished_and_unknown_are_friendly(client):
    done = serve()
    rate(done, 4)
    waiting = waiting_ticket()
    before = counts()

    r = client.get(f"/r/{done}")
    assert r.status_code == 200 and "您已评价过本次服务" in r.text and 'name="level"' not in r.text
    r = client.get(f"/r/{waiting}")
    assert r.status_code == 200 and "办结后即可评价" in r.text and 'name="level"' not in r.text
    r = client.get("/r/not-a-ticket")
    assert r.status_code == 404 and "未找到该号票" in r.text

    token = csrf(client, f"/r/{done}")
    r = client.post(f"/r/{done}", data={"csrf_token": token, "level": "1"})
    assert r.status_code == 409 and "已评价过（一次一评）" in r.text
    r = client.post(f"/r/{waiting}", data={"csrf_token": token, "level": "1"})
    assert r.status_code == 422 and "尚未办结" in r.text
    r = client.post("/r/not-a-ticket", data={"csrf_token": token, "level": "1"})
    assert r.status_code == 404
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"level": "4", "dim_tangibles": "9"}, "维度 tangibles 的分值必须是 1–5"),
        ({"level": "4", "dim_tangibles": "x"}, "星级评分为 1–5 星"),
        ({"level": "4", "phone": "abc"}, "手机号码格式不正确"),
        ({"level": ""}, "请选择您对本次服务的满意程度"),
    ],
)
def test_link_bad_input_keeps_the_form_and_writes_nothing(client, data, message):
    public_id = serve()
    token = csrf(client, f"/r/{public_id}")
    before = counts()
    r = client.post(f"/r/{public_id}", data={"csrf_token": token, "comment": "留言保留", **data})
    assert r.status_code == 400
    assert message in r.text and "留言保留" in r.text and 'name="level"' in r.text
    assert counts() == before


def test_link_post_without_csrf_is_refused(client):
    public_id = serve()
    csrf(client, f"/r/{public_id}")
    before = counts()
    r = client.post(f"/r/{public_id}", data={"level": "5"})
    assert r.status_code == 403 and counts() == before


# --- rectification cases ---------------------------------------------------------------


def bad_case(level: int = 2, phone: str | None = "13800138000") -> int:
    return case_id_of(rate(serve(), level, citizen_phone=phone, comment="态度冷淡"))


def test_cases_page_needs_hall_view(client):
    r = client.get("/ratings/cases", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/ratings/cases"
    sign_in(client, "agent")
    r = client.get("/ratings/cases")
    assert r.status_code == 403 and "您没有执行此操作的权限" in r.text


def test_cases_page_lists_cases_with_figures_and_overdue_badges(client):
    rate(serve(), 5)
    rate(serve(), 4)
    first = bad_case()
    sign_in(client, "staff1")
    r = client.get("/ratings/cases")
    assert r.status_code == 200
    for text in (
        "好差评与差评整改",
        "满意率",
        "差评率",
        "实名差评回访率",
        "整改率",
        "按时整改率",
        "测试部门",  # the responsible unit
        "待回访",
        "2026-11-24",  # callback due: next working day
        "2026-11-30",  # rectification due: 5 working days
    ):
        assert text in r.text, text
    assert 'data-figure="satisfaction_rate">66.7%' in r.text
    assert 'data-figure="bad_rate">33.3%' in r.text
    assert f'href="/ratings/cases/{first}"' in r.text
    assert "echarts.min.js" in r.text and 'id="chart-levels"' in r.text
    assert "逾期" not in r.text.split("<tbody>")[1]

    # Two days later the callback is overdue.
    client.clock.advance(days=2)
    r = client.get("/ratings/cases?overdue_only=true")
    assert 'class="row-overdue"' in r.text and "回访逾期" in r.text
    assert "data-overdue-cases>1<" in r.text


def test_cases_filters_and_date_range(client):
    first = bad_case()
    sign_in(client, "manager")
    # Outside the date range: no rating, no case, figures show dashes.
    r = client.get("/ratings/cases?start=2026-10-01&end=2026-10-31")
    assert r.status_code == 200
    assert f'href="/ratings/cases/{first}"' not in r.text
    assert 'data-figure="satisfaction_rate">–' in r.text
    r = client.get("/ratings/cases?hall=H1&open_only=true")
    assert f'href="/ratings/cases/{first}"' in r.text
    r = client.get("/ratings/cases?overdue_only=true")
    assert f'href="/ratings/cases/{first}"' not in r.text  # not overdue yet
    r = client.get("/ratings/cases?start=2026-11-30&end=2026-11-01")
    assert r.status_code == 400 and "结束日期早于开始日期" in r.text
    r = client.get("/ratings/cases?start=tomorrow")
    assert r.status_code == 400 and "YYYY-MM-DD" in r.text
    r = client.get("/ratings/cases?hall=NOPE")
    assert r.status_code == 404 and "未找到服务大厅：NOPE" in r.text


def test_case_detail_shows_rating_and_timeline(client):
    case_id = bad_case(level=1)
    sign_in(client, "staff1")
    r = client.get(f"/ratings/cases/{case_id}")
    assert r.status_code == 200
    for text in ("差评整改工单", "非常不满意", "评价器", "A001", "态度冷淡", "13800138000"):
        assert text in r.text, text
    for text in ("提交评价", "生成整改工单", "记录回访", "申诉"):
        assert text in r.text, text
    r = client.get("/ratings/cases/999")
    assert r.status_code == 404 and "未找到整改工单 999" in r.text


def post_action(client, token: str, case_id: int, action: str, **data):
    return client.post(
        f"/ratings/cases/{case_id}/{action}",
        data={"csrf_token": token, **data},
        follow_redirects=False,
    )


def test_case_workflow_through_the_pages(client):
    case_id = bad_case()
    token = sign_in(client, "staff1")
    r = post_action(client, token, case_id, "callback", note="已电话回访，群众表示理解")
    assert (
        r.status_code == 303 and r.headers["location"] == f"/ratings/cases/{case_id}?done=callback"
    )
    assert "已记录回访" in client.get(r.headers["location"]).text
    assert case(case_id).status == "called_back"

    r = post_action(client, token, case_id, "rectify", evidence="增设叫号提醒", result="等候缩短")
    assert r.status_code == 303 and case(case_id).status == "rectified"

    # Closing needs a hall manager.
    before = counts()
    r = post_action(client, token, case_id, "close")
    assert r.status_code == 403 and "您没有执行此操作的权限" in r.text
    assert case(case_id).status == "rectified" and counts() == before
    page = client.get(f"/ratings/cases/{case_id}").text
    assert "由大厅管理员确认后办结" in page and 'data-action="close"' not in page

    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "manager")
    r = post_action(client, token, case_id, "close")
    assert r.status_code == 303 and case(case_id).status == "closed"
    page = client.get(f"/ratings/cases/{case_id}").text
    for text in ("已回访群众", "已记录整改情况", "工单已办结", "增设叫号提醒", "已电话回访"):
        assert text in page, text


def test_appeal_and_review_through_the_pages(client):
    case_id = bad_case()
    token = sign_in(client, "manager")
    r = post_action(client, token, case_id, "appeal", reason="评价人误操作，已核实监控")
    assert r.status_code == 303 and case(case_id).status == "appealed"

    # The appellant may not review their own appeal: the form is not offered, and a
    # forged request gets the service's refusal, nothing changed.
    page = client.get(f"/ratings/cases/{case_id}").text
    assert "您提出了此申诉" in page and 'data-action="review"' not in page
    before = counts()
    r = post_action(client, token, case_id, "review", decision="uphold", note="同意")
    assert r.status_code == 403 and "申诉人不能复核自己的申诉" in r.text
    assert case(case_id).status == "appealed" and counts() == before

    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "manager2")
    r = post_action(client, token, case_id, "review", decision="maybe", note="x")
    assert r.status_code == 400 and "请选择申诉成立或驳回申诉" in r.text
    r = post_action(client, token, case_id, "review", decision="uphold", note="情况属实")
    assert r.status_code == 303
    assert case(case_id).status == "excluded" and only_rating().excluded
    page = client.get(f"/ratings/cases/{case_id}").text
    assert "申诉成立" in page and "不计入统计" in page and "情况属实" in page


def test_window_staff_may_not_review_an_appeal(client):
    case_id = bad_case()
    token = sign_in(client, "staff1")
    assert (
        post_action(client, token, case_id, "appeal", reason="群众误点了差评按钮").status_code
        == 303
    )
    before = counts()
    r = post_action(client, token, case_id, "review", decision="uphold", note="同意")
    assert r.status_code == 403 and case(case_id).status == "appealed" and counts() == before


@pytest.mark.parametrize(
    ("action", "data", "status", "message"),
    [
        ("callback", {"note": " "}, 400, "请填写回访情况"),
        ("rectify", {"evidence": "x", "result": "y"}, 422, "不允许此操作"),
        ("appeal", {"reason": "短"}, 400, "请写明申诉理由"),
    ],
)
def test_case_action_bad_input_is_inline_and_changes_nothing(client, action, data, status, message):
    case_id = bad_case()
    token = sign_in(client, "staff1")
    before = counts()
    r = post_action(client, token, case_id, action, **data)
    assert r.status_code == status, r.text
    assert message in r.text and "差评整改工单" in r.text  # the case page again
    assert case(case_id).status == "open" and counts() == before


def test_case_action_without_csrf_changes_nothing(client):
    case_id = bad_case()
    sign_in(client, "staff1")
    before = counts()
    r = client.post(f"/ratings/cases/{case_id}/callback", data={"note": "回访"})
    assert r.status_code == 403 and "CSRF" in r.text
    assert case(case_id).status == "open" and counts() == before


# --- the manager's dashboard -----------------------------------------------------------


def test_manager_dashboard_flags_open_and_overdue_cases(client):
    bad_case()
    sign_in(client, "manager")
    r = client.get("/halls/H1/manage")
    assert r.status_code == 200
    assert "差评整改" in r.text and "data-open-cases>1<" in r.text
    assert "data-overdue-cases>0<" in r.text
    assert 'href="/ratings/cases?hall=H1&amp;open_only=true"' in r.text
    client.clock.advance(days=2)
    r = client.get("/halls/H1/manage")
    assert "data-overdue-cases>1<" in r.text and "rect-alert" in r.text
    assert "overdue_only=true" in r.text


# --- SERVQUAL survey -------------------------------------------------------------------


def make_survey(status: str = "published", code: str = "S1") -> None:
    with unit_of_work() as s:
        h = org_service.get_hall(session=s, code="H1")
        survey = servqual.create_survey(
            session=s, code=code, title="2026年服务质量调查", hall_id=h.id
        )
        if status != "draft":
            servqual.publish(session=s, survey=survey)


def answers(skip: set[int] = frozenset(), perception: int = 5) -> dict[str, str]:
    data = {}
    for no in range(1, 23):
        if no in skip:
            continue
        data[f"e_{no}"] = "6"
        data[f"p_{no}"] = str(perception)
    return data


def test_survey_page_renders_22_items_by_dimension(client):
    make_survey()
    r = client.get("/surveys/S1")
    assert r.status_code == 200
    assert "2026年服务质量调查" in r.text and "测试大厅" in r.text
    for text in ("有形性", "可靠性", "响应性", "保证性", "关怀性", "期望", "感知"):
        assert text in r.text, text
    assert len(re.findall(r'class="survey-item', r.text)) == 22
    assert 'name="e_22" value="7"' in r.text and 'name="p_1" value="1"' in r.text


def test_incomplete_survey_comes_back_marked_and_writes_nothing(client):
    make_survey()
    token = csrf(client, "/surveys/S1")
    data = answers(skip={3, 17}) | {"e_17": "4", "csrf_token": token}
    before = counts()
    r = client.post("/surveys/S1", data=data)
    assert r.status_code == 400
    assert "还有 2 题未作答：第 3, 17 题" in r.text
    assert 'id="q-3"' in r.text and 'href="#q-3"' in r.text
    assert len(re.findall(r"survey-item survey-missing", r.text)) == 2
    # What was answered is kept, including half of item 17.
    assert 'name="e_17" value="4" checked' in r.text
    assert 'name="p_1" value="5" checked' in r.text
    assert counts() == before


def test_complete_survey_is_recorded_and_shows_in_the_gaps(client):
    make_survey()
    token = csrf(client, "/surveys/S1")
    r = client.post("/surveys/S1", data=answers(perception=4) | {"csrf_token": token})
    assert r.status_code == 200 and "感谢您的参与" in r.text
    assert counts()[3] == 1
    sign_in(client, "manager")
    r = client.get("/surveys?survey=S1")
    assert r.status_code == 200
    assert "差距分值" in r.text and "1 份答卷" in r.text
    assert "data-overall-gap>-2.00<" in r.text
    assert len(re.findall(r"data-gap-item=", r.text)) == 22
    assert 'id="chart-gaps"' in r.text and 'id="chart-radar"' in r.text
    r = client.get("/surveys?hall=H1")
    assert "data-overall-gap>-2.00<" in r.text


def test_survey_out_of_scale_or_closed_writes_nothing(client):
    make_survey()
    make_survey(status="draft", code="DRAFT")
    token = csrf(client, "/surveys/S1")
    before = counts()
    r = client.post("/surveys/S1", data=answers() | {"e_5": "9", "csrf_token": token})
    assert r.status_code == 400 and "第 5 题的期望分须为 1–7 的整数" in r.text
    r = client.get("/surveys/DRAFT")
    assert r.status_code == 200 and "尚未开放" in r.text and 'name="e_1"' not in r.text
    r = client.post("/surveys/DRAFT", data=answers() | {"csrf_token": token})
    assert r.status_code == 422 and "尚未开放作答" in r.text
    r = client.get("/surveys/NOPE")
    assert r.status_code == 404 and "未找到问卷：NOPE" in r.text
    r = client.post("/surveys/S1", data=answers())  # no CSRF token
    assert r.status_code == 403
    assert counts() == before


def test_surveys_admin_needs_hall_manage(client):
    sign_in(client, "staff1")
    assert client.get("/surveys").status_code == 403
    token = csrf(client, "/")
    before = counts()
    r = client.post("/surveys", data={"code": "X1", "title": "t", "csrf_token": token})
    assert r.status_code == 403 and counts() == before


def test_manager_creates_publishes_and_closes_a_survey(client):
    token = sign_in(client, "manager")
    r = client.get("/surveys")
    assert r.status_code == 200 and "SERVQUAL 问卷" in r.text and "还没有问卷" in r.text
    r = client.post(
        "/surveys",
        data={"code": "Q4-2026", "title": "四季度满意度调查", "hall": "H1", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "问卷已创建为草稿" in page and "四季度满意度调查" in page and "草稿" in page
    r = client.post("/surveys/Q4-2026/publish", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "已发布" in client.get("/surveys").text
    assert 'name="e_1"' in client.get("/surveys/Q4-2026").text
    # Publishing twice is refused with the service's message.
    r = client.post("/surveys/Q4-2026/publish", data={"csrf_token": token})
    assert r.status_code == 422 and "只有草稿状态的问卷可以发布" in r.text
    r = client.post("/surveys/Q4-2026/close", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert "已结束" in client.get("/surveys/Q4-2026").text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "有中文", "title": "t"}, "问卷编码只能包含字母"),
        ({"code": "S1", "title": "again"}, "问卷编码已存在：S1"),
        ({"code": "S9", "title": "t", "hall": "NOPE"}, "未找到服务大厅：NOPE"),
    ],
)
def test_survey_create_bad_input_is_inline(client, data, message):
    make_survey()
    token = sign_in(client, "manager")
    before = counts()
    r = client.post("/surveys", data={"csrf_token": token, **data})
    assert r.status_code in (400, 404, 409)
    assert message in r.text and "新建问卷" in r.text
    assert counts() == before


# --- English ---------------------------------------------------------------------------


def test_pages_switch_to_english(client):
    public_id = serve()
    client.cookies.set("lang", "en")
    assert "Very satisfied" in client.get(PAD).text
    assert "Rate this service" in client.get(f"/r/{public_id}").text
    make_survey()
    assert "Expectation" in client.get("/surveys/S1").text
