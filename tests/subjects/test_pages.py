"""Subject pages and API for data stewards: masters with provenance, conflicts decided on a
page, the quality report with its Excel problem lists; others are refused."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from govloop.app import create_app
from govloop.core.auth import Role
from govloop.core.db import unit_of_work
from govloop.subjects import linking
from tests.factories import make_user
from tests.subjects.test_linking import ZHANG, _load, exact_matcher
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        make_user(s, "steward", Role.DATA_STEWARD)
        make_user(s, "staff", Role.WINDOW_STAFF)
        _load(
            s,
            "police",
            "公安局",
            [
                {"record_id": "G1", "name": "张三", "id_number": ZHANG, "birth_date": "1980-01-01"},
            ],
        )
        _load(
            s,
            "civil",
            "民政局",
            [
                {"record_id": "M1", "name": "张叁", "id_number": "  " + ZHANG, "phone": "12345"},
                {"record_id": "M2", "name": ""},  # rejected
            ],
        )
        linking.run_all(session=s, matcher=exact_matcher)
    return TestClient(create_app(run_jobs=False))


def test_steward_sees_masters_with_provenance(client):
    sign_in(client, "steward")
    r = client.get("/subjects")
    assert r.status_code == 200 and "张三" in r.text and "data-open-conflicts>1<" in r.text
    masters = client.get("/api/v1/subjects/masters", params={"q": "张"}).json()
    assert masters["total"] == 1
    master_id = masters["masters"][0]["id"]
    page = client.get(f"/subjects/{master_id}")
    assert page.status_code == 200 and ZHANG in page.text and "公安局" in page.text
    detail = client.get(f"/api/v1/subjects/masters/{master_id}").json()
    assert detail["provenance"]["name"]["rule"] == "priority"
    assert {r["source"] for r in detail["records"]} == {"police", "civil"}
    assert client.get("/subjects/999999").status_code == 404
    alien = client.get("/api/v1/subjects/masters", params={"kind": "alien"})
    assert alien.status_code == 422 and alien.json()["error"] == "unknown_kind"


def test_conflict_is_decided_on_the_page(client):
    token = sign_in(client, "steward")
    conflicts = client.get("/api/v1/subjects/conflicts").json()["conflicts"]
    assert [c["field"] for c in conflicts] == ["name"]
    cid = conflicts[0]["id"]
    assert "张叁" in client.get("/subjects/conflicts").text
    # a value no source offered is refused and changes nothing
    bad = client.post(
        f"/api/v1/subjects/conflicts/{cid}/resolve",
        json={"value": "张五"},
        headers={"X-CSRF-Token": token},
    )
    assert bad.status_code == 422 and bad.json()["error"] == "not_a_candidate"
    r = client.post(
        f"/subjects/conflicts/{cid}/resolve",
        data={"value": "张叁", "note": "核对户籍", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert client.get("/api/v1/subjects/conflicts").json()["conflicts"] == []
    masters = client.get("/api/v1/subjects/masters").json()["masters"]
    assert masters[0]["display_name"] == "张叁"


def test_quality_page_and_feedback_download(client):
    token = sign_in(client, "steward")
    assert "data-empty" in client.get("/subjects/quality").text
    r = client.post("/subjects/quality/run", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/subjects/quality")
    assert page.status_code == 200 and 'data-source="civil"' in page.text and "规范性" in page.text
    latest = client.get("/api/v1/subjects/quality").json()
    assert latest["summary"]["civil"]["accessibility"] == 0.5
    xlsx = client.get("/subjects/quality/feedback/civil.xlsx")
    assert xlsx.status_code == 200
    wb = load_workbook(io.BytesIO(xlsx.content))
    problems = [row for row in wb["问题数据"].iter_rows(min_row=2, values_only=True)]
    assert any(row[0] == "M1" and row[3] == "电话" for row in problems)
    assert client.get("/subjects/quality/feedback/nobody.xlsx").status_code == 404


def test_identifier_check_api(client):
    sign_in(client, "steward")
    ok = client.get(f"/api/v1/subjects/check/resident_id/{ZHANG}").json()
    assert ok["valid"] is True
    bad = client.get("/api/v1/subjects/check/credit_code/91350100M000100Y44").json()
    assert bad["valid"] is False and bad["reason_code"] == "uscc_checksum"
    assert client.get("/api/v1/subjects/check/passport/X").status_code == 404


def test_other_roles_are_refused(client):
    sign_in(client, "staff")
    assert client.get("/subjects").status_code == 403
    assert client.get("/api/v1/subjects/masters").status_code == 403
