"""Demo data for 好差评: the demo hall's ratings, rectification cases and events, written
in bulk, and a published SERVQUAL survey with answers.

Development only; called by the demo hall (:mod:`govloop.demo.hall.seed`) after it wrote its
history. The data come from :mod:`govloop.demo.ratings.history` (pure computation); this
module reads the deadline policy, writes the rows with SQLAlchemy Core and sums up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from govloop.core.clock import local_today, local_tz, now, to_local
from govloop.demo.ratings.history import Staffing, Visit, simulate_ratings
from govloop.ratings import figures as rating_figures
from govloop.ratings import rectification, servqual
from govloop.ratings.models import (
    Rating,
    RatingEvent,
    RatingPolicy,
    RectificationCase,
    Survey,
    SurveyResponse,
)

__all__ = ["RatingReport", "Visit", "ensure_survey", "generate_ratings", "summarize"]

CHUNK_ROWS = 5000

# --- writing ------------------------------------------------------------------------------


@dataclass
class RatingReport:
    """What one demo run wrote, and the hall's figures afterwards (:func:`summarize`)."""

    ratings: int = 0  # written by this run …
    cases: int = 0
    events: int = 0
    survey_responses: int = 0
    totals: rating_figures.RatingFigures | None = None  # … and the hall's, as of today
    all_ratings: int = 0  # excluded ones included
    excluded: int = 0
    open_cases: int = 0
    overdue_cases: int = 0
    survey: str | None = None
    survey_total: int = 0
    survey_gaps: dict[str, float] = field(default_factory=dict)  # dimension → P − E


ProgressHook = Callable[[str, int, int], None]


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _max_id(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.max(model.id))) or 0)


def ensure_default_policy(*, session: Session) -> RatingPolicy:
    """The default deadline policy (hall_id NULL): 1 working day to call back, 5 to rectify."""
    policy = session.scalar(select(RatingPolicy).where(RatingPolicy.hall_id.is_(None)))
    if policy is None:
        policy = RatingPolicy(hall_id=None, callback_working_days=1, rectification_working_days=5)
        session.add(policy)
        session.flush()
    return policy


def generate_ratings(
    *,
    session: Session,
    hall_id: int,
    visits: Sequence[Visit],
    manager_id: int,
    seed: int,
    progress: ProgressHook | None = None,
) -> RatingReport:
    """Rate ``visits`` (finished visits the history just wrote), write cases and events."""
    ensure_default_policy(session=session)
    policy = rectification.policy_for(session=session, hall_id=hall_id)
    staffing = Staffing(
        manager_id=manager_id,
        callback_working_days=policy.callback_working_days,
        rectification_working_days=policy.rectification_working_days,
    )
    history = simulate_ratings(
        visits,
        seed=seed,
        now=now(),
        staffing=staffing,
        first_rating_id=_max_id(session, Rating) + 1,
        first_case_id=_max_id(session, RectificationCase) + 1,
    )
    batches = [
        (_table(Rating), history.ratings),
        (_table(RectificationCase), history.cases),
        (_table(RatingEvent), history.event_rows(_max_id(session, RatingEvent) + 1)),
    ]
    total, done = sum(len(rows) for _, rows in batches), 0
    if progress:
        progress("ratings", 0, total)
    for table, rows in batches:
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            session.execute(table.insert(), chunk)
            done += len(chunk)
            if progress:
                progress("ratings", done, total)
    _move_sequences(session, ("ratings", "rectification_cases", "rating_events"))
    return RatingReport(
        ratings=len(history.ratings), cases=len(history.cases), events=len(history.events)
    )


def _move_sequences(session: Session, tables: Sequence[str]) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in tables:
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
            )
        )


