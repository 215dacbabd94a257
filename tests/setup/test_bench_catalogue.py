"""`govloop bench catalogue`: the generated 事项清单 workbook is valid, imports cleanly and
idempotently, and the command prints its figures. Small sizes; nothing here is timed."""

from __future__ import annotations

import json
from collections import defaultdict

from typer.testing import CliRunner

from govloop.bench.catalogue import generate, workbook
from govloop.bench.cli import bench_app
from govloop.core.db import unit_of_work
from govloop.setup import service, sheets
from govloop.setup.validate import PREFIX

KEYS = {
    "items",
    "windows",
    "quotas",
    "users",
    "workbook_bytes",
    "read_s",
    "first_import_s",
    "second_import_s",
    "dry_run_s",
    "import_without_users_s",
    "ratio_first_to_read",
    "goal_s",
    "meets_goal",
    "backend",
}


def _import(data: bytes, *, dry_run: bool = False) -> service.ImportResult:
    with unit_of_work() as s:
        return service.import_files(
            session=s, files=[("事项清单.xlsx", data)], actor=None, source="cli", dry_run=dry_run
        )


def test_the_generated_workbook_imports_cleanly_and_idempotently(db):
    rows = generate(items=60, seed=3, users=8)
    data = workbook(rows)

    first = _import(data)
    assert first.ok, first.problems[:5]
    assert first.applied is not None
    assert {sheet: c["created"] for sheet, c in first.applied.counts.items()} == {
        name: len(rows[name]) for name in sheets.ORDER
    }
    assert len(first.applied.passwords) == 8

    second = _import(data)
    assert second.ok and second.applied is not None
    assert second.applied.changed == 0
    assert all(set(c) == {"unchanged"} for c in second.applied.counts.values())

    dry = _import(data, dry_run=True)
    assert dry.ok and dry.applied is not None and dry.applied.changed == 0


def test_the_generator_is_deterministic_and_shaped_like_a_catalogue():
    rows = generate(items=400, seed=5)
    assert rows == generate(items=400, seed=5)
    assert rows != generate(items=400, seed=6)
    assert len(rows[sheets.DEPARTMENTS]) == 40
    assert sum(1 for d in rows[sheets.DEPARTMENTS] if d[2]) > 20  # a 2-level tree
    assert len(rows[sheets.HALLS]) == 12
    assert (len(rows[sheets.ITEMS]), len(rows[sheets.QUOTAS]), len(rows[sheets.USERS])) == (
        400,
        600,
        80,
    )

    items = {r[0]: r for r in rows[sheets.ITEMS]}
    names = [r[1] for r in rows[sheets.ITEMS]]
    assert len(set(names)) < len(names)  # near- and exact duplicates, as in real catalogues
    for code, _name, _dept, prefix, statutory, promised, *_rest in items.values():
        assert PREFIX.match(prefix), code
        if statutory != "" and promised != "":
            assert promised <= statutory

    served: dict[str, set[str]] = defaultdict(set)
    for hall, _number, _name, kind, listed in rows[sheets.WINDOWS]:
        codes = listed.split(",")
        assert listed != "全部"
        assert kind == ("综合" if len(codes) > 1 else "专窗")
        served[hall].update(codes)
    for hall, codes in served.items():  # no two items of one hall share a ticket prefix
        prefixes = [items[c][3] for c in codes]
        assert len(prefixes) == len(set(prefixes)), hall


def test_the_command_prints_its_figures():
    result = CliRunner().invoke(bench_app, ["catalogue", "--items", "40", "--users", "4"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(figures) >= KEYS
    assert figures["backend"] == "sqlite" and figures["items"] == 40 and figures["users"] == 4
    assert figures["goal_s"] == 30
    assert figures["meets_goal"] == (figures["first_import_s"] < 30)
    assert figures["second_import_changed"] == 0 and figures["dry_run_changed"] == 0
