"""The hot-topic page and JSON API: alerts with their orders and charts, acknowledging
(center only), and refusals that change nothing."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hotline.models import TopicAlert, TopicAlertKind
from govloop.hotline.topics import api as topics_api
from govloop.hotline.topics import pages as topics_pages
from govloop.hotline.topics import service as topics
from tests.hotline.factories import build_world
from tests.hotline.test_topics import CLUSTER_DAY, after, load_cluster_week
from tests.web.helpers import htmx, sign_in

DAY = CLUSTER_DAY.isoformat()
NOW = after(CLUSTER_DAY, hours=9)  # the next morning


@pytest.fixture
def world(db):
    with frozen(NOW), unit_of_work() as s:
        built = build_world(s)
    topics.forget_scans()
    return built


@pytest.fixture
def injected(world) -> list[int]:
    ids = load_cluster_week(world)
    with frozen(NOW), unit_of_work() as s:
        topics.scan_day(session=s, day=CLUSTER_DAY)
    return ids


@pytest.fixture
def client(world):
    app = create_app(run_jobs=False)
    paths = {getattr(r, "path", "") for r in app.routes}
    if "/hotline/topics" not in paths:
        app.include_router(topics_api.router)
        app.include_router(topics_pages.router)
    with frozen(NOW):
        yield TestClient(app)


def cluster_alert() -> TopicAlert:
    with unit_of_work(readonly=True) as s:
        alert = s.scalar(select(TopicAlert).where(TopicAlert.kind == TopicAlertKind.CLUSTER))
        assert alert is not None
        return alert


def alert_count() -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count(TopicAlert.id))) or 0


def test_page_shows_the_days_alerts_in_chinese(client, injected):
    sign_in(client, "agent")
    r = client.get("/hotline/topics", params={"day": DAY})
    assert r.status_code == 200
    assert '<html lang="zh-CN">' in r.text and "查询" in r.text  # the shared "Apply"
    alert = cluster_alert()
    card = r.text[r.text.index(f'id="alert-{alert.id}"') :]
    assert f'class="card topic-card topic-new" id="alert-{alert.id}"' in r.text
    assert alert.label in card and "停水" in alert.label
    for order_id in injected:
        assert f'href="/hotline/orders/{order_id}"' in r.text
    assert "data-acknowledge" in card
    chart = re.search(r"data-topic-chart='([^']+)'", card)
    assert chart
    series = json.loads(chart.group(1))
    assert len(series["days"]) == len(series["counts"]) == 28
    assert series["counts"][-1] >= 10 and series["scope"] == "供水"
    # the last week, without a day, lists it too; unacknowledged only as well
    assert f'id="alert-{alert.id}"' in client.get("/hotline/topics").text
    assert f'id="alert-{alert.id}"' in client.get("/hotline/topics?unacknowledged=true").text


def test_acknowledge_with_htmx_records_who_and_when(client, world, injected):
    token = sign_in(client, "agent")
    alert = cluster_alert()
    refused = client.post(f"/hotline/topics/{alert.id}/acknowledge", headers={"HX-Request": "true"})
    assert refused.status_code == 403  # no CSRF token
    assert cluster_alert().acknowledged_at is None
    r = client.post(f"/hotline/topics/{alert.id}/acknowledge", headers=htmx(token))
    assert r.status_code == 200
    assert f'id="alert-{alert.id}"' in r.text and "data-acknowledged" in r.text
    assert "坐席小王" in r.text and "data-acknowledge>" not in r.text
    done = cluster_alert()
    assert done.acknowledged_by == world.agent.id and done.acknowledged_at == NOW
    again = client.post(f"/hotline/topics/{alert.id}/acknowledge", headers=htmx(token))
    assert again.status_code == 409 and "已确认" in again.text
    assert cluster_alert().acknowledged_at == NOW
    page = client.get("/hotline/topics", params={"day": DAY, "unacknowledged": "true"})
    assert f'id="alert-{alert.id}"' not in page.text


def test_acknowledge_without_htmx_comes_back_to_the_day(client, world, injected):
    token = sign_in(client, "agent")
    alert = cluster_alert()
    r = client.post(
        f"/hotline/topics/{alert.id}/acknowledge",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/hotline/topics?day={DAY}#alert-{alert.id}"
    assert cluster_alert().acknowledged_by == world.agent.id


def topics_alerts() -> list[TopicAlert]:
    with unit_of_work(readonly=True) as s:
        return list(s.scalars(select(TopicAlert).order_by(TopicAlert.id)))


def test_a_department_sees_alerts_but_not_other_units_orders(client, injected):
    token = sign_in(client, "handler-cg")
    r = client.get("/hotline/topics", params={"day": DAY})
    assert r.status_code == 200
    alert = cluster_alert()
    assert alert.label in r.text
    assert not any(f'href="/hotline/orders/{i}"' in r.text for i in injected)
    assert "data-not-visible" in r.text and "data-acknowledge" not in r.text
    refused = client.post(f"/hotline/topics/{alert.id}/acknowledge", headers=htmx(token))
    assert refused.status_code == 403
    assert cluster_alert().acknowledged_at is None
    api = client.get("/api/v1/hotline/topics", params={"day": DAY}).json()
    assert all(a["order_ids"] == [] for a in api)
    scan = client.post("/hotline/topics/scan", data={"csrf_token": token, "day": DAY})
    assert scan.status_code == 403


def test_bad_input_gets_a_clear_error_and_changes_nothing(client, injected):
    token = sign_in(client, "agent")
    before = alert_count()
    r = client.get("/hotline/topics", params={"day": "2025-02-30"})
    assert r.status_code == 400 and "日期格式不正确" in r.text
    r = client.post("/hotline/topics/999999/acknowledge", headers=htmx(token))
    assert r.status_code == 404 and "热点提醒 999999 不存在" in r.text
    r = client.get("/api/v1/hotline/topics", params={"day": "yesterday"})
    assert r.status_code == 400 and r.json()["error"] == "bad_day"
    r = client.post("/api/v1/hotline/topics/999999/acknowledge", headers={"X-CSRF-Token": token})
    assert r.status_code == 404 and r.json()["error"] == "alert_not_found"
    r = client.post("/api/v1/hotline/topics/abc/acknowledge", headers={"X-CSRF-Token": token})
    assert r.status_code == 422
    r = client.post(
        "/hotline/topics/scan",
        data={"csrf_token": token, "day": "2030-01-01"},
        follow_redirects=False,
    )
    assert r.status_code == 400 and "未来" in r.text
    assert alert_count() == before
    assert all(a.acknowledged_at is None for a in topics_alerts())


def test_api_lists_and_acknowledges(client, world, injected):
    token = sign_in(client, "agent")
    listed = client.get("/api/v1/hotline/topics", params={"day": DAY})
    assert listed.status_code == 200
    clusters = [a for a in listed.json() if a["kind"] == "cluster"]
    assert len(clusters) == 1
    (cluster,) = clusters
    assert sorted(cluster["order_ids"]) == sorted(injected)
    assert cluster["count"] == 10 and "停水" in cluster["terms"]
    assert cluster["day"] == DAY and cluster["acknowledged_at"] is None
    done = client.post(
        f"/api/v1/hotline/topics/{cluster['id']}/acknowledge", headers={"X-CSRF-Token": token}
    )
    assert done.status_code == 200 and done.json()["acknowledged_by"] == world.agent.id
    open_ones = client.get("/api/v1/hotline/topics", params={"unacknowledged": "true"}).json()
    assert cluster["id"] not in [a["id"] for a in open_ones]


def test_scan_button_scans_the_chosen_day(client, world):
    load_cluster_week(world)
    token = sign_in(client, "agent")
    assert alert_count() == 0
    r = client.post(
        "/hotline/topics/scan", data={"csrf_token": token, "day": DAY}, follow_redirects=False
    )
    assert r.status_code == 303 and f"day={DAY}" in r.headers["location"]
    assert alert_count() >= 1
    page = client.get(r.headers["location"])
    assert "data-scanned" in page.text and cluster_alert().label in page.text
