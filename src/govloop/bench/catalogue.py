"""`govloop bench catalogue`: importing a large 事项清单 workbook.

The generator builds a workbook shaped like a city's real service catalogue: about 40
departments (bureaus with their centres and sub-units), 12 halls (the city hall with a lunch
break and Saturday service, district halls with their own hours), 2,000 items named from
each bureau's subjects and actions — with the near-duplicates real catalogues have
(``（个人）`` / ``（单位）`` / ``（告知承诺制）`` variants, the same item under a bureau and
its centre) — ticket prefixes unique within every hall, 10–40 windows per hall, ~3,000
appointment quota rows and ~400 staff accounts. It is deterministic for a seed.

The harness times, on a fresh database, the first import (everything created), a second
import of the same bytes (nothing changes), a dry run, and the first import of the same
workbook without its 人员 sheet (on another fresh database): creating a user hashes its
one-time password with argon2, which is slow by design, and the difference shows how much
of the import that is. The baseline in the same run is openpyxl alone reading the workbook
(load, iterate every row of every sheet).
"""

from __future__ import annotations

import io
import os
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from govloop.bench.hall import BenchConfig, bench_database
from govloop.core import auth
from govloop.setup import service, sheets
from govloop.setup.apply import one_time_password

GOAL_S = 30.0  # the issue: "a 2,000-item workbook imports in under 30 s on this machine"

# --- departments: bureaus, their subjects and the actions on them --------------------------

# actions by kind of subject; an item's name is subject + action ("营业执照" + "变更登记")
ACTIONS: dict[str, tuple[str, ...]] = {
    "登记": ("设立登记", "变更登记", "注销登记", "备案", "信息查询", "证照补发"),
    "许可": ("核发", "变更", "延续", "注销", "补办"),
    "保险": ("参保登记", "信息变更", "关系转移接续", "待遇申领", "缴费证明开具", "停保"),
    "证件": ("申领", "换领", "补领", "挂失", "信息变更"),
    "补贴": ("申请", "资格认定", "发放", "停发"),
    "不动产": (
        "首次登记",
        "转移登记",
        "变更登记",
        "抵押登记",
        "注销登记",
        "更正登记",
        "预告登记",
    ),
    "审批": ("审批", "变更审批", "验收", "备案"),
}
# the variants that make near-duplicate names in a real catalogue
VARIANTS = ("（个人）", "（单位）", "（告知承诺制）", "（跨省通办）", "（容缺受理）", "（延续）")


@dataclass(frozen=True)
class Bureau:
    code: str
    name: str
    subjects: tuple[tuple[str, str], ...]  # (subject, kind of actions)
    units: tuple[tuple[str, str], ...]  # (code suffix, name) of its sub-units
    weight: float  # share of the catalogue


