"""The demo lives in one fictional city: every place its data names is in the gazetteer
(``govloop.demo.city``), no real city, district or county appears, ID numbers carry the
city's region codes, and the knowledge base states the hours the demo hall is configured with.

The generators are checked on their own (cheap, large samples), then a small demo is built
into a SQLite database and every text column of every table is scanned.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, time
from functools import lru_cache
from importlib.resources import files

import pytest
from sqlalchemy import Engine, inspect, select, text
from stdnum.cn import uscc

from govloop.core.clock import now
from govloop.core.db import make_engine, set_engine, unit_of_work
from govloop.core.migrate import upgrade
from govloop.core.models import User
from govloop.demo import catalog, city, field, households, ingest
from govloop.demo.hall import seed as hall_demo
from govloop.demo.hotline import kb as kb_demo
from govloop.demo.hotline import seed as hotline_demo
from govloop.demo.hotline.orders import generate_orders
from govloop.demo.platform import STEPS
from govloop.hall.waits import clear_stats_cache
from govloop.hotline.models import KbArticleVersion, WorkOrder
from govloop.org import hours
from govloop.org.models import Hall
from govloop.setup import sheets
from govloop.subjects.identifiers import check_resident_id, region_name
from govloop.subjects.normalize import to_simplified

# A run of 2–4 characters ending in 省, 市, 区 or 县: a place name, or a word like 小区.
PLACE = re.compile(r"[\u4e00-\u9fff]{2,4}?[省市区县]")
# Words that end like a place name and are none
COMMON_WORDS = (
    "小区", "社区", "本市", "全市", "城市", "夜市", "早市", "超市", "学区", "片区", "厂区",
    "园区", "景区", "街区", "城区", "市区", "辖区", "外省", "跨省",
)  # fmt: skip
# ... and words that start with the suffix character: 市民, 区域, 市妇幼保健院
SUFFIX_WORDS = (
    "市民", "市场", "市容", "市政", "区域", "市妇幼", "市第", "市中医", "市中心", "市人民",
    "市儿童", "区人民",
)  # fmt: skip
RESIDENT_ID = re.compile(r"(?<![0-9A-Z])\d{17}[\dX](?![0-9A-Z])")
CODES = {d.code for d in city.DISTRICTS}


@lru_cache(maxsize=1)
def real_places() -> frozenset[str]:
    """Names of the national division table (GB/T 2260, historic names included): provinces,
    prefectures and county-level units, of three characters or more (城区, 郊区 are words)."""
    table = (files("stdnum") / "cn" / "loc.dat").read_text(encoding="utf-8")
    names = set()
    for found in re.finditer(r'(?:province|county)="([^"]*)"', table):
        for name in re.sub(r"\[[^\]]*\]", "", found.group(1)).split(","):
            if len(name) >= 3:
                names.add(name)
    return frozenset(names)


def _plain(value: str) -> str:
    return to_simplified(unicodedata.normalize("NFKC", value))


def foreign_places(value: str) -> list[str]:
    """The place names in ``value`` that are not the demo city's (traditional characters and
    full-width forms read as their plain forms)."""
    plain = _plain(value)
    known = city.place_names()
    real = real_places()
    out = []
    for found in PLACE.finditer(plain):
        word = found.group()
        if word.endswith(COMMON_WORDS) or any(word.endswith(name) for name in known):
            continue
        is_real = any(word[-k:] in real for k in range(3, len(word) + 1))
        if is_real or not plain.startswith(SUFFIX_WORDS, found.end() - 1):
            out.append(word)
    return out


def assert_in_city(texts: Iterable[object], what: str) -> None:
    bad = {}
    for value in texts:
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False, default=str)
        if isinstance(value, str) and (found := foreign_places(value)):
            bad[value[:80]] = found
    assert not bad, f"{what}: places outside {city.CITY}: {list(bad.items())[:5]}"


def assert_city_address(address: str | None) -> None:
    """A demo address, as written in full or without the city, names a district of it."""
    if address is None:
        return
    local = _plain(address).removeprefix(city.CITY)
    assert local.startswith(tuple(city.BY_NAME)), address


def assert_city_ids(values: Iterable[str | None]) -> int:
    """Valid resident ID numbers carry a district's region code; returns how many."""
    valid = 0
    for value in values:
        if value and check_resident_id(value).valid:
            assert check_resident_id(value).value[:6] in CODES, value
            valid += 1
    return valid


