"""Indicator rules: framework versions, targets, incremental refresh and reading scores."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from govloop.analytics.export import ExportResult, export_events
from govloop.analytics.store import CITY, Store
from govloop.core.clock import local_today, now
from govloop.core.errors import BadRequest, NotFound, RuleViolation
from govloop.core.models import User
from govloop.core.settings import analytics_settings
from govloop.hall import service as hall_service
from govloop.indicators.engine import Engine
from govloop.indicators.framework import (
    DEFAULT_FRAMEWORK_PATH,
    Framework,
    load_framework_file,
    parse_framework,
)
from govloop.indicators.measures import OBJECT_KINDS
from govloop.indicators.models import FrameworkVersion, IndicatorResult, IndicatorTarget
from govloop.indicators.periods import MATERIALIZED_GRAINS, Period, period_of
from govloop.indicators.schemas import (
    DimensionOut,
    FrameworkNodeOut,
    FrameworkOut,
)
from govloop.indicators.scoring import OVERALL, RULES, Scored, TargetRow, score
from govloop.org import service as org_service
from govloop.org.models import Department, Hall

DEFAULT_NAME = "default"


def default_store() -> Store:
    return Store(analytics_settings().data_dir)


# --- framework versions ------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _compiled(sha256: str, text: str, source: str) -> Framework:
    return parse_framework(text, source)


def compiled(version: FrameworkVersion) -> Framework:
    return _compiled(version.sha256, version.yaml_text, version.source_path or version.name)


def latest_version(*, session: Session, name: str = DEFAULT_NAME) -> FrameworkVersion | None:
    return session.scalar(
        select(FrameworkVersion)
        .where(FrameworkVersion.name == name)
        .order_by(FrameworkVersion.version.desc())
        .limit(1)
    )


def list_versions(*, session: Session, name: str = DEFAULT_NAME) -> Sequence[FrameworkVersion]:
    return session.scalars(
        select(FrameworkVersion)
        .where(FrameworkVersion.name == name)
        .order_by(FrameworkVersion.version)
    ).all()


def load_framework(
    *,
    session: Session,
    path: str | Path | None = None,
    text: str | None = None,
    actor: User | None = None,
) -> tuple[FrameworkVersion, bool]:
    """Validate a framework file and store it as a new version (unless unchanged).

    Returns the version in the database and whether it was created. A file with any
    problem raises :class:`FrameworkInvalid` and changes nothing.
    """
    if text is not None:
        source = str(path or "<upload>")
        framework = parse_framework(text, source)
    else:
        source = str(path or DEFAULT_FRAMEWORK_PATH)
        framework = load_framework_file(source)
    latest = latest_version(session=session, name=framework.name)
    if latest is not None and latest.sha256 == framework.sha256:
        return latest, False
    valid_from = framework.valid_from or local_today()
    if latest is not None and valid_from < latest.valid_from:
        raise RuleViolation(
            f"新版本的生效日期 {valid_from.isoformat()} 早于现行版本 v{latest.version} 的"
            f" {latest.valid_from.isoformat()}；历史周期按当时的版本计分，不能改写",
            code="valid_from_before_current",
        )
    version = FrameworkVersion(
        name=framework.name,
        version=(latest.version + 1) if latest else 1,
        label=framework.label,
        yaml_text=framework.text,
        sha256=framework.sha256,
        valid_from=valid_from,
        source_path=source,
        loaded_at=now(),
        loaded_by=actor.id if actor else None,
    )
    session.add(version)
    session.flush()
    return version, True


def version_in_force(versions: Sequence[FrameworkVersion], on: date) -> FrameworkVersion | None:
    """The latest version valid on ``on``; before the first one, the first one."""
    if not versions:
        return None
    valid = [v for v in versions if v.valid_from <= on]
    if not valid:
        return min(versions, key=lambda v: (v.valid_from, v.version))
    return max(valid, key=lambda v: (v.valid_from, v.version))


def framework_in_force(
    *, session: Session, on: date | None = None, name: str = DEFAULT_NAME
) -> tuple[FrameworkVersion | None, Framework]:
    version = version_in_force(list_versions(session=session, name=name), on or local_today())
    if version is None:
        return None, load_framework_file(DEFAULT_FRAMEWORK_PATH)
    return version, compiled(version)


def describe_framework(
    *, session: Session, on: date | None = None, name: str = DEFAULT_NAME
) -> FrameworkOut:
    version, framework = framework_in_force(session=session, on=on, name=name)
    nodes = []
    for node in framework.walk():
        if node.spec is None:
            continue
        spec = node.spec
        nodes.append(
            FrameworkNodeOut(
                code=node.code,
                name_zh=spec.name.zh,
                name_en=spec.name.en,
                dimension=node.dimension,
                parent=spec.parent,
                weight=spec.weight,
                is_group=not node.is_leaf,
                applies_to=sorted(node.applies_to),
                formula=spec.formula,
                unit=spec.unit,
                direction=spec.direction,
                target=spec.target,
                source=spec.source,
                description=spec.description,
            )
        )
    dims: dict[str, Any] = {d.code: d for d in framework.spec.dimensions}
    return FrameworkOut(
        name=framework.name,
        label=framework.label,
        version=version.version if version else None,
        version_id=version.id if version else None,
        sha256=framework.sha256,
        valid_from=version.valid_from if version else framework.valid_from,
        dimensions=[
            DimensionOut(
                code=d.code,
                name_zh=dims[d.code].name.zh,
                name_en=dims[d.code].name.en,
                weight=dims[d.code].weight,
            )
            for d in framework.dimensions
        ],
        indicators=nodes,
    )


# --- targets -----------------------------------------------------------------------------


def _object_id(session: Session, hall: Hall, kind: str, ref: str) -> int:
    if kind == "window":
        return hall_service.get_window(session=session, hall=hall, number=int(ref)).id
    if kind == "item":
        return hall_service.get_item(session=session, code=ref).id
    if kind == "department":
        dept = session.scalar(select(Department).where(Department.code == ref))
        if dept is None:
            raise NotFound(f"未找到部门：{ref}", code="department_not_found")
        return dept.id
    if kind == "staff":
        user = session.scalar(select(User).where(User.username == ref))
        if user is None:
            raise NotFound(f"未找到工作人员：{ref}", code="staff_not_found")
        return user.id
    raise BadRequest(f"对象类型 {kind} 不能单独设定目标", code="invalid_object_kind")


def set_target(
    *,
    session: Session,
    indicator_code: str,
    value: float,
    hall_code: str | None = None,
    object_kind: str = "hall",
    object_ref: str | None = None,
    rule: str = "inherit",
    valid_from: date | None = None,
    actor: User | None = None,
) -> IndicatorTarget:
    """Set a hall's target (with its decomposition rule), a kind-level one or an override."""
    _version, framework = framework_in_force(session=session, on=valid_from)
    node = framework.nodes.get(indicator_code)
    if node is None or not node.is_leaf:
        raise NotFound(f"指标体系中没有指标 {indicator_code}", code="indicator_not_found")
    if object_kind not in OBJECT_KINDS or object_kind == "device":
        raise BadRequest(f"未知的对象类型：{object_kind}", code="invalid_object_kind")
    if object_kind not in node.applies_to:
        raise RuleViolation(
            f"指标 {indicator_code} 不适用于 {object_kind}", code="indicator_not_applicable"
        )
    if rule not in RULES:
        raise BadRequest(f"未知的分解规则：{rule}（{', '.join(RULES)}）", code="invalid_rule")
    if not np.isfinite(value) or value < 0:
        raise BadRequest("目标值必须是非负数", code="invalid_target")
    hall = org_service.get_hall(session=session, code=hall_code) if hall_code else None
    if hall is None and object_kind != "hall":
        raise BadRequest("请指定大厅", code="hall_required")
    object_id = None
    if object_ref is not None:
        if object_kind == "hall" or hall is None:
            raise BadRequest("大厅目标不需要对象编号", code="invalid_object_ref")
        object_id = _object_id(session, hall, object_kind, object_ref)
    start = valid_from or local_today()
    row = IndicatorTarget(
        indicator_code=indicator_code,
        hall_id=hall.id if hall else None,
        object_kind=object_kind,
        object_id=object_id,
        value=float(value),
        rule=rule,
        valid_from=start,
        created_at=now(),
        created_by=actor.id if actor else None,
    )
    session.add(row)
    # Materialized scores of the periods it touches are stale: drop them for the refresh.
    stale = delete(IndicatorResult).where(IndicatorResult.period_end >= start)
    if hall is not None:
        stale = stale.where(IndicatorResult.hall_id == hall.id)
    session.execute(stale)
    session.flush()
    return row


