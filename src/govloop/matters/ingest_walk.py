"""How a department record moves a matter through the state machine: the steps between
the matter's state and the record's (the states a real system skips without saying), and
each step as an event by the department system at the department's time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from govloop.ingest.schemas import (
    MATTER_RESULT_WORDS,
    MATTER_STATE_ORDER,
    MATTER_STATE_WORDS,
    MatterRecord,
)
from govloop.matters import deadlines, workflow
from govloop.matters.models import CLOSED_STATES, Matter, MatterState

S = MatterState
# every state word maps to a state of the machine
assert {MatterState(code) for code in MATTER_STATE_WORDS.values()} <= set(MatterState)
assert set(MATTER_STATE_ORDER) == set(MatterState)
# the usual order of the states: the tie-break of records at the same moment
RANK = {MatterState(code): i for i, code in enumerate(MATTER_STATE_ORDER)}
# states a record may skip on its way (the department reports where the matter is, not
# every step); 补正 and 退回 are never implied, a decision only when it is certain
IMPLIED = frozenset({S.REVIEWING, S.GRANTED, S.REFUSED, S.CERTIFYING, S.AWAITING_PICKUP, S.POSTED})
DECISIONS = frozenset({S.GRANTED, S.REFUSED})


class Refused(Exception):
    """A record the consumer cannot apply: (reason code, reason in Chinese)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _paths(start: MatterState, target: MatterState) -> list[list[MatterState]]:
    """Every path from ``start`` to ``target`` whose states between lie in IMPLIED."""
    found: list[list[MatterState]] = []

    def visit(state: MatterState, path: list[MatterState]) -> None:
        for nxt in sorted(workflow.TRANSITIONS.get(state, frozenset())):
            step = MatterState(nxt)
            if step == target:
                found.append([*path, step])
            elif step in IMPLIED and step not in path and step != start:
                visit(step, [*path, step])

    visit(start, [])
    return found


def _decision(rec: MatterRecord) -> MatterState | None:
    """The decision the record reports (its state, or 决定结果)."""
    state = MatterState(MATTER_STATE_WORDS[rec.state])
    if state in DECISIONS:
        return state
    if rec.result:
        return MatterState(MATTER_RESULT_WORDS[rec.result])
    return None


def plan(
    start: MatterState, target: MatterState, decision: MatterState | None
) -> list[MatterState]:
    """The steps from ``start`` to ``target``; raises Refused when there is none, or when
    the way could pass 准予 or 不予 and the record does not say which."""
    label = workflow.STATE_LABELS
    if start in CLOSED_STATES:
        raise Refused("matter_closed", f"办件已{label[start]}，不能再变为“{label[target]}”")
    paths = _paths(start, target)
    if decision is not None:
        other = DECISIONS - {decision}
        paths = [p for p in paths if not other & set(p)]
    if not paths:
        raise Refused(
            "matter_bad_transition",
            f"办件当前为“{label[start]}”，不能变为“{label[target]}”",
        )
    ways = {frozenset(DECISIONS & set(p[:-1])) for p in paths}
    if len(ways) > 1:
        raise Refused(
            "matter_decision_unknown",
            f"办件当前为“{label[start]}”，记录为“{label[target]}”，跳过了审批决定："
            "请在“决定结果”中注明准予或不予",
        )
    return min(paths, key=len)


def walk(
    *,
    session: Session,
    matter: Matter,
    target: MatterState,
    record: MatterRecord,
    at: datetime,
    lineage: dict[str, object],
) -> None:
    """Move ``matter`` to ``target`` step by step; raises Refused (nothing moved yet)."""
    steps = plan(MatterState(matter.state), target, _decision(record))
    for i, to in enumerate(steps):
        _step(session, matter, to, record, at, dict(lineage), final=i == len(steps) - 1)


def _step(
    session: Session,
    matter: Matter,
    to: MatterState,
    rec: MatterRecord,
    at: datetime,
    detail: dict[str, object],
    final: bool,
) -> None:
    frm = matter.state
    if not final:
        detail["implied"] = True  # a state the record skipped over
    if frm == S.CORRECTION and to == S.REVIEWING and matter.clock_stopped_at is not None:
        paused = deadlines.workdays_between(matter.clock_stopped_at, at)
        matter.paused_workdays += paused
        matter.clock_stopped_at = None
        deadlines.recompute(matter)
        detail["paused_workdays"] = paused
    if to == S.CORRECTION:
        matter.clock_stopped_at = at
        detail["materials"] = list(rec.correction_materials or [])
    if frm == S.CERTIFYING and to in (S.AWAITING_PICKUP, S.POSTED):
        matter.certified_at = at
    if to == S.PICKED_UP:
        matter.visits += 1
    event = workflow.transition(
        session=session,
        matter=matter,
        to=to,
        actor=None,
        note=rec.note if final else None,
        detail=detail,
    )
    # the department's time of the change, not the moment govloop heard of it
    event.at = at
    if to in DECISIONS:
        matter.decided_at = min(rec.decided_at, at) if rec.decided_at else at
    if to in CLOSED_STATES:
        matter.closed_at = at


__all__ = ["DECISIONS", "IMPLIED", "RANK", "Refused", "plan", "walk"]
