"""Demo data for the data platform: department sources with realistic generated files, some
rows deliberately bad so the dead-letter store has something to show.

* 民政局 person records — a GBK-encoded CSV with Chinese headers (ID numbers carry valid
  GB 11643 check digits, a few deliberately wrong; some rows have bad dates or no name);
* 市场监管局 enterprise records — an Excel (.xlsx) file;
* 住建局 project records — JSON lines, two lines malformed;
* a vendor queue system's ticket export (layout ``queue_ticket_csv``), one row unknown status;
* a push to a source key nobody declared, kept as dead letters.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.demo import city
from govloop.ingest import service
from govloop.ingest.models import Source
from govloop.ingest.pipeline import create_source

PERSON_MAPPING = {
    "记录编号": "record_id",
    "姓名": "name",
    "公民身份号码": "id_number",
    "出生日期": "birth_date",
    "性别(M/F)": "sex",
    "联系电话": "phone",
    "户籍地址": "address",
    "更新时间": "updated_at",
}
ENTERPRISE_MAPPING = {
    "登记编号": "record_id",
    "统一社会信用代码": "credit_code",
    "企业名称": "name",
    "法定代表人": "legal_rep_name",
    "法定代表人证件号码": "legal_rep_id_number",
    "住所": "address",
    "更新时间": "updated_at",
}

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许"
    "韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
    "华建国志红玉兰文斌海燕欣怡子涵浩然雨轩梓萱晨阳佳琪"
)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
TRADES = ["科技", "贸易", "餐饮管理", "建筑工程", "物业服务", "文化传媒", "医药", "供应链"]
ORG_SUFFIX = ["有限公司", "股份有限公司", "有限责任公司"]
ITEMS = ["GJJ01", "SB02", "HJ03", "QY04", "BDC05"]


def check_digit(first17: str) -> str:
    """GB 11643-1999 check character of a citizen ID number's first 17 digits."""
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def id_number(rng: random.Random, birth: date, male: bool, region: str, valid: bool = True) -> str:
    order = rng.randint(0, 99) * 10 + rng.choice([1, 3, 5, 7, 9] if male else [0, 2, 4, 6, 8])
    first17 = f"{region}{birth:%Y%m%d}{order:03d}"
    digit = check_digit(first17)
    if not valid:  # a typo in the check character, as data quality will find
        digit = CHECK[(CHECK.index(digit) + 1) % 11]
    return first17 + digit


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))


def _address(rng: random.Random) -> tuple[str, str]:
    d = rng.choices(city.DISTRICTS, weights=city.WEIGHTS)[0]
    rest = f"{rng.randint(1, 30)}幢{rng.randint(101, 2402)}室"
    return d.code, city.address(d, rng.choice(d.roads), rng.randint(1, 399), rest)


def person_rows(*, seed: int, count: int, bad_share: float = 0.04) -> Iterator[dict[str, str]]:
    """Civil-affairs person rows keyed by the Chinese headers of PERSON_MAPPING."""
    rng = random.Random(seed)
    for i in range(count):
        male = rng.random() < 0.5
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 80))
        region, address = _address(rng)
        row = {
            "记录编号": f"MZ{seed:02d}{i:07d}",
            "姓名": _name(rng),
            "公民身份号码": id_number(rng, birth, male, region, valid=rng.random() > 0.02),
            "出生日期": birth.isoformat(),
            "性别(M/F)": "M" if male else "F",
            "联系电话": f"1{rng.choice([3, 5, 7, 8, 9])}{rng.randint(0, 999999999):09d}",
            "户籍地址": address,
            "更新时间": f"2026-11-{rng.randint(1, 28):02d} "
            f"{rng.randint(8, 17):02d}:{rng.randint(0, 59):02d}:00",
        }
        if rng.random() < bad_share:
            flaw = rng.choice(["date", "name", "sex"])
            if flaw == "date":
                row["出生日期"] = f"{birth.year}-02-30"
            elif flaw == "name":
                row["姓名"] = ""
            else:
                row["性别(M/F)"] = "男"
        yield row


