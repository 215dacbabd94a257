"""预约: bookable slots with daily quotas, check-in, late and missed appointments."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govloop.core import calendar
from govloop.core.clock import local_tz, now, to_local
from govloop.core.errors import BadRequest, Conflict, NotFound, RuleViolation
from govloop.hall import notifications as hall_notifications
from govloop.hall.models import (
    Appointment,
    AppointmentQuota,
    AppointmentStatus,
    EventKind,
    PriorityCategory,
    ServiceItem,
    Ticket,
)
from govloop.hall.service import issue_ticket, record_event, service_day
from govloop.org.models import Hall

BOOKING_HORIZON_DAYS = 14
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_LIVE = (AppointmentStatus.BOOKED, AppointmentStatus.CHECKED_IN)


@dataclass(frozen=True)
class SlotAvailability:
    slot_start: time
    slot_end: time
    capacity: int
    booked: int

    @property
    def remaining(self) -> int:
        return max(self.capacity - self.booked, 0)


def _quotas(
    session: Session, hall: Hall, item: ServiceItem, day: date, *, lock: bool = False
) -> list[AppointmentQuota]:
    stmt = (
        select(AppointmentQuota)
        .where(
            AppointmentQuota.hall_id == hall.id,
            AppointmentQuota.item_id == item.id,
            or_(AppointmentQuota.weekday.is_(None), AppointmentQuota.weekday == day.weekday()),
        )
        .order_by(AppointmentQuota.slot_start)
    )
    if lock:
        stmt = stmt.with_for_update()
    quotas: dict[time, AppointmentQuota] = {}
    for quota in session.scalars(stmt):
        # A weekday-specific quota overrides the every-day one for the same slot.
        if quota.slot_start not in quotas or quota.weekday is not None:
            quotas[quota.slot_start] = quota
    return list(quotas.values())


def available_slots(
    *, session: Session, hall: Hall, item: ServiceItem, day: date
) -> list[SlotAvailability]:
    if not calendar.is_workday(day):
        return []
    booked = dict(
        session.execute(
            select(Appointment.slot_start, func.count(Appointment.id))
            .where(
                Appointment.hall_id == hall.id,
                Appointment.item_id == item.id,
                Appointment.service_date == day,
                Appointment.status.in_(_LIVE),
            )
            .group_by(Appointment.slot_start)
        ).all()
    )
    return [
        SlotAvailability(q.slot_start, q.slot_end, q.capacity, int(booked.get(q.slot_start, 0)))
        for q in _quotas(session, hall, item, day)
    ]


def _slot_start_moment(day: date, slot: time) -> datetime:
    return datetime.combine(day, slot, tzinfo=local_tz())


def book(
    *,
    session: Session,
    hall: Hall,
    item: ServiceItem,
    day: date,
    slot_start: time,
    citizen_name: str,
    citizen_phone: str,
) -> Appointment:
    name = citizen_name.strip()
    phone = re.sub(r"[\s-]", "", citizen_phone)
    if not name or len(name) > 50:
        raise BadRequest("请填写姓名（不超过 50 个字）", code="invalid_name")
    if not MOBILE_RE.match(phone):
        raise BadRequest("手机号码格式不正确", code="invalid_phone")
    today = service_day(hall)
    if day < today or day > today + timedelta(days=BOOKING_HORIZON_DAYS):
        raise RuleViolation(
            f"只能预约今天起 {BOOKING_HORIZON_DAYS} 天内的时段", code="outside_horizon"
        )
    if not calendar.is_workday(day):
        raise RuleViolation(f"{day.isoformat()} 不是工作日", code="not_a_workday")
    quota = next(
        (q for q in _quotas(session, hall, item, day, lock=True) if q.slot_start == slot_start),
        None,
    )
    if quota is None:
        raise NotFound(f"该事项在 {slot_start:%H:%M} 没有可预约时段", code="slot_not_found")
    if _slot_start_moment(day, quota.slot_end) <= now():
        raise RuleViolation("该时段已过", code="slot_passed")
    slot = next(
        s
        for s in available_slots(session=session, hall=hall, item=item, day=day)
        if s.slot_start == slot_start
    )
    if slot.remaining <= 0:
        raise Conflict("该时段已约满，请选择其他时段", code="slot_full")
    duplicate = session.scalar(
        select(Appointment.id).where(
            Appointment.item_id == item.id,
            Appointment.service_date == day,
            Appointment.citizen_phone == phone,
            Appointment.status.in_(_LIVE),
        )
    )
    if duplicate:
        raise Conflict("您当天已预约该事项", code="already_booked")
    appointment = Appointment(
        hall_id=hall.id,
        item_id=item.id,
        service_date=day,
        slot_start=quota.slot_start,
        slot_end=quota.slot_end,
        code=secrets.token_hex(4).upper(),
        citizen_name=name,
        citizen_phone=phone,
        status=AppointmentStatus.BOOKED,
        booked_at=now(),
    )
    session.add(appointment)
    session.flush()
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.APPOINTMENT_BOOKED,
        appointment_id=appointment.id,
        item_id=item.id,
        detail={"day": day.isoformat(), "slot": f"{quota.slot_start:%H:%M}"},
    )
    hall_notifications.appointment_booked(session=session, appointment=appointment)
    return appointment


def get_appointment(*, session: Session, code: str) -> Appointment:
    appointment = session.scalar(
        select(Appointment).where(Appointment.code == code.strip().upper())
    )
    if appointment is None:
        raise NotFound("未找到该预约", code="appointment_not_found")
    return appointment


def check_in(*, session: Session, hall: Hall, code: str) -> tuple[Appointment, Ticket, bool]:
    """签到. In time: a priority ticket. Late (or already marked missed): a regular ticket.

    Returns the appointment, the new ticket and whether the check-in was late.
    """
    appointment = get_appointment(session=session, code=code)
    if appointment.hall_id != hall.id:
        raise NotFound("未找到该预约", code="appointment_not_found")
    if appointment.status in (AppointmentStatus.CHECKED_IN, AppointmentStatus.CANCELLED):
        raise RuleViolation("该预约已签到或已取消", code="appointment_not_open")
    moment = now()
    if appointment.service_date != to_local(moment).date():
        raise RuleViolation(
            f"预约日期是 {appointment.service_date.isoformat()}，请当天签到", code="wrong_day"
        )
    start = _slot_start_moment(appointment.service_date, appointment.slot_start)
    end = _slot_start_moment(appointment.service_date, appointment.slot_end)
    if moment < start - timedelta(minutes=hall.appointment_early_minutes):
        earliest = to_local(start - timedelta(minutes=hall.appointment_early_minutes))
        raise RuleViolation(f"签到时间未到，请在 {earliest:%H:%M} 后签到", code="too_early")
    late = moment > end + timedelta(minutes=hall.appointment_late_minutes)
    item = session.get(ServiceItem, appointment.item_id)
    assert item is not None
    ticket = issue_ticket(
        session=session,
        hall=hall,
        item=item,
        priority=None if late else PriorityCategory.APPOINTMENT,
        channel="appointment",
        appointment_id=appointment.id,
        check_hours=False,
    )
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.checked_in_at = moment
    appointment.ticket_id = ticket.id
    record_event(
        session,
        hall_id=hall.id,
        kind=EventKind.APPOINTMENT_LATE if late else EventKind.APPOINTMENT_CHECKED_IN,
        ticket=ticket,
        appointment_id=appointment.id,
        detail={"code": ticket.code, "late": late},
    )
    return appointment, ticket, late


def cancel(*, session: Session, code: str, hall: Hall | None = None) -> Appointment:
    """Cancel by the appointment's code (its holder's secret); with ``hall``, only an
    appointment of that hall (another hall's code is unknown here)."""
    appointment = get_appointment(session=session, code=code)
    if hall is not None and appointment.hall_id != hall.id:
        raise NotFound("未找到该预约", code="appointment_not_found")
    if appointment.status != AppointmentStatus.BOOKED:
        raise RuleViolation("只有未签到的预约可以取消", code="appointment_not_open")
    appointment.status = AppointmentStatus.CANCELLED
    record_event(
        session,
        hall_id=appointment.hall_id,
        kind=EventKind.APPOINTMENT_CANCELLED,
        appointment_id=appointment.id,
        item_id=appointment.item_id,
    )
    return appointment


def sweep_missed(*, session: Session, hall: Hall, at: datetime | None = None) -> list[str]:
    """Mark booked appointments whose slot (plus the late grace) has passed as missed."""
    moment = at or now()
    grace = timedelta(minutes=hall.appointment_late_minutes)
    missed = []
    candidates = session.scalars(
        select(Appointment).where(
            Appointment.hall_id == hall.id,
            Appointment.status == AppointmentStatus.BOOKED,
            Appointment.service_date <= to_local(moment).date(),
        )
    ).all()
    for appointment in candidates:
        if _slot_start_moment(appointment.service_date, appointment.slot_end) + grace < moment:
            appointment.status = AppointmentStatus.MISSED
            record_event(
                session,
                hall_id=hall.id,
                kind=EventKind.APPOINTMENT_MISSED,
                appointment_id=appointment.id,
                item_id=appointment.item_id,
                at=moment,
            )
            missed.append(appointment.code)
    return missed