def test_the_scanner_finds_places_of_other_cities():
    assert foreign_places("福建省福州市鼓楼区五四路1号") == ["福建省", "福州市", "鼓楼区"]
    assert foreign_places("浙江省杭州市西湖区文三路") == ["浙江省", "杭州市", "西湖区"]
    assert foreign_places("我住在滨江区") and foreign_places("临江区江滨大道 100 号")
    assert foreign_places("我在城关区") and foreign_places("乌鲁木齐市天山区")
    # the city itself, written in traditional characters or not, and words like 小区
    assert foreign_places(city.HALL.address + "瀾江市明湖區") == []
    assert foreign_places("停水的小区，希望市场监管部门管管，我在市妇幼保健院") == []


# --- the gazetteer -------------------------------------------------------------------


def test_the_gazetteer_is_one_fictional_city():
    names = [d.name for d in city.DISTRICTS]
    assert len(set(names)) == len(names) >= 6
    assert {n[-1] for n in names} <= {"区", "县"}
    # fictional: none of its names is in the national division table
    assert not ({city.CITY, *names} & real_places())
    assert city.CITY.startswith(city.CITY_SHORT) and region_name(city.CITY_CODE) is not None
    for d in city.DISTRICTS:
        # one prefecture's block of region codes, each known to the ID validator
        assert d.code[:4] == city.CITY_CODE[:4] and region_name(d.code) is not None, d.code
        assert len(d.roads) >= 2 and len(set(d.roads)) == len(d.roads), d.name
        assert len(set(d.subdistricts)) == len(d.subdistricts) >= 6, d.name
        assert all(s.endswith(("街道", "镇", "乡")) for s in d.subdistricts), d.name
        assert not foreign_places(d.full_name + "".join(d.roads + d.subdistricts))
    assert len(CODES) == len(city.DISTRICTS)
    hall = city.HALL
    assert hall.district in city.BY_NAME and hall.road in city.district(hall.district).roads
    assert hall.address.startswith(city.CITY + hall.district)


def test_the_benchmark_has_enough_places_for_its_default_size():
    combos = sum(len(m.scenarios) * len(kb_demo._aspects(m)) for m in kb_demo.MATTERS)
    assert combos * len(kb_demo.PLACES) >= 50_000  # `govloop bench kb-search`
    assert all(p.startswith(tuple(city.BY_NAME)) for p in kb_demo.PLACES)


# --- the generators ------------------------------------------------------------------


def test_households_live_and_move_within_the_city():
    persons = households.household_persons(600, seed=5)
    full_names = tuple(d.full_name for d in city.DISTRICTS)
    for address in [*persons["address"], *persons["old_address"].dropna()]:
        assert address.startswith(full_names), address
    assert persons["old_address"].notna().sum() > 20  # people still move
    assert assert_city_ids(persons["id_number"]) == len(persons)
    # the hard cases stay: households share one address; twins, one birth date
    per_household = persons.groupby("household_id")
    assert (per_household["address"].nunique() == 1).all() and (per_household.size() > 1).any()
    children = persons[persons["role"] == "child"]
    assert children.groupby(["household_id", "birth_date"]).size().gt(1).any()
    records = households.household_records(persons, seed=6)
    assert_in_city(records["address"], "household records")
    for address in records["address"]:
        assert_city_address(address)
    assert assert_city_ids(records["id_number"]) > len(records) // 2