def credit_code(rng: random.Random, region: str) -> str:
    """A unified social credit code shaped like GB 32100 (check character not computed)."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choice(alphabet) for _ in range(9))
    return f"91{region}{body}{rng.choice(alphabet)}"


def enterprise_rows(*, seed: int, count: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed + 7)
    for i in range(count):
        region, address = _address(rng)
        birth = date(1960, 1, 1) + timedelta(days=rng.randint(0, 365 * 40))
        yield {
            "登记编号": f"SJ{i:06d}",
            "统一社会信用代码": credit_code(rng, region),
            "企业名称": f"{city.CITY_SHORT}{rng.choice(GIVEN)}{rng.choice(GIVEN)}"
            f"{rng.choice(TRADES)}{rng.choice(ORG_SUFFIX)}",
            "法定代表人": _name(rng),
            "法定代表人证件号码": id_number(rng, birth, rng.random() < 0.5, region),
            "住所": address,
            "更新时间": datetime(2026, 11, rng.randint(1, 28), rng.randint(8, 17), 0),
        }


def project_lines(*, seed: int, count: int) -> Iterator[str]:
    rng = random.Random(seed + 11)
    for i in range(count):
        if i in (5, 17):  # a truncated export line
            yield f'{{"record_id": "ZJ{i:04d}", "project_code": "2026-{city.CITY_CODE}-47-01'
            continue
        region, address = _address(rng)
        record = {
            "record_id": f"ZJ{i:04d}",
            "project_code": f"2026-{region}-47-01-{rng.randint(100000, 999999)}",
            "name": rng.choice(city.LANDMARKS)
            + rng.choice(["人才公寓", "综合体", "安置房", "学校"])
            + rng.choice(["一期", "二期", "改扩建"])
            + "工程",
            "address": address,
            "updated_at": f"2026-11-{rng.randint(1, 28):02d}T10:00:00+08:00",
        }
        if i % 25 == 24:
            record["project_code"] = ""  # required, missing
        yield json.dumps(record, ensure_ascii=False)


VENDOR_COLUMNS = [
    "流水号",
    "网点编码",
    "票号",
    "业务类型编码",
    "取号时间",
    "叫号时间",
    "开始办理时间",
    "结束时间",
    "窗口号",
    "工号",
    "状态",
]


def vendor_rows(*, seed: int, count: int, day: date) -> Iterator[dict[str, str]]:
    rng = random.Random(seed + 13)
    t = datetime(day.year, day.month, day.day, 8, 45)
    for i in range(count):
        t += timedelta(seconds=rng.randint(20, 150))
        called = t + timedelta(minutes=rng.randint(2, 40))
        started = called + timedelta(seconds=rng.randint(20, 90))
        ended = started + timedelta(minutes=rng.randint(3, 25))
        status = rng.choices(["已办结", "过号", "弃号"], weights=[88, 8, 4])[0]
        if i == count - 3:
            status = "挂起"  # a status the layout does not know
        fmt = "%Y/%m/%d %H:%M:%S" if i % 2 else "%Y-%m-%d %H:%M:%S"
        row = {
            "流水号": f"{day:%Y%m%d}-{i + 1:06d}",
            "网点编码": "XH01",
            "票号": f"{'ABCD'[i % 4]}{i // 4 + 1:03d}",
            "业务类型编码": rng.choice(ITEMS),
            "取号时间": t.strftime(fmt),
            "叫号时间": called.strftime(fmt) if status != "弃号" else "",
            "开始办理时间": started.strftime(fmt) if status == "已办结" else "",
            "结束时间": ended.strftime(fmt) if status != "过号" else "",
            "窗口号": str(rng.randint(1, 12)) if status != "弃号" else "",
            "工号": f"GH{rng.randint(1, 40):04d}" if status != "弃号" else "",
            "状态": status,
        }
        yield row


def _source(session: Session, key: str, **kwargs: Any) -> Source:
    found = session.scalar(select(Source).where(Source.key == key))
    return found or create_source(session=session, key=key, **kwargs)


def seed_demo(*, session: Session, seed: int) -> str:
    """Declare the demo sources and load their files; returns a one-line Chinese summary."""
    from openpyxl import Workbook

    civil = _source(
        session,
        "xh-civil-affairs",
        name="市民政局人口信息",
        kind="file",
        schema_name="person_record",
        mapping=PERSON_MAPPING,
        department="民政局",
    )
    market = _source(
        session,
        "xh-market-regulation",
        name="市市场监管局企业登记",
        kind="file",
        schema_name="enterprise_record",
        mapping=ENTERPRISE_MAPPING,
        department="市场监管局",
    )
    housing = _source(
        session,
        "xh-housing",
        name="市住建局工程项目",
        kind="jsonl",
        schema_name="project_record",
        department="住建局",
    )
    queue = _source(
        session,
        "xh-hall-vendor-queue",
        name=f"{city.HALL.name}原排队系统导出",
        kind="vendor",
        schema_name="hall_event",
        department="行政服务中心",
    )
    folder = Path(tempfile.mkdtemp(prefix="govloop-ingest-demo-"))
    results = []
    try:
        persons = folder / "民政局人口信息_202611.csv"
        with persons.open("w", newline="", encoding="gb18030") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(PERSON_MAPPING))
            writer.writeheader()
            writer.writerows(person_rows(seed=seed, count=400))
        results.append(service.load_file(session=session, source=civil, path=persons))

        firms = folder / "市场主体登记_202611.xlsx"
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("企业")
        sheet.append(list(ENTERPRISE_MAPPING))
        for row in enterprise_rows(seed=seed, count=150):
            sheet.append([row[c] for c in ENTERPRISE_MAPPING])
        sheet.append(["SJ999998", "", "", "王建国", "", "", "2026-11-31"])  # no name, bad date
        workbook.save(firms)
        results.append(service.load_file(session=session, source=market, path=firms))

        projects = folder / "住建项目_202611.jsonl"
        projects.write_text("\n".join(project_lines(seed=seed, count=60)) + "\n", encoding="utf-8")
        results.append(service.load_file(session=session, source=housing, path=projects))

        tickets = folder / "排队系统业务流水_20261120.csv"
        with tickets.open("w", newline="", encoding="gb18030") as fh:
            writer = csv.DictWriter(fh, fieldnames=VENDOR_COLUMNS)
            writer.writeheader()
            writer.writerows(vendor_rows(seed=seed, count=240, day=date(2026, 11, 20)))
        results.append(
            service.load_file(
                session=session, source=queue, path=tickets, vendor="queue_ticket_csv"
            )
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stored = sum(r.counts.stored for r in results)
    rejected = sum(r.counts.rejected for r in results)
    return f"数据接入：4 个部门数据源，存储 {stored} 条记录，{rejected} 条进入死信待处理"
