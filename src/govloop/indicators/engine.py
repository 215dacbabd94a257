"""The KPI engine: indicator values per object and period, computed with DuckDB.

For each hall the engine derives the fact relations it needs (``facts.py``) from the
hall's Parquet partitions, aggregates every measure the framework uses for every object
kind in one ``GROUPING SETS`` query per relation, and finally evaluates each indicator's
formula, compiled to SQL, over the joined measure columns. One hall at a time keeps the
memory bounded by the largest hall, not by the whole province.

City-wide relations (the hotline's work orders) are stored once, under the pseudo hall
``CITY``, and read for each hall through ``CITY_READ_SQL`` (see facts.py and measures.py).
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from govloop.analytics.store import CITY, FACT_RELATIONS, Store, month_key, months_between
from govloop.core.settings import analytics_settings
from govloop.indicators import formula as fml
from govloop.indicators.facts import (
    CITY_READ_SQL,
    CUBE_MEASURES,
    CUBE_SQL,
    EMPTY_RATINGS,
    EXPORTED_FACTS,
    FACTS_SQL,
    OBJECT_COLUMNS,
    SOURCE_VIEWS,
)
from govloop.indicators.framework import Framework
from govloop.indicators.measures import MEASURES, RELATIONS
from govloop.indicators.periods import Period

KEY_COLUMNS = ["hall_id", "object_kind", "object_id", "period_start", "period_end"]
VOLUME = fml.MeasureRef("tickets")


def column(ref: fml.MeasureRef) -> str:
    return f'"m_{ref.key}"'


def _sql_list(values: Iterable[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


@dataclass
class Values:
    """Indicator values: one row per (hall, object, period[, slot]); a column per leaf."""

    frame: pd.DataFrame
    codes: list[str]
    by_slot: bool = False

    @property
    def keys(self) -> list[str]:
        return KEY_COLUMNS + (["slot"] if self.by_slot else [])


class Engine:
    def __init__(
        self,
        store: Store,
        *,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.store = store
        limits = analytics_settings()
        threads = limits.duckdb_threads if threads is None else threads
        memory_limit = limits.duckdb_memory_limit if memory_limit is None else memory_limit
        self.con = duckdb.connect()
        self.con.execute(f"SET threads={int(threads)}")
        self.con.execute(f"SET memory_limit='{memory_limit}'")
        self.con.execute("SET preserve_insertion_order=false")
        # seconds spent per step in the last compute (the benchmark reports them)
        self.timings: dict[str, float] = {}

    @contextmanager
    def _timed(self, step: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[step] = self.timings.get(step, 0.0) + time.perf_counter() - started

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- backend: the few statements that differ between DuckDB and Spark ------------------
    # Everything else is the same SQL text; spark_engine.SparkEngine overrides these.

    def _parquet(self, files: Sequence[str]) -> str:
        """A relation over some Parquet files, for use in FROM."""
        return f"read_parquet({_sql_list(files)}, hive_partitioning = false)"

    def _view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def _table(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def _append(self, name: str, sql: str) -> None:
        self.con.execute(f"INSERT INTO {name} BY NAME {sql}")

    def _frame(self, sql: str) -> pd.DataFrame:
        return self.con.execute(sql).df()

    def _write_by_month(self, sql: str, folder: Path) -> None:
        """Write the rows of a query as Parquet under ``folder/month=YYYY-MM/``."""
        self.con.execute(
            f"COPY (SELECT *, strftime(day, '%Y-%m') AS month FROM ({sql}))"
            f" TO '{folder}' (FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE)"
        )

    # --- inputs ---------------------------------------------------------------------------

    def _load_dims(self) -> None:
        for name in ("halls", "hall_periods", "items", "windows", "hall_departments"):
            path = self.store.dim_path(name)
            if path.exists():
                self._table(name, f"SELECT * FROM {self._parquet([str(path)])}")
        if not self.store.has_dims():
            self._table(
                "halls",
                "SELECT CAST(NULL AS INTEGER) AS id, CAST(NULL AS STRING) AS code,"
                " CAST(NULL AS INTEGER) AS opens_s, CAST(NULL AS INTEGER) AS closes_s LIMIT 0",
            )
            self._table(
                "items",
                "SELECT CAST(NULL AS INTEGER) AS id, CAST(NULL AS INTEGER) AS department_id,"
                " CAST(NULL AS DOUBLE) AS promised_s LIMIT 0",
            )
        if not self.store.dim_path("hall_periods").exists():
            # a store exported before hours had versions: today's hours on every day
            self._table(
                "hall_periods",
                "SELECT id AS hall_id, DATE '2000-01-01' AS valid_from,"
                " DATE '9999-12-31' AS valid_to, opens_s AS start_s, closes_s AS end_s"
                " FROM halls",
            )
        if not self.store.dim_path("hall_departments").exists():
            self._table(
                "hall_departments",
                "SELECT CAST(NULL AS INTEGER) AS hall_id, CAST(NULL AS INTEGER) AS department_id"
                " LIMIT 0",
            )

    def build_facts(self, source: str, hall_id: int, months: Sequence[str]) -> None:
        """Derive the fact relations of some partitions of one hall from their raw rows."""
        view = SOURCE_VIEWS[source]
        self._load_dims()
        files = self.store.files(source, hall_id, months)
        relations = FACT_RELATIONS[source]
        if not files:
            for relation in relations:
                for month in months:
                    self.store.replace_facts(relation, hall_id, month, None)
            return
        self._view(view, f"SELECT * FROM {self._parquet(files)}")
        (self.store.root / "facts").mkdir(parents=True, exist_ok=True)
        for relation in relations:
            staging = (
                self.store.root / "facts" / f".staging-{relation}-{hall_id}-{secrets.token_hex(4)}"
            )
            if relation == "visit_cube":  # from the visits just built
                built_visits = self.store.fact_files("visits", hall_id, months)
                if not built_visits:
                    for month in months:
                        self.store.replace_facts(relation, hall_id, month, None)
                    continue
                self._view("visits_built", f"SELECT * FROM {self._parquet(built_visits)}")
                sql = CUBE_SQL
            else:
                sql = FACTS_SQL[relation][1]
            with self._timed(f"facts_{relation}"):
                self._write_by_month(sql, staging)
            for month in months:
                built = staging / f"month={month}"
                self.store.replace_facts(
                    relation, hall_id, month, built if built.exists() else None
                )
            shutil.rmtree(staging, ignore_errors=True)
        for month in months:
            self.store.mark_built(source, hall_id, month)

    def build_stale_facts(self) -> dict[str, int]:
        """Rebuild the facts of every partition whose raw rows changed; count per source."""
        counts: dict[str, int] = {}
        for source in FACT_RELATIONS:
            stale = self.store.stale_partitions(source)
            for hall_id, months in stale.items():
                self.build_facts(source, hall_id, months)
            counts[source] = sum(len(m) for m in stale.values())
        return counts

    def _facts_view(
        self, relation: str, hall_ids: Sequence[int], lo: date, hi: date, name: str = ""
    ) -> bool:
        months = months_between(lo, hi)
        if relation in CITY_READ_SQL:
            return self._city_view(relation, hall_ids, lo, hi, name or "f_" + relation)
        files = [f for h in hall_ids for f in self.store.fact_files(relation, h, months)]
        if not files:
            return False
        self._view(
            name or "f_" + relation,
            f"SELECT * FROM {self._parquet(files)}"
            f" WHERE day BETWEEN DATE '{lo.isoformat()}' AND DATE '{hi.isoformat()}'",
        )
        return True

    def _city_view(
        self, relation: str, hall_ids: Sequence[int], lo: date, hi: date, name: str
    ) -> bool:
        """A city-wide relation as the given halls see it (False: no facts)."""
        files = self.store.fact_files(relation, CITY, months_between(lo, hi))
        if not files or not hall_ids:
            return False
        self._load_dims()
        # ratings of an order come after it was accepted: every month from the first on
        first = month_key(lo)
        rating_months = [m for m in self.store.fact_months("ratings", CITY) if m >= first]
        rating_files = self.store.fact_files("ratings", CITY, rating_months)
        ratings = self._parquet(rating_files) if rating_files else EMPTY_RATINGS
        # the relation's own columns, spelled out (portable: no star modifiers)
        columns = ", ".join(
            f"w.{name}" for name in pq.read_schema(files[0]).names if name != "hall_id"
        )
        sql = CITY_READ_SQL[relation].format(
            facts=self._parquet(files),
            columns=columns,
            ratings=ratings,
            halls=", ".join(str(int(h)) for h in hall_ids),
            lo=lo.isoformat(),
            hi=hi.isoformat(),
        )
        self._view(name, sql)
        return True

    def read_facts(
        self, relation: str, hall_id: int, lo: date, hi: date, columns: Sequence[str]
    ) -> pd.DataFrame | None:
        """The rows of one fact relation of a hall between two days (None: no facts)."""
        if not self._facts_view(relation, [hall_id], lo, hi):
            return None
        return self._frame(f"SELECT {', '.join(columns)} FROM f_{relation} ORDER BY day, slot")

    # --- aggregation ---------------------------------------------------------------------

    def _aggregate_sql(
        self,
        relation: str,
        refs: Sequence[fml.MeasureRef],
        kinds: Sequence[str],
        grain: str,
        by_slot: bool,
        cube: bool = False,
    ) -> str | None:
        """The aggregation query of one relation, or None if it measures none of ``kinds``."""
        rel = RELATIONS[relation]
        kinds = [k for k in kinds if k in rel.objects]
        if not kinds:
            return None
        key_cols = [OBJECT_COLUMNS[k] for k in kinds if k != "hall"]
        custom = grain == "custom"
        base = ["hall_id", "period_start"] + (["period_end"] if custom else [])
        base += ["slot"] if by_slot else []
        sets = ", ".join(
            "(" + ", ".join(base + ([OBJECT_COLUMNS[k]] if k != "hall" else [])) + ")"
            for k in kinds
        )
        kind_case = "CASE " + " ".join(
            f"WHEN GROUPING({c}) = 0 THEN '{k}'"
            for k, c in ((k, OBJECT_COLUMNS[k]) for k in kinds if k != "hall")
        )
        kind_expr = f"{kind_case} ELSE 'hall' END" if key_cols else "'hall'"
        id_case = "CASE " + " ".join(f"WHEN GROUPING({c}) = 0 THEN {c}" for c in key_cols)
        id_expr = f"{id_case} ELSE hall_id END" if key_cols else "hall_id"

        def periods_of(table: str) -> str:
            if custom:
                return (
                    f"SELECT f.*, p.period_start, p.period_end FROM {table} f"
                    " JOIN wanted p ON f.day BETWEEN p.period_start AND p.period_end"
                )
            trunc = "day" if grain == "day" else f"CAST(date_trunc('{grain}', day) AS DATE)"
            return f"SELECT *, {trunc} AS period_start FROM {table}"

        source = periods_of(f"f_{relation}")
        keys = ", ".join(base)
        head = f"SELECT {keys}, {kind_expr} AS object_kind, {id_expr} AS object_id"
        # Counts and sums add up: aggregate once at the finest grain (every object column),
        # then roll the small result up per object kind. Quantiles do not add up: they are
        # computed from the facts for each kind.
        # With the visit cube, parameter-free counts and sums come from the cube.
        in_cube = {m.name for m in CUBE_MEASURES} if cube else set()
        if cube:
            additive = [r for r in refs if r.name in in_cube and not r.params]
            fine_source = periods_of("c_visits")
        else:
            additive = [r for r in refs if MEASURES[r.name].additive]
            fine_source = "SELECT * FROM src"
        other = [r for r in refs if r not in additive]
        parts = []
        if additive:
            # visits and appointments take their department from the item: leave it out of
            # the fine grain and look it up on the (small) fine result
            by_item = relation in ("visits", "appointments") and {
                "department_id",
                "item_id",
            } <= set(key_cols)
            fine_cols = [c for c in key_cols if not (by_item and c == "department_id")]
            fine_keys = ", ".join(base + fine_cols)
            fine_measures = ", ".join(
                f"sum({column(r)}) AS {column(r)}"
                if cube
                else f"{MEASURES[r.name].render(r.params)} AS {column(r)}"
                for r in additive
            )
            fine = f"SELECT {fine_keys}, {fine_measures} FROM ({fine_source}) GROUP BY {fine_keys}"
            if by_item:
                fine = (
                    f"SELECT fine.*, it.department_id FROM ({fine}) fine"
                    " LEFT JOIN items it ON it.id = fine.item_id"
                )
            rollup = ", ".join(f"sum({column(r)}) AS {column(r)}" for r in additive)
            parts.append(
                f"SELECT * FROM ({head}, {rollup} FROM ({fine})"
                f" GROUP BY GROUPING SETS ({sets})) WHERE object_id IS NOT NULL"
            )
        if other:
            measures = ", ".join(
                f"{MEASURES[r.name].render(r.params)} AS {column(r)}" for r in other
            )
            parts.append(
                f"SELECT * FROM ({head}, {measures} FROM src GROUP BY GROUPING SETS ({sets}))"
                " WHERE object_id IS NOT NULL"
            )
        join_keys = ", ".join([*base, "object_kind", "object_id"])
        body = (
            parts[0]
            if len(parts) == 1
            else f"SELECT * FROM ({parts[0]}) FULL JOIN ({parts[1]}) USING ({join_keys})"
        )
        if not custom:  # keep the wanted periods only, and give them their end
            body = f"SELECT a.*, w.period_end FROM ({body}) a JOIN wanted w USING (period_start)"
        return f"WITH src AS ({source}) {body}"

    # --- public ---------------------------------------------------------------------------

    def compute(
        self,
        framework: Framework,
        periods: Mapping[int, Sequence[Period]],
        *,
        kinds: Sequence[str] | None = None,
        by_slot: bool = False,
    ) -> Values:
        """Values of every leaf indicator for the halls and periods given.

        ``periods`` maps a hall id to the periods wanted for it; all periods in one call
        share a grain (day, week, month or custom). Halls that want the same periods are
        computed together, in one query per fact relation.
        """
        leaves = framework.leaves()
        codes = [leaf.code for leaf in leaves]
        refs = framework.measure_refs()
        if VOLUME.key not in {r.key for r in refs}:
            refs.append(VOLUME)
        grains = {p.kind for ps in periods.values() for p in ps}
        if len(grains) > 1:
            raise ValueError(f"one grain per call, got {sorted(grains)}")
        grain = grains.pop() if grains else "month"
        wanted_kinds = (
            list(kinds) if kinds else sorted(set().union(*(leaf.applies_to for leaf in leaves)))
        )
        by_relation: dict[str, list[fml.MeasureRef]] = {}
        for ref in refs:
            by_relation.setdefault(MEASURES[ref.name].relation, []).append(ref)
        computable = [
            r
            for r in by_relation
            if (r in FACTS_SQL or r in EXPORTED_FACTS) and (not by_slot or RELATIONS[r].slotted)
        ]
        self.timings = {}
        self._load_dims()
        groups: dict[tuple[Period, ...], list[int]] = {}
        for hall_id, hall_periods in periods.items():
            if hall_periods:
                groups.setdefault(tuple(sorted(set(hall_periods))), []).append(hall_id)
        created: set[str] = set()
        for group_periods, hall_ids in groups.items():
            lo = min(p.start for p in group_periods)
            hi = max(p.end for p in group_periods)
            rows = ", ".join(
                f"(DATE '{p.start.isoformat()}', DATE '{p.end.isoformat()}')" for p in group_periods
            )
            self._table("wanted", f"SELECT * FROM (VALUES {rows}) AS w(period_start, period_end)")
            for relation in computable:
                if not self._facts_view(relation, hall_ids, lo, hi):
                    continue
                cube = (
                    relation == "visits"
                    and not by_slot
                    and self._facts_view("visit_cube", hall_ids, lo, hi, name="c_visits")
                )
                agg = self._aggregate_sql(
                    relation, by_relation[relation], wanted_kinds, grain, by_slot, cube
                )
                if agg is None:
                    continue
                with self._timed(f"aggregate_{relation}"):
                    if relation in created:
                        self._append(f"agg_{relation}", agg)
                    else:
                        self._table(f"agg_{relation}", agg)
                        created.add(relation)
        with self._timed("evaluate"):
            return self._evaluate(framework, refs, sorted(created), by_relation, codes, by_slot)

    def _evaluate(
        self,
        framework: Framework,
        refs: list[fml.MeasureRef],
        created: list[str],
        by_relation: dict[str, list[fml.MeasureRef]],
        codes: list[str],
        by_slot: bool,
    ) -> Values:
        keys = KEY_COLUMNS + (["slot"] if by_slot else [])
        if not created:
            frame = pd.DataFrame(columns=[*keys, "_volume", *codes])
            return Values(frame, codes, by_slot)
        key_list = ", ".join(keys)
        union = " UNION ".join(f"SELECT {key_list} FROM agg_{r}" for r in created)
        joins = " ".join(f"LEFT JOIN agg_{r} USING ({key_list})" for r in created)
        available = {r.key for rel in created for r in by_relation[rel]}
        selects = [
            column(r) if r.key in available else f"CAST(NULL AS DOUBLE) AS {column(r)}"
            for r in refs
        ]
        self._table("measures", f"SELECT k.*, {', '.join(selects)} FROM ({union}) k {joins}")
        formulas = []
        for leaf in framework.leaves():
            assert leaf.tree is not None
            kinds = ", ".join(f"'{k}'" for k in sorted(leaf.applies_to))
            formulas.append(
                f"CASE WHEN object_kind IN ({kinds}) THEN {fml.to_sql(leaf.tree, column)}"
                f' END AS "{leaf.code}"'
            )
        frame = self._frame(
            f"SELECT {key_list}, CAST({column(VOLUME)} AS DOUBLE) AS _volume,"
            f" {', '.join(formulas)} FROM measures ORDER BY {key_list}"
        )
        for name in ("period_start", "period_end"):
            frame[name] = pd.to_datetime(frame[name]).dt.date
        for code in codes:
            frame[code] = frame[code].astype(float)
        frame["_volume"] = frame["_volume"].astype(float).fillna(0.0)
        frame["object_id"] = frame["object_id"].astype(np.int64)
        frame["hall_id"] = frame["hall_id"].astype(np.int64)
        return Values(frame, codes, by_slot)

    def measures_frame(self) -> pd.DataFrame:
        """The joined measure columns of the last compute (for drill-down and tests)."""
        return self._frame("SELECT * FROM measures")

    def fact_rows(
        self,
        relation: str,
        hall_id: int,
        period: Period,
        object_kind: str,
        object_id: int,
        limit: int,
    ) -> tuple[int, list[dict[str, object]]]:
        """The fact rows of one object and period (the events behind a figure, folded per
        visit, session, appointment or rating): how many there are and the first ``limit``."""
        if not self._facts_view(relation, [hall_id], period.start, period.end):
            return 0, []
        where = (
            ""
            if object_kind == "hall"
            else f"WHERE {OBJECT_COLUMNS[object_kind]} = {int(object_id)}"
        )
        total = self._frame(f"SELECT count(*) AS n FROM f_{relation} {where}")["n"].iloc[0]
        frame = self._frame(f"SELECT * FROM f_{relation} {where} ORDER BY ALL LIMIT {int(limit)}")
        rows = []
        for record in frame.to_dict(orient="records"):
            rows.append(
                {
                    k: (None if isinstance(v, float) and np.isnan(v) else _plain(v))
                    for k, v in record.items()
                }
            )
        return int(total), rows


def _plain(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
