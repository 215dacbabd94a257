"""The demo's department records: realistic faults, measured quality, and idempotence."""

from __future__ import annotations

from sqlalchemy import func, select

from govloop.catalog import service
from govloop.catalog.models import TagRun
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.demo import catalog as demo
from govloop.ingest.models import IngestedRecord, Source
from tests.catalog.scenario import NOW, TODAY, visit
from tests.factories import make_hall


def test_seed_demo_registers_records_and_measures_them(db):
    with frozen(NOW), unit_of_work() as s:
        world = make_hall(s)
        visit(s, world, "13912345678", "SB01", TODAY, 1)
        summary = demo.seed_demo(session=s)
        assert summary.startswith("数据目录：登记部门记录 人口 151 条")
        assert s.scalar(select(func.count(Source.id))) == 4
        records = s.scalar(select(func.count(IngestedRecord.id))) or 0
        profiles = service.latest_profiles(session=s)
        people = profiles["ingest.ga-population"]
        # a share of the generated records carries real-world faults, and it is measured
        assert people.rows == 151 and people.score is not None and 0.5 < people.score < 1.0
        again = demo.seed_demo(session=s)
        assert "已存在" in again
        assert s.scalar(select(func.count(IngestedRecord.id))) == records
        assert s.scalar(select(func.count(TagRun.id))) == 1
