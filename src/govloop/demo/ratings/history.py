"""Ratings of the demo hall's history, their rectification cases and the event log.

Pure computation, no database: :func:`simulate_ratings` turns finished visits into rating,
case and event rows whose case states are exactly what replaying the events through
:mod:`govloop.ratings.service` gives (deadlines as ``open_case`` computes them, transitions
as ``record_callback`` … ``review_appeal`` apply them). :mod:`govloop.demo.ratings.seed`
writes them.

Every bad rating opens a case that, as a rule, is called back within a working day and
rectified within the policy's working days, late now and then; a few are appealed (some
upheld, which excludes the rating, some rejected). So that the manager's dashboard has
something to flag and to act on today, the most recent cases past their deadline stall
and a couple of recent ones await the review of an appeal. Steps that would happen after
the present moment have not happened yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

from govloop.core import calendar
from govloop.core.clock import local_tz, to_local
from govloop.demo.ratings.citizens import (
    CAUSES,
    RATED_SHARE,
    RATED_SHARE_UNHAPPY,
    Experience,
    pick,
    rating_delay_seconds,
    rating_input,
)
from govloop.ratings.models import BAD_LEVELS, CaseStatus
from govloop.ratings.rectification import deadline

# --- parameters and texts of the cases ------------------------------------------------

CALLBACK_LATE = 0.10  # called back after the callback deadline
RECTIFY_LATE = 0.12  # rectified after the rectification deadline
APPEAL_SHARE = 0.07
# Recent cases left open past their deadlines, and appealed but not reviewed yet: one per
# CASES_PER_SPECIAL cases, at least one and at most the cap.
STALLED_CASES = 4
PENDING_APPEALS = 2
CASES_PER_SPECIAL = 40
WORK_START, WORK_END = time(8, 45), time(17, 45)
CALLBACK_NOTES = (
    "已电话回访，向群众致歉并说明情况，群众表示理解。",
    "已电话回访，了解具体诉求，约定整改后再次反馈。",
    "已回访，群众反映情况属实，已登记整改要求。",
)
ANONYMOUS_CALLBACK_NOTE = "匿名评价无法电话回访，已调阅当日录音录像和排队数据核实情况。"
# (appeal reason, chance the review upholds it, review note if upheld, if rejected)
APPEALS: tuple[tuple[str, float, str, str], ...] = (
    (
        "经调阅录音录像，窗口人员已按规定一次性告知，群众因不符合办理条件给出差评，属误评。",
        0.6,
        "经复核，窗口办理合规，差评系对政策规定不满，予以剔除。",
        "经复核，告知过程仍有不到位之处，申诉不予支持，请继续整改。",
    ),
    (
        "回访时群众本人表示评价时误点差评，对服务满意，申请剔除。",
        0.8,
        "经复核回访录音，确属误评，予以剔除。",
        "回访录音未能证实误评，申诉不予支持。",
    ),
    (
        "评价内容与本窗口办理事项无关，系对其他部门的意见，申请复核。",
        0.4,
        "经复核，差评指向的事项非本窗口办理，予以剔除。",
        "经复核，录像显示答复不够耐心，申诉不予支持，请继续整改。",
    ),
)

# --- inputs and outputs ----------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """A finished visit of the demo hall's history, as the ratings see it."""

    ticket_id: int
    service_date: date
    hall_id: int
    item_id: int
    department_id: int
    window_id: int | None
    staff_id: int | None
    ticket_channel: str  # kiosk | mobile | appointment
    arrived_at: datetime
    called_at: datetime
    finished_at: datetime
    outcome: str


@dataclass
class RatingHistory:
    ratings: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    # (at, order, row without id); sorted by time before ids are given
    events: list[tuple[datetime, int, dict[str, Any]]] = field(default_factory=list)

    def event_rows(self, first_id: int) -> list[dict[str, Any]]:
        ordered = sorted(self.events, key=lambda e: (e[0], e[1]))
        return [{"id": first_id + i, **row} for i, (_at, _seq, row) in enumerate(ordered)]


