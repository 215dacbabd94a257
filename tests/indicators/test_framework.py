"""The framework file: the shipped default, and bad input named by file, line and indicator."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

from govloop.cli import app
from govloop.core.db import unit_of_work
from govloop.indicators import formula as fml
from govloop.indicators import service
from govloop.indicators.framework import (
    FrameworkInvalid,
    default_framework,
    parse_framework,
)
from govloop.indicators.models import FrameworkVersion

MINIMAL = """\
framework: mini
valid_from: 2026-01-01
dimensions:
  - {code: tangibles, name: {zh: 有形性, en: Tangibles}, weight: 0.2}
  - {code: reliability, name: {zh: 可靠性, en: Reliability}, weight: 0.2}
  - {code: responsiveness, name: {zh: 响应性, en: Responsiveness}, weight: 0.2}
  - {code: assurance, name: {zh: 保证性, en: Assurance}, weight: 0.2}
  - {code: empathy, name: {zh: 关怀性, en: Empathy}, weight: 0.2}
indicators:
  - code: on_post
    name: {zh: 在岗率, en: On post}
    dimension: tangibles
    weight: 1
    applies_to: [hall, window]
    formula: signed_in_s / on_duty_s
    unit: ratio
    direction: higher
    target: 0.9
    source: [hall_events]
  - code: on_time
    name: {zh: 按时办结率, en: On time}
    dimension: reliability
    weight: 1
    applies_to: [hall]
    formula: on_time / served
    unit: ratio
    direction: higher
    target: 0.95
    source: [hall_events]
  - code: waiting
    name: {zh: 等候, en: Waiting}
    dimension: responsiveness
    weight: 1
  - code: wait_mean
    name: {zh: 平均等候, en: Mean wait}
    dimension: responsiveness
    parent: waiting
    weight: 0.5
    applies_to: [hall]
    formula: wait_s_sum / called / 60
    unit: min
    direction: lower
    target: 15
    source: [hall_events]
  - code: wait_p90
    name: {zh: 等候90分位, en: Wait p90}
    dimension: responsiveness
    parent: waiting
    weight: 0.5
    applies_to: [hall]
    formula: wait_quantile(0.9)
    unit: min
    direction: lower
    target: 30
    source: [hall_events]
  - code: satisfaction
    name: {zh: 满意率, en: Satisfaction}
    dimension: assurance
    weight: 1
    applies_to: [hall]
    formula: satisfied / ratings
    unit: ratio
    direction: higher
    target: 0.98
    source: [rating_events]
  - code: callback
    name: {zh: 回访率, en: Callback}
    dimension: empathy
    weight: 1
    applies_to: [hall]
    formula: real_name_bad_called_back / real_name_bad
    unit: ratio
    direction: higher
    target: 1
    source: [rating_events]
