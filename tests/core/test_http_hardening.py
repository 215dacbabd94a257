"""Security headers, readiness, and plain answers when the database fails."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from govloop.app import create_app
from govloop.core.db import set_engine, unit_of_work
from govloop.core.migrate import upgrade
from tests.factories import make_hall


@pytest.fixture
def client(db):
    with unit_of_work() as s:
        make_hall(s, code="H1")
    return TestClient(create_app(run_jobs=False), raise_server_exceptions=False)


def test_pages_and_api_carry_security_headers(client):
    for path in ("/", "/halls/H1/kiosk", "/api/v1/halls/H1", "/no-such-page"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        script_src = csp.split("script-src")[1].split(";")[0]
        assert script_src.strip() == "'self'"
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert len(r.headers["x-request-id"]) >= 8
        assert "strict-transport-security" not in r.headers  # plain HTTP: no HSTS


def test_no_default_docs_pages_the_csp_would_break(client):
    # /redoc loads its script from a CDN, /docs/oauth2-redirect runs an inline one
    assert client.get("/redoc").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert "content-security-policy" not in docs.headers
    # Swagger UI comes from the package: nothing from a CDN on a closed network
    assert "cdn" not in docs.text.lower() and "//" not in docs.text.replace("http://", "")
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static/vendor/swagger-ui/{asset}" in docs.text
        assert client.get(f"/static/vendor/swagger-ui/{asset}").status_code == 200


def test_hsts_only_over_https(db):
    client = TestClient(create_app(run_jobs=False), base_url="https://testserver")
    assert "max-age=" in client.get("/healthz").headers["strict-transport-security"]


def test_pages_have_no_inline_scripts_or_handlers():
    """The CSP refuses inline scripts: a template that brings one back breaks its page."""
    templates = Path(__file__).resolve().parents[2] / "src" / "govloop" / "web" / "templates"
    offenders = []
    for path in templates.rglob("*.html"):
        source = path.read_text(encoding="utf-8")
        inline = ("<script>", " onchange=", " onclick=", " onsubmit=", "javascript:")
        if any(marker in source for marker in inline):
            offenders.append(path.name)
    assert offenders == []


def test_request_id_is_kept_when_sane_and_replaced_when_not(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc12345"}).headers["x-request-id"] == (
        "abc12345"
    )
    assert client.get("/healthz", headers={"X-Request-ID": "<script>"}).headers["x-request-id"] != (
        "<script>"
    )


def test_readyz_checks_database_writes_and_migrations(db, client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ready",
        "checks": {"database": "ok", "writable": "ok", "migrations": "ok"},
    }
    with db.begin() as conn:
        head = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        conn.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    try:
        behind = client.get("/readyz")
    finally:
        with db.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert behind.status_code == 503
    assert behind.json()["checks"]["migrations"] == "not_at_head"


def _read_only_engine(path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False),
    )
    return engine


def test_read_only_database_is_not_ready_and_writes_answer_503(tmp_path, caplog):
    path = tmp_path / "govloop.db"
    writable = create_engine(f"sqlite:///{path}")
    upgrade(writable)
    set_engine(writable)
    try:
        with unit_of_work() as s:
            make_hall(s, code="H1")
    finally:
        writable.dispose()
    engine = _read_only_engine(path)
    set_engine(engine)
    try:
        client = TestClient(create_app(run_jobs=False), raise_server_exceptions=False)
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["writable"].startswith("failed")
        assert client.get("/api/v1/halls/H1").status_code == 200  # reads still work
        with caplog.at_level(logging.ERROR, logger="govloop.app"):
            r = client.post("/api/v1/halls/H1/tickets", json={"item_code": "SB01"})
        assert r.status_code == 503
        assert r.json()["error"] == "database_unavailable"
        assert r.headers["retry-after"]
        assert r.json()["request_id"] in caplog.text
        page = client.post("/halls/H1/kiosk/tickets", data={"item_code": "SB01"})
        # a page answer is Chinese, never a bare 500 text (the CSRF check may answer first)
        assert page.status_code in (403, 503) and "<html" in page.text.lower()
    finally:
        set_engine(None)
        engine.dispose()


def test_unreachable_database_answers_503_json_and_page(tmp_path):
    engine = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    set_engine(engine)
    try:
        client = TestClient(create_app(run_jobs=False), raise_server_exceptions=False)
        assert client.get("/healthz").status_code == 200  # alive, but…
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith(
            "unreachable"
        )
        api = client.get("/api/v1/halls/H1")
        assert api.status_code == 503 and api.json()["error"] == "database_unavailable"
        page = client.get("/halls/H1/kiosk")
        assert page.status_code == 503 and "数据库暂时不可用" in page.text
    finally:
        set_engine(None)
        engine.dispose()
