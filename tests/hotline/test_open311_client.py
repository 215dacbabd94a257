"""The published GeoReport v2 client (PyPI ``georeport``) reads a real server: uvicorn in a
subprocess on a free port, against a temporary SQLite database seeded here."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from georeport import GeoReport
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from govloop.app import create_app
from govloop.core.db import make_engine
from govloop.core.migrate import upgrade
from govloop.hotline.models import WorkOrder
from govloop.hotline.open311 import api as open311_api
from govloop.hotline.open311 import service as open311
from govloop.hotline.open311.conformance import check_conformance
from govloop.hotline.orders import workflow
from tests.e2e.conftest import free_port
from tests.hotline.factories import build_world

ROOT = Path(__file__).resolve().parents[2]


def make_app() -> FastAPI:
    """The application with the Open311 routes (``uvicorn --factory``)."""
    app = create_app(run_jobs=False)
    if not any(getattr(r, "path", "").startswith("/open311/v2") for r in app.routes):
        app.include_router(open311_api.router)
    return app


@dataclass
class Seeded:
    api_key: str
    open_id: str
    closed_id: str
    public_codes: set[str]


def _seed(url: str) -> Seeded:
    engine = make_engine(url)
    upgrade(engine)
    with sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        world = build_world(s)
        _, key = open311.create_client(session=s, name="georeport 客户端测试")

        def submit(code: str, text: str) -> str:
            form = open311.RequestForm(
                service_code=code, address_string="鼓楼区 五四路 1 号", description=text
            )
            return open311.submit_request(session=s, api_key=key, form=form)["service_request_id"]

        open_id = submit("CG-NOISE", "工地夜间施工噪音扰民")
        closed_id = submit("SW-WATER", "小区停水一整天没有通知")
        noise = s.scalar(select(WorkOrder).where(WorkOrder.number == open_id))
        cg = world.departments["CG"]
        workflow.dispatch(session=s, order_id=noise.id, actor=world.agent, department_id=cg)
        water = s.scalar(select(WorkOrder).where(WorkOrder.number == closed_id))
        workflow.close(session=s, order_id=water.id, actor=world.agent, answer_text="已恢复供水")
        codes = {c["service_code"] for c in open311.list_services(session=s)}
    engine.dispose()
    return Seeded(key, open_id, closed_id, codes)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded]]:
    folder = tmp_path_factory.mktemp("open311-server")
    url = f"sqlite:///{folder / 'govloop.db'}"
    seeded = _seed(url)
    port = free_port()
    env = {
        **os.environ,
        "GOVLOOP_DATABASE_URL": url,
        "GOVLOOP_ENVIRONMENT": "development",
        "GOVLOOP_RUN_JOBS": "false",
    }
    command = [
        *(sys.executable, "-m", "uvicorn", "tests.hotline.test_open311_client:make_app"),
        *("--factory", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"),
    ]
    log_path = folder / "uvicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            # a busy machine (the suite runs on both cores) can take long to start uvicorn
            deadline = time.monotonic() + 180
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start (exit {proc.poll()}), see {log_path}")
                time.sleep(0.2)
            yield base, seeded
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_lists_services_and_definitions(server, fmt):
    base, seeded = server
    client = GeoReport(f"{base}/open311/v2", output_format=fmt)
    services = client.get_service_list()
    assert {s["service_code"] for s in services} == seeded.public_codes
    noise = next(s for s in services if s["service_code"] == "CG-NOISE")
    assert noise["service_name"] == "噪音扰民"
    assert str(noise["metadata"]).lower() == "true"  # XML carries text
    definition = client.get_service_definition("CG-NOISE")
    attributes = definition["attributes"]
    attribute = attributes[0] if fmt == "json" else attributes["attribute"]
    assert attribute["code"] == "noise_time" and attribute["datatype"] == "singlevaluelist"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_reads_requests(server, fmt):
    base, seeded = server
    client = GeoReport(f"{base}/open311/v2", output_format=fmt)
    requests = client.get_service_requests()
    listed = {r["service_request_id"]: r for r in requests}
    assert {seeded.open_id, seeded.closed_id} <= set(listed)
    assert listed[seeded.open_id]["status"] == "open"
    assert listed[seeded.open_id]["status_notes"] == "已派至城市管理局，等待签收"
    closed = client.get_service_requests(status="closed")
    closed = closed if isinstance(closed, list) else [closed]  # xmltodict: one item, a dict
    assert [r["service_request_id"] for r in closed] == [seeded.closed_id]
    one = client.get_service_request(seeded.closed_id)
    assert (one["service_request_id"], one["status"]) == (seeded.closed_id, "closed")
    assert one["service_code"] == "SW-WATER" and one["agency_responsible"] == "自来水公司"
    both = client.get_service_requests(service_request_id=f"{seeded.open_id},{seeded.closed_id}")
    assert {r["service_request_id"] for r in both} == {seeded.open_id, seeded.closed_id}


def test_a_posted_request_is_read_back_by_georeport(server):
    base, seeded = server
    response = httpx.post(
        f"{base}/open311/v2/requests.json",
        data={
            "api_key": seeded.api_key,
            "service_code": "CG-ROAD",
            "lat": "26.08",
            "long": "119.30",
            "description": "人行道井盖缺失，有安全隐患",
        },
    )
    assert response.status_code == 200, response.text
    number = response.json()[0]["service_request_id"]
    read_back = GeoReport(f"{base}/open311/v2").get_service_request(number)
    assert read_back["description"] == "人行道井盖缺失，有安全隐患"
    assert (read_back["lat"], read_back["long"], read_back["status"]) == (26.08, 119.3, "open")


def test_live_server_conforms_to_the_schemas(server):
    """govloop's own GeoReport v2 schemas always; the official ones too when available."""
    base, seeded = server
    report = check_conformance(base, api_key=seeded.api_key)
    assert report["failures"] == [] and report["open311_schema_failures"] == 0
    assert report["responses_checked"] == 2 * (len(seeded.public_codes) + 11)
