"""Ingest pages: steward/admin only; overview with chart data, run detail, the dead-letter
list, view, replay and discard through forms with CSRF."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.ingest import pipeline, service
from govloop.ingest.models import DeadLetter
from govloop.ingest.pipeline import RawRow
from tests.factories import make_user
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        source = pipeline.create_source(
            session=s,
            key="civil",
            name="民政局人口信息",
            kind="file",
            schema_name="person_record",
            department="民政局",
        )
        run = pipeline.start_run(session=s, source=source, channel="csv", file_name="a.csv")
        pipeline.ingest_rows(
            session=s,
            source=source,
            run=run,
            rows=[RawRow({"record_id": "P1", "name": "张伟"}, 2), RawRow({"record_id": "P2"}, 3)],
        )
        pipeline.finish_run(session=s, run=run)
        make_user(s, "steward", Role.DATA_STEWARD)
        make_user(s, "staff", Role.WINDOW_STAFF)
    return TestClient(create_app(run_jobs=False))


def _dead_id() -> int:
    with unit_of_work(readonly=True) as s:
        found = s.scalar(select(DeadLetter.id))
    assert found is not None
    return found


def test_only_stewards_see_the_pages(client):
    r = client.get("/ingest", follow_redirects=False)
    assert r.status_code in (302, 303, 401)
    sign_in(client, "staff")
    assert client.get("/ingest").status_code == 403


def test_overview_run_and_dead_letters(client):
    sign_in(client, "steward")
    page = client.get("/ingest")
    assert page.status_code == 200
    assert "数据接入" in page.text and 'data-source="civil"' in page.text
    assert 'data-counts="2/1/0/1"' in page.text
    assert 'id="ingest-daily"' in page.text and "echarts.min.js" in page.text
    run_link = re.search(r'href="/ingest/runs/(\d+)"', page.text)
    assert run_link
    run = client.get(f"/ingest/runs/{run_link.group(1)}")
    assert "data-rows-in>2<" in run.text and "缺少必填字段「名称/姓名」" in run.text
    listed = client.get("/ingest/dead-letters", params={"source": "civil"})
    assert f'data-dead-letter="{_dead_id()}"' in listed.text
    assert "data-empty" in client.get("/ingest/dead-letters", params={"status": "replayed"}).text


def test_replay_with_a_correction_then_discard_needs_csrf(client):
    token = sign_in(client, "steward")
    dead_id = _dead_id()
    view = client.get(f"/ingest/dead-letters/{dead_id}")
    assert "record_id" in view.text and 'data-action="replay"' in view.text
    refused = client.post(f"/ingest/dead-letters/{dead_id}/discard", data={"reason": "测试"})
    assert refused.status_code == 403  # no CSRF token
    r = client.post(
        f"/ingest/dead-letters/{dead_id}/replay",
        data={"csrf_token": token, "corrected": '{"record_id": "P2", "name": "李娜"}'},
        follow_redirects=False,
    )
    assert r.status_code == 303
    with unit_of_work(readonly=True) as s:
        dead = s.get(DeadLetter, dead_id)
        assert dead is not None and dead.status == "replayed"
    # a second open letter is discarded with a reason; nothing is deleted
    with unit_of_work() as s:
        source = pipeline.get_source(session=s, key="civil")
        result = service.load_batch(session=s, source=source, records=[{"record_id": "P3"}])
    with unit_of_work(readonly=True) as s:
        other = s.scalar(select(DeadLetter.id).where(DeadLetter.run_id == result.run_id))
    r = client.post(
        f"/ingest/dead-letters/{other}/discard",
        data={"csrf_token": token, "reason": "测试数据，不是真实记录"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = client.get(f"/ingest/dead-letters/{other}")
    assert "测试数据，不是真实记录" in page.text and 'data-status="discarded"' in page.text


def test_upload_form(client):
    token = sign_in(client, "steward")
    body = "record_id,name\nU1,孙悦\nU2,\n".encode("gbk")
    r = client.post(
        "/ingest/upload",
        data={"csrf_token": token, "source": "civil", "vendor": ""},
        files={"file": ("上传.csv", body, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    run = client.get(r.headers["location"])
    assert "data-stored>1<" in run.text and "gb18030" in run.text