BUREAUS: tuple[Bureau, ...] = (
    Bureau(
        "RSJ",
        "市人力资源和社会保障局",
        (
            ("企业职工养老保险", "保险"),
            ("失业保险", "保险"),
            ("工伤保险", "保险"),
            ("城乡居民养老保险", "保险"),
            ("就业创业证", "证件"),
            ("职业技能等级证书", "证件"),
            ("创业担保贷款", "补贴"),
            ("职业培训补贴", "补贴"),
            ("人力资源服务许可", "许可"),
            ("劳务派遣经营许可", "许可"),
        ),
        (
            ("SB", "市社会保险事业管理中心"),
            ("JY", "市公共就业服务中心"),
            ("ZJ", "市劳动保障监察支队"),
        ),
        1.6,
    ),
    Bureau(
        "SCJ",
        "市市场监督管理局",
        (
            ("营业执照", "登记"),
            ("个体工商户", "登记"),
            ("农民专业合作社", "登记"),
            ("食品经营许可证", "许可"),
            ("食品生产许可证", "许可"),
            ("药品经营许可证", "许可"),
            ("特种设备使用", "登记"),
            ("计量器具型式", "审批"),
            ("医疗器械经营", "许可"),
        ),
        (
            ("DJ", "市市场主体登记注册中心"),
            ("SP", "市食品药品安全监管处"),
            ("TS", "市特种设备检验所"),
        ),
        1.8,
    ),
    Bureau(
        "GAJ",
        "市公安局",
        (
            ("居民身份证", "证件"),
            ("居住证", "证件"),
            ("户口迁移", "审批"),
            ("出入境通行证", "证件"),
            ("普通护照", "证件"),
            ("机动车行驶证", "证件"),
            ("机动车驾驶证", "证件"),
            ("剧毒化学品购买许可", "许可"),
            ("保安服务公司", "许可"),
        ),
        (
            ("HZ", "市公安局户政管理支队"),
            ("CRJ", "市公安局出入境管理支队"),
            ("JJ", "市公安局交通警察支队"),
        ),
        1.7,
    ),
    Bureau(
        "ZRJ",
        "市自然资源和规划局",
        (
            ("国有建设用地使用权", "不动产"),
            ("房屋所有权", "不动产"),
            ("宅基地使用权", "不动产"),
            ("建设用地规划许可证", "许可"),
            ("建设工程规划许可证", "许可"),
            ("乡村建设规划许可证", "许可"),
        ),
        (("BDC", "市不动产登记中心"), ("GH", "市规划编制研究中心")),
        1.5,
    ),
    Bureau(
        "ZJJ",
        "市住房和城乡建设局",
        (
            ("建筑工程施工许可", "许可"),
            ("商品房预售许可", "许可"),
            ("建筑业企业资质", "许可"),
            ("房屋租赁合同", "登记"),
            ("物业服务项目", "登记"),
            ("城镇燃气经营许可", "许可"),
            ("公共租赁住房", "补贴"),
        ),
        (("GJJ", "市住房公积金管理中心"), ("FG", "市房产交易管理中心")),
        1.3,
    ),
    Bureau(
        "SWJ",
        "国家税务总局市税务局",
        (
            ("增值税发票", "证件"),
            ("纳税人", "登记"),
            ("完税证明", "证件"),
            ("出口退税", "审批"),
            ("个人所得税", "登记"),
            ("税收优惠", "审批"),
        ),
        (("DS", "市税务局第一税务分局"), ("NS", "市税务局纳税服务中心")),
        1.2,
    ),
    Bureau(
        "MZJ",
        "市民政局",
        (
            ("婚姻", "登记"),
            ("社会团体", "登记"),
            ("民办非企业单位", "登记"),
            ("最低生活保障", "补贴"),
            ("特困人员救助供养", "补贴"),
            ("高龄津贴", "补贴"),
            ("养老机构", "登记"),
        ),
        (("HY", "市婚姻登记处"), ("JZ", "市社会救助服务中心")),
        1.1,
    ),
    Bureau(
        "WJW",
        "市卫生健康委员会",
        (
            ("医师执业注册", "许可"),
            ("护士执业注册", "许可"),
            ("医疗机构执业许可", "许可"),
            ("出生医学证明", "证件"),
            ("公共场所卫生许可", "许可"),
            ("放射诊疗许可", "许可"),
        ),
        (("JD", "市卫生监督所"), ("JK", "市疾病预防控制中心")),
        1.0,
    ),
    Bureau(
        "YBJ",
        "市医疗保障局",
        (
            ("基本医疗保险", "保险"),
            ("异地就医备案", "登记"),
            ("门诊慢特病待遇", "补贴"),
            ("生育保险", "保险"),
            ("医疗费用零星报销", "补贴"),
        ),
        (("YB", "市医疗保障事务中心"), ("JG", "市医保基金监管中心")),
        1.0,
    ),
    Bureau(
        "JTJ",
        "市交通运输局",
        (
            ("道路运输经营许可", "许可"),
            ("网络预约出租汽车运输证", "证件"),
            ("道路运输从业资格证", "证件"),
            ("机动车维修经营", "登记"),
            ("超限运输车辆行驶公路", "审批"),
        ),
        (("YG", "市道路运输管理中心"),),
        0.8,
    ),
    Bureau(
        "JYJ",
        "市教育局",
        (
            ("教师资格", "证件"),
            ("民办学校办学许可", "许可"),
            ("校外培训机构", "许可"),
            ("学生资助", "补贴"),
        ),
        (("KS", "市教育考试院"),),
        0.6,
    ),
    Bureau(
        "HBJ",
        "市生态环境局",
        (
            ("排污许可证", "许可"),
            ("建设项目环境影响评价", "审批"),
            ("危险废物经营许可证", "许可"),
            ("辐射安全许可证", "许可"),
        ),
        (("HJ", "市环境监测中心站"),),
        0.6,
    ),
    Bureau(
        "WLJ",
        "市文化广电旅游局",
        (
            ("娱乐场所经营许可", "许可"),
            ("旅行社业务经营许可", "许可"),
            ("营业性演出", "审批"),
            ("网吧经营许可", "许可"),
        ),
        (("WH", "市文化市场综合执法支队"),),
        0.5,
    ),
    Bureau(
        "CGJ",
        "市城市管理局",
        (
            ("户外广告设施设置", "审批"),
            ("城市道路占用挖掘", "审批"),
            ("建筑垃圾处置核准", "许可"),
            ("城市绿地占用", "审批"),
        ),
        (("SR", "市市容环境卫生管理中心"),),
        0.5,
    ),
)


