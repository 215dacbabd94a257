"""The demo's 好差评 data: ratings of the history's visits, rectification cases, events and
the SERVQUAL survey are consistent with the service's rules and tell a believable story."""

from __future__ import annotations

import functools
import itertools
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from govloop.core import auth, calendar
from govloop.core.clock import frozen, local_tz, to_local
from govloop.core.db import unit_of_work
from govloop.core.models import User
from govloop.demo.hall import seed as demo
from govloop.demo.ratings import history as demo_history
from govloop.demo.ratings import seed as ratings_demo
from govloop.hall.models import Ticket
from govloop.ratings import figures as rating_figures
from govloop.ratings import rectification, servqual
from govloop.ratings.models import (
    BAD_LEVELS,
    Rating,
    RatingEvent,
    RatingPolicy,
    RectificationCase,
    Survey,
    SurveyResponse,
)

# Monday 2026-11-23, 12:00 in Shanghai; the 12 days before hold 8 working days, enough
# for cases to be closed, late, appealed and, for the oldest open ones, overdue today.
TODAY_NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)
TODAY = date(2026, 11, 23)
DAYS = 12
SEED = 11


@functools.cache
def _demo_hash() -> str:
    return auth.hash_password(demo.DEMO_PASSWORD)


@pytest.fixture
def history(db, monkeypatch):
    digest = _demo_hash()
    monkeypatch.setattr(auth, "hash_password", lambda _password, **_: digest)
    with frozen(TODAY_NOON), unit_of_work() as s:
        world = demo.seed_catalogue(session=s)
        report = demo.generate_history(session=s, world=world, days=DAYS, seed=SEED)
        manager_id = world.manager.id
    return report, manager_id


def _all(model, *order):
    with unit_of_work(readonly=True) as s:
        return s.scalars(select(model).order_by(*(order or (model.id,)))).all()


def _replay(events: list[RatingEvent]) -> dict[int, dict]:
    """Case states rebuilt from the event log alone, following the service's rules."""
    cases: dict[int, dict] = {}
    for e in events:
        if e.kind == "rating.submitted":
            assert e.case_id is None
            continue
        if e.kind == "case.opened":
            assert e.case_id not in cases
            cases[e.case_id] = {
                "rating_id": e.rating_id,
                "status": "open",
                "callback_due": date.fromisoformat(e.detail["callback_due"]),
                "rectification_due": date.fromisoformat(e.detail["rectification_due"]),
                "callback_at": None,
                "callback_by": None,
                "rectified_at": None,
                "closed_at": None,
                "closed_by": None,
                "appealed_at": None,
                "appealed_by": None,
                "appeal_reason": None,
                "reviewed_by": None,
                "review_decision": None,
            }
            continue
        c = cases[e.case_id]
        assert c["rating_id"] == e.rating_id and e.actor_id is not None
        if e.kind == "case.called_back":
            assert c["status"] == "open"
            c.update(status="called_back", callback_at=e.at, callback_by=e.actor_id)
        elif e.kind == "case.rectified":
            assert c["status"] == "called_back"
            c.update(status="rectified", rectified_at=e.at)
        elif e.kind == "case.closed":
            assert c["status"] == "rectified"
            c.update(status="closed", closed_at=e.at, closed_by=e.actor_id)
        elif e.kind == "case.appealed":
            assert c["status"] in ("open", "called_back", "rectified")
            c.update(before=c["status"], status="appealed", appealed_at=e.at)
            c.update(appealed_by=e.actor_id, appeal_reason=e.detail["reason"])
        elif e.kind in ("case.appeal_upheld", "case.appeal_rejected"):
            assert c["status"] == "appealed" and e.actor_id != c["appealed_by"]
            upheld = e.kind == "case.appeal_upheld"
            c.update(reviewed_by=e.actor_id, review_decision="upheld" if upheld else "rejected")
            c["status"] = "excluded" if upheld else c.pop("before")
        else:
            raise AssertionError(f"unexpected event kind {e.kind}")
    return cases