def test_platform_generators_use_the_city():
    rng = random.Random(1)
    today = datetime(2026, 11, 20, tzinfo=UTC).date()
    people = [catalog._person(rng, catalog._name(rng), None, today) for _ in range(300)]
    for p in people:
        assert_city_address(p["address"])
    assert assert_city_ids(p["id_number"] for p in people) > 250
    codes = [catalog._credit_code(rng) for _ in range(50)]
    assert all(uscc.is_valid(c) and c[2:8] in CODES for c in codes)

    masters = [field._person(rng, elderly=True) for _ in range(30)]
    masters += [field._enterprise(rng) for _ in range(30)]
    for m in masters:
        assert_city_address(m.attributes["address"])
        assert_in_city(m.attributes.values(), "field subjects")
    assert assert_city_ids(m.attributes.get("id_number") for m in masters) == 30
    assert assert_city_ids(m.attributes.get("legal_rep_id_number") for m in masters) == 30

    rows = list(ingest.person_rows(seed=3, count=300))
    firms = list(ingest.enterprise_rows(seed=3, count=100))
    projects = [json.loads(p) for p in ingest.project_lines(seed=3, count=60) if p.endswith("}")]
    for row in rows:
        assert_city_address(row["户籍地址"])
    for firm in firms:
        assert_city_address(firm["住所"])
        assert firm["统一社会信用代码"][2:8] in CODES
        assert firm["企业名称"].startswith(city.CITY_SHORT)
    for project in projects:
        assert_city_address(project["address"])
        if project["project_code"]:
            assert project["project_code"].split("-")[1] in CODES
    assert assert_city_ids(r["公民身份号码"] for r in rows) > 250
    assert_in_city([*rows, *firms, *projects], "ingest files")


def test_hotline_orders_and_articles_use_the_city():
    orders = generate_orders(
        seed=3,
        count=2000,
        start=datetime(2026, 9, 1, tzinfo=UTC),
        end=datetime(2026, 11, 1, tzinfo=UTC),
    )
    assert {o.district for o in orders} == set(city.BY_NAME)
    assert_in_city((f"{o.title}|{o.content}|{o.address}" for o in orders), "orders")
    for o in orders:
        assert o.address.startswith(city.district(o.district).roads)
    articles = kb_demo.demo_articles(seed=7) + kb_demo.generate_articles(3, 3000)
    assert_in_city(
        (f"{a.title}|{a.question}|{a.answer}|{a.probe}" for a in articles), "knowledge base"
    )
    assert_in_city(kb_demo.caller_queries(3, 300), "caller queries")


def _hours_articles(answers: Iterable[tuple[str, str]]) -> list[str]:
    """Answers of the city-wide 办理地点和时间 articles (place-level ones are titled 【…】)."""
    return [a for title, a in answers if title.endswith(kb_demo.HOURS_ASPECT) and "【" not in title]


def test_articles_state_the_hall_as_configured_whatever_it_is(monkeypatch):
    """The hours, address and phone come from the facts the hall is configured with: change
    them and the articles and the hall's 事项清单 row change with them."""
    other = replace(
        city.HALL,
        road="府前路",
        number=8,
        phone="66019999",
        periods=((time(8, 30), time(12, 0)), (time(13, 30), time(17, 30))),
        weekend_days=(6,),
    )
    monkeypatch.setattr(city, "HALL", other)
    monkeypatch.setattr(hall_demo, "HALL", other)
    (hall_row,) = hall_demo.catalogue_rows()[sheets.HALLS]
    assert hall_row[2:] == (other.address, "08:30-12:00,13:30-17:30", "周六")
    texts = _hours_articles((a.title, a.answer) for a in kb_demo.demo_articles(seed=7))
    assert len(texts) == sum(m.service for m in kb_demo.MATTERS)
    expected = "周一至周五 8:30-12:00、13:30-17:30，周六 8:30-12:00、13:30-17:30（法定节假日除外）"
    for answer in texts:
        assert f"办公时间：{expected}。" in answer
        assert other.address in answer and other.phone in answer


