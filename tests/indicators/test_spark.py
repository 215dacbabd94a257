"""The same indicator figures on DuckDB and on Spark (pyspark in local mode).

Generated hall and rating events for two halls are copied into two stores; DuckDB derives
the facts of one and computes the default framework, Spark does the same with the other,
through the same SQL. Every figure must agree, and so must the facts both derived. A
hotline week run through the real workflow covers the city-wide work orders, and a hall's
matters (tests/matters/indicator_scenario.py) the matter indicators.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pytest
from pyspark.sql import SparkSession

from govloop.analytics.store import CITY, Store
from govloop.bench.indicators.generate import START, generate
from govloop.core.clock import frozen
from govloop.core.db import unit_of_work
from govloop.indicators import service
from govloop.indicators.engine import Engine, Values
from govloop.indicators.framework import default_framework
from govloop.indicators.periods import Period, periods_between
from govloop.indicators.spark_engine import SparkEngine, to_spark_sql
from govloop.matters.delivery import registry
from govloop.org import service as org_service
from tests.hotline.dashboard_scenario import FRIDAY_DEC_11, build_week
from tests.matters.indicator_scenario import FIGURES, build_matters
from tests.matters.indicator_scenario import local as matter_local

HALLS, DAYS = 2, 12  # 2025-01-01..12: seven working days, about 19,000 tickets
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkSession]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java: no `java` on PATH")
    from govloop.indicators.spark_engine import local_session

    started = time.perf_counter()
    session = local_session()
    TIMINGS["spark_session_start"] = time.perf_counter() - started
    yield session
    session.stop()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory, spark: SparkSession) -> tuple[Store, Store]:
    root = tmp_path_factory.mktemp("spark")
    generate(root / "duckdb", HALLS, DAYS, seed=11)
    shutil.copytree(root / "duckdb", root / "spark")
    duck, sparky = Store(root / "duckdb"), Store(root / "spark")
    started = time.perf_counter()
    with Engine(duck) as engine:
        engine.build_stale_facts()
    TIMINGS["duckdb_facts"] = time.perf_counter() - started
    started = time.perf_counter()
    with SparkEngine(sparky, spark) as engine:
        engine.build_stale_facts()
    TIMINGS["spark_facts"] = time.perf_counter() - started
    return duck, sparky


def both(
    stores: tuple[Store, Store],
    spark: SparkSession,
    periods: dict[int, list[Period]],
    timed: str = "",
    kinds: list[str] | None = None,
    by_slot: bool = False,
) -> tuple[Values, Values]:
    """The default framework's figures on DuckDB and on Spark (``timed``: keep the times)."""
    framework = default_framework()
    started = time.perf_counter()
    with Engine(stores[0]) as engine:
        duck = engine.compute(framework, periods, kinds=kinds, by_slot=by_slot)
    middle = time.perf_counter()
    with SparkEngine(stores[1], spark) as engine:
        sparked = engine.compute(framework, periods, kinds=kinds, by_slot=by_slot)
    if timed:
        TIMINGS[f"duckdb_{timed}"] = middle - started
        TIMINGS[f"spark_{timed}"] = time.perf_counter() - middle
    return duck, sparked


def assert_same(duck: Values, sparked: Values) -> int:
    """Every (object, indicator, period) of one is in the other with the same value."""
    assert duck.codes == sparked.codes and duck.keys == sparked.keys

    def table(values: Values) -> dict[tuple[object, ...], dict[str, float]]:
        frame = values.frame
        rows = frame[[*values.keys, "_volume", *values.codes]].to_dict(orient="records")
        return {tuple(r[k] for k in values.keys): r for r in rows}

    left, right = table(duck), table(sparked)
    assert left, "no figures computed"
    assert set(left) == set(right)
    compared = 0
    for key, row in left.items():
        other = right[key]
        for code in ["_volume", *duck.codes]:
            a, b = float(row[code]), float(other[code])
            if math.isnan(a) or math.isnan(b):
                assert math.isnan(a) and math.isnan(b), (key, code, a, b)
            else:
                assert b == pytest.approx(a, rel=1e-9, abs=1e-12), (key, code, a, b)
                compared += 1
    return compared


def test_monthly_figures_are_the_same(stores, spark):
    months = periods_between("month", START, START + timedelta(days=DAYS - 1))
    halls = stores[0].halls()
    assert halls == [1, 2]
    duck, sparked = both(stores, spark, {h: months for h in halls}, timed="month_compute")
    compared = assert_same(duck, sparked)
    kinds = set(duck.frame["object_kind"])
    assert {"hall", "department", "window", "staff", "item"} <= kinds
    # quantiles, rates, means and ratings all have values to compare
    assert compared > 1000
    for code in ("wait_p90", "satisfaction_rate", "on_post_rate", "appointment_punctuality"):
        assert duck.frame[code].notna().any(), code
    # same-run times for docs/benchmarks.md (shown with -s)
    print("spark vs duckdb (s):", ", ".join(f"{k}={v:.2f}" for k, v in sorted(TIMINGS.items())))