@dataclass(frozen=True)
class Staffing:
    """Who acts on cases: the manager calls back, closes and reviews; the handling staff
    member records the rectification and appeals."""

    manager_id: int
    callback_working_days: int = 1
    rectification_working_days: int = 5


# --- ratings -----------------------------------------------------------------------------


def _rate(rng: np.random.Generator, v: Visit) -> dict[str, Any] | None:
    waited = (v.called_at - v.arrived_at).total_seconds() / 60.0
    x = Experience(waited, v.outcome, v.ticket_channel)
    if rng.random() >= (RATED_SHARE_UNHAPPY if x.unhappy else RATED_SHARE):
        return None
    body, cause = rating_input(rng, x)
    phone = body.get("citizen_phone")
    rated_at = v.finished_at + timedelta(seconds=rating_delay_seconds(rng, body["channel"]))
    return {
        "ticket_id": v.ticket_id,
        "matter_source": None,
        "matter_ref": None,
        "channel": body["channel"],
        "level": body["level"],
        "dimension_scores": body["dimension_scores"],
        "tags": body["tags"],
        "comment": body["comment"],
        "real_name": phone is not None,
        "citizen_name": body.get("citizen_name"),
        "citizen_phone": phone,
        "hall_id": v.hall_id,
        "item_id": v.item_id,
        "window_id": v.window_id,
        "staff_id": v.staff_id,
        "department_id": v.department_id,
        "rated_at": rated_at,
        "excluded": False,
        "excluded_reason": None,
        "excluded_by": None,
        "_cause": cause,
    }


# --- rectification cases -----------------------------------------------------------------


def _workdays(first: date, last: date) -> list[date]:
    days = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    return [d for d in days if calendar.is_workday(d)] or [calendar.next_workday(first)]


def _moment(rng: np.random.Generator, day: date, after: datetime) -> datetime:
    """A moment of office hours on ``day`` (or the next working day) after ``after``."""
    tz = local_tz()
    while True:
        lo = max(datetime.combine(day, WORK_START, tzinfo=tz), after + timedelta(minutes=10))
        hi = datetime.combine(day, WORK_END, tzinfo=tz)
        if lo < hi:
            return lo + (hi - lo) * float(rng.random()) ** 1.5
        day = calendar.next_workday(day)


Step = tuple[datetime, str, int | None, dict[str, Any]]  # (at, kind, actor, detail)


def _plan_case(
    rng: np.random.Generator, rating: dict[str, Any], case: dict[str, Any], staffing: Staffing
) -> list[Step]:
    """Every step the case will take, in order, regardless of today."""
    manager = staffing.manager_id
    handler = rating["staff_id"] or manager
    cause = rating["_cause"] or "attitude"
    start = to_local(rating["rated_at"]).date()
    steps: list[Step] = []
    last = rating["rated_at"]

    def add(day: date, kind: str, actor: int, detail: dict[str, Any] | None = None) -> date:
        nonlocal last
        last = _moment(rng, day, last)
        steps.append((last, kind, actor, detail or {}))
        return to_local(last).date()

    def callback() -> date:
        if rng.random() < CALLBACK_LATE:
            day = calendar.add_workdays(case["callback_due"], 1 + int(rng.integers(3)))
        else:
            day = pick(rng, _workdays(start, case["callback_due"]))
        note = pick(rng, CALLBACK_NOTES) if rating["real_name"] else ANONYMOUS_CALLBACK_NOTE
        return add(max(day, to_local(last).date()), "case.called_back", manager, {"_note": note})

    appeal = rng.random() < APPEAL_SHARE
    called = False
    if appeal and rng.random() < 0.5:
        callback()
        called = True
    if appeal:
        reason, p_uphold, upheld_note, rejected_note = pick(rng, APPEALS)
        day = add(
            pick(rng, _workdays(to_local(last).date(), case["callback_due"])),
            "case.appealed",
            handler,
            {"reason": reason},
        )
        uphold = rng.random() < p_uphold
        review_day = calendar.add_workdays(day, 1 + int(rng.integers(2)))
        kind = "case.appeal_upheld" if uphold else "case.appeal_rejected"
        add(review_day, kind, manager, {"note": upheld_note if uphold else rejected_note})
        if uphold:
            return steps
    if not called:
        callback()
    if rng.random() < RECTIFY_LATE:
        day = calendar.add_workdays(case["rectification_due"], 1 + int(rng.integers(4)))
    else:
        early = _workdays(to_local(last).date(), case["rectification_due"])
        day = early[min(int(rng.exponential(1.5)), len(early) - 1)]
    detail = {"_evidence": CAUSES[cause]["evidence"], "_result": CAUSES[cause]["result"]}
    day = add(max(day, to_local(last).date()), "case.rectified", handler, detail)
    add(calendar.add_workdays(day, int(rng.integers(3))), "case.closed", manager)
    return steps


