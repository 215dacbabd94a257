"""Demo data of the mobile workbench: two field staff members, a manager who can revoke
devices, and open tasks of every type, each linked to generated subjects (people with
valid resident ID numbers, enterprises with valid credit codes, a construction project)."""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.access import cases
from govloop.core.auth import Role, create_user
from govloop.core.clock import now
from govloop.core.models import User
from govloop.demo import city
from govloop.demo.hall.seed import DEMO_PASSWORD
from govloop.field import service
from govloop.field.models import FieldTask
from govloop.subjects.identifiers import id_check_char, uscc_check_char
from govloop.subjects.models import SubjectMaster

USERS = [
    ("field1", Role.FIELD_STAFF, "周建国（网格员）"),
    ("field2", Role.FIELD_STAFF, "吴晓燕（网格员）"),
    ("fieldmgr", Role.HALL_MANAGER, "郑海涛（街道管理员）"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
GIVEN = [
    "秀英",
    "桂兰",
    "玉兰",
    "淑珍",
    "凤英",
    "建华",
    "国强",
    "志刚",
    "海燕",
    "丽娟",
    "永明",
    "德福",
    "春梅",
    "文杰",
    "子涵",
    "思远",
    "雨桐",
    "晓东",
    "伟",
    "芳",
    "敏",
    "静",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "桂英",
]
# the grid staff work the hall's district and its two neighbours
DISTRICTS = [city.district(name) for name in ("澜城区", "明湖区", "西岭区")]
TRADES = ["餐饮管理", "建材贸易", "物业服务", "食品销售", "汽车维修"]
VISIT_TITLES = ["独居老人季度走访", "残疾人帮扶回访", "高龄津贴核查走访"]
SURVEY_TITLES = ["低保家庭年度入户调查", "住房困难家庭入户核查"]
INSPECTION_TITLES = ["食品经营场所日常检查", "消防安全专项检查", "建筑工地扬尘检查"]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def _address(rng: random.Random) -> tuple[str, str]:
    d = rng.choice(DISTRICTS)
    rest = f"{rng.randint(1, 30)}幢{rng.randint(101, 1802)}室"
    return d.code, city.address(d, rng.choice(d.roads), rng.randint(1, 399), rest)


def _person(rng: random.Random, *, elderly: bool) -> SubjectMaster:
    region, address = _address(rng)
    age = rng.randint(72, 93) if elderly else rng.randint(28, 65)
    birth = date(2026 - age, rng.randint(1, 12), rng.randint(1, 28))
    male = rng.random() < 0.5
    order = rng.randint(0, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4, 6, 8])
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    number = first17 + id_check_char(first17)
    name = _name(rng)
    attributes = {
        "name": name,
        "id_number": number,
        "birth_date": birth.isoformat(),
        "sex": "男" if male else "女",
        "phone": f"1{rng.choice('3589')}{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
        "address": address,
    }
    return SubjectMaster(
        kind="person", identifier=number, display_name=name, attributes=attributes, provenance={}
    )


def _enterprise(rng: random.Random) -> SubjectMaster:
    region, address = _address(rng)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    first17 = f"91{region}" + "".join(rng.choice(alphabet) for _ in range(9))
    code = first17 + uscc_check_char(first17)
    brand = rng.choice("鑫隆盛兴瑞达华恒") + rng.choice("源泰丰安顺")
    name = f"{city.CITY_SHORT}{brand}{rng.choice(TRADES)}有限公司"
    rep = _name(rng)
    rep_region = rng.choice(DISTRICTS).code
    rep_first17 = f"{rep_region}19{rng.randint(60, 95)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
    rep_first17 += f"{rng.randint(100, 999)}"
    attributes = {
        "name": name,
        "credit_code": code,
        "legal_rep_name": rep,
        "legal_rep_id_number": rep_first17 + id_check_char(rep_first17),
        "address": address,
    }
    return SubjectMaster(
        kind="enterprise", identifier=code, display_name=name, attributes=attributes, provenance={}
    )


def _user(session: Session, username: str, role: Role, display: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        user = create_user(
            session=session,
            username=username,
            password=DEMO_PASSWORD,
            role=role.value,
            display_name=display,
        )
    return user


def seed_demo(*, session: Session, seed: int) -> str:
    """Idempotent: a second run adds nothing once the demo tasks exist."""
    users = {u: _user(session, u, role, display) for u, role, display in USERS}
    if session.scalar(select(FieldTask.id).limit(1)) is not None:
        return "外勤工作台演示数据已存在"
    rng = random.Random(seed)
    stamp = now()
    plan = [
        ("visit", "field1", 2),
        ("survey", "field1", 2),
        ("inspection", "field1", 2),
        ("visit", "field2", 1),
        ("inspection", "field2", 1),
    ]
    made = 0
    for task_type, username, count in plan:
        for _ in range(count):
            if task_type == "inspection":
                subject = _enterprise(rng)
                title = rng.choice(INSPECTION_TITLES)
            else:
                subject = _person(rng, elderly=task_type == "visit")
                title = rng.choice(VISIT_TITLES if task_type == "visit" else SURVEY_TITLES)
            session.add(subject)
            session.flush()
            task = service.create_task(
                session=session,
                task_type=task_type,
                title=title,
                assignee=users[username],
                address=subject.attributes["address"],
                due=stamp + timedelta(days=rng.randint(1, 10), hours=rng.randint(0, 8)),
            )
            cases.attach_subject(
                session=session,
                case_type=service.CASE_TYPE,
                case_id=task.id,
                master_id=subject.id,
                role="inspected" if task_type == "inspection" else "resident",
            )
            made += 1
    service.register_device(
        session=session,
        user=users["field2"],
        device_id="demo-field2-handset-0001",
        name="Android 手机（吴晓燕）",
        user_agent="Mozilla/5.0 (Linux; Android 14; demo handset)",
    )
    return (
        f"外勤工作台：{made} 个任务（走访、入户调查、执法检查），"
        f"一线人员 field1 / field2，设备管理员 fieldmgr，密码 {DEMO_PASSWORD}；"
        "手机打开 /field/ ，管理员打开 /field/devices"
    )