"""


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(needle)


def problems(text: str) -> list:
    with pytest.raises(FrameworkInvalid) as info:
        parse_framework(text, "mini.yaml")
    return info.value.problems


def test_the_default_framework_is_complete():
    framework = default_framework()
    leaves = framework.leaves()
    assert len(leaves) >= 25
    assert [d.code for d in framework.dimensions] == [
        "tangibles",
        "reliability",
        "responsiveness",
        "assurance",
        "empathy",
    ]
    assert all(d.children for d in framework.dimensions)
    for leaf in leaves:
        spec = leaf.spec
        assert spec is not None and spec.name.zh and spec.name.en and spec.source
        assert spec.direction in ("higher", "lower") and spec.target is not None
    codes = {leaf.code for leaf in leaves}
    for wanted in (
        "wait_mean",
        "wait_p90",
        "served_within_20",
        "on_time_completion",
        "one_visit_completion",
        "no_show_rate",
        "priority_wait",
        "appointment_punctuality",
        "window_utilization",
        "on_post_rate",
        "satisfaction_rate",
        "bad_rating_rate",
        "callback_rate",
        "rectification_rate",
        "on_time_rectification_rate",
        "transfer_rate",
        "recall_rate",
        "device_uptime",
        "handling_vs_promised",
    ):
        assert wanted in codes


def test_a_minimal_framework_parses_with_normalized_weights():
    framework = parse_framework(MINIMAL, "mini.yaml")
    assert framework.nodes["wait_mean"].weight == pytest.approx(0.5)
    assert framework.nodes["waiting"].applies_to == frozenset({"hall"})
    percent = MINIMAL.replace("weight: 0.2}", "weight: 20}").replace("weight: 1\n", "weight: 100\n")
    percent = percent.replace("weight: 0.5\n", "weight: 50\n").replace(
        "valid_from", "weight_total: 100\nvalid_from"
    )
    assert parse_framework(percent, "p.yaml").nodes["wait_mean"].weight == pytest.approx(0.5)


def test_unknown_field_names_file_line_and_indicator():
    text = MINIMAL.replace("    unit: min\n", "    unit: min\n    colour: red\n", 1)
    [p] = problems(text)
    assert (p.file, p.line, p.indicator) == ("mini.yaml", line_of(text, "colour"), "wait_mean")
    assert "unknown field 'colour'" in p.message
    assert str(p).startswith(f"mini.yaml:{line_of(text, 'colour')}: indicator wait_mean:")


def test_formula_that_does_not_parse():
    text = MINIMAL.replace("formula: on_time / served", "formula: on_time / (served", 1)
    [p] = problems(text)
    assert p.line == line_of(text, "(served") and p.indicator == "on_time"
    assert "does not parse" in p.message


def test_unknown_measure_and_bad_parameters():
    text = MINIMAL.replace("formula: on_time / served", "formula: on_time / servd", 1)
    [p] = problems(text)
    assert p.indicator == "on_time" and "unknown measure 'servd'" in p.message
    assert p.line == line_of(text, "servd")
    text = MINIMAL.replace("wait_quantile(0.9)", "wait_quantile(1.5)")
    [p] = problems(text)
    assert p.indicator == "wait_p90" and "within 0.0–1.0" in p.message


def test_measure_that_cannot_be_computed_for_an_object_or_source():
    text = MINIMAL.replace(
        "applies_to: [hall]\n    formula: on_time",
        "applies_to: [hall, device]\n    formula: on_time",
    )
    found = problems(text)  # one problem per measure of the formula
    assert {p.indicator for p in found} == {"on_time"}
    assert all("cannot be computed per device" in p.message for p in found)
    text = MINIMAL.replace("    source: [rating_events]\n", "    source: [hall_events]\n", 1)
    found = problems(text)
    assert {p.indicator for p in found} == {"satisfaction"}
    assert all("reads rating_events" in p.message for p in found)


def test_cycle_in_the_tree():
    text = MINIMAL.replace(
        "  - code: waiting\n    name: {zh: 等候, en: Waiting}\n    dimension: responsiveness\n",
        "  - code: waiting\n    name: {zh: 等候, en: Waiting}\n    dimension: responsiveness\n"
        "    parent: queueing\n",
    ).replace(
        "  - code: satisfaction\n",
        "  - code: queueing\n    name: {zh: 排队, en: Queueing}\n    dimension: responsiveness\n"
        "    parent: waiting\n    weight: 1\n  - code: satisfaction\n",
    )
    found = problems(text)
    assert any("cycle in the indicator tree" in p.message for p in found)
    cycle = next(p for p in found if "cycle" in p.message)
    assert cycle.indicator in ("waiting", "queueing") and cycle.line is not None


def test_sibling_weights_must_add_up():
    text = MINIMAL.replace(
        "    parent: waiting\n    weight: 0.5\n", "    parent: waiting\n    weight: 0.6\n", 1
    )
    [p] = problems(text)
    assert p.indicator == "wait_mean" and "add up to 1.1, not 1" in p.message
    assert p.line == line_of(text, "weight: 0.6")
    text = MINIMAL.replace("weight: 0.2}", "weight: 0.25}", 1)
    [p] = problems(text)
    assert "dimension weights add up to 1.05" in p.message


def test_groups_leaves_and_dimensions_are_checked():
    text = MINIMAL.replace(
        "    unit: ratio\n    direction: higher\n    target: 0.9\n",
        "    unit: ratio\n    target: 0.9\n",
        1,
    )
    [p] = problems(text)
    assert p.indicator == "on_post" and "direction is required" in p.message
    text = MINIMAL.replace(
        "  - {code: empathy, name: {zh: 关怀性, en: Empathy}, weight: 0.2}\n", ""
    )
    found = problems(text)
    assert any("'empathy' is missing" in p.message for p in found)


def test_yaml_syntax_error_has_a_line():
    text = MINIMAL.replace(
        "    weight: 1\n    applies_to: [hall, window]",
        "    weight: 1\n    applies_to: [hall, window",
        1,
    )
    [p] = problems(text)
    assert p.line is not None and "not valid YAML" in p.message


def test_duplicate_keys_are_refused():
    text = MINIMAL.replace("    unit: min\n", "    unit: min\n    unit: s\n", 1)
    [p] = problems(text)
    assert "duplicate key 'unit'" in p.message and p.indicator == "wait_mean"


# --- formula language -------------------------------------------------------------------


def test_formula_precedence_and_evaluation():
    tree = fml.parse("a - b / c * 2 + -d")
    cols = {
        "a": np.array([10.0, 1.0]),
        "b": np.array([4.0, 1.0]),
        "c": np.array([2.0, 0.0]),
        "d": np.array([1.0, 1.0]),
    }
    out = fml.evaluate(tree, cols, 2)
    assert out[0] == pytest.approx(10 - 4 / 2 * 2 - 1)
    assert np.isnan(out[1])  # division by zero is "no data"
    sql = fml.to_sql(tree, lambda r: f'"{r.key}"')
    row = duckdb.sql(
        f'SELECT {sql} FROM (SELECT 10 AS "a", 4 AS "b", 2 AS "c", 1 AS "d")'
    ).fetchone()
    assert row is not None and row[0] == pytest.approx(5.0)
    zero = duckdb.sql(
        f'SELECT {sql} FROM (SELECT 1 AS "a", 1 AS "b", 0 AS "c", 1 AS "d")'
    ).fetchone()
    assert zero is not None and zero[0] is None


def test_formula_measures_and_parameters():
    tree = fml.parse("wait_within(20) / called + max(x, 2)")
    assert [m.key for m in fml.measures_of(tree)] == ["wait_within__20", "called", "x"]
    assert fml.MeasureRef("wait_quantile", (0.9,)).key == "wait_quantile__0_9"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "served /",
        "(served",
        "served served",
        "__import__('os')",
        "a.b",
        "f(x)",
        "1 +* 2",
        "served; called",
        "min(served)",
    ],
)
def test_formulas_that_do_not_parse(text):
    with pytest.raises(fml.FormulaError):
        fml.parse(text)


# --- versions: a bad file leaves the framework in force unchanged ------------------------


def test_bad_file_leaves_the_version_in_force(db, tmp_path):
    with unit_of_work() as s:
        version, created = service.load_framework(session=s)
        assert created and version.version == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(MINIMAL.replace("formula: on_time / served", "formula: on_time / servd"))
    result = CliRunner().invoke(app, ["indicators", "load", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:{line_of(bad.read_text(), 'servd')}: indicator on_time:" in result.output
    with unit_of_work() as s:
        assert s.query(FrameworkVersion).count() == 1
        in_force, framework = service.framework_in_force(session=s)
        assert in_force is not None and in_force.version == 1 and framework.name == "default"


def test_versions_keep_history_and_old_periods_use_theirs(db, tmp_path):
    from datetime import date

    with unit_of_work() as s:
        v1, _ = service.load_framework(session=s)
        again, created = service.load_framework(session=s)
        assert not created and again.id == v1.id
    changed = default_framework().text.replace("valid_from: 2020-01-01", "valid_from: 2026-12-01")
    changed = changed.replace("    target: 15\n", "    target: 12\n", 1)
    path = tmp_path / "v2.yaml"
    path.write_text(changed)
    result = CliRunner().invoke(app, ["indicators", "load", str(path)])
    assert result.exit_code == 0, result.output
    with unit_of_work() as s:
        versions = service.list_versions(session=s)
        assert [v.version for v in versions] == [1, 2]
        assert versions[1].yaml_text == changed and len(versions[1].sha256) == 64
        old, fw_old = service.framework_in_force(session=s, on=date(2026, 11, 30))
        new, fw_new = service.framework_in_force(session=s, on=date(2026, 12, 1))
        assert (old.version, new.version) == (1, 2)  # type: ignore[union-attr]
        assert fw_old.nodes["wait_mean"].target == 15 and fw_new.nodes["wait_mean"].target == 12
        # rewriting history is refused
        earlier = changed.replace("valid_from: 2026-12-01", "valid_from: 2026-06-01")
        earlier = earlier.replace("    target: 12\n", "    target: 11\n", 1)
        with pytest.raises(Exception, match="早于现行版本"):
            service.load_framework(session=s, text=earlier)
