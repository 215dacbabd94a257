"""Monthly assessment scorecards (考评): results.scores arranged for pages and exports.

Adds what a scorecard shows on top of the scores: the indicator and dimension names, the
red / amber / green status against target (:func:`rag`), the trend against the previous
period and a stable order (rank, then name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

from sqlalchemy.orm import Session

from govloop.core.clock import local_today
from govloop.core.errors import BadRequest
from govloop.indicators import results
from govloop.indicators.periods import parse_period
from govloop.indicators.service import framework_in_force
from govloop.org import service as org_service

Rag = Literal["green", "amber", "red"]

# Object kinds a scorecard is made for, in the order exports list them.
SCORECARD_KINDS: tuple[str, ...] = ("staff", "window", "department", "item", "hall")
KIND_NAMES_ZH = {
    "staff": "工作人员",
    "window": "窗口",
    "department": "部门",
    "item": "事项",
    "hall": "大厅",
}
AMBER_TOLERANCE = 0.10  # within 10 % of the target is amber
SCORE_TARGET = 100.0  # scores are 0–100; 100 means every indicator met its target


def rag(value: float | None, target: float | None, higher_is_better: bool = True) -> Rag | None:
    """Red / amber / green of a value against its target.

    Green: the target is met. Amber: missed by at most 10 % of the target (higher is
    better: ``value >= 0.9 × target``; lower is better: ``value <= 1.1 × target``).
    Red: worse than that. ``None`` when the value or the target is unknown.
    """
    if value is None or target is None or value != value or target != target:
        return None
    slack = AMBER_TOLERANCE * abs(target)
    if higher_is_better:
        if value >= target:
            return "green"
        return "amber" if value >= target - slack else "red"
    if value <= target:
        return "green"
    return "amber" if value <= target + slack else "red"


def score_rag(score: float | None) -> Rag | None:
    """RAG of a composite (dimension or overall) score against 100, the all-met score."""
    if score is None:
        return None
    # Scores are shown with one decimal: 99.96 reads as 100.0 and counts as met.
    return rag(round(score, 1), SCORE_TARGET, True)


@dataclass(frozen=True)
class IndicatorColumn:
    code: str
    name_zh: str
    name_en: str
    dimension: str
    unit: str
    higher_is_better: bool


@dataclass(frozen=True)
class DimensionColumn:
    code: str
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class Cell:
    value: float | None
    target: float | None
    score: float | None
    rag: Rag | None


@dataclass
class ScorecardRow:
    object_id: int
    label: str
    overall: float | None
    overall_rag: Rag | None
    rank: int | None
    previous: float | None
    delta: float | None  # overall − previous overall
    dimensions: dict[str, tuple[float | None, Rag | None]]
    indicators: dict[str, Cell]


@dataclass
class Scorecard:
    hall_code: str
    hall_name: str
    object_kind: str
    period: str
    start: date
    end: date
    previous_period: str | None
    framework_version: int | None
    materialized: bool
    dimensions: list[DimensionColumn]
    indicators: list[IndicatorColumn]
    rows: list[ScorecardRow] = field(default_factory=list)

    @property
    def kind_name_zh(self) -> str:
        return KIND_NAMES_ZH.get(self.object_kind, self.object_kind)

    def row(self, object_id: int | None) -> ScorecardRow | None:
        return next((r for r in self.rows if r.object_id == object_id), None)


def check_kind(kind: str) -> str:
    if kind not in SCORECARD_KINDS:
        raise BadRequest(
            f"未知的考评对象：{kind}（可选：{'、'.join(SCORECARD_KINDS)}）",
            code="invalid_object_kind",
        )
    return kind


def default_period(today: date | None = None) -> str:
    """The last complete month: what a monthly assessment looks at."""
    first = (today or local_today()).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def scorecard(*, session: Session, hall_code: str, object_kind: str, period_text: str) -> Scorecard:
    """The scorecard of every object of one kind in a hall for a period."""
    check_kind(object_kind)
    hall = org_service.get_hall(session=session, code=hall_code)
    period = parse_period(period_text)
    out = results.scores(
        session=session, hall_code=hall_code, object_kind=object_kind, period_text=period_text
    )
    _version, framework = framework_in_force(session=session, on=period.start)
    dims = [
        DimensionColumn(d.code, spec.name.zh, spec.name.en)
        for d in framework.dimensions
        for spec in framework.spec.dimensions
        if spec.code == d.code
    ]
    columns: list[IndicatorColumn] = []
    for leaf in framework.leaves():
        if object_kind not in leaf.applies_to or leaf.spec is None:
            continue
        columns.append(
            IndicatorColumn(
                code=leaf.code,
                name_zh=leaf.spec.name.zh,
                name_en=leaf.spec.name.en,
                dimension=leaf.dimension,
                unit=leaf.spec.unit or "",
                higher_is_better=leaf.higher_is_better,
            )
        )
    direction = {c.code: c.higher_is_better for c in columns}
    rows = []
    for obj in out.objects:
        cells = {
            ind.code: Cell(
                ind.value,
                ind.target,
                ind.score,
                rag(ind.value, ind.target, direction.get(ind.code, True)),
            )
            for ind in obj.indicators
        }
        delta = (
            obj.overall - obj.previous_overall
            if obj.overall is not None and obj.previous_overall is not None
            else None
        )
        rows.append(
            ScorecardRow(
                object_id=obj.object_id,
                label=obj.label,
                overall=obj.overall,
                overall_rag=score_rag(obj.overall),
                rank=obj.rank,
                previous=obj.previous_overall,
                delta=delta,
                dimensions={code: (s, score_rag(s)) for code, s in obj.dimensions.items()},
                indicators=cells,
            )
        )
    rows.sort(key=lambda r: (r.rank is None, r.rank or 0, r.label))
    return Scorecard(
        hall_code=hall.code,
        hall_name=hall.name,
        object_kind=object_kind,
        period=out.period,
        start=out.start,
        end=out.end,
        previous_period=out.previous_period,
        framework_version=out.framework_version,
        materialized=out.materialized,
        dimensions=dims,
        indicators=columns,
        rows=rows,
    )


def scorecards(
    *, session: Session, hall_code: str, kinds: list[str], period_text: str
) -> list[Scorecard]:
    """One scorecard per requested kind (every scorecard kind when none is given)."""
    for kind in kinds:
        check_kind(kind)
    wanted = [k for k in SCORECARD_KINDS if k in kinds] or list(SCORECARD_KINDS)
    return [
        scorecard(session=session, hall_code=hall_code, object_kind=k, period_text=period_text)
        for k in wanted
    ]


def chart_data(
    card: Scorecard, selected: ScorecardRow | None, *, english: bool, focus_url: str
) -> dict[str, object]:
    """What the page's charts draw: overall score per object and the selected object's
    dimension scores. ``focus_url`` is the page URL without ``focus``."""

    def dims(row: ScorecardRow) -> dict[str, float | None]:
        return {code: value for code, (value, _status) in row.dimensions.items()}

    return {
        "dimensions": [d.code for d in card.dimensions],
        "labels": {d.code: d.name_en if english else d.name_zh for d in card.dimensions},
        "rows": [
            {
                "label": r.label,
                "overall": r.overall,
                "rag": r.overall_rag,
                "dimensions": dims(r),
                "focus_url": f"{focus_url}&focus={r.object_id}#detail",
            }
            for r in card.rows
        ],
        "selected": ({"label": selected.label, "dimensions": dims(selected)} if selected else None),
    }