def test_daily_slots_of_halls_wanting_other_days_are_the_same(stores, spark):
    days = periods_between("day", date(2025, 1, 6), date(2025, 1, 8))
    # two halls wanting different days: two groups, the second appended to the first
    duck, sparked = both(stores, spark, {1: days, 2: days[:2]}, kinds=["hall"], by_slot=True)
    assert len(set(duck.frame["slot"])) > 10 and set(duck.frame["hall_id"]) == {1, 2}
    assert assert_same(duck, sparked) > 100


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the OLTP side is not compared
def test_city_wide_hotline_figures_are_the_same(db, spark, tmp_path, monkeypatch):
    """Work orders from the real workflow, read per hall through the city-wide facts."""
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path / "duckdb"))
    build_week()
    with frozen(FRIDAY_DEC_11), unit_of_work() as s:
        assert service.refresh(session=s).exported["work_order_events"] > 0
        hall_id = org_service.get_hall(session=s, code="H1").id
    duck = service.default_store()  # facts built by the refresh, with DuckDB
    shutil.copytree(duck.root, tmp_path / "spark", ignore=shutil.ignore_patterns("facts"))
    sparky = Store(tmp_path / "spark")
    with SparkEngine(sparky, spark) as engine:
        engine.build_stale_facts()
    assert sparky.fact_files("work_orders", CITY, ["2026-11"])
    # a custom range: periods joined by range rather than truncated days
    weeks = [Period(date(2026, 11, 20), date(2026, 12, 4), "custom")]
    duck_values, spark_values = both((duck, sparky), spark, {hall_id: weeks})
    assert assert_same(duck_values, spark_values) > 10
    departments = duck_values.frame[duck_values.frame["object_kind"] == "department"]
    assert departments["hotline_return_rate"].notna().sum() == 2  # CG and SWJT


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)  # the OLTP side is not compared
def test_matter_figures_are_the_same(db, spark, tmp_path, monkeypatch):
    """Matters from the real workflow (decided on time and late, a 补正 pause, posted and
    collected), their facts and figures derived by both engines."""
    monkeypatch.setenv("GOVLOOP_DATA_DIR", str(tmp_path / "duckdb"))
    registry.install(None)  # the courier simulator keeps its state in the data directory
    try:
        build_matters()
    finally:
        registry.install(None)
    with frozen(matter_local(10, 16, 9)), unit_of_work() as s:
        assert service.refresh(session=s).exported["matter_events"] > 0
        hall_id = org_service.get_hall(session=s, code="H1").id
    duck = service.default_store()
    shutil.copytree(duck.root, tmp_path / "spark", ignore=shutil.ignore_patterns("facts"))
    sparky = Store(tmp_path / "spark")
    with SparkEngine(sparky, spark) as engine:
        engine.build_stale_facts()
    con = duckdb.connect()
    reads = [
        f"read_parquet({st.fact_files('matters', hall_id, ['2026-09'])!r})" for st in (duck, sparky)
    ]
    assert con.execute(f"SELECT count(*) FROM {reads[0]}").fetchall() == [(7,)]
    for a, b in ((reads[0], reads[1]), (reads[1], reads[0])):
        assert con.execute(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").fetchall() == []
    for periods in (
        periods_between("month", date(2026, 9, 1), date(2026, 10, 31)),
        [Period(date(2026, 9, 28), date(2026, 10, 4), "custom")],
    ):
        duck_values, spark_values = both((duck, sparky), spark, {hall_id: periods})
        assert assert_same(duck_values, spark_values) > 10
        hall = duck_values.frame[duck_values.frame["object_kind"] == "hall"].iloc[0]
        for code, want in FIGURES[("hall", "H1")].items():
            assert hall[code] == pytest.approx(want), code


def test_spark_built_the_same_facts(stores, spark):
    """The facts layer itself: the same rows per relation, compared with DuckDB."""
    con = duckdb.connect()
    for relation in ("visits", "sessions", "appointments", "ratings", "visit_cube"):
        reads = []
        for store in stores:
            files = [f for h in store.halls() for f in store.fact_files(relation, h, ["2025-01"])]
            assert files, relation
            reads.append(f"read_parquet({files!r})")
        duck, sparked = reads
        [(rows,)] = con.execute(f"SELECT count(*) FROM {duck}").fetchall()
        assert rows > 0
        assert con.execute(f"SELECT count(*) FROM {sparked}").fetchall() == [(rows,)], relation
        for a, b in ((duck, sparked), (sparked, duck)):
            diff = con.execute(f"SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}").fetchall()
            assert diff == [], (relation, diff[:3])


def test_dialect_keeps_duckdb_semantics(spark):
    """arg_max skips NULL values in DuckDB; the Spark spelling must too."""
    sql = (
        "SELECT g, arg_max(v, id) AS last_v, quantile_cont(x, 0.9) AS q,"
        " epoch(max(t) - min(t)) AS span_s FROM (VALUES"
        " (1, 1, 10, 1e0, TIMESTAMP '2025-01-01 09:00:00'),"
        " (1, 2, NULL, 2e0, TIMESTAMP '2025-01-01 09:00:30.5'),"
        " (1, 3, NULL, 4e0, TIMESTAMP '2025-01-01 10:00:00'),"
        " (2, 4, 7, 3e0, TIMESTAMP '2025-01-02 09:00:00')) AS r(g, id, v, x, t)"
        " GROUP BY g ORDER BY g"
    )
    want = duckdb.sql(sql).fetchall()
    got = [tuple(r) for r in spark.sql(to_spark_sql(sql)).collect()]
    assert want == [(1, 10, pytest.approx(3.6), 3600.0), (2, 7, 3.0, 0.0)]
    assert got == [pytest.approx(row) for row in want]
    assert to_spark_sql("arg_max((a << 32) | b, id) FILTER (WHERE k = 1)") == (
        "max_by((a << 32) | b, CASE WHEN ((a << 32) | b) IS NOT NULL THEN id END)"
        " FILTER (WHERE k = 1)"
    )
    with pytest.raises(ValueError, match="timestamp difference"):
        to_spark_sql("epoch(x)")
