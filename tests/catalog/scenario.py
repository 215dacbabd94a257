"""A small, fully known world for the data platform: a hall with staff, department records
of persons, enterprises and projects, appointment visits and hotline calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

from govloop.core.auth import Role
from govloop.hall.models import Appointment, AppointmentStatus, Ticket, TicketStatus
from govloop.hotline.models import WorkOrder
from govloop.ingest.models import IngestedRecord, IngestRun, Source
from tests.factories import HallWorld, make_hall, make_user

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 Beijing time
TODAY = date(2026, 11, 23)


def id_number(region: str, born: date, seq: str) -> str:
    body = f"{region}{born:%Y%m%d}{seq}"
    return body + ric.calc_check_digit(body + "0")


def credit_code(body: str) -> str:
    return body + uscc.calc_check_digit(body + "0")


ELDER_ID = id_number("350102", date(1950, 5, 1), "011")  # a man, 76 on TODAY
YOUNG_ID = id_number("350103", date(1990, 2, 3), "024")  # a woman, 36
BAD_ID = ELDER_ID[:10] + "9" + ELDER_ID[11:]  # one mistyped digit
REP_ONLY_ID = id_number("350104", date(1980, 1, 1), "031")  # named only as a legal rep
FIRM_A = credit_code("91350102MA2XY1234")
FIRM_B = credit_code("91350103MA2XY5678")
ELDER_PHONE, YOUNG_PHONE, SHARED_PHONE = "13800000001", "13800000002", "13800000009"
YOUNG_OLD_PHONE = "13900000002"


@dataclass
class CatalogWorld:
    hall: HallWorld
    sources: dict[str, Source]


def _source(session: Session, key: str, schema_name: str) -> Source:
    src = Source(
        key=key,
        name=f"来源{key}",
        kind="file",
        schema_name=schema_name,
        department="测试局",
        owner="数据科",
        mapping={},
    )
    session.add(src)
    session.flush()
    return src


def store(session: Session, src: Source, payloads: list[dict[str, Any]], at: datetime) -> None:
    run = IngestRun(source_id=src.id, channel="file", status="done", started_at=at)
    session.add(run)
    session.flush()
    session.execute(
        insert(IngestedRecord),
        [
            {
                "source_id": src.id,
                "event_id": f"{src.key}-{i}",
                "schema_name": src.schema_name,
                "occurred_at": at,
                "payload": {"record_id": f"{src.key}-{i}", **p},
                "run_id": run.id,
                "changes": {},
                "stored_at": at,
            }
            for i, p in enumerate(payloads)
        ],
    )


def visit(session: Session, world: HallWorld, phone: str, item: str, day: date, n: int) -> None:
    """An appointment checked in on ``day`` and its finished ticket, served at window 1."""
    at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=2)
    appt = Appointment(
        hall_id=world.hall.id,
        item_id=world.items[item].id,
        service_date=day,
        slot_start=datetime.min.time(),
        slot_end=datetime.min.time(),
        code=f"Y{phone[-4:]}{n:04d}",
        citizen_name="某人",
        citizen_phone=phone,
        status=AppointmentStatus.CHECKED_IN,
        booked_at=at - timedelta(days=2),
        checked_in_at=at,
    )
    session.add(appt)
    session.flush()
    session.add(
        Ticket(
            hall_id=world.hall.id,
            service_date=day,
            code=f"A{n:03d}",
            public_id=f"p{phone[-4:]}{n:04d}",
            item_id=world.items[item].id,
            status=TicketStatus.FINISHED,
            arrived_at=at,
            rank_at=at,
            issued_at=at,
            called_at=at + timedelta(minutes=5),
            started_at=at + timedelta(minutes=5),
            finished_at=at + timedelta(minutes=15),
            window_id=world.windows[1].id,
            staff_id=world.staff[1].id,
            appointment_id=appt.id,
        )
    )


def call(session: Session, phone: str | None, n: int, at: datetime) -> None:
    session.add(
        WorkOrder(
            number=f"WO{n:05d}",
            channel="phone",
            order_type="complaint",
            title=f"反映问题{n}",
            content="小区噪音扰民",
            caller_phone=phone,
            status="accepted",
            created_at=at,
            updated_at=at,
        )
    )


def build(session: Session) -> CatalogWorld:
    hall = make_hall(session)
    make_user(session, "steward", Role.DATA_STEWARD)
    people = _source(session, "ga", "person_record")
    insured = _source(session, "rs", "person_record")
    firms = _source(session, "scjg", "enterprise_record")
    projects = _source(session, "fgw", "project_record")
    at = NOW - timedelta(hours=3)
    store(
        session,
        people,
        [
            {"id_number": ELDER_ID, "name": "林老伯", "birth_date": "1950-05-01", "sex": "M",
             "phone": ELDER_PHONE, "address": "鼓楼区湖东路 1 号"},
            {"id_number": YOUNG_ID, "name": "陈小姐", "birth_date": "1990-02-03", "sex": "F",
             "phone": YOUNG_PHONE, "address": "台江区工业路 2 号"},
            # mistyped ID, no phone: kept as its own person, fails two checks
            {"id_number": BAD_ID, "name": "王某", "address": "仓山区 3 号"},
            # two persons on one phone: the phone identifies nobody
            {"name": "赵甲", "phone": SHARED_PHONE, "address": "晋安区 4 号"},
            {"name": "赵乙", "phone": SHARED_PHONE, "address": "晋安区 4 号"},
        ],
        at,
    )  # fmt: skip
    # the second department re-reports the young woman (merged by resident ID), with the
    # number she booked her hall visit with
    store(
        session,
        insured,
        [{"id_number": YOUNG_ID, "name": "陈小姐", "phone": YOUNG_OLD_PHONE}],
        NOW - timedelta(days=2),
    )
    store(
        session,
        firms,
        [
            {"credit_code": FIRM_A, "name": "福州榕城建设有限公司", "legal_rep_name": "陈小姐",
             "legal_rep_id_number": YOUNG_ID, "address": "鼓楼区"},
            {"credit_code": FIRM_B, "name": "福州闽江物流有限公司", "legal_rep_name": "刘某",
             "legal_rep_id_number": REP_ONLY_ID, "address": "台江区"},
        ],
        at,
    )  # fmt: skip
    store(
        session,
        projects,
        [
            {"project_code": "P-001", "name": "厂房扩建", "enterprise_credit_code": FIRM_A},
            {"project_code": "P-002", "name": "综合楼", "enterprise_credit_code": FIRM_A},
            {"project_code": "P-003", "name": "仓储中心", "enterprise_credit_code": FIRM_B},
        ],
        at,
    )
    # the elder came four times for SB01 in the last month, once 100 days ago
    for n, back in enumerate((2, 9, 16, 23, 100)):
        visit(session, hall, ELDER_PHONE, "SB01", TODAY - timedelta(days=back), n)
    visit(session, hall, YOUNG_OLD_PHONE, "SB01", TODAY - timedelta(days=5), 10)
    for n in range(5):
        visit(session, hall, SHARED_PHONE, "GS01", TODAY - timedelta(days=n + 1), 20 + n)
    for n in range(3):
        call(session, YOUNG_PHONE, n, NOW - timedelta(days=n * 10))
    call(session, None, 9, NOW)
    session.flush()
    return CatalogWorld(hall, {"ga": people, "rs": insured, "scjg": firms, "fgw": projects})
