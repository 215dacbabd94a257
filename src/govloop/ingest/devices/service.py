"""The device registry: hall devices, their online / offline state and their uptime.

State follows the messages a device sends (through MQTT or HTTP, always through the
ingest pipeline first): a heartbeat or ``online`` message puts it online, ``offline`` or
``fault`` takes it down. ``sweep_offline`` marks a device offline when no heartbeat came
for ``OFFLINE_AFTER`` × its interval; the offline event is stamped at the *last heartbeat*
(the last moment the device was known to work), so uptime is never over-reported.

Only state changes are appended to ``device_events`` (registered, online, offline, fault,
revoked), in the same transaction as the change; each heartbeat itself is kept with its
lineage in the ingest records, not here, so the event log stays a few rows per device-day.

Uptime of a device on a day = seconds it was online inside the expected window: the
hall's opening hours on working days (``core.calendar``), the whole day for a device
outside any hall, from registration until revocation and never past "now".

Service functions take the session as a keyword and never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.core.clock import local_tz, now
from govloop.core.errors import (
    BadRequest,
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RuleViolation,
)
from govloop.ingest.models import Device, DeviceEvent, DeviceKind
from govloop.ingest.schemas import normalize_identifier
from govloop.org import hours as hall_hours
from govloop.org import in_force
from govloop.org.models import Hall

OFFLINE_AFTER = 3  # missed heartbeat intervals before a device counts as offline
KIND_LABELS = {
    DeviceKind.TICKET_MACHINE: "取号机",
    DeviceKind.RATING_PAD: "评价器",
    DeviceKind.SELF_SERVICE: "自助终端",
    DeviceKind.DISPLAY: "显示屏",
}
# device_events kinds that change availability
UP_KINDS = frozenset({"online"})
DOWN_KINDS = frozenset({"offline", "fault", "revoked"})


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- registry -----------------------------------------------------------------------------


def _append(session: Session, device: Device, kind: str, at: datetime, **detail: Any) -> None:
    session.add(DeviceEvent(device_id=device.id, kind=kind, at=at, detail=detail))


def register_device(
    *,
    session: Session,
    code: str,
    kind: str,
    name: str,
    hall_id: int | None = None,
    heartbeat_seconds: int = 60,
    at: datetime | None = None,
) -> Device:
    code = normalize_identifier(code.strip())
    if not code or len(code) > 64 or "/" in code or "+" in code or "#" in code:
        raise BadRequest(
            "设备编码不能为空，不超过 64 个字符，且不能含 / + #", code="bad_device_code"
        )
    if kind not in set(DeviceKind):
        raise BadRequest(
            f"未知的设备类型：{kind}（可用：{'、'.join(DeviceKind)}）", code="bad_device_kind"
        )
    if not 5 <= heartbeat_seconds <= 3600:
        raise BadRequest("心跳间隔须在 5 到 3600 秒之间", code="bad_heartbeat")
    if not name.strip():
        raise BadRequest("设备名称不能为空", code="bad_device_name")
    if hall_id is not None and session.get(Hall, hall_id) is None:
        raise NotFound(f"未找到大厅：{hall_id}", code="hall_not_found")
    if session.scalar(select(Device.id).where(Device.code == code)) is not None:
        raise Conflict(f"设备 {code} 已登记", code="device_exists")
    at = _aware(at or now())
    device = Device(
        code=code,
        kind=kind,
        name=name.strip(),
        hall_id=hall_id,
        heartbeat_seconds=heartbeat_seconds,
        online=False,
        registered_at=at,
        revoked=False,
    )
    session.add(device)
    session.flush()
    _append(session, device, "registered", at, heartbeat_seconds=heartbeat_seconds)
    session.flush()
    return device


def register_with_key(
    *,
    session: Session,
    code: str,
    kind: str,
    name: str,
    hall_code: str | None,
    heartbeat_seconds: int = 60,
) -> tuple[Device, str]:
    """Register a device in a hall (by code) and issue its key; the caller shows the key
    once, after the commit."""
    hall_id = hall_id_for_code(session=session, code=hall_code) if hall_code else None
    device = register_device(
        session=session,
        code=code,
        kind=kind,
        name=name,
        hall_id=hall_id,
        heartbeat_seconds=heartbeat_seconds,
    )
    return device, issue_device_key(session=session, device=device)


def get_device(*, session: Session, code: str) -> Device:
    device = session.scalar(select(Device).where(Device.code == normalize_identifier(code)))
    if device is None:
        raise NotFound(f"未找到设备：{code}", code="device_not_found")
    return device


def list_devices(*, session: Session, hall_id: int | None = None) -> list[Device]:
    stmt = select(Device).order_by(Device.hall_id, Device.kind, Device.code)
    if hall_id is not None:
        stmt = stmt.where(Device.hall_id == hall_id)
    return list(session.scalars(stmt))


def device_events(*, session: Session, device: Device, limit: int = 200) -> list[DeviceEvent]:
    return list(
        session.scalars(
            select(DeviceEvent)
            .where(DeviceEvent.device_id == device.id)
            .order_by(DeviceEvent.at.desc(), DeviceEvent.id.desc())
            .limit(limit)
        )
    )


def revoke_device(
    *,
    session: Session,
    code: str,
    reason: str,
    actor: str | None = None,
    at: datetime | None = None,
) -> Device:
    device = get_device(session=session, code=code)
    if device.revoked:
        raise RuleViolation(f"设备 {device.code} 已注销", code="device_revoked")
    if not reason.strip():
        raise BadRequest("请填写注销原因", code="reason_required")
    device.revoked = True
    device.online = False
    _append(session, device, "revoked", _aware(at or now()), reason=reason.strip(), actor=actor)
    session.flush()
    return device


# --- device keys ---------------------------------------------------------------------------

DEVICE_REFUSED = "设备编码或设备密钥无效"
_NO_KEY = "0" * 64  # compared against when there is no device or no key, to spend the same time


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_device_key(*, session: Session, device: Device) -> str:
    """A new key for the device's HTTP messages; the old one stops working. Only its hash is
    kept: the key is shown once."""
    if device.revoked:
        raise RuleViolation(f"设备 {device.code} 已注销，不能签发密钥", code="device_revoked")
    key = f"gd_{secrets.token_urlsafe(24)}"
    device.key_hash = _key_hash(key)
    session.flush()
    return key


def authenticate_device(*, session: Session, code: str, key: str | None) -> Device:
    """The device ``code`` when ``key`` is its key. An unknown device, a device without a
    key, a missing or wrong key all get the same refusal, so it reveals no device code; a
    revoked device that shows its own key is told it is revoked."""
    device = session.scalar(select(Device).where(Device.code == normalize_identifier(code)))
    stored = device.key_hash if device is not None and device.key_hash else _NO_KEY
    matches = secrets.compare_digest(stored, _key_hash(key or ""))
    if device is None or not device.key_hash or not key or not matches:
        raise NotAuthenticated(DEVICE_REFUSED, code="bad_device_key")
    if device.revoked:
        raise PermissionDenied("设备已注销，消息不予接收", code="device_revoked")
    return device


def pair_device(
    *, session: Session, code: str, key: str | None, kind: str, hall_id: int
) -> tuple[Device, str]:
    """A device of ``kind`` in hall ``hall_id`` that shows its key, and the fingerprint of
    that key for the paired browser to keep (never the key itself). A device of another
    kind or hall gets the same refusal as a wrong key: nothing is revealed."""
    device = authenticate_device(session=session, code=code, key=key)
    if device.kind != kind or device.hall_id != hall_id:
        raise NotAuthenticated(DEVICE_REFUSED, code="bad_device_key")
    return device, _key_hash(key or "")


def paired_device(
    *, session: Session, code: str, fingerprint: str, kind: str, hall_id: int
) -> Device | None:
    """The paired device when its key is still the one it was paired with (a new key or a
    revocation unpairs every browser that held the old one)."""
    device = session.scalar(select(Device).where(Device.code == code))
    if device is None or device.revoked or not device.key_hash:
        return None
    if not secrets.compare_digest(device.key_hash, fingerprint):
        return None
    return device if device.kind == kind and device.hall_id == hall_id else None


def devices_by_code(*, session: Session, codes: Iterable[str]) -> dict[str, Device]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {d.code: d for d in session.scalars(select(Device).where(Device.code.in_(wanted)))}


# --- applying device messages -------------------------------------------------------------


def apply_device_event(
    *, session: Session, device: Device, kind: str, at: datetime, detail: dict[str, Any]
) -> str | None:
    """Apply one stored device message to the registry; the state change made, if any.

    Messages can arrive late (a device buffering through an outage, a redelivery after a
    broker restart): a message older than the device's last sign of life moves last_seen
    nowhere and changes no state, so an old ``offline`` never hides a newer heartbeat.
    """
    at = _aware(at)
    if device.revoked:
        raise RuleViolation(f"设备 {device.code} 已注销", code="device_revoked")
    last = _aware(device.last_seen_at) if device.last_seen_at else None
    if last is not None and at < last:
        return None
    device.last_seen_at = at
    if kind in ("offline", "fault"):
        if device.online or kind == "fault":
            device.online = False
            _append(session, device, kind, at, **({"message": detail} if detail else {}))
            return kind
        return None
    if not device.online:  # heartbeat, online and usage events all prove it is up
        device.online = True
        _append(session, device, "online", at, via=kind)
        return "online"
    return None


def sweep_offline(*, session: Session, at: datetime | None = None) -> list[Device]:
    """Mark offline every online device whose heartbeat is overdue (stamped at last seen)."""
    at = _aware(at or now())
    swept = []
    for device in session.scalars(select(Device).where(Device.online, ~Device.revoked)):
        last = _aware(device.last_seen_at) if device.last_seen_at else _aware(device.registered_at)
        overdue = at - last > timedelta(seconds=OFFLINE_AFTER * device.heartbeat_seconds)
        if overdue:
            device.online = False
            _append(
                session,
                device,
                "offline",
                last,
                reason="heartbeat_timeout",
                detected_at=at.isoformat(),
            )
            swept.append(device)
    session.flush()
    return swept


# --- uptime -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceDay:
    hall_id: int | None
    device_id: int
    day: date
    up_s: float
    expected_s: float

    @property
    def uptime(self) -> float | None:
        return self.up_s / self.expected_s if self.expected_s else None


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> float:
    return max((min(a[1], b[1]) - max(a[0], b[0])).total_seconds(), 0.0)


def _expected_window(
    day: date, hall: tuple[Hall, list[in_force.HoursSpan]] | None
) -> tuple[datetime, datetime] | None:
    """A hall's device is expected up from the first opening to the last closing of the
    hours in force that day, on the days the hall serves; a device of no hall all day."""
    tz = local_tz()
    if hall is None:
        start = datetime.combine(day, time(0), tz)
        return start, start + timedelta(days=1)
    if not hall_hours.serves_on(hall[0], day):
        return None
    span = next(s for s in hall[1] if s.valid_from <= day < s.valid_to)
    first, last = span.periods[0].start, span.periods[-1].end
    return datetime.combine(day, first, tz), datetime.combine(day, last, tz)


def uptime_days(
    *,
    session: Session,
    start: date,
    end: date,
    hall_id: int | None = None,
    device_ids: Sequence[int] | None = None,
    with_hall: bool = False,
    at: datetime | None = None,
) -> list[DeviceDay]:
    """Seconds online vs expected, per device and local day in [start, end], from the
    device event log. Days with nothing expected (closed days, before registration) are
    left out."""
    at = _aware(at or now())
    tz = local_tz()
    end = min(end, at.astimezone(tz).date())
    stmt = select(Device)
    if hall_id is not None:
        stmt = stmt.where(Device.hall_id == hall_id)
    if device_ids is not None:
        stmt = stmt.where(Device.id.in_(list(device_ids)))
    if with_hall:
        stmt = stmt.where(Device.hall_id.is_not(None))
    devices = list(session.scalars(stmt))
    if not devices or end < start:
        return []
    hours = {h.id: (h, in_force.hours_spans(session, h)) for h in session.scalars(select(Hall))}
    lo = datetime.combine(start, time(0), tz)
    hi = datetime.combine(end + timedelta(days=1), time(0), tz)
    events: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for device_id, kind, moment in session.execute(
        select(DeviceEvent.device_id, DeviceEvent.kind, DeviceEvent.at)
        .where(
            DeviceEvent.device_id.in_([d.id for d in devices]),
            DeviceEvent.at < hi,
            DeviceEvent.kind.in_(UP_KINDS | DOWN_KINDS),
        )
        .order_by(DeviceEvent.at, DeviceEvent.id)
    ):
        events[device_id].append((_aware(moment), kind))
    out: list[DeviceDay] = []
    for device in devices:
        intervals = _online_intervals(events[device.id], min(at, hi))
        alive_from = _aware(device.registered_at)
        revoked_at = next((m for m, k in events[device.id] if k == "revoked"), None)
        alive = (max(alive_from, lo), min(revoked_at or at, at))
        day = start
        while day <= end:
            window = _expected_window(
                day, hours.get(device.hall_id) if device.hall_id is not None else None
            )
            if window is not None:
                expected = _overlap(window, alive)
                if expected > 0:
                    clipped = (max(window[0], alive[0]), min(window[1], alive[1]))
                    up = sum(_overlap(clipped, iv) for iv in intervals)
                    out.append(DeviceDay(device.hall_id, device.id, day, up, expected))
            day += timedelta(days=1)
    return out


def _online_intervals(
    events: list[tuple[datetime, str]], until: datetime
) -> list[tuple[datetime, datetime]]:
    intervals = []
    since: datetime | None = None
    for moment, kind in events:
        if kind in UP_KINDS and since is None:
            since = moment
        elif kind in DOWN_KINDS and since is not None:
            intervals.append((since, moment))
            since = None
    if since is not None and since < until:
        intervals.append((since, until))
    return intervals


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(DeviceKind(kind), kind) if kind in set(DeviceKind) else kind


# --- overview (pages and API) -------------------------------------------------------------


@dataclass
class DeviceRow:
    device: Device
    hall_name: str | None
    today: DeviceDay | None
    month: DeviceDay | None


@dataclass
class Overview:
    rows: list[DeviceRow]
    # fleet uptime per day over the window: (day, up_s, expected_s)
    daily: list[tuple[date, float, float]]
    online: int
    offline: int
    revoked: int


def overview(
    *, session: Session, hall_id: int | None = None, days: int = 30, at: datetime | None = None
) -> Overview:
    """Every device with today's and the last ``days`` days' uptime, and the fleet per day."""
    at = _aware(at or now())
    today = at.astimezone(local_tz()).date()
    start = today - timedelta(days=days - 1)
    listed = list_devices(session=session, hall_id=hall_id)
    names: dict[int, str] = {i: n for i, n in session.execute(select(Hall.id, Hall.name))}
    per_day = uptime_days(
        session=session, start=start, end=today, device_ids=[d.id for d in listed], at=at
    )
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    todays: dict[int, DeviceDay] = {}
    fleet: dict[date, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in per_day:
        totals[row.device_id][0] += row.up_s
        totals[row.device_id][1] += row.expected_s
        fleet[row.day][0] += row.up_s
        fleet[row.day][1] += row.expected_s
        if row.day == today:
            todays[row.device_id] = row
    rows = [
        DeviceRow(
            device=d,
            hall_name=names.get(d.hall_id) if d.hall_id is not None else None,
            today=todays.get(d.id),
            month=DeviceDay(d.hall_id, d.id, today, *totals[d.id]) if d.id in totals else None,
        )
        for d in listed
    ]
    return Overview(
        rows=rows,
        daily=[(day, up, exp) for day, (up, exp) in sorted(fleet.items())],
        online=sum(1 for d in listed if d.online and not d.revoked),
        offline=sum(1 for d in listed if not d.online and not d.revoked),
        revoked=sum(1 for d in listed if d.revoked),
    )


def hall_id_for_code(*, session: Session, code: str) -> int:
    hall_id = session.scalar(select(Hall.id).where(Hall.code == code))
    if hall_id is None:
        raise NotFound(f"未找到大厅：{code}", code="hall_not_found")
    return int(hall_id)
