"""Demo devices of the demo hall and 30 days of their history, plus live traffic for
``govloop devices simulate``.

Each window has a rating pad (评价器); the hall has ticket machines, self-service terminals
and displays. On working days the devices are switched on a little before opening and off
after closing; some days bring a fault (paper jam, touch screen, network) lasting minutes
to hours, one terminal has been down for the last two days, and one old rating pad was
revoked when it was replaced. The history goes through the registry's own rules
(``apply_device_event``), so the event log looks like the one live messages produce.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.calendar import is_workday
from govloop.core.clock import local_tz, now
from govloop.demo.hall.seed import HALL_CODE, WINDOWS
from govloop.ingest.devices import service as registry
from govloop.ingest.models import Device, DeviceKind
from govloop.org.models import Hall

DAYS = 30
FAULTS = {
    DeviceKind.TICKET_MACHINE: ["卡纸", "打印机缺纸", "网络中断"],
    DeviceKind.RATING_PAD: ["触摸屏无响应", "网络中断"],
    DeviceKind.SELF_SERVICE: ["读卡器故障", "系统死机", "网络中断"],
    DeviceKind.DISPLAY: ["信号源丢失", "网络中断"],
}


def demo_devices() -> list[tuple[str, str, str]]:
    """(code, kind, name) of the demo hall's devices."""
    out: list[tuple[str, str, str]] = [
        (f"PJQ-{number:02d}", DeviceKind.RATING_PAD, f"{number}号窗口评价器（{name}）")
        for number, name, _items, _staff in WINDOWS
    ]
    out += [(f"QHJ-{n:02d}", DeviceKind.TICKET_MACHINE, f"大厅取号机 {n}") for n in (1, 2, 3)]
    out += [(f"ZZ-{n:02d}", DeviceKind.SELF_SERVICE, f"自助服务终端 {n}") for n in (1, 2, 3)]
    out += [
        ("XSP-01", DeviceKind.DISPLAY, "大厅叫号综合屏"),
        ("XSP-02", DeviceKind.DISPLAY, "二楼叫号屏"),
    ]
    return out


def seed_demo(*, session: Session, seed: int) -> str:
    hall = session.scalar(select(Hall).where(Hall.code == HALL_CODE))
    if hall is None:
        return f"设备：未找到演示大厅 {HALL_CODE}，未生成设备数据"
    existing = session.scalar(select(func.count(Device.id)).where(Device.hall_id == hall.id))
    if existing:
        return f"设备：演示大厅已有 {existing} 台设备，未重复生成"
    rng = random.Random(seed)
    tz = local_tz()
    current = now()
    today = current.astimezone(tz).date()
    first_day = today - timedelta(days=DAYS)
    registered_at = datetime.combine(first_day, time(8, 0), tz)
    made: list[Device] = []
    for code, kind, name in demo_devices():
        made.append(
            registry.register_device(
                session=session,
                code=code,
                kind=kind,
                name=name,
                hall_id=hall.id,
                heartbeat_seconds=30 if kind == DeviceKind.DISPLAY else 60,
                at=registered_at,
            )
        )
    # a rating pad replaced a week ago: the old one revoked, the new one registered
    old = registry.register_device(
        session=session,
        code="PJQ-05-OLD",
        kind=DeviceKind.RATING_PAD,
        name="5号窗口评价器（已更换）",
        hall_id=hall.id,
        at=registered_at,
    )
    broken = next(d for d in made if d.code == "ZZ-02")
    replaced_on = today - timedelta(days=7)
    broken_since = today - timedelta(days=2)
    while not is_workday(broken_since) and broken_since > first_day:
        broken_since -= timedelta(days=1)
    opens, closes = hall.opens_at, hall.closes_at
    day = first_day
    while day <= today:
        if is_workday(day):
            for device in [*made, old]:
                if device is old and day >= replaced_on:
                    continue
                if device is broken and day >= broken_since:
                    continue
                _device_day(session, rng, device, day, opens, closes, current)
        if day == replaced_on:
            registry.revoke_device(
                session=session,
                code=old.code,
                reason="设备老化，已更换为新评价器",
                actor="demo",
                at=datetime.combine(day, time(8, 0), tz),
            )
        if day == broken_since:  # on in the morning, then a fault nobody could fix yet
            for kind, moment, detail in (
                ("online", time(8, 45), {}),
                ("fault", time(10, 20), {"message": "主板故障，待厂商上门维修"}),
            ):
                at = datetime.combine(day, moment, tz)
                if at < current:
                    registry.apply_device_event(
                        session=session, device=broken, kind=kind, at=at, detail=detail
                    )
        day += timedelta(days=1)
    session.flush()
    view = registry.overview(session=session, hall_id=hall.id, days=DAYS)
    up = sum(r.month.up_s for r in view.rows if r.month)
    expected = sum(r.month.expected_s for r in view.rows if r.month)
    share = f"{up / expected:.1%}" if expected else "–"
    return (
        f"设备：演示大厅登记 {len(made) + 1} 台设备（评价器、取号机、自助终端、显示屏，"
        f"其中 1 台已注销），近 {DAYS} 天在线率 {share}，当前在线 {view.online} 台"
    )


