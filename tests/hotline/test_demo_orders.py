"""The generated 12345 orders: deterministic, varied, realistic enough to train on."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from govloop.demo.hotline.orders import (
    CITY_TZ,
    DISTRICTS,
    TOPICS,
    Surge,
    generate_orders,
)
from govloop.hotline.catalogue import load_catalogue
from govloop.hotline.models import Channel, OrderType, Urgency
from govloop.hotline.orders.routing import holdout_split

START = datetime(2025, 3, 1, tzinfo=UTC)
END = datetime(2025, 5, 1, tzinfo=UTC)


def _orders(seed: int = 7, count: int = 1500, **kwargs):
    return generate_orders(seed=seed, count=count, start=START, end=END, **kwargs)


def test_same_seed_same_orders_other_seed_other_orders():
    assert _orders(count=200) == _orders(count=200)
    assert [o.content for o in _orders(count=200)] != [o.content for o in _orders(8, 200)]


def test_every_category_has_its_own_phrasing():
    catalogue = load_catalogue()
    for spec in catalogue.categories:
        topic = TOPICS.get(spec.code)
        assert topic is not None, f"{spec.code} has no templates"
        assert len(set(topic.contents)) >= 8, spec.code
        assert len(topic.titles) >= 3 and topic.requests and topic.asides, spec.code


def test_orders_cover_the_catalogue_and_follow_it():
    catalogue = load_catalogue()
    orders = _orders()
    assert len(orders) == 1500
    assert {o.category_code for o in orders} == {c.code for c in catalogue.categories}
    for order in orders:
        spec = catalogue.category(order.category_code)
        assert order.department_code == spec.department
        OrderType(order.order_type)
        Urgency(order.urgency)
        Channel(order.channel)
    default_type = sum(
        o.order_type == catalogue.category(o.category_code).order_type for o in orders
    )
    assert 0.7 <= default_type / len(orders) <= 0.9


def test_texts_are_varied_and_within_limits():
    orders = _orders()
    contents = [o.content for o in orders]
    assert len(set(contents)) >= 0.97 * len(contents)
    assert all(30 <= len(c) <= 300 for c in contents)
    assert all(0 < len(o.title) <= 40 for o in orders)
    assert re.search("[\u4e00-\u9fff]", contents[0])
    # a held-out share is new text, not copies of training orders
    train, test = holdout_split([o.category_code for o in orders], 0.2, seed=0)
    seen = {contents[i] for i in train}
    assert sum(contents[i] in seen for i in test) <= 0.01 * len(test)


def test_callers_places_and_shares_look_real():
    orders = _orders()
    n = len(orders)
    assert all(re.fullmatch(r"1[3-9]\d{9}", o.caller_phone) for o in orders)
    assert all(2 <= len(o.caller_name) <= 3 for o in orders)
    assert len({o.caller_phone for o in orders}) > 0.99 * n
    emails = [o.caller_email for o in orders if o.caller_email]
    assert 0 < len(emails) < n and all("@" in e for e in emails)
    assert all(o.district in DISTRICTS for o in orders)
    assert {o.district for o in orders} == set(DISTRICTS)
    for o in orders:
        lat, long, roads = DISTRICTS[o.district]
        assert abs(o.lat - lat) <= 0.02 and abs(o.long - long) <= 0.02
        assert o.address.startswith(roads)
    channels = Counter(o.channel for o in orders)
    assert 0.58 <= channels[Channel.PHONE] / n <= 0.72
    assert channels[Channel.OPEN311] > 0 and channels[Channel.EMAIL] > 0
    assert 0.02 <= sum(o.urgency == Urgency.URGENT for o in orders) / n <= 0.09
    assert 0.02 <= sum(o.confidential for o in orders) / n <= 0.09


def test_arrivals_fall_in_the_window_mostly_on_weekday_daytime():
    orders = _orders()
    assert all(START <= o.created_at < END and o.created_at.tzinfo is not None for o in orders)
    assert [o.created_at for o in orders] == sorted(o.created_at for o in orders)
    local = [o.created_at.astimezone(CITY_TZ) for o in orders]
    assert sum(8 <= t.hour < 18 for t in local) / len(local) >= 0.65
    assert sum(t.weekday() < 5 for t in local) / len(local) > 5 / 7 + 0.05


def test_a_surge_adds_one_incident_and_leaves_the_other_orders_alone():
    day = date(2025, 4, 10)
    surge = Surge(day=day, category_code="SW-WATER", district="明湖区", extra=15, theme="停水")
    base = _orders(count=300)
    with_surge = _orders(count=300, surges=[surge])
    extra = [o for o in with_surge if o.theme]
    assert len(with_surge) == 315 and len(extra) == 15
    assert [o for o in with_surge if not o.theme] == base
    assert all(o.created_at.astimezone(CITY_TZ).date() == day for o in extra)
    assert {(o.category_code, o.district) for o in extra} == {("SW-WATER", "明湖区")}
    assert all("停水" in o.title + o.content for o in extra)
    assert len({o.address.split("号", 1)[1] for o in extra}) == 1  # one compound
    default_theme = _orders(count=10, surges=[Surge(day=day, category_code="CG-NOISE")])
    assert sum(o.theme == TOPICS["CG-NOISE"].theme for o in default_theme) == 20


def test_bad_windows_are_refused():
    with pytest.raises(ValueError):
        generate_orders(seed=1, count=5, start=datetime(2025, 1, 1), end=END)
    with pytest.raises(ValueError):
        generate_orders(seed=1, count=5, start=END, end=START)