def _apply(case: dict[str, Any], rating: dict[str, Any], step: Step) -> dict[str, Any]:
    """One transition, as the service applies it; returns the event's detail."""
    at, kind, actor, detail = step
    if kind == "case.called_back":
        assert case["status"] == CaseStatus.OPEN
        case.update(status=CaseStatus.CALLED_BACK.value, callback_at=at, callback_by=actor)
        case["callback_note"] = detail["_note"]
        return {}
    if kind == "case.rectified":
        assert case["status"] == CaseStatus.CALLED_BACK
        case.update(status=CaseStatus.RECTIFIED.value, rectified_at=at)
        case.update(evidence=detail["_evidence"], result=detail["_result"])
        return {}
    if kind == "case.closed":
        assert case["status"] == CaseStatus.RECTIFIED
        case.update(status=CaseStatus.CLOSED.value, closed_at=at, closed_by=actor)
        return {}
    if kind == "case.appealed":
        case.update(status_before_appeal=case["status"], status=CaseStatus.APPEALED.value)
        case.update(appeal_reason=detail["reason"], appealed_by=actor, appealed_at=at)
        return detail
    assert case["status"] == CaseStatus.APPEALED and actor != case["appealed_by"]
    uphold = kind == "case.appeal_upheld"
    case.update(review_decision="upheld" if uphold else "rejected", review_note=detail["note"])
    case.update(reviewed_by=actor, reviewed_at=at)
    if uphold:
        case["status"] = CaseStatus.EXCLUDED.value
        rating.update(excluded=True, excluded_reason=case["appeal_reason"], excluded_by=actor)
    else:
        case["status"] = case["status_before_appeal"] or CaseStatus.OPEN.value
    return detail


def _open_case(rating: dict[str, Any], case_id: int, staffing: Staffing) -> dict[str, Any]:
    start = to_local(rating["rated_at"]).date()
    callback_due, est1 = deadline(start, staffing.callback_working_days)
    rect_due, est2 = deadline(start, staffing.rectification_working_days)
    return {
        "id": case_id,
        "rating_id": rating["id"],
        "status": CaseStatus.OPEN.value,
        "department_id": rating["department_id"],
        "staff_id": rating["staff_id"],
        "opened_at": rating["rated_at"],
        "callback_due": callback_due,
        "rectification_due": rect_due,
        "due_dates_estimated": est1 or est2,
        "callback_at": None,
        "callback_by": None,
        "callback_note": None,
        "rectified_at": None,
        "evidence": None,
        "result": None,
        "closed_at": None,
        "closed_by": None,
        "status_before_appeal": None,
        "appeal_reason": None,
        "appealed_by": None,
        "appealed_at": None,
        "review_decision": None,
        "review_note": None,
        "reviewed_by": None,
        "reviewed_at": None,
    }


