"""Incremental refresh, framework versions in force, targets and their decomposition,
appointments, the CLI and the JSON API — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from govloop.app import create_app
from govloop.cli import app as cli
from govloop.core.auth import issue_api_token
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.hall import appointments
from govloop.hall import service as hall_service
from govloop.hall import windows as hall_windows
from govloop.indicators import results, service
from govloop.indicators.engine import Values
from govloop.indicators.framework import default_framework
from govloop.indicators.models import IndicatorResult
from govloop.indicators.scoring import TargetRow, resolve_targets
from govloop.org import service as org_service
from govloop.ratings import rectification
from tests.factories import add_quota, make_hall
from tests.indicators.scenario import MONDAY_0900, build_monday
from tests.indicators.test_engine import values

TUESDAY_1000 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(path))
    return path


@pytest.fixture
def monday(db, data_dir):
    day = build_monday()
    with frozen(MONDAY_0900 + timedelta(days=3)), unit_of_work() as s:
        service.refresh(session=s)
    return day


def refresh(at: datetime) -> service.RefreshReport:
    with frozen(at), unit_of_work() as s:
        return service.refresh(session=s)


def serve_one(world, at: datetime) -> None:
    with frozen(at) as clock, unit_of_work() as s:
        hall = org_service.get_hall(session=s, code="H1")
        hall_service.issue_ticket(
            session=s, hall=hall, item=hall_service.get_item(session=s, code="SB01")
        )
        s.flush()
        clock.advance(minutes=4)
        hall_windows.sign_in(session=s, hall=hall, window_number=1, actor=world.staff[1])
        hall_windows.call_next(session=s, hall=hall, window_number=1, actor=world.staff[1])
        hall_windows.start_service(session=s, hall=hall, window_number=1, actor=world.staff[1])
        clock.advance(minutes=6)
        hall_windows.finish_service(session=s, hall=hall, window_number=1, actor=world.staff[1])


def computed_at(kind: str, start: date) -> set[datetime]:
    with unit_of_work() as s:
        return set(
            s.scalars(
                select(IndicatorResult.computed_at).where(
                    IndicatorResult.period_kind == kind, IndicatorResult.period_start == start
                )
            )
        )


def test_refresh_recomputes_only_what_changed(monday):
    again = refresh(MONDAY_0900 + timedelta(days=3, hours=1))
    assert again.exported == {"hall_events": 0, "rating_events": 0}
    assert again.periods == {"day": 0, "week": 0, "month": 0} and again.results_written == 0
    monday_rows = computed_at("day", date(2026, 11, 23))

    serve_one(monday.world, TUESDAY_1000)
    report = refresh(TUESDAY_1000 + timedelta(days=3))
    assert report.exported["hall_events"] > 0 and report.exported["rating_events"] == 0
    assert report.periods == {"day": 1, "week": 1, "month": 1}  # Tuesday, W48, November
    assert computed_at("day", date(2026, 11, 23)) == monday_rows  # Monday untouched
    with unit_of_work() as s:
        tue = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11-24"
        )
        week = results.scores(session=s, hall_code="H1", object_kind="hall", period_text="2026-W48")
    assert tue.materialized and values(tue)[tue.objects[0].object_id]["wait_mean"] == 4.0
    assert values(week)[week.objects[0].object_id]["wait_mean"] == pytest.approx((35 + 4) / 6)

    # A late event about Monday (closing B001's case on Friday) dirties Monday's periods.
    with frozen(MONDAY_0900 + timedelta(days=4)), unit_of_work() as s:
        rectification.close_case(
            session=s, case_id=monday.case_ids["B001"], actor=monday.world.manager
        )
    report = refresh(MONDAY_0900 + timedelta(days=4, hours=1))
    assert report.exported == {"hall_events": 0, "rating_events": 1}
    assert report.periods == {"day": 1, "week": 1, "month": 1}
    assert computed_at("day", date(2026, 11, 23)) != monday_rows


def test_a_lost_store_is_rebuilt_from_the_log(monday, data_dir):
    import shutil

    shutil.rmtree(data_dir)
    report = refresh(MONDAY_0900 + timedelta(days=5))
    assert report.store_reset and report.exported["hall_events"] > 0
    with unit_of_work() as s:
        out = results.scores(session=s, hall_code="H1", object_kind="hall", period_text="2026-11")
    assert values(out)[out.objects[0].object_id]["wait_mean"] == pytest.approx(7.0)


def test_periods_are_scored_with_the_version_in_force(monday, tmp_path):
    serve_one(monday.world, TUESDAY_1000)
    changed = default_framework().text.replace("valid_from: 2020-01-01", "valid_from: 2026-11-24")
    changed = changed.replace("    target: 15\n", "    target: 12\n", 1)  # wait_mean
    path = tmp_path / "v2.yaml"
    path.write_text(changed)
    with frozen(TUESDAY_1000), unit_of_work() as s:
        service.load_framework(session=s, path=path)
    refresh(TUESDAY_1000 + timedelta(days=1))

    def wait_mean(period: str) -> tuple[int | None, float | None]:
        with unit_of_work() as s:
            out = results.scores(session=s, hall_code="H1", object_kind="hall", period_text=period)
        item = next(i for i in out.objects[0].indicators if i.code == "wait_mean")
        return out.framework_version, item.target

    assert wait_mean("2026-11-23") == (1, 15)  # Monday: before v2
    assert wait_mean("2026-W48") == (1, 15)  # the week starts on Monday
    assert wait_mean("2026-11-24") == (2, 12)  # Tuesday: v2


def test_targets_decomposed_to_windows(monday):
    world = monday.world
    with frozen(MONDAY_0900), unit_of_work() as s:
        service.set_target(
            session=s,
            indicator_code="wait_mean",
            value=10,
            hall_code="H1",
            rule="volume_balance",
            valid_from=date(2026, 11, 1),
        )
        service.set_target(
            session=s,
            indicator_code="wait_mean",
            value=5,
            hall_code="H1",
            object_kind="window",
            object_ref="1",
            valid_from=date(2026, 11, 1),
        )
        service.set_target(  # a later target does not touch November
            session=s,
            indicator_code="wait_mean",
            value=99,
            hall_code="H1",
            valid_from=date(2026, 12, 1),
        )
    report = refresh(MONDAY_0900 + timedelta(days=5))
    assert report.periods["month"] == 1  # stale results were dropped and recomputed

    with unit_of_work() as s:
        windows = results.scores(
            session=s, hall_code="H1", object_kind="window", period_text="2026-11"
        )
        hall = results.scores(session=s, hall_code="H1", object_kind="hall", period_text="2026-11")
        staff = results.scores(
            session=s, hall_code="H1", object_kind="staff", period_text="2026-11"
        )

    def target(out, object_id):
        obj = next(o for o in out.objects if o.object_id == object_id)
        return next(i.target for i in obj.indicators if i.code == "wait_mean")

    # tickets per window (last handled there): w1 A002 A003, w2 B001, w3 A001 B003
    assert target(hall, hall.objects[0].object_id) == 10
    assert target(windows, world.windows[1].id) == 5
    balanced = (10 * 5 - 2 * 5) / (1 + 2)  # volume-weighted mean of all windows stays 10
    assert target(windows, world.windows[2].id) == pytest.approx(balanced)
    assert target(windows, world.windows[3].id) == pytest.approx(balanced)
    # staff have no override: balanced over the same volumes
    assert target(staff, world.staff[2].id) == pytest.approx((10 * 5) / 5)


def test_volume_share_and_kind_targets():
    framework = default_framework()
    frame = pd.DataFrame(
        {
            "hall_id": [1, 1, 1, 1],
            "object_kind": ["hall", "window", "window", "window"],
            "object_id": [1, 11, 12, 13],
            "period_start": [date(2026, 11, 1)] * 4,
            "period_end": [date(2026, 11, 30)] * 4,
            "_volume": [100.0, 50.0, 30.0, 20.0],
        }
    )
    for leaf in framework.leaves():
        frame[leaf.code] = np.nan
    vals = Values(frame, [leaf.code for leaf in framework.leaves()])
    rows = [
        TargetRow("handling_mean", 1, "hall", None, 1000.0, "volume_share"),
        TargetRow("handling_mean", 1, "window", 13, 100.0),
        TargetRow("wait_mean", None, "hall", None, 20.0),  # every hall
        TargetRow("wait_p90", 1, "window", None, 40.0),  # every window of hall 1
    ]
    targets = resolve_targets(vals, framework, rows)
    # 1000 minus the override 100, shared 50:30 between windows 11 and 12
    assert list(targets["handling_mean"]) == pytest.approx([1000, 562.5, 337.5, 100])
    assert list(targets["wait_mean"]) == [20, 20, 20, 20]
    assert list(targets["wait_p90"]) == [30, 40, 40, 40]


def test_target_input_is_checked(monday):
    from govloop.core.errors import GovloopError

    with unit_of_work() as s:
        for kwargs in (
            {"indicator_code": "nope", "value": 1},
            {"indicator_code": "wait_mean", "value": -1},
            {"indicator_code": "wait_mean", "value": 1, "rule": "magic"},
            {
                "indicator_code": "unserved_rate",
                "value": 1,
                "hall_code": "H1",
                "object_kind": "window",
            },
            {
                "indicator_code": "wait_mean",
                "value": 1,
                "hall_code": "H1",
                "object_kind": "window",
                "object_ref": "42",
            },
        ):
            with pytest.raises(GovloopError):
                service.set_target(session=s, **kwargs)
        assert service.target_rows(session=s) == []


def test_appointment_punctuality(db, data_dir):
    with frozen(MONDAY_0900) as clock:
        with unit_of_work() as s:
            world = make_hall(s)
            add_quota(s, world, "SB01", time(10, 0), time(10, 30), 5)
        codes = []
        with unit_of_work() as s:
            hall = org_service.get_hall(session=s, code="H1")
            item = hall_service.get_item(session=s, code="SB01")
            for i in range(3):
                codes.append(
                    appointments.book(
                        session=s,
                        hall=hall,
                        item=item,
                        day=date(2026, 11, 23),
                        slot_start=time(10, 0),
                        citizen_name=f"群众{i}",
                        citizen_phone=f"1380013800{i}",
                    ).code
                )
        clock.current = MONDAY_0900 + timedelta(minutes=65)  # 10:05 on time
        with unit_of_work() as s:
            appointments.check_in(
                session=s, hall=org_service.get_hall(session=s, code="H1"), code=codes[0]
            )
        clock.current = MONDAY_0900 + timedelta(minutes=110)  # 10:50: late (after 10:45)
        with unit_of_work() as s:
            appointments.check_in(
                session=s, hall=org_service.get_hall(session=s, code="H1"), code=codes[1]
            )
        clock.current = MONDAY_0900 + timedelta(minutes=120)
        with unit_of_work() as s:
            appointments.sweep_missed(session=s, hall=org_service.get_hall(session=s, code="H1"))
        with unit_of_work() as s:
            service.refresh(session=s)
            out = results.scores(
                session=s, hall_code="H1", object_kind="item", period_text="2026-11-23"
            )
    item_values = values(out)[world.items["SB01"].id]
    assert item_values["appointment_punctuality"] == pytest.approx(1 / 3)


def test_cli_refresh_and_show(monday):
    runner = CliRunner()
    result = runner.invoke(cli, ["indicators", "refresh", "--settle-seconds", "0"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        cli, ["indicators", "show", "--hall", "H1", "--period", "2026-11", "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["materialized"] and out["objects"][0]["overall"] is not None
    result = runner.invoke(cli, ["indicators", "show", "--hall", "H1", "--period", "2026-11"])
    assert result.exit_code == 0 and "wait_mean" in result.output
    result = runner.invoke(cli, ["indicators", "show", "--hall", "H1", "--period", "Nov"])
    assert result.exit_code == 1 and "周期格式不正确" in result.output
    result = runner.invoke(
        cli, ["indicators", "target", "wait_mean", "12", "--hall", "H1", "--from", "2026-11-01"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["indicators", "versions"])
    assert result.exit_code == 0 and "2020-01-01" in result.output


def test_api_framework_and_scores(monday):
    client = TestClient(create_app())
    r = client.get("/api/v1/indicators/framework")
    assert r.status_code == 200
    body = r.json()
    assert body["version"] == 1 and len([i for i in body["indicators"] if not i["is_group"]]) >= 25
    assert {d["code"] for d in body["dimensions"]} == {
        "tangibles",
        "reliability",
        "responsiveness",
        "assurance",
        "empathy",
    }

    url = "/api/v1/indicators/scores?hall=H1&object=staff&period=2026-11"
    assert client.get(url).status_code == 401
    with unit_of_work() as s:
        token = issue_api_token(session=s, user=monday.world.manager, name="t")
    headers = {"Authorization": f"Bearer {token}"}
    r = client.get(url, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["materialized"] and len(body["objects"]) == 3
    assert {o["label"] for o in body["objects"]} == {"staff1", "staff2", "staff3"}
    r = client.get(url.replace("staff", "window"), headers=headers)
    assert {o["label"] for o in r.json()["objects"]} == {"1号窗口", "2号窗口", "3号窗口"}
    r = client.get(
        "/api/v1/indicators/scores?hall=H1&object=planet&period=2026-11", headers=headers
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_object_kind"
    r = client.get("/api/v1/indicators/scores?hall=H1&period=2026-13", headers=headers)
    assert r.status_code == 400 and r.json()["error"] == "invalid_period"
    r = client.get("/api/v1/indicators/scores?hall=XX&period=2026-11", headers=headers)
    assert r.status_code == 404


def test_a_rolled_back_refresh_leaves_no_duplicates(monday, data_dir):
    serve_one(monday.world, TUESDAY_1000)
    with (
        pytest.raises(RuntimeError),
        frozen(TUESDAY_1000 + timedelta(days=1)),
        unit_of_work() as s,
    ):
        service.refresh(session=s)
        raise RuntimeError("the transaction fails after the files were written")
    parts = sorted(data_dir.glob("raw/hall_events/*/*/*.parquet"))
    assert len(parts) == 2  # Monday's batch and the uncommitted one
    report = refresh(TUESDAY_1000 + timedelta(days=1))
    assert not report.store_reset
    assert report.exported["hall_events"] == 5  # issued, signed in, called, started, finished
    assert sorted(data_dir.glob("raw/hall_events/*/*/*.parquet")) == parts  # replaced, not added
    with unit_of_work() as s:
        week = results.scores(session=s, hall_code="H1", object_kind="hall", period_text="2026-W48")
    assert values(week)[week.objects[0].object_id]["wait_mean"] == pytest.approx((35 + 4) / 6)


def test_rank_and_trend(monday):
    serve_one(monday.world, TUESDAY_1000)
    refresh(TUESDAY_1000 + timedelta(days=1))
    with unit_of_work() as s:
        windows = results.scores(
            session=s, hall_code="H1", object_kind="window", period_text="2026-11"
        )
        monday_hall = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11-23"
        )
        tuesday_hall = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-11-24"
        )
    by_rank = sorted(windows.objects, key=lambda o: o.rank or 99)
    assert [o.rank for o in by_rank] == [1, 2, 3]
    assert [o.overall for o in by_rank] == sorted((o.overall for o in by_rank), reverse=True)
    assert windows.previous_period == "2026-10" and by_rank[0].previous_overall is None
    assert tuesday_hall.previous_period == "2026-11-23"
    assert tuesday_hall.objects[0].previous_overall == pytest.approx(monday_hall.objects[0].overall)


def test_drilldown_to_the_facts_behind_a_figure(monday):
    world = monday.world
    with unit_of_work() as s:
        out = results.drilldown(
            session=s,
            hall_code="H1",
            object_kind="hall",
            object_id=0,
            period_text="2026-11-23",
            indicator="wait_mean",
        )
        w3 = results.drilldown(
            session=s,
            hall_code="H1",
            object_kind="window",
            object_id=world.windows[3].id,
            period_text="2026-11",
            indicator="satisfaction_rate",
            limit=10,
        )
        device = results.drilldown(
            session=s,
            hall_code="H1",
            object_kind="hall",
            object_id=0,
            period_text="2026-11",
            indicator="device_uptime",
        )
    assert out["value"] == pytest.approx(7.0) and out["formula"] == "wait_s_sum / called / 60"
    assert out["measures"] == {"wait_s_sum": pytest.approx(35 * 60), "called": 5.0}
    visits = out["facts"]["visits"]
    assert visits["total"] == 6 and len(visits["rows"]) == 6
    assert sorted(r["wait_s"] for r in visits["rows"] if r["wait_s"] is not None) == [
        60.0,
        60.0,
        420.0,
        600.0,
        960.0,
    ]
    assert w3["measures"] == {"satisfied": 1.0, "ratings": 1.0}  # B003's rating was excluded
    assert w3["facts"]["ratings"]["total"] == 1 and w3["facts"]["ratings"]["rows"][0]["level"] == 4
    assert device["value"] is None and device["facts"]["devices"]["total"] == 0

    client = TestClient(create_app())
    with unit_of_work() as s:
        token = issue_api_token(session=s, user=world.manager, name="t")
    r = client.get(
        "/api/v1/indicators/drilldown?hall=H1&indicator=wait_mean&period=2026-11-23",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200 and r.json()["facts"]["visits"]["total"] == 6
    r = client.get(
        "/api/v1/indicators/drilldown?hall=H1&indicator=nope&period=2026-11",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 404
