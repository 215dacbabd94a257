"""Demo data of the data platform: department records of persons, enterprises and
projects, as the ingest pipeline stores them, then one tag run and one quality profile.

The persons are the citizens who booked hall appointments or called the hotline in the
demo history (their names and phones), plus residents who never came; a share of the
records carries the faults real registers have (missing or mistyped resident IDs,
missing phones, birth dates that disagree with the ID), so the measured quality is not
a perfect 100 %. Records are written straight into the ingest tables with a run and full
lineage, because the pipeline's own loader (``ingest/``) is built in parallel.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session
from stdnum.cn import ric, uscc

from govloop.catalog import graph, service, tags
from govloop.core.clock import local_today, now
from govloop.demo import city
from govloop.hall.models import Appointment
from govloop.hotline.models import WorkOrder
from govloop.ingest.models import IngestedRecord, IngestRun, RunStatus, Source, SourceKind

SEED = 2026
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂兰玉华建国志宏海燕"
FIRM_TRADES = ["建设工程", "信息技术", "食品", "物流", "医疗器械", "文化传媒", "新能源", "餐饮管理"]
PROJECT_KINDS = ["厂房扩建项目", "综合楼新建工程", "智能化改造项目", "仓储中心项目", "研发基地一期"]

SOURCES = [
    ("ga-population", "公安人口信息", "person_record", "市公安局", "人口管理支队"),
    ("rs-insured", "社保参保登记", "person_record", "市人社局", "社会保险中心"),
    ("scjg-enterprise", "市场主体登记", "enterprise_record", "市市场监管局", "登记注册处"),
    ("fgw-project", "投资项目在线审批", "project_record", "市发改委", "投资处"),
]


def _id_number(rng: random.Random, born: date, male: bool) -> str:
    seq = rng.randrange(0, 50) * 2 + (1 if male else 0)
    body = f"{_district(rng).code}{born:%Y%m%d}{rng.randrange(10)}{seq % 100:02d}"[:17]
    return body + ric.calc_check_digit(body + "0")  # the function skips the last digit


def _credit_code(rng: random.Random) -> str:
    body = (
        "91"
        + _district(rng).code
        + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    )
    return body + uscc.calc_check_digit(body + "0")


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _phone(rng: random.Random) -> str:
    return (
        rng.choice(["138", "139", "135", "150", "158", "187", "188", "177"])
        + f"{rng.randrange(10**8):08d}"
    )


def _district(rng: random.Random) -> city.District:
    return rng.choices(city.DISTRICTS, weights=city.WEIGHTS)[0]


def _address(rng: random.Random) -> str:
    d = _district(rng)
    return city.address(d, rng.choice(d.roads), rng.randrange(1, 300))


def _citizens(session: Session, limit: int) -> list[tuple[str, str]]:
    """Distinct (name, phone) of recent appointment bookers and hotline callers."""
    seen: dict[str, str] = {}
    booked = session.execute(
        select(Appointment.citizen_name, Appointment.citizen_phone)
        .order_by(Appointment.id.desc())
        .limit(limit)
    )
    called = session.execute(
        select(WorkOrder.caller_name, WorkOrder.caller_phone)
        .where(WorkOrder.caller_phone.is_not(None))
        .order_by(WorkOrder.id.desc())
        .limit(limit // 2)
    )
    for name, phone in [*booked, *called]:
        if phone and name and phone not in seen:
            seen[phone] = name
    return [(name, phone) for phone, name in seen.items()]


def _person(rng: random.Random, name: str, phone: str | None, today: date) -> dict[str, Any]:
    # about a quarter of hall visitors are 60 or older
    age = rng.randint(60, 88) if rng.random() < 0.25 else rng.randint(18, 59)
    born = today - timedelta(days=age * 365 + rng.randrange(365))
    male = rng.random() < 0.5
    record: dict[str, Any] = {
        "id_number": _id_number(rng, born, male),
        "name": name,
        "birth_date": born.isoformat(),
        "sex": "M" if male else "F",
        "phone": phone,
        "address": _address(rng),
    }
    fault = rng.random()
    if fault < 0.03:
        record["id_number"] = None  # registered without an ID (e.g. newborn, foreigner)
    elif fault < 0.05:
        digits = record["id_number"]
        record["id_number"] = digits[:10] + str((int(digits[10]) + 1) % 10) + digits[11:]
    elif fault < 0.07:
        record["birth_date"] = (born + timedelta(days=rng.randint(1, 40))).isoformat()
    if rng.random() < 0.04:
        record["phone"] = None
    if rng.random() < 0.05:
        record["address"] = None
    return record


def _store(session: Session, src: Source, records: list[dict[str, Any]], at: datetime) -> int:
    run = IngestRun(
        source_id=src.id,
        channel="file",
        file_name=f"{src.key}-{at:%Y%m%d}.csv",
        status=RunStatus.DONE,
        started_at=at,
        finished_at=at + timedelta(seconds=3),
        rows_in=len(records),
        stored=len(records),
    )
    session.add(run)
    session.flush()
    rows = []
    for i, payload in enumerate(records, start=1):
        record_id = f"{src.key}-{i:06d}"
        full = {"record_id": record_id, **payload, "updated_at": at.isoformat()}
        rows.append(
            {
                "source_id": src.id,
                "event_id": record_id,
                "schema_name": src.schema_name,
                "occurred_at": at,
                "payload": {k: v for k, v in full.items() if v is not None},
                "run_id": run.id,
                "file_name": run.file_name,
                "row_number": i + 1,
                "changes": {},
                "stored_at": at,
            }
        )
    if rows:
        session.execute(insert(IngestedRecord), rows)
    return len(rows)


def seed_demo(*, session: Session, seed: int = SEED) -> str:
    """Register the demo's department records, compute tags and measure quality; return a
    one-line summary. Idempotent: a second call adds nothing."""
    if session.scalar(select(func.count(Source.id)).where(Source.key == SOURCES[0][0])):
        return "数据目录：演示数据已存在，未重复生成"
    rng = random.Random(seed)
    today = local_today()
    at = now().replace(microsecond=0)
    made: dict[str, Source] = {}
    for key, name, schema_name, department, owner in SOURCES:
        made[key] = Source(
            key=key,
            name=name,
            kind=SourceKind.FILE,
            schema_name=schema_name,
            department=department,
            owner=owner,
            mapping={},
        )
        session.add(made[key])
    session.flush()

    people = [_person(rng, n, p, today) for n, p in _citizens(session, 600)]
    people += [_person(rng, _name(rng), _phone(rng), today) for _ in range(150)]
    n_people = _store(session, made["ga-population"], people, at - timedelta(hours=20))
    # Social security re-reports a third of the residents, some with a newer phone.
    insured = [
        {**p, "phone": _phone(rng) if rng.random() < 0.2 else p["phone"]}
        for p in rng.sample(people, len(people) // 3)
        if p.get("id_number")
    ]
    n_insured = _store(session, made["rs-insured"], insured, at - timedelta(days=3))

    firms = []
    reps = rng.sample([p for p in people if p.get("id_number")], 40)
    for i in range(48):
        rep = reps[i] if i < len(reps) else _person(rng, _name(rng), _phone(rng), today)
        firms.append(
            {
                "credit_code": _credit_code(rng),
                "name": (
                    f"{city.CITY_SHORT}{rng.choice(city.LANDMARKS)}{rng.choice(FIRM_TRADES)}有限公司"
                ),
                "legal_rep_name": rep["name"],
                "legal_rep_id_number": rep["id_number"],
                "address": _address(rng) if rng.random() > 0.06 else None,
            }
        )
    n_firms = _store(session, made["scjg-enterprise"], firms, at - timedelta(days=1, hours=2))
    projects = []
    for i in range(60):
        # a few enterprises run several projects
        firm = (
            firms[min(int(rng.paretovariate(1.3)) - 1, len(firms) - 1)]
            if rng.random() < 0.5
            else rng.choice(firms)
        )
        industry = rng.choice(["47", "48", "70"])
        projects.append(
            {
                "project_code": f"2026-{city.CITY_CODE}-{industry}-01-{100000 + i:06d}",
                "name": firm["name"].removesuffix("有限公司") + rng.choice(PROJECT_KINDS),
                "enterprise_credit_code": firm["credit_code"],
                "address": _address(rng) if rng.random() > 0.05 else None,
            }
        )
    n_projects = _store(session, made["fgw-project"], projects, at - timedelta(days=6))

    run = tags.compute_tags(session=session)
    profiles = service.profile_datasets(session=session)
    scored = [p.score for p in profiles if p.score is not None]
    g = graph.stats(session=session)
    tagged = "，".join(f"{r.name} {run.counts.get(r.code, 0)}" for r in tags.shipped_rules().rules)
    return (
        f"数据目录：登记部门记录 人口 {n_people} 条、社保 {n_insured} 条、企业 {n_firms} 家、"
        f"项目 {n_projects} 个；标签（{tagged}）；质量评分 {len(scored)} 个数据集，"
        f"平均 {sum(scored) / len(scored):.1%}；知识图谱 {g['nodes']} 个实体、{g['edges']} 条关系"
        if scored
        else "数据目录：没有可评分的数据集"
    )


# Entry points of the demo's pages, for the home page.
DEMO_URLS = {"catalog": "/catalog", "tags": "/tags", "graph": "/graph"}
