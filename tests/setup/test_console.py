"""The configuration console over HTTP: the API (JSON, 422 with the problems) and the
pages (Chinese, the upload and its result), administrators only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.core.auth import Role, issue_api_token
from govloop.core.db import unit_of_work
from govloop.hall.models import ServiceItem
from govloop.setup.api import XLSX
from tests.factories import make_user
from tests.setup.workbooks import GOOD, with_rows, workbook
from tests.web.helpers import sign_in

API = "/api/v1/admin"


def _tokens() -> dict[str, str]:
    with unit_of_work() as s:
        admin = make_user(s, "root", Role.ADMIN)
        manager = make_user(s, "boss", Role.HALL_MANAGER)
        return {
            "admin": issue_api_token(session=s, user=admin, name="t"),
            "manager": issue_api_token(session=s, user=manager, name="t"),
        }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _items() -> int:
    with unit_of_work() as s:
        return int(s.scalar(select(func.count()).select_from(ServiceItem)) or 0)


def test_api_imports_refuses_and_exports(db):
    tokens = _tokens()
    client = TestClient(create_app(run_jobs=False))
    upload = {"files": ("清单.xlsx", workbook(GOOD), XLSX)}
    refused = client.post(
        f"{API}/catalogue/import", files=upload, headers=_bearer(tokens["manager"])
    )
    assert refused.status_code == 403 and _items() == 0
    bad = workbook(with_rows(USERS=[("lisi", "李四", "boss", "", "")]))
    r = client.post(
        f"{API}/catalogue/import",
        files={"files": ("清单.xlsx", bad, XLSX)},
        headers=_bearer(tokens["admin"]),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_workbook" and body["ok"] is False
    assert {"sheet": "人员", "row": 2, "column": "角色", "message": "未知的角色“boss”"} in body[
        "problems"
    ]
    assert _items() == 0
    dry = client.post(
        f"{API}/catalogue/import?dry_run=true", files=upload, headers=_bearer(tokens["admin"])
    )
    assert dry.status_code == 200 and dry.json()["dry_run"] and _items() == 0
    ok = client.post(f"{API}/catalogue/import", files=upload, headers=_bearer(tokens["admin"]))
    assert ok.status_code == 200, ok.text
    assert ok.json()["counts"]["事项"] == {"created": 2} and _items() == 2
    assert set(ok.json()["passwords"]) == {"clerk1", "handler1"}
    exported = client.get(f"{API}/catalogue/export", headers=_bearer(tokens["admin"]))
    assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
    log = client.get(f"{API}/changes?kind=item&key=SB01", headers=_bearer(tokens["admin"]))
    assert [c["action"] for c in log.json()] == ["created"]
    assert log.json()[0]["after"]["ticket_prefix"] == "A"
    empty = client.post(f"{API}/catalogue/import", headers=_bearer(tokens["admin"]))
    assert empty.status_code == 422


def test_console_pages_in_chinese(db):
    _tokens()
    client = TestClient(create_app(run_jobs=False))
    token = sign_in(client, "root")
    page = client.get("/admin")
    assert page.status_code == 200 and "配置控制台" in page.text and "尚未配置任何内容" in page.text
    form = client.get("/admin/catalogue")
    assert "导入事项清单" in form.text and "事项编码" in form.text
    bad = workbook(with_rows(HALLS=[("H2", "二号厅", "", "09:00-12:00,11:00-17:00", "否")]))
    r = client.post(
        "/admin/catalogue",
        data={"csrf_token": token},
        files={"files": ("清单.xlsx", bad, XLSX)},
    )
    assert r.status_code == 422
    assert "未导入任何内容" in r.text and 'data-problem="大厅:2:工作日开放时间"' in r.text
    r = client.post(
        "/admin/catalogue",
        data={"csrf_token": token},
        files={"files": ("清单.xlsx", workbook(GOOD), XLSX)},
    )
    assert r.status_code == 200 and "已导入" in r.text and 'data-password="clerk1"' in r.text
    assert _items() == 2
    missing = client.post("/admin/catalogue", data={"csrf_token": token})
    assert missing.status_code == 400 and "请选择要导入" in missing.text
    log = client.get("/admin/changes?kind=item&key=GA01")
    assert log.status_code == 200 and "居民身份证申领" in log.text and "工作簿导入" not in log.text
    assert "控制台" in log.text
    template = client.get("/admin/catalogue/template.xlsx")
    assert template.status_code == 200 and template.headers["content-type"] == XLSX
