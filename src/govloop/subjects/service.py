"""Master records: survivorship with provenance, the conflict queue and its decisions, and
the read side for pages and the API."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from govloop.core.auth import User
from govloop.core.clock import now
from govloop.core.errors import Conflict, NotFound, RuleViolation
from govloop.ingest import records as ingest_records
from govloop.ingest.records import StoredRecord
from govloop.subjects.models import (
    ConflictStatus,
    SubjectConflict,
    SubjectKind,
    SubjectLink,
    SubjectMaster,
)
from govloop.subjects.survivorship import Candidate, candidates_key, choose, config

PAGE = 50


def _candidates(records: list[StoredRecord], field: str) -> list[Candidate]:
    out = []
    for record in records:
        value = record.payload.get(field)
        if value in (None, ""):
            continue
        observed = record.occurred_at or record.stored_at
        out.append(Candidate(str(value), record.id, record.source_key, record.department, observed))
    return out


def refresh_masters(*, session: Session, master_ids: list[int]) -> None:
    """Recompute the surviving values, provenance and open conflicts of these masters."""
    if not master_ids:
        return
    cfg = config()
    masters = {
        m.id: m
        for m in session.scalars(select(SubjectMaster).where(SubjectMaster.id.in_(master_ids)))
    }
    links = session.execute(
        select(SubjectLink.master_id, SubjectLink.record_id).where(
            SubjectLink.master_id.in_(master_ids)
        )
    ).all()
    record_ids: dict[int, list[int]] = defaultdict(list)
    for master_id, record_id in links:
        record_ids[master_id].append(record_id)
    stored = ingest_records.records_by_id(session=session, ids=[r for _, r in links])
    conflicts: dict[tuple[int, str], list[SubjectConflict]] = defaultdict(list)
    for c in session.scalars(
        select(SubjectConflict).where(SubjectConflict.master_id.in_(master_ids))
    ):
        conflicts[(c.master_id, c.field)].append(c)
    stamp = now()
    for master_id, master in masters.items():
        kind = cfg.kinds[master.kind]
        records = [stored[r] for r in record_ids[master_id] if r in stored]
        attributes: dict[str, Any] = {}
        provenance: dict[str, Any] = {}
        for field in kind.fields:
            candidates = _candidates(records, field)
            key = candidates_key([c.value for c in candidates])
            decided = next(
                (
                    c
                    for c in conflicts[(master_id, field)]
                    if c.status == ConflictStatus.RESOLVED and c.candidates_key == key
                ),
                None,
            )
            decision = (key, decided.decided_value or "") if decided else None
            outcome = choose(
                field, candidates, conflict_field=field in kind.conflicts, decision=decision
            )
            if outcome.value is None:
                # no source has the field (any more: its records moved to another master)
                _sync_conflict(
                    session, master_id, field, False, [], key, stamp, conflicts[(master_id, field)]
                )
                continue
            attributes[field] = outcome.value
            provenance[field] = {
                "rule": outcome.rule,
                **(outcome.chosen.as_dict() if outcome.chosen else {"value": outcome.value}),
                "candidates": len(outcome.candidates),
            }
            _sync_conflict(
                session,
                master_id,
                field,
                outcome.conflict,
                candidates,
                key,
                stamp,
                conflicts[(master_id, field)],
            )
        master.attributes = attributes
        master.provenance = provenance
        master.display_name = str(attributes.get(kind.name_field) or master.display_name)[:200]
        master.record_count = len(records)
        master.updated_at = stamp
    session.flush()


def _sync_conflict(
    session: Session,
    master_id: int,
    field: str,
    is_conflict: bool,
    candidates: list[Candidate],
    key: str,
    stamp: datetime,
    existing: list[SubjectConflict],
) -> None:
    """Keep one open conflict per master and field while the sources disagree."""
    open_ones = [c for c in existing if c.status == ConflictStatus.OPEN]
    if not is_conflict:
        for c in open_ones:  # the disagreement went away (e.g. a record moved)
            c.status = ConflictStatus.RESOLVED
            c.note = "来源不再不一致，自动关闭"
            c.decided_at = stamp
        return
    current = next((c for c in open_ones if c.candidates_key == key), None)
    for c in open_ones:
        if c is not current:
            c.status = ConflictStatus.RESOLVED
            c.note = "候选值已变化，已重新提交"
            c.decided_at = stamp
    if current is None:
        session.add(
            SubjectConflict(
                master_id=master_id,
                field=field,
                candidates=[c.as_dict() for c in candidates],
                candidates_key=key,
                status=ConflictStatus.OPEN,
                created_at=stamp,
            )
        )


def resolve_conflict(
    *, session: Session, conflict_id: int, value: str, actor: User, note: str | None = None
) -> SubjectConflict:
    conflict = session.get(SubjectConflict, conflict_id)
    if conflict is None:
        raise NotFound(f"未找到冲突 {conflict_id}", code="unknown_conflict")
    if conflict.status != ConflictStatus.OPEN:
        raise Conflict("该冲突已处理", code="conflict_closed")
    allowed = {str(c["value"]) for c in conflict.candidates}
    if value not in allowed:
        raise RuleViolation("只能从各来源提供的候选值中选择", code="not_a_candidate")
    conflict.status = ConflictStatus.RESOLVED
    conflict.decided_value = value
    conflict.decided_by = actor.id
    conflict.decided_at = now()
    conflict.note = (note or "").strip()[:500] or None
    session.flush()
    refresh_masters(session=session, master_ids=[conflict.master_id])
    return conflict


# --- read side ----------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterSummary:
    id: int
    kind: str
    identifier: str | None
    display_name: str
    record_count: int
    updated_at: datetime
    open_conflicts: int


def search_masters(
    *, session: Session, kind: str | None = None, query: str = "", page: int = 1
) -> tuple[list[MasterSummary], int]:
    if kind and kind not in set(SubjectKind):
        raise RuleViolation(f"未知的主题类型：{kind}", code="unknown_kind")
    stmt = select(SubjectMaster)
    if kind:
        stmt = stmt.where(SubjectMaster.kind == kind)
    text = query.strip()
    if text:
        # autoescape: "%" and "_" typed by a user are characters, not wildcards
        stmt = stmt.where(
            or_(
                SubjectMaster.display_name.contains(text, autoescape=True),
                SubjectMaster.identifier.contains(text, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    masters = session.scalars(
        stmt.order_by(SubjectMaster.id).offset((max(page, 1) - 1) * PAGE).limit(PAGE)
    ).all()
    open_counts = dict(
        session.execute(
            select(SubjectConflict.master_id, func.count())
            .where(
                SubjectConflict.status == ConflictStatus.OPEN,
                SubjectConflict.master_id.in_([m.id for m in masters]),
            )
            .group_by(SubjectConflict.master_id)
        ).all()
    )
    return [
        MasterSummary(
            m.id,
            m.kind,
            m.identifier,
            m.display_name,
            m.record_count,
            m.updated_at,
            open_counts.get(m.id, 0),
        )
        for m in masters
    ], total


@dataclass(frozen=True)
class LinkedRecord:
    record: StoredRecord
    method: str
    probability: float | None


@dataclass(frozen=True)
class MasterDetail:
    master: SubjectMaster
    records: list[LinkedRecord]
    conflicts: list[SubjectConflict]


def master_detail(*, session: Session, master_id: int) -> MasterDetail:
    master = session.get(SubjectMaster, master_id)
    if master is None:
        raise NotFound(f"未找到主题记录 {master_id}", code="unknown_master")
    links = session.scalars(
        select(SubjectLink).where(SubjectLink.master_id == master_id).order_by(SubjectLink.id)
    ).all()
    stored = ingest_records.records_by_id(session=session, ids=[link.record_id for link in links])
    conflicts = session.scalars(
        select(SubjectConflict)
        .where(SubjectConflict.master_id == master_id)
        .order_by(SubjectConflict.id.desc())
    ).all()
    return MasterDetail(
        master,
        [
            LinkedRecord(stored[link.record_id], link.method, link.probability)
            for link in links
            if link.record_id in stored
        ],
        list(conflicts),
    )


def list_conflicts(
    *, session: Session, status: str = ConflictStatus.OPEN, limit: int = 200
) -> list[tuple[SubjectConflict, SubjectMaster]]:
    if status not in set(ConflictStatus):
        raise RuleViolation(f"未知的状态：{status}", code="unknown_status")
    rows = session.execute(
        select(SubjectConflict, SubjectMaster)
        .join(SubjectMaster, SubjectMaster.id == SubjectConflict.master_id)
        .where(SubjectConflict.status == status)
        .order_by(SubjectConflict.id)
        .limit(limit)
    ).all()
    return [(c, m) for c, m in rows]


def counts(*, session: Session) -> dict[str, Any]:
    by_kind = dict(
        session.execute(select(SubjectMaster.kind, func.count()).group_by(SubjectMaster.kind)).all()
    )
    links = session.scalar(select(func.count()).select_from(SubjectLink)) or 0
    open_conflicts = (
        session.scalar(
            select(func.count())
            .select_from(SubjectConflict)
            .where(SubjectConflict.status == ConflictStatus.OPEN)
        )
        or 0
    )
    return {"masters": by_kind, "records": links, "open_conflicts": open_conflicts}


@dataclass(frozen=True)
class SubjectValues:
    id: int
    kind: str
    display_name: str
    attributes: dict[str, Any]


def subject_values(*, session: Session, master_ids: list[int]) -> dict[int, SubjectValues]:
    """The surviving values of masters, for purpose-bound delivery (access filters them)."""
    rows = session.execute(
        select(
            SubjectMaster.id,
            SubjectMaster.kind,
            SubjectMaster.display_name,
            SubjectMaster.attributes,
        ).where(SubjectMaster.id.in_(master_ids))
    ).all()
    return {r[0]: SubjectValues(r[0], r[1], r[2], dict(r[3] or {})) for r in rows}


def find_person(*, session: Session, id_number: str) -> SubjectValues | None:
    """The person master with this (valid, normalized) resident ID number."""
    row = session.execute(
        select(
            SubjectMaster.id,
            SubjectMaster.kind,
            SubjectMaster.display_name,
            SubjectMaster.attributes,
        ).where(SubjectMaster.kind == "person", SubjectMaster.identifier == id_number)
    ).first()
    return SubjectValues(row[0], row[1], row[2], dict(row[3] or {})) if row else None