def _device_day(
    session: Session,
    rng: random.Random,
    device: Device,
    day: Any,
    opens: time,
    closes: time,
    current: datetime,
) -> None:
    tz = local_tz()
    on = datetime.combine(day, opens, tz) - timedelta(minutes=rng.randint(5, 25))
    off = datetime.combine(day, closes, tz) + timedelta(minutes=rng.randint(5, 40))
    if on >= current:
        return
    events: list[tuple[datetime, str, dict[str, Any]]] = [(on, "online", {})]
    # about one device-day in twelve has a fault; rating pads are the sturdiest
    chance = 0.04 if device.kind == DeviceKind.RATING_PAD else 0.09
    if rng.random() < chance:
        start = on + timedelta(minutes=rng.randint(30, 420))
        length = timedelta(
            minutes=int(rng.choice([8, 15, 25, 40, 90, 180]) * rng.uniform(0.7, 1.3))
        )
        if start + length < off:
            reason = rng.choice(FAULTS[DeviceKind(device.kind)])
            events.append((start, "fault", {"message": reason}))
            events.append((start + length, "heartbeat", {}))
    if rng.random() < 0.02:  # a power cut or someone pulling the plug: heartbeats stop
        cut = on + timedelta(minutes=rng.randint(60, 360))
        events.append((cut, "offline", {"reason": "heartbeat_timeout"}))
        events.append((cut + timedelta(minutes=rng.randint(10, 60)), "heartbeat", {}))
    events.append((off, "offline", {"reason": "断电"}))
    for at, kind, detail in sorted(events, key=lambda e: e[0]):
        if at > current:
            # today, still running: last heartbeat a few seconds ago
            if device.online:
                device.last_seen_at = current - timedelta(seconds=rng.randint(1, 40))
            break
        registry.apply_device_event(session=session, device=device, kind=kind, at=at, detail=detail)


def simulation_messages(
    devices: Sequence[tuple[str, str]], rng: random.Random, at: datetime | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """One round of live traffic: (device code, payload) for every (code, kind) device —
    a heartbeat each, usage events, and now and then a fault."""
    at = (at or now()).astimezone(UTC)
    out: list[tuple[str, dict[str, Any]]] = []

    def message(code: str, kind: str, **detail: Any) -> None:
        out.append(
            (
                code,
                {
                    "event_id": f"{code}-{uuid.uuid4().hex[:16]}",
                    "kind": kind,
                    "occurred_at": at.isoformat(),
                    **({"detail": detail} if detail else {}),
                },
            )
        )

    for code, kind in devices:
        if rng.random() < 0.01:
            message(code, "fault", message=rng.choice(FAULTS[DeviceKind(kind)]))
            continue
        message(code, "heartbeat")
        if kind == DeviceKind.TICKET_MACHINE and rng.random() < 0.5:
            message(code, "ticket_issued", count=rng.randint(1, 4))
        elif kind == DeviceKind.RATING_PAD and rng.random() < 0.2:
            message(code, "rating_submitted", level=rng.choice([5, 5, 5, 4, 4, 3, 1]))
        elif kind == DeviceKind.SELF_SERVICE and rng.random() < 0.3:
            message(code, "usage", service=rng.choice(["社保查询", "公积金提取", "不动产证明"]))
    return out


def issue_pad_keys(*, session: Session) -> list[tuple[int, str, str]]:
    """A fresh key for each window's rating pad of the demo hall: (window, pad code, key).
    Keys are shown once, so every demo run issues new ones and prints them for pairing."""
    issued = []
    for number, _name, _items, _staff in WINDOWS:
        device = session.scalar(select(Device).where(Device.code == f"PJQ-{number:02d}"))
        if device is not None and not device.revoked:
            issued.append(
                (number, device.code, registry.issue_device_key(session=session, device=device))
            )
    return issued
