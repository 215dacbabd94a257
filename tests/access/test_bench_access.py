"""`govloop bench access` in a tiny configuration: the appends through the group appender
and through the real read path, each beside its one-at-a-time baseline, leave one entry
per access in a chain that verifies (figures are timings: only their presence is checked)."""

from __future__ import annotations

from govloop.bench import access as bench


def test_bench_access_appends_and_reads_in_a_tiny_run(db):
    result = bench.run(
        quick=True, backend=db.dialect.name, appends_only=True, appenders=4, accesses=60
    )
    assert result["backend"] == db.dialect.name and result["appenders"] == 4
    assert result["read_entries_per_access"] == 1.0
    assert result["chain_verifies"] is True
    for key in (
        "appends_per_s",
        "baseline_appends_per_s",
        "read_appends_per_s",
        "read_baseline_per_s",
        "single_appends_per_s",
    ):
        assert result[key] > 0, key
    assert 1 <= result["entries_per_group_commit"] <= 4
    if db.dialect.name == "postgresql":
        assert 1 <= result["read_entries_per_group_commit"] <= 4
    else:  # SQLite: reads log in the request's transaction
        assert result["read_entries_per_group_commit"] is None
    assert set(result["goals"]) == {"appends_per_s", "read_appends_per_s"}
