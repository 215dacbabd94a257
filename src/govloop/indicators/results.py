"""Reading indicator results: materialized ones, or computed on the spot for any period.

The figures a scorecard needs per object: value, target, score and met for every
indicator, the dimension and overall scores, the rank among the objects of the same kind
and the overall score of the previous period of the same kind (the trend).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.analytics.store import Store
from govloop.core.errors import BadRequest, NotFound
from govloop.core.models import User
from govloop.hall.models import ServiceItem, Window
from govloop.indicators.engine import Engine, Values
from govloop.indicators.facts import FACTS_SQL
from govloop.indicators.framework import Framework
from govloop.indicators.measures import MEASURES, OBJECT_KINDS
from govloop.indicators.models import FrameworkVersion, IndicatorResult
from govloop.indicators.periods import MATERIALIZED_GRAINS, Period, parse_period, period_of
from govloop.indicators.schemas import IndicatorScoreOut, ObjectScoreOut, ScoresOut
from govloop.indicators.scoring import OVERALL, Scored, met, score
from govloop.indicators.service import (
    compiled,
    default_store,
    framework_in_force,
    list_versions,
    target_rows,
)
from govloop.org import service as org_service
from govloop.org.models import Department, Hall

Entry = dict[str, tuple[float | None, float | None, float | None]]


def _labels(session: Session, hall: Hall, kind: str, ids: Sequence[int]) -> dict[int, str]:
    if not ids:
        return {}
    if kind == "hall":
        return {hall.id: hall.name}
    rows: Sequence[tuple[int, str]] | Sequence[Any]
    if kind == "window":
        rows = [
            (wid, f"{number}号 {name}" if not name.startswith(str(number)) else name)
            for wid, number, name in session.execute(
                select(Window.id, Window.number, Window.name).where(Window.id.in_(ids))
            )
        ]
    elif kind == "staff":
        rows = session.execute(
            select(User.id, func.coalesce(User.display_name, User.username)).where(User.id.in_(ids))
        ).all()
    elif kind == "department":
        rows = session.execute(
            select(Department.id, Department.name).where(Department.id.in_(ids))
        ).all()
    elif kind == "item":
        rows = session.execute(
            select(ServiceItem.id, ServiceItem.name).where(ServiceItem.id.in_(ids))
        ).all()
    else:
        rows = []
    return {int(i): str(name) for i, name in rows}


def _from_results(
    session: Session, hall: Hall, kind: str, period: Period
) -> tuple[int | None, dict[int, Entry]]:
    rows = session.execute(
        select(IndicatorResult, FrameworkVersion.version)
        .join(FrameworkVersion, FrameworkVersion.id == IndicatorResult.version_id)
        .where(
            IndicatorResult.hall_id == hall.id,
            IndicatorResult.period_kind == period.kind,
            IndicatorResult.period_start == period.start,
            IndicatorResult.object_kind == kind,
        )
    ).all()
    objects: dict[int, Entry] = {}
    version = None
    for result, v in rows:
        version = v
        objects.setdefault(result.object_id, {})[result.node_code] = (
            result.value,
            result.target,
            result.score,
        )
    return version, objects


def compute_scores(
    *,
    session: Session,
    hall: Hall,
    period: Period,
    kinds: Sequence[str] | None = None,
    by_slot: bool = False,
    store: Store | None = None,
) -> tuple[FrameworkVersion | None, Framework, Scored]:
    """Compute (without storing) the scores of a hall for any period, e.g. a custom range
    or per 30-minute slot, from the analytics store as it is."""
    version, framework = framework_in_force(session=session, on=period.start)
    with Engine(store or default_store()) as engine:
        values: Values = engine.compute(
            framework, {hall.id: [period]}, kinds=kinds, by_slot=by_slot
        )
    return version, framework, score(values, framework, target_rows(session=session))


def scores(*, session: Session, hall_code: str, object_kind: str, period_text: str) -> ScoresOut:
    """Scores of every object of one kind in a hall for a period (materialized if there)."""
    if object_kind not in OBJECT_KINDS:
        raise BadRequest(
            f"未知的对象类型：{object_kind}（{', '.join(OBJECT_KINDS)}）",
            code="invalid_object_kind",
        )
    hall = org_service.get_hall(session=session, code=hall_code)
    period = parse_period(period_text)
    version_number: int | None = None
    stored: dict[int, Entry] = {}
    if period.kind in MATERIALIZED_GRAINS:
        version_number, stored = _from_results(session, hall, object_kind, period)
    materialized = bool(stored)
    if materialized:
        _v, framework = framework_in_force(session=session, on=period.start)
        version = next(
            (v for v in list_versions(session=session) if v.version == version_number), None
        )
        if version is not None:
            framework = compiled(version)
        per_object = stored
    else:
        version, framework, scored = compute_scores(
            session=session, hall=hall, period=period, kinds=[object_kind]
        )
        version_number = version.version if version else None
        per_object = {}
        frame = scored.values.frame
        for i in range(len(frame)):
            if frame["object_kind"].iloc[i] != object_kind:
                continue
            entry: Entry = {}
            for code, arr in scored.score.items():
                v = scored.value[code][i] if code in scored.value else None
                t = scored.target[code][i] if code in scored.target else None
                entry[code] = tuple(  # type: ignore[assignment]
                    None if x is None or np.isnan(x) else float(x) for x in (v, t, arr[i])
                )
            per_object[int(frame["object_id"].iloc[i])] = entry
    labels = _labels(session, hall, object_kind, list(per_object))
    overall = {oid: e.get(OVERALL, (None, None, None))[2] for oid, e in per_object.items()}
    ranks = _ranks(overall)
    previous: Period | None = None
    before: dict[int, float | None] = {}
    if period.kind in MATERIALIZED_GRAINS:
        previous = period_of(period.kind, period.start - timedelta(days=1))
        _number, earlier = _from_results(session, hall, object_kind, previous)
        before = {oid: e.get(OVERALL, (None, None, None))[2] for oid, e in earlier.items()}
    leaves = framework.leaves()
    out = []
    for object_id in sorted(per_object):
        entry = per_object[object_id]
        indicators = []
        for leaf in leaves:
            if object_kind not in leaf.applies_to:
                continue
            v, t, s = entry.get(leaf.code, (None, leaf.target, None))
            indicators.append(
                IndicatorScoreOut(
                    code=leaf.code,
                    value=v,
                    target=t,
                    score=s,
                    met=met(v, t, leaf.higher_is_better),
                )
            )
        out.append(
            ObjectScoreOut(
                object_kind=object_kind,
                object_id=object_id,
                label=labels.get(object_id, str(object_id)),
                overall=overall[object_id],
                rank=ranks.get(object_id),
                previous_overall=before.get(object_id),
                dimensions={
                    d.code: entry.get(d.code, (None, None, None))[2] for d in framework.dimensions
                },
                indicators=indicators,
            )
        )
    return ScoresOut(
        hall=hall.code,
        object_kind=object_kind,
        period=period.label,
        period_kind=period.kind,
        start=period.start,
        end=period.end,
        framework_version=version_number,
        previous_period=previous.label if previous else None,
        materialized=materialized,
        objects=out,
    )


def _ranks(overall: dict[int, float | None]) -> dict[int, int]:
    """1 is the best overall score; equal scores share a rank; no score, no rank."""
    scored = sorted((s for s in overall.values() if s is not None), reverse=True)
    first: dict[float, int] = {}
    for position, value in enumerate(scored, start=1):
        first.setdefault(value, position)
    return {oid: first[s] for oid, s in overall.items() if s is not None}


def drilldown(
    *,
    session: Session,
    hall_code: str,
    object_kind: str,
    object_id: int,
    period_text: str,
    indicator: str,
    limit: int = 200,
    store: Store | None = None,
) -> dict[str, Any]:
    """The measures behind one indicator value and the fact rows they were counted from."""
    if object_kind not in OBJECT_KINDS:
        raise BadRequest(f"未知的对象类型：{object_kind}", code="invalid_object_kind")
    if not 1 <= limit <= 5000:
        raise BadRequest("limit 必须在 1–5000 之间", code="invalid_limit")
    hall = org_service.get_hall(session=session, code=hall_code)
    period = parse_period(period_text)
    version, framework = framework_in_force(session=session, on=period.start)
    leaf = framework.nodes.get(indicator)
    if leaf is None or not leaf.is_leaf or leaf.spec is None:
        raise NotFound(f"指标体系中没有指标 {indicator}", code="indicator_not_found")
    if object_kind not in leaf.applies_to:
        raise BadRequest(
            f"指标 {indicator} 不适用于 {object_kind}", code="indicator_not_applicable"
        )
    if object_kind == "hall":
        object_id = hall.id
    with Engine(store or default_store()) as engine:
        values = engine.compute(framework, {hall.id: [period]}, kinds=[object_kind])
        frame = values.frame
        match = frame[(frame["object_kind"] == object_kind) & (frame["object_id"] == object_id)]
        measures: dict[str, float | None] = {}
        if len(match):
            row = engine.measures_frame()
            row = row[(row["object_kind"] == object_kind) & (row["object_id"] == object_id)]
            for ref in leaf.measures:
                value = row[f"m_{ref.key}"].iloc[0] if len(row) else None
                measures[ref.key] = None if value is None or np.isnan(value) else float(value)
        relations = sorted({MEASURES[ref.name].relation for ref in leaf.measures})
        facts = {}
        for relation in relations:
            if relation not in FACTS_SQL:
                facts[relation] = {"total": 0, "rows": [], "note": "no data source yet"}
                continue
            total, rows = engine.fact_rows(relation, hall.id, period, object_kind, object_id, limit)
            facts[relation] = {"total": total, "rows": rows}
    value = float(match[indicator].iloc[0]) if len(match) else None
    return {
        "hall": hall.code,
        "object_kind": object_kind,
        "object_id": object_id,
        "period": period.label,
        "indicator": indicator,
        "formula": leaf.spec.formula,
        "framework_version": version.version if version else None,
        "value": None if value is None or np.isnan(value) else value,
        "measures": measures,
        "facts": facts,
    }