def test_history_ratings_cases_and_events_follow_the_rules(history):
    report, manager_id = history
    ratings = _all(Rating)
    cases = _all(RectificationCase)
    events = _all(RatingEvent)
    tickets = {t.id: t for t in _all(Ticket)}
    assert report.ratings.ratings == len(ratings) and report.ratings.cases == len(cases)
    assert report.ratings.events == len(events)

    # One rating per ticket, only on finished tickets, after the finish, tied to the visit.
    assert len({r.ticket_id for r in ratings}) == len(ratings)
    for r in ratings:
        t = tickets[r.ticket_id]
        assert t.status == "finished" and t.finished_at < r.rated_at <= TODAY_NOON
        assert (r.window_id, r.staff_id, r.item_id) == (t.window_id, t.staff_id, t.item_id)
        assert r.real_name == (r.citizen_phone is not None)
        assert r.channel in {"pad", "qr", "my_ticket"} and 1 <= r.level <= 5
        assert all(1 <= v <= 5 for v in r.dimension_scores.values())
    finished = sum(1 for t in tickets.values() if t.status == "finished")
    assert 0.35 <= len(ratings) / finished <= 0.45
    assert 0.5 <= sum(r.real_name for r in ratings) / len(ratings) <= 0.7
    channels = Counter(r.channel for r in ratings)
    assert channels["pad"] > channels["qr"] > 0 and channels["my_ticket"] > 0
    bad = [r for r in ratings if r.level in BAD_LEVELS]
    assert all(r.comment or r.tags for r in bad)

    # Every bad rating has exactly one case, with deadlines as open_case computes them
    # under the default policy the demo created.
    with unit_of_work(readonly=True) as s:
        policy = rectification.policy_for(session=s, hall_id=ratings[0].hall_id)
        assert policy.hall_id is None and s.scalar(select(func.count(RatingPolicy.id))) == 1
    by_rating = {c.rating_id: c for c in cases}
    assert len(by_rating) == len(cases) and set(by_rating) == {r.id for r in bad}
    for r in bad:
        c = by_rating[r.id]
        start = to_local(r.rated_at).date()
        assert c.callback_due == calendar.add_workdays(start, policy.callback_working_days)
        assert c.rectification_due == calendar.add_workdays(
            start, policy.rectification_working_days
        )
        assert not c.due_dates_estimated  # 2026 is in the official calendar
        assert c.opened_at == r.rated_at and c.department_id == r.department_id

    # The event log alone reproduces every case; ids follow time.
    assert all(a.at <= b.at for a, b in itertools.pairwise(events))
    kinds = Counter(e.kind for e in events)
    assert kinds["rating.submitted"] == len(ratings) and kinds["case.opened"] == len(cases)
    replayed = _replay(events)
    assert set(replayed) == {c.id for c in cases}
    for c in cases:
        r = replayed[c.id]
        assert {k: getattr(c, k) for k in r if k != "before"} == {
            k: v for k, v in r.items() if k != "before"
        }, c.id
        assert (c.callback_note is not None) == (c.callback_at is not None)
        assert (c.evidence is not None) == (c.rectified_at is not None)
    submitted = {e.rating_id: e for e in events if e.kind == "rating.submitted"}
    assert all(submitted[r.id].detail == {"level": r.level, "channel": r.channel} for r in ratings)

    # Excluded ratings: an upheld appeal, with the reason and an approver who did not appeal.
    for r in ratings:
        c = by_rating.get(r.id)
        if r.excluded:
            assert c is not None and c.status == "excluded" and c.review_decision == "upheld"
            assert r.excluded_reason == c.appeal_reason and r.excluded_reason
            assert r.excluded_by == c.reviewed_by == manager_id != c.appealed_by
        else:
            assert r.excluded_reason is None and r.excluded_by is None

    # Most callbacks within a working day and rectifications within five; some late; the
    # most recent stalled ones are overdue today.
    called = [c for c in cases if c.callback_at]
    on_time = sum(1 for c in called if to_local(c.callback_at).date() <= c.callback_due)
    assert on_time / len(called) >= 0.75
    rectified = [c for c in cases if c.rectified_at]
    assert (
        sum(1 for c in rectified if to_local(c.rectified_at).date() <= c.rectification_due)
        / len(rectified)
        >= 0.7
    )
    assert 1 <= Counter(c.status for c in cases)["appealed"] <= demo_history.PENDING_APPEALS
    overdue = [c for c in cases if any(rectification.is_overdue(c, TODAY).values())]
    assert 1 <= len(overdue) <= 10 and report.ratings.overdue_cases == len(overdue)
    older = [c for c in cases if calendar.add_workdays(c.rectification_due, 2) < TODAY]
    assert Counter(c.status for c in older)["closed"] > len(older) / 2