@dataclass(frozen=True)
class Department:
    code: str
    name: str
    parent: str | None
    bureau: int  # index into BUREAUS


def departments() -> list[Department]:
    """The bureaus and their sub-units: 14 + 26 = 40 departments in a 2-level tree."""
    out: list[Department] = []
    for index, bureau in enumerate(BUREAUS):
        out.append(Department(bureau.code, bureau.name, None, index))
        for suffix, name in bureau.units:
            out.append(Department(f"{bureau.code}.{suffix}", name, bureau.code, index))
    return out


# --- halls -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HallSpec:
    code: str
    name: str
    address: str
    hours: str  # weekday periods; a lunch break splits the day
    weekend: str
    share: float  # of the catalogue served here
    windows: int


HALLS: tuple[HallSpec, ...] = (
    HallSpec(
        "CITY", "市民中心政务服务大厅", "市民大道 1 号", "09:00-12:00,13:30-17:00", "周六", 0.36, 40
    ),
    HallSpec(
        "DC",
        "东城区政务服务中心",
        "东城区和平路 18 号",
        "08:30-12:00,13:30-17:30",
        "周六",
        0.22,
        30,
    ),
    HallSpec("XC", "西城区政务服务中心", "西城区长安街 200 号", "09:00-17:00", "否", 0.20, 28),
    HallSpec(
        "NC", "南城区政务服务中心", "南城区新华路 5 号", "08:30-12:00,14:00-17:30", "周六", 0.18, 25
    ),
    HallSpec(
        "BC",
        "北城区政务服务中心",
        "北城区建设大道 66 号",
        "09:00-12:00,13:00-17:00",
        "否",
        0.16,
        22,
    ),
    HallSpec("GX", "高新区企业服务中心", "高新区科技路 9 号", "08:30-17:30", "否", 0.15, 20),
    HallSpec(
        "KFQ",
        "经济开发区政务服务中心",
        "开发区金桥路 1 号",
        "09:00-12:00,13:30-17:00",
        "否",
        0.12,
        18,
    ),
    HallSpec(
        "XQ",
        "新区政务服务中心",
        "新区湖滨路 88 号",
        "09:00-12:00,13:30-17:00",
        "周六,周日",
        0.12,
        16,
    ),
    HallSpec(
        "LX",
        "临溪县政务服务中心",
        "临溪县城关镇府前街 3 号",
        "08:30-12:00,14:30-17:30",
        "周六",
        0.10,
        14,
    ),
    HallSpec(
        "QS", "青山县政务服务中心", "青山县人民路 12 号", "08:30-12:00,14:00-17:00", "否", 0.09, 12
    ),
    HallSpec(
        "HK", "航空港区便民服务中心", "航空港区迎宾大道 2 号", "09:00-17:00", "周六", 0.07, 10
    ),
    HallSpec(
        "ST", "市税务局办税服务厅", "市民大道 3 号", "09:00-12:00,13:30-17:00", "否", 0.06, 10
    ),
)
MAX_HALL_ITEMS = 850  # under the 962 one- and two-character prefixes a hall can tell apart
PREFIXES = tuple(
    [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    + [
        chr(c) + s
        for c in range(ord("A"), ord("Z") + 1)
        for s in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    ]
)

# --- people ----------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾"
    "肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力"
    "梅琳鹏飞晨宇浩然欣怡子涵雨轩思远佳慧志国海燕晓东"
)
MATERIALS = (
    "居民身份证原件",
    "申请表",
    "营业执照副本",
    "法定代表人身份证明",
    "授权委托书",
    "户口簿",
    "近期免冠照片",
    "房屋权属证明",
    "场所使用证明",
    "劳动合同",
    "结婚证",
    "医学证明",
    "资质证书",
    "承诺书",
    "现场勘验报告",
    "不动产权证书",
    "银行账户信息",
    "社会保障卡",
)
FEES = ("不收费", "不收费", "不收费", "不收费", "工本费 20 元", "按件收费 10 元/件", "80 元/件", "")


