"""Device registry rules, message handling and uptime, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, RuleViolation
from govloop.indicators import results, service
from govloop.ingest.devices import service as devices
from govloop.ingest.devices.mqtt import Message, ensure_source, ingest_messages
from govloop.ingest.models import DeadLetter, Device, DeviceEvent, IngestedRecord
from govloop.ingest.pipeline import start_run
from tests.factories import make_hall

BJ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)  # a working day


def at(hour: int, minute: int = 0, day: date = MONDAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BJ)


def msg(code: str, kind: str, when: datetime, event_id: str, topic: str = "events") -> Message:
    body = {"event_id": event_id, "kind": kind, "occurred_at": when.isoformat()}
    return Message(f"govloop/devices/{code}/{topic}", json.dumps(body).encode())


def send(*messages: Message):
    with unit_of_work() as s:
        source = ensure_source(session=s)
        run = start_run(session=s, source=source, channel="mqtt")
        return ingest_messages(session=s, source=source, run=run, messages=list(messages))


@pytest.fixture
def hall_id(db):
    with unit_of_work() as s:
        return make_hall(s).hall.id  # opens 09:00, closes 17:00


def test_register_validates_and_refuses_duplicates(hall_id):
    with frozen(at(8)), unit_of_work() as s:
        device = devices.register_device(
            session=s, code="tm-01", kind="ticket_machine", name="取号机1", hall_id=hall_id
        )
        assert device.code == "TM-01" and not device.online
        [event] = s.scalars(select(DeviceEvent)).all()
        assert event.kind == "registered"
    with unit_of_work() as s:
        with pytest.raises(Conflict):
            devices.register_device(
                session=s, code="TM-01", kind="display", name="x", hall_id=hall_id
            )
        with pytest.raises(BadRequest):
            devices.register_device(session=s, code="X1", kind="toaster", name="x")
        with pytest.raises(BadRequest):
            devices.register_device(session=s, code="a/b", kind="display", name="x")
    with unit_of_work() as s:
        assert s.scalar(select(Device.code)) == "TM-01"
        assert len(s.scalars(select(Device)).all()) == 1


def test_heartbeats_sweep_and_uptime(hall_id):
    with frozen(at(8)), unit_of_work() as s:
        devices.register_device(
            session=s,
            code="RP-01",
            kind="rating_pad",
            name="评价器",
            hall_id=hall_id,
            heartbeat_seconds=60,
        )
    counts = send(
        msg("RP-01", "heartbeat", at(10), "e1", topic="heartbeat"),
        msg("RP-01", "heartbeat", at(11), "e2", topic="heartbeat"),
        msg("RP-01", "offline", at(12), "e3"),
        msg("RP-01", "heartbeat", at(13), "e4"),
        msg("RP-01", "heartbeat", at(15), "e5"),
        msg("RP-01", "heartbeat", at(15), "e5"),  # a redelivery: stored once
    )
    assert (counts.rows_in, counts.stored, counts.duplicates, counts.rejected) == (6, 5, 1, 0)
    with unit_of_work() as s:
        device = devices.get_device(session=s, code="rp-01")
        assert device.online
        # not yet overdue: 2 minutes after the last heartbeat
        assert devices.sweep_offline(session=s, at=at(15, 2)) == []
        swept = devices.sweep_offline(session=s, at=at(16))
        assert [d.code for d in swept] == ["RP-01"]
        kinds = [
            (e.kind, e.at.astimezone(BJ).hour)
            for e in reversed(devices.device_events(session=s, device=device))
        ]
        # the offline found by the sweep is stamped at the last heartbeat (15:00)
        assert kinds == [
            ("registered", 8),
            ("online", 10),
            ("offline", 12),
            ("online", 13),
            ("offline", 15),
        ]
        [day] = devices.uptime_days(session=s, start=MONDAY, end=MONDAY, at=at(20))
        # online 10–12 and 13–15 inside opening hours 09–17
        assert (day.up_s, day.expected_s) == (4 * 3600, 8 * 3600)
        assert day.uptime == pytest.approx(0.5)
        # the next day is a working day the device never came back: 0 of 8 hours
        [next_day] = devices.uptime_days(
            session=s,
            start=MONDAY + timedelta(days=1),
            end=MONDAY + timedelta(days=1),
            at=at(20, day=MONDAY + timedelta(days=1)),
        )
        assert (next_day.up_s, next_day.expected_s) == (0, 8 * 3600)
        # a Sunday: the hall is closed, nothing expected
        assert (
            devices.uptime_days(session=s, start=date(2026, 3, 1), end=date(2026, 3, 1), at=at(20))
            == []
        )


def test_revoked_unknown_and_malformed_messages_go_to_dead_letters(hall_id):
    with unit_of_work() as s:
        devices.register_device(session=s, code="D1", kind="display", name="屏1", hall_id=hall_id)
        devices.register_device(session=s, code="D2", kind="display", name="屏2", hall_id=hall_id)
        devices.revoke_device(session=s, code="D2", reason="报废")
    with unit_of_work() as s, pytest.raises(RuleViolation):
        devices.revoke_device(session=s, code="D2", reason="again")
    counts = send(
        msg("D1", "heartbeat", at(10), "ok-1"),
        msg("D2", "heartbeat", at(10), "revoked-1"),
        msg("NOPE", "heartbeat", at(10), "unknown-1"),
        Message("govloop/devices/D1/events", b"\xff\xfe not json"),
        Message(
            "govloop/devices/D1/events",
            json.dumps(
                {"event_id": "x", "kind": "dance", "occurred_at": "2026-03-02T10:00:00"}
            ).encode(),
        ),
    )
    assert (counts.rows_in, counts.stored, counts.rejected) == (5, 1, 4)
    with unit_of_work() as s:
        letters = {d.reason_code: d for d in s.scalars(select(DeadLetter))}
        assert set(letters) == {"device_revoked", "unknown_device", "not_json", "invalid"}
        assert "govloop/devices/D1/events" in letters["not_json"].raw
        assert "[base64] //4gbm90IGpzb24=" in letters["not_json"].raw
        assert "D2" in letters["device_revoked"].reason
        assert s.scalar(select(IngestedRecord.event_id)) == "OK-1"
        assert devices.get_device(session=s, code="D1").online
        assert not devices.get_device(session=s, code="D2").online


def test_device_uptime_indicator_end_to_end(hall_id, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path / "data"))
    with frozen(at(8)), unit_of_work() as s:
        devices.register_device(session=s, code="A", kind="display", name="屏A", hall_id=hall_id)
        devices.register_device(session=s, code="B", kind="display", name="屏B", hall_id=hall_id)
    send(
        msg("A", "online", at(9), "a1"),  # A: up all day (9–17)
        msg("B", "online", at(9), "b1"),
        msg("B", "fault", at(11), "b2"),  # B: up 9–11 and 15–17
        msg("B", "heartbeat", at(15), "b3"),
    )
    with frozen(at(20)), unit_of_work() as s:
        report = service.refresh(session=s)
        assert report.exported["device_events"] == 6  # 2 registered + 4 state changes
        hall = results.scores(
            session=s, hall_code="H1", object_kind="hall", period_text="2026-03-02"
        )
        [obj] = hall.objects
        value = {i.code: i.value for i in obj.indicators}["device_uptime"]
        # (8 h + 4 h) up of 16 h expected
        assert value == pytest.approx(12 / 16)
        per_device = results.scores(
            session=s, hall_code="H1", object_kind="device", period_text="2026-03-02"
        )
        got = {
            o.object_id: {i.code: i.value for i in o.indicators}["device_uptime"]
            for o in per_device.objects
        }
        ids = dict(s.execute(select(Device.code, Device.id)).all())
        assert got == {ids["A"]: pytest.approx(1.0), ids["B"]: pytest.approx(0.5)}