def test_figures_tell_a_believable_story_and_cases_work_with_the_service(history):
    report, manager_id = history
    week_ago = datetime.combine(TODAY - timedelta(days=7), time(0), tzinfo=local_tz())
    with unit_of_work(readonly=True) as s:
        f = rating_figures.figures(session=s)
        settled = rating_figures.figures(session=s, end=week_ago)  # cases had time to finish
    assert f == report.ratings.totals
    assert 0.93 <= f.satisfaction_rate <= 0.99
    assert 0.01 <= f.bad_rate <= 0.06
    assert f.real_name_callback_rate >= 0.75
    assert 0.4 <= f.rectification_rate < settled.rectification_rate
    assert settled.rectification_rate >= 0.75 and settled.on_time_rectification_rate >= 0.7

    # Worse after a long wait or when documents were missing.
    ratings = _all(Rating)
    tickets = {t.id: t for t in _all(Ticket)}

    def mean_level(pick) -> float:
        levels = [r.level for r in ratings if pick(tickets[r.ticket_id])]
        return sum(levels) / len(levels)

    smooth = mean_level(lambda t: t.outcome == "done" and t.called_at - t.arrived_at < _min(20))
    long_wait = mean_level(lambda t: t.called_at - t.arrived_at > _min(45))
    documents = mean_level(lambda t: t.outcome == "needs_documents")
    assert smooth > long_wait + 0.2 and smooth > documents + 0.2
    assert smooth > 4.4

    # A generated open case goes on through the real service.
    with frozen(TODAY_NOON + timedelta(hours=1)), unit_of_work() as s:
        case = s.scalar(select(RectificationCase).where(RectificationCase.status == "open"))
        assert case is not None
        manager = s.get(User, manager_id)
        rectification.record_callback(session=s, case_id=case.id, actor=manager, note="已回访")
    with unit_of_work(readonly=True) as s:
        last = s.scalar(select(RatingEvent).order_by(RatingEvent.id.desc()).limit(1))
        assert last.kind == "case.called_back" and last.case_id == case.id

    # The published SERVQUAL survey: expectations high, waiting and promptness fall short.
    with unit_of_work(readonly=True) as s:
        survey = s.scalar(select(Survey).where(Survey.code == ratings_demo.SURVEY_CODE))
        assert survey is not None and survey.status == "published"
        gaps = servqual.gap_scores(session=s, survey_ids=[survey.id])
        times = s.scalars(select(SurveyResponse.submitted_at)).all()
    assert gaps.responses == ratings_demo.SURVEY_RESPONSES == report.ratings.survey_total
    assert len(gaps.items) == 22 and len(gaps.dimensions) == 5
    dims = gaps.dimensions
    assert all(d["expectation"] >= 5.8 for d in dims.values())
    assert dims["responsiveness"]["gap"] < -0.8
    assert dims["responsiveness"]["gap"] == min(d["gap"] for d in dims.values())
    assert abs(dims["assurance"]["gap"]) < 0.5
    assert gaps.items[11]["gap"] < -1.2  # 等候时间短
    assert all(TODAY_NOON - timedelta(days=61) <= t <= TODAY_NOON for t in times)

    # Reused later the same day: nothing to add, no second survey or policy.
    with frozen(TODAY_NOON + timedelta(hours=2)), unit_of_work() as s:
        world = demo.load_world(session=s)
        again = demo.generate_history(session=s, world=world, days=DAYS, seed=SEED)
        assert s.scalar(select(func.count(Survey.id))) == 1
        assert s.scalar(select(func.count(RatingPolicy.id))) == 1
    assert again.days == [] and again.ratings.ratings == again.ratings.survey_responses == 0
    assert again.ratings.totals is not None and again.ratings.totals.total == f.total