def simulate_ratings(
    visits: Sequence[Visit],
    *,
    seed: int,
    now: datetime,
    staffing: Staffing,
    first_rating_id: int = 1,
    first_case_id: int = 1,
) -> RatingHistory:
    """Ratings of ``visits``, the cases of the bad ones and the event log, as of ``now``.

    Each service day draws from its own generator seeded by ``(seed, day)``.
    """
    by_day: dict[date, list[Visit]] = {}
    for v in visits:
        by_day.setdefault(v.service_date, []).append(v)
    rated: list[dict[str, Any]] = []
    plans: dict[int, list[Step]] = {}  # position in ``rated`` → planned steps
    for day in sorted(by_day):
        rng = np.random.default_rng([seed, day.toordinal(), 5])
        for v in sorted(by_day[day], key=lambda v: v.ticket_id):
            row = _rate(rng, v)
            if row is not None and row["rated_at"] <= now:
                rated.append(row)
    rated.sort(key=lambda r: (r["rated_at"], r["ticket_id"]))
    out = RatingHistory()
    case_rng = np.random.default_rng([seed, 6])
    case_of: dict[int, dict[str, Any]] = {}
    for k, row in enumerate(rated):
        row["id"] = first_rating_id + k
        if row["level"] in BAD_LEVELS:
            case = _open_case(row, first_case_id + len(out.cases), staffing)
            out.cases.append(case)
            case_of[k] = case
            plans[k] = _plan_case(case_rng, row, case, staffing)
    stalled = _stall_recent(rated, case_of, plans, now)
    _appeal_pending(case_rng, rated, case_of, plans, now, staffing, stalled)

    seq = 0

    def event(at: datetime, kind: str, rating: dict[str, Any], **kw: Any) -> None:
        nonlocal seq
        seq += 1
        row = {"kind": kind, "at": at, "rating_id": rating["id"], "case_id": None}
        row.update({"actor_id": None, "detail": {}}, **kw)
        out.events.append((at, seq, row))

    for k, row in enumerate(rated):
        at = row["rated_at"]
        event(
            at, "rating.submitted", row, detail={"level": row["level"], "channel": row["channel"]}
        )
        opened = case_of.get(k)
        if opened is not None:
            due = {"callback_due": opened["callback_due"].isoformat()}
            due["rectification_due"] = opened["rectification_due"].isoformat()
            event(at, "case.opened", row, case_id=opened["id"], detail=due)
            for step in plans[k]:
                if step[0] > now:
                    break
                detail = _apply(opened, row, step)
                event(step[0], step[1], row, case_id=opened["id"], actor_id=step[2], detail=detail)
        row.pop("_cause")
        out.ratings.append(row)
    return out


def _stall_recent(
    rated: list[dict[str, Any]],
    case_of: dict[int, dict[str, Any]],
    plans: dict[int, list[Step]],
    moment: datetime,
) -> set[int]:
    """Leave the most recent cases already past their rectification deadline open: half
    never called back, half called back but not rectified. Returns them."""
    today = to_local(moment).date()
    candidates = [
        k
        for k, case in case_of.items()
        if case["rectification_due"] < today and not any(s[1] == "case.appealed" for s in plans[k])
    ]
    newest = sorted(candidates, key=lambda k: rated[k]["rated_at"], reverse=True)
    stalled = newest[: _special(len(case_of), STALLED_CASES)]
    for n, k in enumerate(stalled):
        plans[k] = [s for s in plans[k] if s[1] == "case.called_back"][: n % 2]
    return set(stalled)


def _special(cases: int, cap: int) -> int:
    return min(cap, max(1, cases // CASES_PER_SPECIAL))


def _appeal_pending(
    rng: np.random.Generator,
    rated: list[dict[str, Any]],
    case_of: dict[int, dict[str, Any]],
    plans: dict[int, list[Step]],
    moment: datetime,
    staffing: Staffing,
    skip: set[int],
) -> None:
    """Let the newest called-back cases be appealed before ``moment`` and not reviewed
    yet, so the manager has an appeal to review (复核)."""
    pending, wanted = 0, _special(len(case_of), PENDING_APPEALS)
    for k in sorted(case_of, key=lambda k: rated[k]["rated_at"], reverse=True):
        if pending >= wanted:
            return
        if k in skip or any(s[1] == "case.appealed" for s in plans[k]):
            continue
        callback = next((s for s in plans[k] if s[1] == "case.called_back"), None)
        if callback is None or callback[0] >= moment:
            continue
        at = _moment(rng, to_local(callback[0]).date(), callback[0])
        if at >= moment:
            continue
        reason = pick(rng, APPEALS)[0]
        handler = rated[k]["staff_id"] or staffing.manager_id
        plans[k] = [callback, (at, "case.appealed", handler, {"reason": reason})]
        pending += 1
