"""The person linkage on Splink's Spark backend (Spark local mode, one session).

Training runs a Spark job per EM iteration, minutes on a busy two-core machine, so the model
is trained on DuckDB and Spark scores and clusters the records with it: the same model must
give the same links on both backends.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from govloop.subjects.generate import population
from govloop.subjects.linkage import link_persons, local_spark_session

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime (java is not on PATH)")
    pytest.importorskip("pyspark", reason="pyspark is not installed")
    session = local_spark_session()
    try:
        yield session
    finally:
        session.stop()


def test_spark_backend_links_like_duckdb(spark: Any) -> None:
    records = population(100, seed=21)
    on_duckdb = link_persons(records)
    on_spark = link_persons(records, backend="spark", spark=spark, model=on_duckdb.model)
    cluster = on_spark.cluster_of()
    assert sorted(cluster) == sorted(records["record_key"])
    person = dict(zip(records["record_key"], records["person_id"], strict=True))
    linked = on_spark.pairs[on_spark.pairs["match_probability"] >= 0.9]
    assert len(linked) > 0.7 * (len(records) - records["person_id"].nunique())
    pairs = zip(linked["record_key_l"], linked["record_key_r"], strict=True)
    same = [person[a] == person[b] for a, b in pairs]
    assert sum(same) / len(same) >= 0.97

    def pair_set(result: Any) -> set[tuple[str, str]]:
        kept = result.pairs[result.pairs["match_probability"] >= 0.9]
        pairs = zip(kept["record_key_l"], kept["record_key_r"], strict=True)
        return {(min(a, b), max(a, b)) for a, b in pairs}

    spark_pairs, duck_pairs = pair_set(on_spark), pair_set(on_duckdb)
    assert len(spark_pairs ^ duck_pairs) <= 0.02 * len(duck_pairs)