# --- a built demo --------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A small demo (two days of hall and hotline history, every platform step) in SQLite."""
    folder = tmp_path_factory.mktemp("city")
    engine = make_engine(f"sqlite:///{folder / 'demo.db'}")
    upgrade(engine)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVLOOP_DATA_DIR", str(folder / "data"))
        set_engine(engine)
        clear_stats_cache()
        try:
            with unit_of_work() as session:
                world = hall_demo.seed_catalogue(session=session)
                hall_demo.generate_history(session=session, world=world, days=2, seed=7)
            with unit_of_work() as session:
                hotline_demo.generate_history(session=session, now=now(), days=2, seed=7)
                users = {u.username: u for u in session.scalars(select(User))}
                kb_demo.seed_demo_articles(
                    session=session,
                    author=users[hotline_demo.AGENTS[0][0]],
                    reviewer=users[hotline_demo.AGENTS[1][0]],
                )
            for _label, step in STEPS:
                with unit_of_work() as session:
                    loaded = hall_demo.load_world(session=session)
                    assert loaded is not None
                    step(session, 7, loaded.hall.id)
            yield engine
        finally:
            set_engine(None)
            clear_stats_cache()
            engine.dispose()


def _text_values(engine: Engine) -> Iterator[tuple[str, str, str]]:
    """(table, column, value) of every text and JSON value in the database."""
    tables = inspect(engine).get_table_names()
    with engine.connect() as conn:
        for table in tables:
            result = conn.execute(text(f'SELECT * FROM "{table}"'))
            columns = list(result.keys())
            for row in result:
                for column, value in zip(columns, row, strict=True):
                    if isinstance(value, str):
                        yield table, column, value


def test_no_place_outside_the_city_in_the_built_demo(demo_db):
    bad: dict[tuple[str, str], set[str]] = {}
    scanned: set[str] = set()
    ids: list[str] = []
    for table, column, value in _text_values(demo_db):
        scanned.add(table)
        for word in foreign_places(value):
            bad.setdefault((table, column), set()).add(word)
        ids += RESIDENT_ID.findall(unicodedata.normalize("NFKC", value))
    assert not bad, f"places outside {city.CITY}: {bad}"
    # the scan reached the hall, the hotline, the knowledge base, the department records,
    # the subject masters and the field tasks
    assert {"halls", "work_orders", "kb_article_versions", "ingest_records"} <= scanned
    assert {"subject_masters", "field_tasks"} <= scanned
    assert assert_city_ids(ids) > 1000


def test_built_demo_addresses_and_districts_are_the_city(demo_db):
    with unit_of_work(readonly=True) as s:
        hall = s.scalar(select(Hall).where(Hall.code == hall_demo.HALL_CODE))
        assert hall is not None and hall.name == city.HALL.name
        assert_city_address(hall.address)
        districts = set(s.scalars(select(WorkOrder.district).distinct()))
        assert districts and districts <= set(city.BY_NAME)
        masters = s.execute(text("SELECT attributes FROM subject_masters")).scalars().all()
        tasks = s.execute(text("SELECT address FROM field_tasks")).scalars().all()
        payloads = s.execute(text("SELECT payload FROM ingest_records")).scalars().all()
    addresses = [json.loads(a).get("address") for a in masters] + list(tasks)
    for payload in payloads:
        record = json.loads(payload)
        addresses += [record.get("address")]
    assert sum(a is not None for a in addresses) > 1000
    for address in addresses:
        assert_city_address(address)


def test_the_knowledge_base_states_the_hours_the_hall_has(demo_db):
    with unit_of_work(readonly=True) as s:
        hall = s.scalar(select(Hall).where(Hall.code == hall_demo.HALL_CODE))
        assert hall is not None
        periods = [(p.start, p.end) for p in hours.periods_of(hall)]
        stated = city.hours_text(periods, hall.weekend_days)
        answers = _hours_articles(
            s.execute(select(KbArticleVersion.title, KbArticleVersion.answer))
        )
        everything = s.scalars(select(KbArticleVersion.answer)).all()
        hall_name, hall_address = hall.name, hall.address
    assert stated == "周一至周五 9:00-17:00，中午不休息（法定节假日除外）"
    assert len(answers) == sum(m.service for m in kb_demo.MATTERS)
    for answer in answers:
        assert f"办公时间：{stated}。" in answer
        assert hall_name in answer and f"地址：{hall_address}。" in answer
    # no article of the demo states other opening hours
    spans = {span for a in everything for span in re.findall(r"\d{1,2}:\d{2}-\d{1,2}:\d{2}", a)}
    assert spans == {f"{a.hour}:{a:%M}-{b.hour}:{b:%M}" for a, b in periods}
