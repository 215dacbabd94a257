"""Hot topics: clusters of similar orders, category and district surges, the stored alerts
and the timed job, on generated orders (demo_orders) on both backends."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import pytest
from sqlalchemy import func, insert, select

from govloop.core.calendar import is_workday
from govloop.core.clock import frozen, local_tz
from govloop.core.db import unit_of_work
from govloop.core.errors import BadRequest, Conflict, NotFound, PermissionDenied
from govloop.demo.hotline.orders import GeneratedOrder, Surge, generate_orders
from govloop.hotline.models import TopicAlert, TopicAlertKind, WorkOrder
from govloop.hotline.topics import detect as topics_detect
from govloop.hotline.topics import queries as topics_queries
from govloop.hotline.topics import service as topics
from tests.hotline.factories import HotlineWorld, build_world

CLUSTER_DAY = date(2025, 11, 20)  # a Thursday
_numbers = itertools.count(1)


@pytest.fixture
def world(db):
    with unit_of_work() as s:
        w = build_world(s)
    topics.forget_scans()
    return w


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=local_tz())


def after(day: date, hours: float = 2) -> datetime:
    """A moment ``hours`` after the local midnight that ends ``day``."""
    return (local_midnight(day + timedelta(days=1)) + timedelta(hours=hours)).astimezone(UTC)


def load_orders(world: HotlineWorld, orders: Sequence[GeneratedOrder], **override) -> list[int]:
    """Insert generated orders as work-order rows (fast); their ids in the same order."""
    rows = [
        {
            "number": f"T{next(_numbers):010d}",
            "channel": o.channel,
            "order_type": o.order_type,
            "urgency": o.urgency,
            "title": o.title,
            "content": o.content,
            "category_id": world.categories[o.category_code],
            "status": "accepted",
            "caller_name": o.caller_name,
            "caller_phone": o.caller_phone,
            "district": o.district,
            "address": o.address,
            "created_at": o.created_at,
            "updated_at": o.created_at,
            "attributes": {},
        }
        | override
        for o in orders
    ]
    with unit_of_work() as s:
        return list(s.scalars(insert(WorkOrder).returning(WorkOrder.id), rows))


@lru_cache
def cluster_week(extra: int = 10) -> tuple[GeneratedOrder, ...]:
    """~100 orders a day for the week before CLUSTER_DAY and on it, with ``extra`` callers
    about a water cut at one compound on CLUSTER_DAY."""
    surge = Surge(day=CLUSTER_DAY, category_code="SW-WATER", district="明湖区", extra=extra)
    return tuple(
        generate_orders(
            seed=11,
            count=800,
            start=local_midnight(CLUSTER_DAY - timedelta(days=7)),
            end=local_midnight(CLUSTER_DAY + timedelta(days=1)),
            surges=[surge] if extra else [],
        )
    )


def load_cluster_week(world: HotlineWorld, **override) -> list[int]:
    """The ids of the injected orders."""
    orders = cluster_week()
    ordinary = [o for o in orders if o.theme is None]
    injected = [o for o in orders if o.theme is not None]
    load_orders(world, ordinary)
    return load_orders(world, injected, **override)


def alert_rows(s, day: date) -> list[tuple[str, str, int]]:
    return list(
        s.execute(
            select(TopicAlert.kind, TopicAlert.key, TopicAlert.count)
            .where(TopicAlert.day == day)
            .order_by(TopicAlert.id)
        )
    )


# ---- clusters --------------------------------------------------------------------------


def test_injected_cluster_is_the_only_topic_of_the_day(world):
    injected = load_cluster_week(world)
    with unit_of_work(readonly=True) as s:
        n_day = s.scalar(
            select(func.count(WorkOrder.id)).where(
                WorkOrder.created_at >= local_midnight(CLUSTER_DAY),
                WorkOrder.created_at < local_midnight(CLUSTER_DAY + timedelta(days=1)),
            )
        )
        assert 100 <= n_day <= 140  # ~10 similar orders among ~100 varied ones
        clusters = topics.cluster_day(session=s, day=CLUSTER_DAY)
    assert len(clusters) == 1
    (cluster,) = clusters
    assert sorted(cluster.order_ids) == sorted(injected)
    assert "停水" in cluster.terms
    assert (cluster.category_code, cluster.category_name, cluster.district) == (
        "SW-WATER",
        "供水",
        "明湖区",
    )
    assert cluster.callers == 10
    # nothing like it in the week before
    assert cluster.baseline is not None and cluster.baseline < 0.5
    assert cluster.p_value is not None and cluster.p_value < 1e-6


def test_ordinary_days_have_no_clusters(world):
    load_orders(world, cluster_week(extra=0))
    with unit_of_work(readonly=True) as s:
        assert topics.cluster_day(session=s, day=CLUSTER_DAY) == []
        assert topics.cluster_day(session=s, day=CLUSTER_DAY - timedelta(days=1)) == []


def test_one_caller_ringing_ten_times_is_not_a_topic(world):
    load_cluster_week(world, caller_phone="13900001111")
    with unit_of_work(readonly=True) as s:
        assert topics.cluster_day(session=s, day=CLUSTER_DAY) == []
        # fewer callers than min_size is the rule: with a smaller min_size it shows
        assert topics.cluster_day(session=s, day=CLUSTER_DAY, min_size=1) != []


def test_find_clusters_is_deterministic_and_needs_enough_documents():
    docs = [["停水", "阳光", "花园", "小区"]] * 6 + [["噪音", "广场舞"], ["公积金", "提取"]]
    first = topics_detect.find_clusters(docs)
    assert first == topics_detect.find_clusters(docs)
    assert [g.members for g in first] == [[0, 1, 2, 3, 4, 5]]
    assert "停水" in first[0].terms and "噪音" not in first[0].terms
    assert first[0].baseline is None  # no background days: nothing to compare with
    assert topics_detect.find_clusters(docs[:4]) == []
    # the same six orders on each of the days before are no news
    background = {date(2025, 11, d): [["停水", "阳光", "花园", "小区"]] * 6 for d in range(1, 8)}
    assert topics_detect.find_clusters(docs, background) == []


# ---- surges ----------------------------------------------------------------------------

SURGE_FIRST = date(2025, 10, 24)
SURGE_DAY = date(2025, 12, 11)  # a Thursday, the 49th day
ORDINARY_DAYS = [SURGE_DAY - timedelta(days=i) for i in range(20, 0, -1)]


@lru_cache
def seven_weeks() -> tuple[GeneratedOrder, ...]:
    return tuple(
        generate_orders(
            seed=23,
            count=4900,
            start=local_midnight(SURGE_FIRST),
            end=local_midnight(SURGE_DAY + timedelta(days=1)),
        )
    )


@lru_cache
def property_extra(n: int) -> tuple[GeneratedOrder, ...]:
    """``n`` more ordinary (varied) property complaints on SURGE_DAY."""
    pool = generate_orders(
        seed=99,
        count=2000,
        start=local_midnight(SURGE_DAY) + timedelta(hours=8),
        end=local_midnight(SURGE_DAY) + timedelta(hours=20),
    )
    return tuple([o for o in pool if o.category_code == "ZJ-PROPERTY"][:n])


def count_on(world: HotlineWorld, code: str, day: date) -> int:
    with unit_of_work(readonly=True) as s:
        return (
            s.scalar(
                select(func.count(WorkOrder.id)).where(
                    WorkOrder.category_id == world.categories[code],
                    WorkOrder.created_at >= local_midnight(day),
                    WorkOrder.created_at < local_midnight(day + timedelta(days=1)),
                )
            )
            or 0
        )


def test_category_surge_is_found_and_ordinary_days_stay_quiet(world):
    load_orders(world, seven_weeks())
    # ordinary days: all alerts (clusters and surges) over 20 days, every category and
    # district, stay at most one
    with frozen(after(SURGE_DAY)), unit_of_work() as s:
        raised = [a for d in ORDINARY_DAYS for a in topics.scan_day(session=s, day=d).alerts]
        assert topics.detect_surges(session=s, day=SURGE_DAY) == []
    assert len(raised) <= 1, [(a.day, a.kind, a.key, a.p_value) for a in raised]

    # property complaints on the working days of the four weeks before, and on the day
    reference = topics_detect.reference_days(SURGE_DAY, SURGE_DAY - timedelta(days=28), is_workday)
    usual = sum(count_on(world, "ZJ-PROPERTY", d) for d in reference) / len(reference)
    on_the_day = count_on(world, "ZJ-PROPERTY", SURGE_DAY)
    # twice the usual number more, in ordinary (varied) words: about three times the usual
    extra = property_extra(round(2 * usual))
    load_orders(world, extra)
    with unit_of_work(readonly=True) as s:
        surges = topics.detect_surges(session=s, day=SURGE_DAY)
    hits = [x for x in surges if x.kind == TopicAlertKind.SURGE_CATEGORY]
    assert [x.key for x in hits] == ["ZJ-PROPERTY"]
    (hit,) = hits
    assert hit.label == "物业服务"
    assert hit.count == on_the_day + len(extra)
    assert hit.ratio >= 2.5
    assert hit.p_value < 1e-4
    assert hit.reference_days == len(reference) >= 18
    assert len(hit.order_ids) == hit.count and hit.terms


def test_small_jumps_are_not_surges():
    day = date(2025, 12, 11)
    reference = [day - timedelta(days=i) for i in range(1, 21)]
    flat = {d: 1 for d in reference}
    series = {
        "one_to_three": flat | {day: 3},  # ×3, but only three orders
        "ten_to_fourteen": {d: 10 for d in reference} | {day: 14},  # ordinary noise
        "ten_to_forty": {d: 10 for d in reference} | {day: 40},
    }
    totals = {d: 100 for d in reference} | {day: 130}
    tests = {t.key: t for t in topics_detect.assess_day(day, series, totals, reference)}
    assert "one_to_three" not in tests  # below the minimum count: never tested
    assert not tests["ten_to_fourteen"].surge and tests["ten_to_fourteen"].p_value > 0.05
    assert tests["ten_to_forty"].surge and tests["ten_to_forty"].p_value < 1e-8


def test_upper_tail_widens_with_overdispersion_and_short_history():
    calm = [10] * 20
    wild = [2, 18, 5, 15, 10, 3, 17, 9, 11, 10] * 2  # same mean, far more spread
    assert topics_detect.upper_tail(20, calm)[1] < topics_detect.upper_tail(20, wild)[1]
    assert topics_detect.upper_tail(20, calm)[1] < topics_detect.upper_tail(20, calm[:4])[1]
    mu, p = topics_detect.upper_tail(0, [0, 0, 0, 0])
    assert mu > 0 and p == 1.0


# ---- alerts ----------------------------------------------------------------------------


def test_scan_stores_alerts_and_a_rescan_updates_them(world):
    load_cluster_week(world)
    with frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        first = topics.scan_day(session=s, day=CLUSTER_DAY)
        assert first.created == len(first.alerts) >= 1 and first.updated == 0
        rows = alert_rows(s, CLUSTER_DAY)
        ids = [a.id for a in first.alerts]
    clusters = [r for r in rows if r[0] == TopicAlertKind.CLUSTER]
    assert len(clusters) == 1 and clusters[0][2] == 10
    # any surge is the water cut's category or district, nothing else
    assert {(k, key) for k, key, _n in rows if k != TopicAlertKind.CLUSTER} <= {
        (TopicAlertKind.SURGE_CATEGORY, "SW-WATER"),
        (TopicAlertKind.SURGE_DISTRICT, "明湖区"),
    }
    with frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        again = topics.scan_day(session=s, day=CLUSTER_DAY)
        assert (again.created, again.updated) == (0, len(ids))
        assert [a.id for a in again.alerts] == ids
        assert alert_rows(s, CLUSTER_DAY) == rows

    # three more callers later that day: the same alert grows, under the same key
    again_calling = [o for o in cluster_week() if o.theme is not None][:3]
    load_orders(world, again_calling, caller_phone="13700000000")
    with frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        topics.scan_day(session=s, day=CLUSTER_DAY)
        grown = [r for r in alert_rows(s, CLUSTER_DAY) if r[0] == TopicAlertKind.CLUSTER]
    assert len(grown) == 1 and grown[0][1] == clusters[0][1]
    assert grown[0][2] == 13


def test_acknowledge_records_who_and_when(world):
    load_cluster_week(world)
    moment = after(CLUSTER_DAY, hours=3)
    with frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        alert_id = topics.scan_day(session=s, day=CLUSTER_DAY).alerts[0].id
    with pytest.raises(PermissionDenied), unit_of_work() as s:
        topics.acknowledge(session=s, alert_id=alert_id, actor=world.handlers["CG"])
    with pytest.raises(NotFound), unit_of_work() as s:
        topics.acknowledge(session=s, alert_id=alert_id + 999, actor=world.agent)
    with frozen(moment), unit_of_work() as s:
        topics.acknowledge(session=s, alert_id=alert_id, actor=world.agent)
    with unit_of_work(readonly=True) as s:
        alert = s.get(TopicAlert, alert_id)
        assert (alert.acknowledged_by, alert.acknowledged_at) == (world.agent.id, moment)
        assert topics.recent_alerts(session=s, unacknowledged_only=True, today=CLUSTER_DAY) == [
            a for a in topics.recent_alerts(session=s, today=CLUSTER_DAY) if a.id != alert_id
        ]
    with pytest.raises(Conflict), frozen(moment + timedelta(hours=1)), unit_of_work() as s:
        topics.acknowledge(session=s, alert_id=alert_id, actor=world.agent)
    with unit_of_work(readonly=True) as s:
        assert s.get(TopicAlert, alert_id).acknowledged_at == moment  # unchanged
    # a rescan keeps the acknowledgement
    with frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        topics.scan_day(session=s, day=CLUSTER_DAY)
        assert s.get(TopicAlert, alert_id).acknowledged_by == world.agent.id


def test_bad_days_are_refused_and_store_nothing(world):
    with pytest.raises(BadRequest) as info:
        topics_queries.parse_day("2025-13-01")
    assert info.value.code == "bad_day"
    assert topics_queries.parse_day("  ") is None
    with pytest.raises(BadRequest), frozen(after(CLUSTER_DAY)), unit_of_work() as s:
        topics.scan_day(session=s, day=CLUSTER_DAY + timedelta(days=2))
    with unit_of_work(readonly=True) as s:
        assert s.scalar(select(func.count(TopicAlert.id))) == 0


def test_run_daily_scans_yesterday_and_today_and_skips_when_nothing_changed(world):
    injected = load_cluster_week(world)
    today = CLUSTER_DAY + timedelta(days=1)
    with frozen(after(CLUSTER_DAY, hours=9)), unit_of_work() as s:
        results = topics.run_daily(session=s, today=today)
        assert [r.day for r in results] == [CLUSTER_DAY, today]
        assert any(sorted(c.order_ids) == sorted(injected) for c in results[0].clusters)
    with frozen(after(CLUSTER_DAY, hours=9)), unit_of_work() as s:
        assert topics.run_daily(session=s, today=today) == []
    load_orders(world, cluster_week()[:1], created_at=after(CLUSTER_DAY, hours=8))
    with frozen(after(CLUSTER_DAY, hours=9)), unit_of_work() as s:
        assert [r.day for r in topics.run_daily(session=s, today=today)] == [today]
        assert s.scalar(select(func.count(TopicAlert.id)).where(TopicAlert.day == CLUSTER_DAY))


def test_the_timed_job_reads_and_stores_in_separate_transactions(world):
    # The clustering reads in a read-only unit of work (on SQLite intake keeps the write
    # lock meanwhile); the alerts are stored afterwards. Orders that arrive in between are
    # not taken as scanned: the next run scans their day again.
    injected = load_cluster_week(world)
    today = CLUSTER_DAY + timedelta(days=1)
    with frozen(after(CLUSTER_DAY, hours=9)):
        with unit_of_work(readonly=True) as s:
            found = topics.find_due(session=s, today=today)
        assert [d.day for d in found] == [CLUSTER_DAY, today]
        load_orders(world, cluster_week()[:1], created_at=after(CLUSTER_DAY, hours=8))
        with unit_of_work() as s:
            results = topics.store_due(session=s, found=found, today=today)
        assert any(sorted(c.order_ids) == sorted(injected) for c in results[0].clusters)
        with unit_of_work(readonly=True) as s:
            stored = s.scalar(
                select(func.count(TopicAlert.id)).where(TopicAlert.day == CLUSTER_DAY)
            )
            assert stored and stored == len(results[0].alerts)
            again = topics.find_due(session=s, today=today)
        # the new order is in today's window (as in the test above), not yesterday's
        assert [d.day for d in again] == [today]
        with unit_of_work() as s:
            topics.store_due(session=s, found=again, today=today)
        with unit_of_work(readonly=True) as s:
            assert topics.find_due(session=s, today=today) == []