def _runs(items: list[str], count: int, rng: random.Random) -> list[list[str]]:
    """``items`` in ``count`` contiguous runs of uneven length, each of 5–80 items where the
    total allows (a busy window lists many items, a quiet one a few)."""
    if count <= 1 or len(items) < 10:
        return [items]
    low, high = min(5, len(items) // count), 80
    weights = [rng.lognormvariate(0, 0.6) for _ in range(count)]
    total = sum(weights)
    sizes = [min(high, max(low, round(w / total * len(items)))) for w in weights]
    while sum(sizes) != len(items):  # settle the rounding on the runs that can take it
        step = 1 if sum(sizes) < len(items) else -1
        fits = [i for i, n in enumerate(sizes) if low <= n + step <= high]
        if not fits:
            break
        sizes[rng.choice(fits)] += step
    out, start = [], 0
    for n in sizes:
        out.append(items[start : start + n])
        start += n
    out[-1] += items[start:]
    return [run for run in out if run]


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _half_hours(periods: str) -> list[str]:
    """Every half-hour slot inside the hall's periods (``09:00-09:30`` …)."""
    slots = []
    for period in periods.split(","):
        start, end = period.split("-")
        minute = int(start[:2]) * 60 + int(start[3:])
        last = int(end[:2]) * 60 + int(end[3:])
        while minute + 30 <= last:
            slots.append(f"{_clock(minute)}-{_clock(minute + 30)}")
            minute += 30
    return slots


@dataclass
class _Catalogue:
    """The workbook being built: item rows (prefix filled in last) and where items are."""

    rng: random.Random
    depts: list[Department]
    items: list[list[Any]] = field(default_factory=list)
    bureau_of: list[int] = field(default_factory=list)  # item index → index into BUREAUS
    order: list[int] = field(default_factory=list)  # item indexes, most asked-for first
    served: dict[str, list[int]] = field(default_factory=dict)  # hall → item indexes

    @property
    def codes(self) -> list[str]:
        return [str(row[0]) for row in self.items]


def _item_name(dept: Department, n: int) -> str:
    """The ``n``-th item name of a department: subject + action, then the same with a
    variant suffix once the department's combinations run out (near-duplicates); a centre
    handles part of its bureau's subjects, under the same names as the bureau."""
    bureau = BUREAUS[dept.bureau]
    names = [s + a for s, kind in bureau.subjects for a in ACTIONS[kind]]
    if dept.parent is not None:
        unit = [u for u, _ in bureau.units].index(dept.code.split(".", 1)[1])
        names = names[unit :: len(bureau.units)] or names
    name = names[n % len(names)]
    rounds = n // len(names)
    if rounds:
        name += VARIANTS[(rounds - 1) % len(VARIANTS)]
    if rounds > len(VARIANTS):
        name += f"（{(rounds - 1) // len(VARIANTS) + 1}）"
    return name


def _items(cat: _Catalogue, count: int) -> None:
    rng, depts = cat.rng, cat.depts
    # spread over the departments by bureau weight, shared between a bureau and its units
    weights = [BUREAUS[d.bureau].weight / (1 + len(BUREAUS[d.bureau].units) / 2) for d in depts]
    owners = sorted(rng.choices(range(len(depts)), weights=weights, k=count))
    seen: dict[int, int] = defaultdict(int)
    for owner in owners:
        dept = depts[owner]
        n = seen[owner]
        seen[owner] += 1
        statutory = rng.choice((5, 10, 15, 20, 20, 30, 60)) if rng.random() > 0.15 else None
        promised: int | None
        if statutory is None:
            promised = rng.choice((None, 1, 3, 5))
        else:  # never longer than the statutory limit
            promised = rng.choice((None, max(1, statutory // 4), max(1, statutory // 2), statutory))
        cat.items.append(
            [
                f"{dept.code}-{n + 1:04d}",
                _item_name(dept, n),
                dept.code,
                "",  # the ticket prefix, chosen once the halls are known
                "" if statutory is None else statutory,
                "" if promised is None else promised,
                rng.choice((5, 8, 10, 12, 15, 20, 30, 45)),
                rng.choice(FEES),
                "；".join(rng.sample(MATERIALS, rng.randint(1, 6))),
                "是" if rng.random() < 0.6 else "否",
                "是" if rng.random() < 0.2 else "否",
                "是" if rng.random() < 0.3 else "否",
            ]
        )
        cat.bureau_of.append(dept.bureau)


def _served(cat: _Catalogue) -> None:
    """What each hall serves: the city hall the most asked-for items, districts a sample of
    the commoner ones, the tax hall tax items, and every item handled in a hall is in one;
    one item in seven is online only, in no hall."""
    rng = cat.rng
    popularity = [rng.random() for _ in cat.items]
    cat.order = sorted(range(len(cat.items)), key=lambda i: -popularity[i])
    in_halls = cat.order[: max(1, len(cat.items) * 6 // 7)]
    for hall in HALLS:
        size = min(MAX_HALL_ITEMS, max(1, round(hall.share * len(cat.items))))
        if hall.code == "CITY":
            chosen = in_halls[:size]
        elif hall.code == "ST":
            tax = [i for i in in_halls if BUREAUS[cat.bureau_of[i]].code == "SWJ"]
            chosen = tax[:size] or in_halls[:1]
        else:
            pool = in_halls[: max(size, len(in_halls) * 2 // 3)]
            chosen = rng.sample(pool, min(size, len(pool)))
        cat.served[hall.code] = chosen
    # every item that is handled in a hall is handled in at least one
    covered = {i for chosen in cat.served.values() for i in chosen}
    districts = [h.code for h in HALLS if h.code not in ("CITY", "ST")]
    for i in in_halls:
        if i not in covered:
            roomy = [h for h in districts if len(cat.served[h]) < MAX_HALL_ITEMS]
            cat.served[rng.choice(roomy or districts)].append(i)
    cat.served = {hall: sorted(chosen) for hall, chosen in cat.served.items()}


def _prefixes(cat: _Catalogue) -> None:
    """Ticket prefixes: two items served in one hall never share one; an item takes the
    first free prefix of its bureau's letter (A, A0, A1 …), else any free one."""
    halls_of: dict[int, list[str]] = defaultdict(list)
    for hall, chosen in cat.served.items():
        for i in chosen:
            halls_of[i].append(hall)
    used: dict[str, set[str]] = defaultdict(set)
    for i in cat.order:
        letter = chr(ord("A") + cat.bureau_of[i] % 26)
        taken: set[str] = set().union(*(used[h] for h in halls_of[i]))
        prefix = next((p for p in PREFIXES if p[0] == letter and p not in taken), None)
        prefix = prefix or next(p for p in PREFIXES if p not in taken)
        cat.items[i][3] = prefix
        for hall in halls_of[i]:
            used[hall].add(prefix)


def _windows(cat: _Catalogue) -> list[tuple[Any, ...]]:
    """Per hall a few 专窗 for one item each, the rest 综合 windows over runs of the hall's
    items (in department order), each also backing up the first items of the next run."""
    rng, codes = cat.rng, cat.codes
    bureau_names = {d.code: BUREAUS[d.bureau].name for d in cat.depts}
    rows: list[tuple[Any, ...]] = []
    for hall in HALLS:
        hall_items = [codes[i] for i in cat.served[hall.code]]
        dedicated = rng.sample(cat.served[hall.code], 2) if len(hall_items) > 20 else []
        general = max(1, min(hall.windows - len(dedicated), len(hall_items) // 5))
        runs = _runs(hall_items, general, rng)
        number = 0
        for k, run in enumerate(runs):
            room = max(0, min(rng.randint(0, 3), 80 - len(run)))
            backup = runs[(k + 1) % len(runs)][:room] if len(runs) > 1 else []
            listed = sorted(set(run + backup))
            number += 1
            label = bureau_names[listed[0].rsplit("-", 1)[0]]
            label = label.removeprefix("国家税务总局").removeprefix("市")
            kind = "综合" if len(listed) > 1 else "专窗"
            name = f"{label}综合受理 {number} 号窗"
            rows.append((hall.code, number, name, kind, ",".join(listed)))
        for i in dedicated:
            number += 1
            rows.append((hall.code, number, f"{cat.items[i][1]}专窗"[:100], "专窗", codes[i]))
    return rows


def _quotas(cat: _Catalogue, count: int) -> list[tuple[Any, ...]]:
    """Hall × item × weekday × half-hour slot inside the hall's hours, shared out between
    the halls by their size: mornings of every working day, a few slots on some weekdays,
    or one whole day a week."""
    rng, codes = cat.rng, cat.codes
    total_share = sum(h.share for h in HALLS)
    budgets = [round(count * h.share / total_share) for h in HALLS]
    budgets[0] += count - sum(budgets)
    rows: list[tuple[Any, ...]] = []
    for hall, budget in zip(HALLS, budgets, strict=True):
        slots = _half_hours(hall.hours)
        days = ["周一", "周二", "周三", "周四", "周五"] + (
            ["周六"] if "周六" in hall.weekend else []
        )
        own: list[tuple[Any, ...]] = []
        for i in rng.sample(cat.served[hall.code], len(cat.served[hall.code])):
            if len(own) >= budget:
                break
            pattern = rng.random()
            if pattern < 0.4:
                chosen = [("每天", s) for s in slots if s < "12:00"]
            elif pattern < 0.8:
                picked = sorted(rng.sample(days, rng.randint(1, 3)), key=days.index)
                chosen = [(d, s) for d in picked for s in sorted(rng.sample(slots, 3))]
            else:
                day = rng.choice(days)
                chosen = [(day, s) for s in slots]
            own += [(hall.code, codes[i], d, s, rng.randint(2, 12)) for d, s in chosen]
        rows += own[:budget]
    return rows


def _users(cat: _Catalogue, count: int) -> list[tuple[Any, ...]]:
    """Two managers per hall, two handlers per department, the rest window staff of a hall
    and of the department of an item served there. Roles by code or by Chinese name."""
    from pypinyin import lazy_pinyin

    rng = cat.rng
    usernames: set[str] = set()

    def person() -> tuple[str, str]:
        name = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2, 2))))
        base = username = "".join(lazy_pinyin(name))
        k = 1
        while username in usernames:
            k += 1
            username = f"{base}{k}"
        usernames.add(username)
        return username, name

    rows: list[tuple[Any, ...]] = []
    for hall in HALLS:
        for _ in range(2):
            rows.append((*person(), rng.choice(("hall_manager", "大厅管理员")), "", hall.code))
    for dept in cat.depts:
        for _ in range(2):
            rows.append((*person(), rng.choice(("department_handler", "承办单位")), dept.code, ""))
    rows = rows[:count]
    while len(rows) < count:
        hall = rng.choice(HALLS)
        item = cat.items[rng.choice(cat.served[hall.code])]
        role = rng.choice(("window_staff", "window_staff", "窗口人员"))
        rows.append((*person(), role, item[2], hall.code))
    return rows


def generate(
    *, items: int = 2000, seed: int = 1, users: int | None = None, quotas: int | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of every sheet, the same for the same arguments. ``users`` defaults to one
    per 5 items, ``quotas`` to 1.5 per item (≈400 and ≈3,000 at the default size)."""
    cat = _Catalogue(random.Random(seed), departments())
    _items(cat, items)
    _served(cat)
    _prefixes(cat)
    window_rows = _windows(cat)
    quota_rows = _quotas(cat, items * 3 // 2 if quotas is None else quotas)
    user_rows = _users(cat, items // 5 if users is None else users)
    return {
        sheets.DEPARTMENTS: [(d.code, d.name, d.parent or "") for d in cat.depts],
        sheets.HALLS: [(h.code, h.name, h.address, h.hours, h.weekend) for h in HALLS],
        sheets.ITEMS: [tuple(row) for row in cat.items],
        sheets.WINDOWS: window_rows,
        sheets.QUOTAS: quota_rows,
        sheets.USERS: user_rows,
    }


def workbook(rows: dict[str, list[tuple[Any, ...]]]) -> bytes:
    return sheets.write(rows)


# --- the harness --------------------------------------------------------------------------------


def read_all(data: bytes) -> int:
    """The baseline: openpyxl alone loads the workbook and iterates every row of every sheet."""
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    count = 0
    for sheet in book.worksheets:
        for _row in sheet.iter_rows(values_only=True):
            count += 1
    book.close()
    return count


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began


def _cpu_timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """The value, the wall time and this process's CPU time (the database server's CPU on
    PostgreSQL is not in it): on a shared machine the CPU time moves less than the wall."""
    began = time.process_time()
    value, wall = _timed(fn)
    return value, wall, time.process_time() - began


def _import(engine: Engine, data: bytes, *, dry_run: bool = False) -> service.ImportResult:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        result = service.import_files(
            session=session,
            files=[("事项清单.xlsx", data)],
            actor=None,
            source="cli",
            dry_run=dry_run,
        )
    if not result.ok:  # the generator's bug, not a figure
        shown = "; ".join(f"{p.sheet}!{p.row} {p.column}: {p.message}" for p in result.problems[:5])
        raise RuntimeError(f"the generated workbook has {len(result.problems)} problems: {shown}")
    return result


def _counts(result: service.ImportResult) -> dict[str, dict[str, int]]:
    assert result.applied is not None
    return {sheet: dict(c) for sheet, c in result.applied.counts.items()}


def _changed(result: service.ImportResult) -> int:
    assert result.applied is not None
    return result.applied.changed


@dataclass
class CatalogueConfig:
    items: int = 2000
    seed: int = 1
    users: int | None = None
    backend: str = "sqlite"
    postgres_url: str | None = None


def run_bench(
    config: CatalogueConfig, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Generate the workbook, import it as described above and return the figures."""
    say = progress or (lambda _message: None)
    bench = BenchConfig(backend=config.backend)
    if config.postgres_url:
        bench.postgres_url = config.postgres_url

    loadavg = [round(os.getloadavg()[0], 2)]
    say(f"generating a {config.items}-item workbook")
    rows, generate_s = _timed(
        lambda: generate(items=config.items, seed=config.seed, users=config.users)
    )
    data, write_s = _timed(lambda: workbook(rows))
    without_users = workbook({k: v for k, v in rows.items() if k != sheets.USERS})

    say("openpyxl alone reading the workbook")
    read_s = min(_timed(lambda: read_all(data))[1] for _ in range(2))
    # the import's own reader (openpyxl + cells to text), the first step of every import
    parse_s = min(_timed(lambda: sheets.read_files([("事项清单.xlsx", data)]))[1] for _ in range(2))
    # what hashing one new user's one-time password costs on its own (median of 5)
    hashes = sorted(_timed(lambda: auth.hash_password(one_time_password()))[1] for _ in range(5))

    with bench_database(bench) as db:
        engine = db.engine
        say("first import (everything created)")
        first, first_s, first_cpu_s = _cpu_timed(lambda: _import(engine, data))
        say("second import (nothing changes)")
        second, second_s = _timed(lambda: _import(engine, data))
        say("dry run")
        dry, dry_s = _timed(lambda: _import(engine, data, dry_run=True))
    with bench_database(bench) as db:
        engine = db.engine
        say("first import without the 人员 sheet, on a fresh database")
        _bare, bare_s, bare_cpu_s = _cpu_timed(lambda: _import(engine, without_users))
    loadavg.append(round(os.getloadavg()[0], 2))

    return {
        "backend": config.backend,
        "items": len(rows[sheets.ITEMS]),
        "departments": len(rows[sheets.DEPARTMENTS]),
        "halls": len(rows[sheets.HALLS]),
        "windows": len(rows[sheets.WINDOWS]),
        "window_item_links": sum(len(str(w[4]).split(",")) for w in rows[sheets.WINDOWS]),
        "quotas": len(rows[sheets.QUOTAS]),
        "users": len(rows[sheets.USERS]),
        "workbook_bytes": len(data),
        "generate_s": round(generate_s + write_s, 3),
        "read_s": round(read_s, 3),
        "parse_s": round(parse_s, 3),
        "first_import_s": round(first_s, 3),
        "second_import_s": round(second_s, 3),
        "dry_run_s": round(dry_s, 3),
        "import_without_users_s": round(bare_s, 3),
        "users_share_s": round(first_s - bare_s, 3),
        "argon2_hash_ms": round(1000 * hashes[2], 1),
        "first_import_cpu_s": round(first_cpu_s, 3),
        "import_without_users_cpu_s": round(bare_cpu_s, 3),
        "ratio_first_to_read": round(first_s / read_s, 1) if read_s else None,
        "ratio_without_users_to_read": round(bare_s / read_s, 1) if read_s else None,
        "goal_s": GOAL_S,
        "meets_goal": first_s < GOAL_S,
        "first_import_counts": _counts(first),
        "second_import_changed": _changed(second),
        "dry_run_changed": _changed(dry),
        "settings": {
            "seed": config.seed,
            "cpus": os.cpu_count(),
            # at the start and the end of the run: the machine may be shared
            "loadavg_1m": loadavg,
            "python": sys.version.split()[0],
            # what one new user's one-time password costs to hash
            "argon2": {
                "time_cost": auth._hasher.time_cost,
                "memory_kib": auth._hasher.memory_cost,
                "parallelism": auth._hasher.parallelism,
            },
        },
    }