def _min(minutes: float) -> timedelta:
    return timedelta(minutes=minutes)


# --- the simulation alone ------------------------------------------------------------------


def _visits(days: list[date], per_day: int, *, waited: float, outcome: str):
    return [
        demo_history.Visit(
            ticket_id=n * per_day + k + 1,
            service_date=day,
            hall_id=1,
            item_id=1,
            department_id=1,
            window_id=1,
            staff_id=7,
            ticket_channel="kiosk",
            arrived_at=start,
            called_at=start + timedelta(minutes=waited),
            finished_at=start + timedelta(minutes=waited + 10),
            outcome=outcome,
        )
        for n, day in enumerate(days)
        for start in [datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=2)]
        for k in range(per_day)
    ]


def test_unhappy_visits_give_bad_ratings_and_appeals_go_both_ways():
    days = [date(2026, 9, 1) + timedelta(days=k) for k in range(30)]
    days = [d for d in days if calendar.is_workday(d)]
    visits = _visits(days, 60, waited=90, outcome="needs_documents")
    now = datetime(2026, 10, 20, 4, 0, tzinfo=UTC)
    staffing = demo_history.Staffing(manager_id=99)
    out = demo_history.simulate_ratings(visits, seed=1, now=now, staffing=staffing)
    again = demo_history.simulate_ratings(visits, seed=1, now=now, staffing=staffing)
    assert out.ratings == again.ratings and out.cases == again.cases  # same seed, same data
    bad = [r for r in out.ratings if r["level"] in BAD_LEVELS]
    assert len(bad) / len(out.ratings) > 0.15  # long waits and missing documents
    tags = Counter(t for r in bad for t in r["tags"])
    assert tags["材料要求不清"] > 0 and tags["等候太久"] > 0
    decisions = Counter(c["review_decision"] for c in out.cases)
    assert decisions["upheld"] > 0 and decisions["rejected"] > 0
    statuses = Counter(c["status"] for c in out.cases)
    assert statuses["excluded"] == decisions["upheld"]
    open_past_due = [
        c
        for c in out.cases
        if c["status"] in ("open", "called_back") and c["rectification_due"] < now.date()
    ]
    stalled = min(demo_history.STALLED_CASES, len(out.cases) // demo_history.CASES_PER_SPECIAL)
    assert len(open_past_due) == stalled >= 2
    assert statuses["appealed"] == demo_history.PENDING_APPEALS  # awaiting review
    # Most called back within a working day and rectified within five; some late.
    called = [c for c in out.cases if c["callback_at"]]
    late = [c for c in called if to_local(c["callback_at"]).date() > c["callback_due"]]
    assert 0.02 < len(late) / len(called) < 0.2
    rectified = [c for c in out.cases if c["rectified_at"]]
    late = [c for c in rectified if to_local(c["rectified_at"]).date() > c["rectification_due"]]
    assert 0.03 < len(late) / len(rectified) < 0.25
    rows = out.event_rows(first_id=1)
    assert [r["id"] for r in rows] == list(range(1, len(rows) + 1))
    per_case = defaultdict(list)
    for r in rows:
        assert r["at"] <= now
        if r["case_id"]:
            per_case[r["case_id"]].append(r["kind"])
    assert all(kinds[0] == "case.opened" for kinds in per_case.values())
