"""Pages of the catalog, tags and the knowledge graph, and their friendly refusals."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from govloop.app import create_app
from govloop.catalog import tags
from govloop.catalog.models import DatasetProfile, TagRun
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from tests.catalog import scenario
from tests.catalog.scenario import ELDER_ID, FIRM_A, NOW
from tests.web.helpers import sign_in


@pytest.fixture
def client(db):
    with frozen(NOW):
        with unit_of_work() as s:
            scenario.build(s)
            tags.compute_tags(session=s)
        c = TestClient(create_app())
        sign_in(c, "steward")
        yield c


def _count(model) -> int:
    with unit_of_work(readonly=True) as s:
        return s.scalar(select(func.count(model.id))) or 0


def test_catalog_and_dataset_pages(client):
    page = client.get("/catalog")
    assert page.status_code == 200 and "数据目录" in page.text
    assert 'data-dataset="ingest.ga"' in page.text and "尚未测量" in page.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    r = client.post("/catalog/profile", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and _count(DatasetProfile) >= 12
    again = client.get("/catalog?done=profiled")
    assert 'data-score="0.4"' in again.text and "data-quality-chart" in again.text
    page = client.get("/catalog/ingest.ga")
    assert page.status_code == 200
    assert "id_number" in page.text and "birth_date" in page.text
    assert 'data-check="id_valid"' in page.text and "身份证号有效" in page.text
    missing = client.get("/catalog/nope")
    assert missing.status_code == 404 and "数据目录中没有该数据集" in missing.text


def test_tags_pages(client):
    page = client.get("/tags")
    assert page.status_code == 200 and "老年人" in page.text and "重复跑" in page.text
    tag = client.get("/tags/elderly")
    assert 'data-total="1"' in tag.text and "林老伯" in tag.text
    lookup = client.get("/tags", params={"entity": f"person:{ELDER_ID}"})
    assert 'data-subject-tag="repeat_visits"' in lookup.text
    bad = client.get("/tags", params={"entity": "nonsense"})
    assert bad.status_code == 400 and "实体标识格式应为" in bad.text
    assert client.get("/tags/nope").status_code == 404
    runs = _count(TagRun)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)
    r = client.post("/tags/compute", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and _count(TagRun) == runs + 1
    refused = client.post("/tags/compute", data={}, follow_redirects=False)
    assert refused.status_code == 403 and _count(TagRun) == runs + 1


def test_graph_page_draws_the_neighbourhood(client):
    page = client.get("/graph", params={"entity": f"enterprise:{FIRM_A}", "depth": 1})
    assert page.status_code == 200 and "echarts.min.js" in page.text
    data = json.loads(re.search(r'id="graph-data">(.*?)</script>', page.text, re.S).group(1))
    assert data["center"] == f"enterprise:{FIRM_A}" and len(data["nodes"]) == 4
    labels = re.search(r'id="graph-labels">(.*?)</script>', page.text, re.S).group(1)
    assert json.loads(labels)["types"]["person"] == "自然人"
    found = client.get("/graph", params={"q": "林老"})
    assert f"person:{ELDER_ID}" in found.text
    path = client.get(
        "/graph", params={"entity": f"person:{ELDER_ID}", "to": f"enterprise:{FIRM_A}"}
    )
    assert 'data-path-hops="3"' in path.text
    bad = client.get("/graph", params={"entity": "person:1"})
    assert bad.status_code == 404 and "知识图谱中没有该实体" in bad.text
    other = TestClient(create_app())
    sign_in(other, "staff1")
    r = other.get("/graph")
    assert r.status_code == 403 and "没有执行此操作的权限" in r.text
