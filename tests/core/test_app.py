"""The application's lifespan runs the timed duties and stops them cleanly."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import select

from govloop.app import create_app
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.settings import get_settings
from govloop.indicators.models import FrameworkVersion


def test_background_jobs_run_and_stop(db, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GOVLOOP_INDICATOR_REFRESH_SECONDS", "0.5")
    get_settings.cache_clear()
    with TestClient(create_app(run_jobs=True)) as client:
        assert client.get("/healthz").json()["status"] == "ok"
        deadline = time.monotonic() + 20
        loaded = False
        while time.monotonic() < deadline and not loaded:
            with unit_of_work() as s:
                loaded = s.scalar(select(FrameworkVersion.id)) is not None
            time.sleep(0.2)
    get_settings.cache_clear()
    # The first indicator refresh loads the shipped framework when none is loaded.
    assert loaded


def test_job_lock_lets_one_holder_at_a_time(db):
    with unit_of_work() as first:
        assert try_job_lock(first, "demo-job")
        if db.dialect.name == "postgresql":
            with unit_of_work() as second:
                assert not try_job_lock(second, "demo-job")
    with unit_of_work() as third:
        assert try_job_lock(third, "demo-job")


def test_jobs_off_by_request(db):
    app = create_app(run_jobs=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert app.state.run_jobs is False