def summarize(*, session: Session, hall_id: int, report: RatingReport) -> RatingReport:
    """Fill in the hall's rating figures and case counts as of today."""
    report.totals = rating_figures.figures(session=session, hall_id=hall_id)
    today = local_today()
    open_cases = rectification.list_cases(session=session, hall_id=hall_id, open_only=True)
    report.open_cases = len(open_cases)
    report.overdue_cases = sum(
        1 for c, _ in open_cases if any(rectification.is_overdue(c, today).values())
    )
    excluded = select(Rating.excluded, func.count()).where(Rating.hall_id == hall_id)
    counts = {bool(flag): int(n) for flag, n in session.execute(excluded.group_by(Rating.excluded))}
    report.all_ratings = sum(counts.values())
    report.excluded = counts.get(True, 0)
    survey = session.scalar(select(Survey).where(Survey.code == SURVEY_CODE))
    if survey is not None:
        gaps = servqual.gap_scores(session=session, survey_ids=[survey.id])
        report.survey, report.survey_total = survey.code, gaps.responses
        report.survey_gaps = {dim: d["gap"] for dim, d in gaps.dimensions.items()}
    return report


# --- the SERVQUAL survey ------------------------------------------------------------------

SURVEY_CODE = "SQ2026"
SURVEY_TITLE = "2026 年政务服务满意度调查（SERVQUAL）"
SURVEY_RESPONSES = 200
SURVEY_DAYS = 60
# Mean expectation and perception per item on the 1–7 scale (before rounding and
# clipping): expectations high everywhere; perceptions lowest for waiting and promptness
# (响应性), close to expectations for courtesy, trust and data safety (保证性).
# fmt: off
ITEM_MEANS: dict[int, tuple[float, float]] = {
    1: (6.0, 6.2), 2: (6.3, 6.0), 3: (5.7, 6.1), 4: (6.4, 5.5),
    5: (6.7, 5.9), 6: (6.5, 6.0), 7: (6.7, 5.5), 8: (6.5, 5.8), 9: (6.8, 6.4),
    10: (6.5, 5.4), 11: (6.7, 4.6), 12: (6.4, 5.8), 13: (6.4, 5.1),
    14: (6.4, 6.2), 15: (6.8, 6.6), 16: (6.5, 6.3), 17: (6.6, 6.3),
    18: (5.9, 5.3), 19: (6.3, 5.4), 20: (6.4, 6.0), 21: (6.4, 5.8), 22: (6.3, 5.6),
}
# fmt: on


def _answers(rng: np.random.Generator) -> dict[str, dict[str, int]]:
    lo, hi = servqual.SCALE
    e_bias, p_bias = rng.normal(0.0, 0.3), rng.normal(0.0, 0.55)
    out = {}
    for no, (e, p) in ITEM_MEANS.items():
        ev = int(np.clip(round(e + e_bias + rng.normal(0.0, 0.6)), lo, hi))
        pv = int(np.clip(round(p + p_bias + rng.normal(0.0, 0.75)), lo, hi))
        out[str(no)] = {"e": ev, "p": pv}
    return out


def ensure_survey(*, session: Session, hall_id: int, seed: int) -> int:
    """Publish the demo hall's SERVQUAL survey with answers over the last 60 days, once.

    Returns the number of responses written (0 when the survey exists already).
    """
    if session.scalar(select(Survey.id).where(Survey.code == SURVEY_CODE)) is not None:
        return 0
    moment = now()
    opened = moment - timedelta(days=SURVEY_DAYS + 2)
    survey = servqual.create_survey(
        session=session, code=SURVEY_CODE, title=SURVEY_TITLE, hall_id=hall_id
    )
    servqual.publish(session=session, survey=survey)
    survey.created_at = opened - timedelta(days=3)
    survey.published_at = opened
    rng = np.random.default_rng([seed, 7])
    tz = local_tz()
    rows: list[dict[str, Any]] = []
    for _ in range(SURVEY_RESPONSES):
        day = to_local(moment - timedelta(days=float(rng.uniform(0, SURVEY_DAYS)))).date()
        at = datetime.combine(day, time(9), tzinfo=tz) + timedelta(hours=float(rng.uniform(0, 12)))
        rows.append(
            {
                "survey_id": survey.id,
                "hall_id": hall_id,
                "submitted_at": min(at, moment),
                "answers": servqual.validate_answers(survey, _answers(rng)),
            }
        )
    rows.sort(key=lambda r: r["submitted_at"])
    session.execute(_table(SurveyResponse).insert(), rows)
    session.flush()
    return len(rows)
