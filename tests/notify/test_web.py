"""The administrator's notification log (page and JSON API) and the citizen's messages and
opt-out on the data tracker — on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.settings import get_settings
from govloop.notify import dispatch, outbox
from govloop.notify import web as notify_web
from govloop.notify.models import Notification, NotificationEvent, NotificationStatus, OptOut
from govloop.subjects.models import SubjectMaster
from tests.factories import make_user
from tests.web.helpers import csrf, sign_in

NOON = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)
ID = "11010519491231002X"
PHONE = "13800138000"
OTHER = "13912345678"
ATTRS = {"name": "张三", "id_number": ID, "phone": PHONE, "email": "zhangsan@example.cn"}


def _app() -> FastAPI:
    app = create_app(run_jobs=False)
    # until app.py mounts the notification service's routers
    if not any(getattr(r, "path", "") == "/notify/log" for r in app.routes):
        for router in notify_web.ROUTERS:
            app.include_router(router)
    return app


def _queue(s, key: str, to: str = PHONE, template: str = "order_accepted", **kw) -> int:
    params = {
        "order_accepted": {"number": "20261207-0001"},
        "matter_ready": {"number": "BJ0001", "item": "社保卡", "hall": "市民中心"},
    }[template]
    return outbox.enqueue(
        session=s, event_key=key, template=template, to=to, params=params, **kw
    ).id


@pytest.fixture
def world(db, monkeypatch):
    monkeypatch.setattr(get_settings(), "sms_gateway", "simulated")
    monkeypatch.setattr(get_settings(), "email_gateway", "simulated")
    with unit_of_work() as s:
        make_user(s, "admin", Role.ADMIN)
        make_user(s, "boss", Role.HALL_MANAGER)
        s.add(
            SubjectMaster(
                kind="person", identifier=ID, display_name="张三", attributes=ATTRS, provenance={}
            )
        )
    with frozen(NOON):
        with unit_of_work() as s:
            ids = {
                "delivered": _queue(s, "o:1"),
                "dead": _queue(s, "o:2", template="matter_ready"),
                "other": _queue(s, "o:3", to=OTHER),
                "mail": _queue(s, "o:4", to="zhangsan@example.cn", channel="email"),
            }
        # the simulated gateways take them all; the second is then marked dead by hand
        dispatch.drain()
    with unit_of_work() as s:
        s.get(Notification, ids["delivered"]).status = NotificationStatus.DELIVERED
        dead = s.get(Notification, ids["dead"])
        dead.status, dead.reason, dead.last_error = "dead", "rejected", "number does not exist"
    return ids


def test_the_log_page_shows_words_masks_and_the_simulated_gateway(world):
    client = TestClient(_app())
    sign_in(client, "admin")
    r = client.get("/notify/log")
    assert r.status_code == 200
    html = r.text
    assert 'data-gateway="sms" data-simulated="yes"' in html and "模拟网关" in html
    assert "138****8000" in html and PHONE not in html
    assert "z***@example.cn" in html and "zhangsan@example.cn" not in html
    assert "已送达" in html and "发送失败（死信）" in html and "被网关拒收" in html
    assert "结果可领取" in html and "诉求已登记" in html  # what each was about, in words
    assert f'data-dead="{world["dead"]}"' in html
    shown = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S)
    assert "order_accepted" not in shown and "rejected" not in shown  # words, not codes
    # filters
    only_dead = client.get("/notify/log?status=dead").text
    assert f'data-message="{world["dead"]}"' in only_dead
    assert f'data-message="{world["other"]}"' not in only_dead
    mail = client.get("/notify/log?channel=email").text
    assert (
        f'data-message="{world["mail"]}"' in mail and f'data-message="{world["other"]}"' not in mail
    )
    # a hand-edited filter shows everything rather than an error
    assert client.get("/notify/log?status=bogus").status_code == 200


def test_only_the_administrator_sees_the_log(world):
    client = TestClient(_app())
    assert client.get("/notify/log", follow_redirects=False).status_code == 303  # sign in
    sign_in(client, "boss")
    assert client.get("/notify/log").status_code == 403


def test_retry_from_the_page(world):
    client = TestClient(_app())
    token = sign_in(client, "admin")
    r = client.post(f"/notify/log/{world['dead']}/retry", data={"csrf_token": token})
    assert r.status_code == 200 and "已重新排队" in r.text
    with unit_of_work() as s:
        n = s.get(Notification, world["dead"])
        assert n.status == NotificationStatus.QUEUED
        by = s.scalar(
            select(NotificationEvent.detail).where(
                NotificationEvent.notification_id == n.id, NotificationEvent.kind == "requeued"
            )
        )
        assert by == {"by": "admin"}
    # again: it is not dead any more; refused with the reason, nothing changes
    again = client.post(f"/notify/log/{world['dead']}/retry", data={"csrf_token": token})
    assert again.status_code == 422 and "只有发送失败" in again.text
    missing = client.post("/notify/log/99999/retry", data={"csrf_token": token})
    assert missing.status_code == 404
    # without the CSRF token: refused
    assert client.post(f"/notify/log/{world['dead']}/retry").status_code == 403


def _api(role_user: str) -> tuple[TestClient, dict[str, str]]:
    with unit_of_work() as s:
        from govloop.core.models import User

        user = s.scalar(select(User).where(User.username == role_user))
        token = issue_api_token(session=s, user=user, name="test")
    return TestClient(_app()), {"Authorization": f"Bearer {token}"}


def test_the_api_lists_pages_and_filters_masked(world):
    client, auth = _api("admin")
    r = client.get("/api/v1/notifications", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 4 and len(body["items"]) == 4
    assert body["counts"]["dead"] == 1 and body["counts"]["delivered"] == 1
    assert body["simulated"] == {"sms": True, "email": True}
    recipients = {i["recipient"] for i in body["items"]}
    assert recipients == {"138****8000", "139****5678", "z***@example.cn"}
    paged = client.get("/api/v1/notifications?per_page=3&page=2", headers=auth).json()
    assert (paged["total"], len(paged["items"]), paged["page"]) == (4, 1, 2)
    sms_sent = client.get("/api/v1/notifications?channel=sms&status=sent", headers=auth).json()
    assert [i["id"] for i in sms_sent["items"]] == [world["other"]]
    bad = client.get("/api/v1/notifications?status=bogus", headers=auth)
    assert bad.status_code == 400 and bad.json()["error"] == "unknown_status"
    one = client.get(f"/api/v1/notifications/{world['delivered']}", headers=auth).json()
    assert one["recipient"] == "138****8000"
    assert [e["kind"] for e in one["events"]] == ["queued", "sent"]
    assert client.get("/api/v1/notifications/99999", headers=auth).status_code == 404


def test_the_api_is_for_the_administrator_only(world):
    client, auth = _api("boss")
    assert client.get("/api/v1/notifications", headers=auth).status_code == 403
    assert (
        client.post(f"/api/v1/notifications/{world['dead']}/retry", headers=auth).status_code == 403
    )
    assert TestClient(_app()).get("/api/v1/notifications").status_code == 401


def test_api_retry_is_idempotent(world):
    client, auth = _api("admin")
    headers = {**auth, "Idempotency-Key": "retry-dead-0001"}
    first = client.post(f"/api/v1/notifications/{world['dead']}/retry", headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "queued"
    # the same key again: the first answer, not a 422
    again = client.post(f"/api/v1/notifications/{world['dead']}/retry", headers=headers)
    assert again.status_code == 200
    assert {k: again.json()[k] for k in ("id", "status", "attempts")} == {
        "id": world["dead"],
        "status": "queued",
        "attempts": 0,
    }
    # a new key: it is not dead any more
    other = client.post(
        f"/api/v1/notifications/{world['dead']}/retry",
        headers={**auth, "Idempotency-Key": "retry-dead-0002"},
    )
    assert other.status_code == 422 and other.json()["error"] == "not_dead"
    with unit_of_work() as s:
        kinds = s.scalars(
            select(NotificationEvent.kind).where(
                NotificationEvent.notification_id == world["dead"],
                NotificationEvent.kind == "requeued",
            )
        ).all()
        assert kinds == ["requeued"]


# --- the citizen's data tracker ---------------------------------------------------------------


def _verified(client: TestClient) -> str:
    token = csrf(client, "/my-data")
    r = client.post(
        "/my-data", data={"id_number": ID, "name": "张三", "phone": PHONE, "csrf_token": token}
    )
    assert r.status_code == 200
    return r.text


def _form_token(html: str) -> str:
    return html.split('name="token" value="')[1].split('"')[0]


def test_the_tracker_shows_the_messages_sent_to_the_verified_phone(world):
    client = TestClient(_app())
    html = _verified(client)
    assert 'data-messages="3"' in html  # two texts and the e-mail, not the other phone's
    assert "诉求已登记" in html and "结果可领取" in html and "已送达" in html
    assert "138****8000" in html and "z***@example.cn" in html and "139****5678" not in html
    assert 'data-choice="sms" data-opted-out="no"' in html
    assert 'data-choice="email" data-opted-out="no"' in html
    assert ID not in html.split("data-messages")[1]  # the ID number is not echoed in the forms


def test_the_citizen_opts_out_and_back_in(world):
    client = TestClient(_app())
    html = _verified(client)
    token, form_token = csrf(client, "/my-data"), _form_token(html)
    out = client.post(
        "/my-data/notifications",
        data={"csrf_token": token, "token": form_token, "channel": "sms", "choice": "out"},
    )
    assert out.status_code == 200 and "已退订短信通知" in out.text
    assert 'data-choice="sms" data-opted-out="yes"' in out.text
    with unit_of_work() as s:
        assert outbox.opted_out(s, "sms", PHONE)
        assert not outbox.opted_out(s, "email", "zhangsan@example.cn")
        row = s.scalar(select(OptOut))
        assert row.via == "web"
    back = client.post(
        "/my-data/notifications",
        data={"csrf_token": token, "token": form_token, "channel": "sms", "choice": "in"},
    )
    assert back.status_code == 200 and "已恢复接收短信通知" in back.text
    mail = client.post(
        "/my-data/notifications",
        data={"csrf_token": token, "token": form_token, "channel": "email", "choice": "out"},
    )
    assert "已退订电子邮件通知" in mail.text
    with unit_of_work() as s:
        assert not outbox.opted_out(s, "sms", PHONE)
        assert outbox.opted_out(s, "email", "zhangsan@example.cn")


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"channel": "sms", "choice": "maybe"}, 400, "请选择退订还是恢复接收"),
        ({"channel": "pigeon", "choice": "out"}, 400, "没有登记该通知方式"),
        ({"channel": "", "choice": ""}, 400, "请选择退订还是恢复接收"),
        ({"channel": "sms", "choice": "out", "token": "forged"}, 400, "页面已过期"),
        ({"channel": "sms", "choice": "out", "token": ""}, 400, "页面已过期"),
    ],
)
def test_bad_input_is_refused_in_words_and_changes_nothing(world, fields, status, words):
    client = TestClient(_app())
    html = _verified(client)
    token = csrf(client, "/my-data")
    data = {"csrf_token": token, "token": _form_token(html), **fields}
    r = client.post("/my-data/notifications", data=data)
    assert r.status_code == status and words in r.text
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OptOut)) == 0


def test_the_token_expires(world, monkeypatch):
    from govloop.access import activity

    client = TestClient(_app())
    html = _verified(client)
    token, form_token = csrf(client, "/my-data"), _form_token(html)
    monkeypatch.setattr(activity, "TRACKER_TOKEN_MAX_AGE_S", -1)  # any age is too old
    r = client.post(
        "/my-data/notifications",
        data={"csrf_token": token, "token": form_token, "channel": "sms", "choice": "out"},
    )
    assert r.status_code == 400 and "页面已过期" in r.text
    with unit_of_work() as s:
        assert s.scalar(select(func.count()).select_from(OptOut)) == 0