def target_rows(*, session: Session) -> list[TargetRow]:
    return [
        TargetRow(
            indicator_code=t.indicator_code,
            hall_id=t.hall_id,
            object_kind=t.object_kind,
            object_id=t.object_id,
            value=t.value,
            rule=t.rule,
            valid_from=t.valid_from,
        )
        for t in session.scalars(select(IndicatorTarget).order_by(IndicatorTarget.id))
    ]


# --- refresh -----------------------------------------------------------------------------


@dataclass
class RefreshReport:
    exported: dict[str, int] = field(default_factory=dict)
    store_reset: bool = False
    periods: dict[str, int] = field(default_factory=dict)
    results_written: int = 0
    version: int | None = None
    facts_rebuilt: dict[str, int] = field(default_factory=dict)


def _distinct_days(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[date]:
    if not files:
        return set()
    rows = con.execute(
        "SELECT DISTINCT day FROM read_parquet(["
        + ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        + "], hive_partitioning = false)"
    ).fetchall()
    return {r[0] for r in rows}


def _store_days(store: Store, hall_ids: Sequence[int]) -> dict[int, set[date]]:
    """Days with events per hall (its tickets and the matters it accepted); the hotline's
    (city-wide) days count for every hall."""
    days: dict[int, set[date]] = defaultdict(set)
    with duckdb.connect() as con:
        for source in ("hall_events", "matter_events"):
            for hall_id in store.halls(source):
                if hall_id != CITY:
                    days[hall_id].update(_distinct_days(con, store.files(source, hall_id)))
        city = _distinct_days(con, store.files("work_order_events", CITY))
    if city:
        for hall_id in hall_ids:
            days[hall_id].update(city)
    return days


def refresh(
    *,
    session: Session,
    store: Store | None = None,
    grains: Sequence[str] = MATERIALIZED_GRAINS,
    settle_seconds: float = 0,
) -> RefreshReport:
    """Export new events, then recompute only the periods that need it.

    A period is recomputed when it received events since the last refresh, when its
    stored results were scored with a framework version that is no longer the one in
    force for it, or when it has events but no stored results (a new grain, or targets
    changed). If no framework was ever loaded, the shipped default is loaded first.
    """
    store = store or default_store()
    report = RefreshReport()
    versions = list(list_versions(session=session))
    if not versions:
        load_framework(session=session)
        versions = list(list_versions(session=session))
    exported: ExportResult = export_events(
        session=session, store=store, settle_seconds=settle_seconds
    )
    report.exported, report.store_reset = dict(exported.rows), exported.reset
    if exported.reset:
        session.execute(delete(IndicatorResult))

    dirty: dict[tuple[str, int], set[Period]] = defaultdict(set)
    hall_ids = list(session.scalars(select(Hall.id).order_by(Hall.id)))
    # hotline figures are city-wide: their days are every hall's (see measures.py)
    city = {hall_id: exported.city_dirty for hall_id in hall_ids}
    for hall_id, days in [*exported.dirty.items(), *city.items()]:
        if hall_id == CITY:
            continue
        for day in days:
            for grain in grains:
                dirty[(grain, hall_id)].add(period_of(grain, day))
    stored = session.execute(
        select(
            IndicatorResult.hall_id,
            IndicatorResult.period_kind,
            IndicatorResult.period_start,
            IndicatorResult.period_end,
            IndicatorResult.version_id,
        ).distinct()
    ).all()
    have: set[tuple[str, int, date]] = set()
    for hall_id, kind, start, end, version_id in stored:
        have.add((kind, hall_id, start))
        in_force = version_in_force(versions, start)
        if kind in grains and in_force is not None and in_force.id != version_id:
            dirty[(kind, hall_id)].add(Period(start, end, kind))
    for hall_id, days in _store_days(store, hall_ids).items():
        for day in days:
            for grain in grains:
                period = period_of(grain, day)
                if (grain, hall_id, period.start) not in have:
                    dirty[(grain, hall_id)].add(period)

    targets = target_rows(session=session)
    engine = Engine(store)
    try:
        report.facts_rebuilt = engine.build_stale_facts()
        for grain in grains:
            # group the grain's dirty periods by the framework version in force for them
            by_version: dict[int, dict[int, list[Period]]] = defaultdict(lambda: defaultdict(list))
            for (g, hall_id), periods in dirty.items():
                if g != grain:
                    continue
                for period in periods:
                    version = version_in_force(versions, period.start)
                    assert version is not None
                    by_version[version.id][hall_id].append(period)
            count = 0
            for version_id, per_hall in by_version.items():
                version = next(v for v in versions if v.id == version_id)
                framework = compiled(version)
                values = engine.compute(framework, per_hall)
                scored = score(values, framework, targets)
                report.results_written += _materialize(
                    session, version, framework, scored, per_hall
                )
                count += sum(len(p) for p in per_hall.values())
            report.periods[grain] = count
    finally:
        engine.close()
    report.version = version_in_force(versions, local_today()).version  # type: ignore[union-attr]
    session.flush()
    return report


def _materialize(
    session: Session,
    version: FrameworkVersion,
    framework: Framework,
    scored: Scored,
    per_hall: dict[int, list[Period]],
) -> int:
    for hall_id, periods in per_hall.items():
        for period in periods:
            session.execute(
                delete(IndicatorResult).where(
                    IndicatorResult.hall_id == hall_id,
                    IndicatorResult.period_kind == period.kind,
                    IndicatorResult.period_start == period.start,
                )
            )
    frame = scored.values.frame
    moment = now()
    rows: list[dict[str, Any]] = []
    present: set[tuple[int, date]] = set()
    node_codes = [n.code for n in framework.walk()] + [OVERALL]

    def num(x: float) -> float | None:
        return None if x is None or np.isnan(x) else float(x)

    columns = {
        "hall_id": frame["hall_id"].to_numpy(),
        "object_kind": frame["object_kind"].to_numpy(),
        "object_id": frame["object_id"].to_numpy(),
        "period_start": frame["period_start"].to_numpy(),
        "period_end": frame["period_end"].to_numpy(),
    }
    kind_of = {p.start: p.kind for ps in per_hall.values() for p in ps}
    for i in range(len(frame)):
        hall_id = int(columns["hall_id"][i])
        start = columns["period_start"][i]
        if columns["object_kind"][i] == "hall":
            present.add((hall_id, start))
        base = {
            "version_id": version.id,
            "hall_id": hall_id,
            "object_kind": str(columns["object_kind"][i]),
            "object_id": int(columns["object_id"][i]),
            "period_kind": kind_of[start],
            "period_start": start,
            "period_end": columns["period_end"][i],
            "computed_at": moment,
        }
        for code in node_codes:
            s = scored.score[code][i]
            v = scored.value[code][i] if code in scored.value else np.nan
            t = scored.target[code][i] if code in scored.target else np.nan
            if np.isnan(s) and np.isnan(v):
                continue
            rows.append(
                {**base, "node_code": code, "value": num(v), "target": num(t), "score": num(s)}
            )
    # Every computed period gets at least its hall row, so "no data" is stored too.
    for hall_id, periods in per_hall.items():
        for period in periods:
            if (hall_id, period.start) not in present:
                rows.append(
                    {
                        "version_id": version.id,
                        "hall_id": hall_id,
                        "object_kind": "hall",
                        "object_id": hall_id,
                        "period_kind": period.kind,
                        "period_start": period.start,
                        "period_end": period.end,
                        "computed_at": moment,
                        "node_code": OVERALL,
                        "value": None,
                        "target": None,
                        "score": None,
                    }
                )
    for i in range(0, len(rows), 5000):
        session.execute(insert(IndicatorResult), rows[i : i + 5000])
    return len(rows)
