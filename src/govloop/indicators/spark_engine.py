"""The KPI engine on Spark: the same SQL as the DuckDB engine, run through Spark SQL.

``SparkEngine`` is ``Engine`` with another backend: it reads the same Parquet store,
derives the facts layer with the queries of facts.py and aggregates with the engine's own
queries, so the indicator formulas exist once. Only the statements that differ are
overridden (views over Parquet files, temporary tables, partitioned writes), and the SQL
text goes through ``to_spark_sql``, a small dialect layer for the few DuckDB functions
Spark spells differently:

* ``quantile_cont(x, q)`` → ``percentile(x, q)`` — exact, linear interpolation (not
  ``percentile_approx``, which gives other figures);
* ``arg_max(a, b)`` → ``max_by(a, CASE WHEN a IS NOT NULL THEN b END)`` — DuckDB skips
  rows whose ``a`` is NULL, Spark's ``max_by`` does not;
* ``epoch(x - y)`` (seconds of a timestamp difference) → ``unix_micros`` arithmetic;
* ``to_seconds(n)`` → ``make_dt_interval(0, 0, 0, n)``.

The rest is common to both: ``FILTER (WHERE …)`` clauses, ``GROUPING SETS``,
``date_trunc``, ``bool_or``, ``any_value``, bit shifts. Double-quoted identifiers are
read as identifiers (``spark.sql.ansi.doubleQuotedIdentifiers``), timestamps without a
time zone as timestamps in the session time zone, UTC, which keeps their wall clock.

In CI Spark runs in local mode (``local_session``); in production ``SparkEngine`` takes a
session of the cluster, and the store's root must then be a path every executor reads.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from govloop.analytics.store import Store
from govloop.indicators.engine import Engine

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Settings every session needs to read the engine's SQL and store the way DuckDB does.
SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}


def local_session(
    *, master: str = "local[2]", driver_memory: str = "1g", app_name: str = "govloop-indicators"
) -> SparkSession:
    """A small local Spark session (tests, CLI): two cores, 1 GB, no UI, UTC."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
    )
    for key, value in SQL_CONF.items():
        builder = builder.config(key, value)
    # Jars only load when the JVM starts: carry Splink's similarity functions from the first
    # session on, so record linkage can run on Spark in the same process.
    try:
        from splink.backends.spark import similarity_jar_location

        builder = builder.config("spark.jars", similarity_jar_location())
    except ImportError:
        pass
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


# --- dialect ------------------------------------------------------------------------------


def _call_end(sql: str, open_at: int) -> int:
    """Index of the parenthesis closing the one at ``open_at`` (quotes respected)."""
    depth, quote = 0, ""
    for i in range(open_at, len(sql)):
        ch = sql[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses in SQL: {sql[open_at : open_at + 60]!r}")


def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` where it is outside parentheses and quotes."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i].strip())
            start = i + len(sep)
            i = start
            continue
        i += 1
    parts.append(text[start:].strip())
    return parts


def _rewrite_calls(sql: str, name: str, rewrite: Callable[[list[str]], str]) -> str:
    """Replace every call ``name(args…)`` (innermost calls included) by ``rewrite(args)``."""
    pattern = re.compile(rf"\b{name}\s*\(", re.IGNORECASE)
    out, pos = [], 0
    while (match := pattern.search(sql, pos)) is not None:
        open_at = match.end() - 1
        close_at = _call_end(sql, open_at)
        args = [
            _rewrite_calls(a, name, rewrite) for a in _split_top(sql[open_at + 1 : close_at], ",")
        ]
        out.append(sql[pos : match.start()])
        out.append(rewrite(args))
        pos = close_at + 1
    out.append(sql[pos:])
    return "".join(out)


def _arg_max(args: list[str]) -> str:
    value, order = args
    return f"max_by({value}, CASE WHEN ({value}) IS NOT NULL THEN {order} END)"


def _epoch(args: list[str]) -> str:
    (interval,) = args
    operands = _split_top(interval, " - ")
    if len(operands) != 2:
        raise ValueError(f"epoch() of a timestamp difference only, got {interval!r}")
    end, start = operands
    return f"(CAST(unix_micros({end}) - unix_micros({start}) AS DOUBLE) / 1000000)"


def _percentile(args: list[str]) -> str:
    return f"percentile({', '.join(args)})"


def _to_seconds(args: list[str]) -> str:
    return f"make_dt_interval(0, 0, 0, {args[0]})"


_REWRITES: tuple[tuple[str, Callable[[list[str]], str]], ...] = (
    ("quantile_cont", _percentile),
    ("arg_max", _arg_max),
    ("epoch", _epoch),
    ("to_seconds", _to_seconds),
)


def to_spark_sql(sql: str) -> str:
    """The engine's DuckDB SQL in Spark SQL's spelling (see the module docstring)."""
    for name, rewrite in _REWRITES:
        sql = _rewrite_calls(sql, name, rewrite)
    return sql


# --- engine -------------------------------------------------------------------------------


class SparkEngine(Engine):
    """``Engine`` on a Spark session: same store, same SQL, same ``Values``.

    The session belongs to the caller (one per process is the Spark way); ``close`` drops
    the temporary views this engine made, not the session.
    """

    # small inputs (dimension files, the wanted periods): read where used, not materialised
    LAZY_TABLES = frozenset(
        {"halls", "hall_periods", "items", "windows", "hall_departments", "wanted"}
    )

    def __init__(self, store: Store, spark: SparkSession) -> None:
        # no DuckDB connection: every statement goes through the overrides below
        self.store = store
        self.spark = spark
        self.timings: dict[str, float] = {}
        self._names: set[str] = set()
        self._counter = itertools.count()

    def close(self) -> None:
        for name in self._names:
            self.spark.catalog.dropTempView(name)
        self._names.clear()

    def _sql(self, sql: str) -> DataFrame:
        return self.spark.sql(to_spark_sql(sql))

    def _register(self, name: str, frame: DataFrame) -> None:
        # a DataFrame's plan is resolved now: later replacing a view it reads changes nothing
        frame.createOrReplaceTempView(name)
        self._names.add(name)

    def _parquet(self, files: Sequence[str]) -> str:
        # explicit files: no partition columns are inferred from hall_id=/month= folders
        name = f"_parquet_{next(self._counter)}"
        self._register(name, self.spark.read.parquet(*files))
        return name

    def _view(self, name: str, sql: str) -> None:
        self._register(name, self._sql(sql))

    def _table(self, name: str, sql: str) -> None:
        if name in self.LAZY_TABLES:
            self._view(name, sql)
        else:
            self._materialise(name, self._sql(sql))

    def _append(self, name: str, sql: str) -> None:
        self._materialise(name, self.spark.table(name).unionByName(self._sql(sql)))

    def _materialise(self, name: str, frame: DataFrame) -> None:
        # computed once, now, like DuckDB's temporary table: a local checkpoint keeps the
        # rows and cuts the plan, so later queries read them instead of recomputing them
        self._register(name, frame.localCheckpoint(eager=True))

    def _frame(self, sql: str) -> pd.DataFrame:
        return self._sql(sql).toPandas()

    def _write_by_month(self, sql: str, folder: Path) -> None:
        frame = self._sql(f"SELECT *, date_format(day, 'yyyy-MM') AS month FROM ({sql})")
        frame.write.partitionBy("month").mode("overwrite").parquet(str(folder))
