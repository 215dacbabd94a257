"""A data steward mends master records: split a master, move a record to another master,
mark two records "not the same person"; and the queue of masters that look wrongly merged.

The rules live here; the API, the pages and the CLI only call these functions.

- Master ids are never deleted or reused. When a master is split, the part with the
  majority of its records keeps the id (a tie: the part holding the master's identifier,
  then the part holding the lowest record id); the other part gets a new id. A master left
  without records stays, with ``record_count`` 0.
- Each master's ``identifier`` is recomputed from its records after every change: its one
  valid identifier (resident ID, credit code, project code), or None when it has none or
  several. Identifiers are unique per kind: when two masters could claim one, the master
  that held it keeps it.
- Cases and grants refer to masters by id, but were attached by ID number: the references
  of a master follow the part that holds the identifier the master had; otherwise they stay.
- A move never puts a record beside one it can never be one person with (``identity``'s
  hard constraints, a steward's "not the same person").
- Every decision is written as a ``SubjectDecision`` with its reason, and as an entry of
  the tamper-evident access log with ids only (never a name or an ID number).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from govloop.audit import log as audit
from govloop.audit.log import Entry
from govloop.core.auth import Permission, User, has_permission
from govloop.core.clock import now
from govloop.core.errors import Conflict, NotFound, PermissionDenied, RuleViolation
from govloop.ingest import records as ingest_records
from govloop.ingest.records import StoredRecord
from govloop.subjects import identifiers as ids
from govloop.subjects import identity
from govloop.subjects.models import (
    DecisionKind,
    LinkMethod,
    SubjectCannotLink,
    SubjectDecision,
    SubjectKind,
    SubjectLink,
    SubjectMaster,
)
from govloop.subjects.references import repoint_references
from govloop.subjects.service import refresh_masters
from govloop.subjects.survivorship import config

REASON_MIN = 2
REASON_MAX = 500
BATCH = 500  # masters per batch of the suspicious-master scan
IN_CHUNK = 1_000  # ids per IN (…) clause

# Why two records cannot be one subject, or why a master looks wrongly merged, in the words
# a steward reads (identity's hard constraints, and what this module adds).
REASON_LABELS: dict[str, str] = {
    **identity.CONFLICT_LABELS,
    "names_far": "姓名差异过大（既不同音，也不止一字之差）",
    "two_credit_codes": "两个不同的有效统一社会信用代码",
    "two_project_codes": "两个不同的项目代码",
}
# how much one conflicting pair of records weighs in the suspicious-master ranking
SEVERITY: dict[str, int] = {
    "two_valid_ids": 100,
    "two_credit_codes": 100,
    "two_project_codes": 100,
    "not_same": 50,
    "sex": 20,
    "birth_date": 10,
    "names_far": 3,
}
TWO_IDENTIFIERS = frozenset({"two_valid_ids", "two_credit_codes", "two_project_codes"})
AUDIT_ACTIONS = {
    DecisionKind.SPLIT: "subject.split",
    DecisionKind.MOVE: "subject.move",
    DecisionKind.NOT_SAME: "subject.not_same",
}


# --- identifiers and conflicts of records --------------------------------------------------


def record_identifier(kind: str, payload: dict[str, Any]) -> str | None:
    """The record's valid identifier for its kind (normalized), or None."""
    if kind == SubjectKind.PERSON:
        return identity.person_key("", payload).id_number
    raw = payload.get(config().kinds[kind].identifier)
    if raw is None or not str(raw).strip():
        return None
    if kind == SubjectKind.ENTERPRISE:
        check = ids.check_uscc(str(raw))
        return check.value if check.valid else None
    return ids.clean(str(raw)) or None


def record_conflict(kind: str, a: StoredRecord, b: StoredRecord) -> str | None:
    """Why these two records can never be one subject (a code of ``REASON_LABELS``), or None.

    Persons: identity's hard constraints. Enterprises and projects: two different valid
    codes."""
    if kind == SubjectKind.PERSON:
        return identity.hard_conflict(
            identity.person_key(f"r{a.id}", a.payload), identity.person_key(f"r{b.id}", b.payload)
        )
    ida, idb = record_identifier(kind, a.payload), record_identifier(kind, b.payload)
    if ida and idb and ida != idb:
        return "two_credit_codes" if kind == SubjectKind.ENTERPRISE else "two_project_codes"
    return None


def cannot_link_pairs(
    session: Session, record_ids: Iterable[int] | None = None
) -> set[tuple[int, int]]:
    """The record pairs a steward marked "not the same person", smaller id first; with
    ``record_ids``, the pairs that involve any of those records."""
    stmt = select(SubjectCannotLink.record_a, SubjectCannotLink.record_b)
    if record_ids is None:
        return {(a, b) for a, b in session.execute(stmt).all()}
    wanted = sorted(set(record_ids))
    pairs: set[tuple[int, int]] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        rows = session.execute(
            stmt.where(
                or_(SubjectCannotLink.record_a.in_(chunk), SubjectCannotLink.record_b.in_(chunk))
            )
        ).all()
        pairs.update((a, b) for a, b in rows)
    return pairs


# --- helpers ---------------------------------------------------------------------------------


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if len(text) < REASON_MIN:
        raise RuleViolation(
            f"请填写理由（{REASON_MIN}–{REASON_MAX} 个字），说明依据", code="reason_required"
        )
    if len(text) > REASON_MAX:
        raise RuleViolation(f"理由不能超过 {REASON_MAX} 个字", code="reason_too_long")
    return text


def _check_actor(actor: User) -> None:
    if not has_permission(actor, Permission.DATA_STEWARD):
        raise PermissionDenied("只有数据管理员可以调整主记录", code="not_a_steward")


def _lock(session: Session, master_ids: Iterable[int]) -> dict[int, SubjectMaster]:
    """The masters, locked in id order (PostgreSQL) so two stewards' decisions take turns."""
    wanted = sorted(set(master_ids))
    rows = session.scalars(
        select(SubjectMaster)
        .where(SubjectMaster.id.in_(wanted))
        .order_by(SubjectMaster.id)
        .with_for_update()
    )
    return {m.id: m for m in rows}


def _master(masters: dict[int, SubjectMaster], master_id: int) -> SubjectMaster:
    master = masters.get(master_id)
    if master is None:
        raise NotFound(f"未找到主记录 #{master_id}", code="unknown_master")
    return master


def _links(session: Session, master_ids: Iterable[int]) -> dict[int, list[SubjectLink]]:
    out: dict[int, list[SubjectLink]] = defaultdict(list)
    wanted = sorted(set(master_ids))
    for link in session.scalars(
        select(SubjectLink).where(SubjectLink.master_id.in_(wanted)).order_by(SubjectLink.id)
    ):
        out[link.master_id].append(link)
    return out


def _link_of(session: Session, record_id: int) -> SubjectLink:
    link = session.scalar(select(SubjectLink).where(SubjectLink.record_id == record_id))
    if link is None:
        raise NotFound(f"记录 #{record_id} 不存在，或尚未关联到任何主记录", code="unknown_record")
    return link


def master_of_record(session: Session, record_id: int) -> int | None:
    """The master a source record belongs to now, or None."""
    return session.scalar(select(SubjectLink.master_id).where(SubjectLink.record_id == record_id))


def _new_master(session: Session, kind: str, name: str, stamp: datetime) -> SubjectMaster:
    master = SubjectMaster(
        kind=kind,
        identifier=None,
        display_name=name[:200],
        attributes={},
        provenance={},
        record_count=0,
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(master)
    session.flush()
    return master


def _name_of(kind: str, record: StoredRecord | None) -> str:
    if record is None:
        return ""
    return str(record.payload.get(config().kinds[kind].name_field) or "")


def _set_identifiers(
    session: Session, masters: list[SubjectMaster], records_of: dict[int, list[StoredRecord]]
) -> None:
    """Each master's identifier: its records' one valid identifier, or None. A value two
    masters could claim stays with the master that held it (then the one with more records
    carrying it, then the lower id); one another master holds is not taken."""
    kind = masters[0].kind
    wanted: dict[int, str | None] = {}
    carriers: dict[int, Counter[str]] = {}
    for m in masters:
        found = Counter(
            v for r in records_of.get(m.id, []) if (v := record_identifier(kind, r.payload))
        )
        carriers[m.id] = found
        wanted[m.id] = next(iter(found)) if len(found) == 1 else None
    claims: dict[str, list[SubjectMaster]] = defaultdict(list)
    for m in masters:
        if wanted[m.id]:
            claims[str(wanted[m.id])].append(m)
    for value, holders in claims.items():
        if len(holders) > 1:
            winner = max(
                holders, key=lambda m: (m.identifier == value, carriers[m.id][value], -m.id)
            )
            for m in holders:
                if m is not winner:
                    wanted[m.id] = None
    values = [v for v in wanted.values() if v]
    if values:
        taken = set(
            session.scalars(
                select(SubjectMaster.identifier).where(
                    SubjectMaster.kind == kind,
                    SubjectMaster.identifier.in_(values),
                    SubjectMaster.id.not_in([m.id for m in masters]),
                )
            )
        )
        for mid, v in wanted.items():
            if v in taken:
                wanted[mid] = None
    changed = [m for m in masters if m.identifier != wanted[m.id]]
    if not changed:
        return
    # unique per kind: let go of the old values first, then take the new ones
    for m in changed:
        m.identifier = None
    session.flush()
    for m in changed:
        m.identifier = wanted[m.id]
    session.flush()


def _transfer(
    session: Session,
    source: SubjectMaster,
    target: SubjectMaster,
    moving: list[SubjectLink],
    stamp: datetime,
) -> dict[str, Any]:
    """Move these links of ``source`` to ``target``; recompute both masters' identifiers,
    let references follow the identifier ``source`` had, and recompute their values."""
    had = source.identifier
    for link in moving:
        link.master_id = target.id
        link.method = LinkMethod.STEWARD
        link.probability = None
        link.linked_at = stamp
    session.flush()
    links = _links(session, [source.id, target.id])
    stored = ingest_records.records_by_id(
        session=session, ids=[link.record_id for ls in links.values() for link in ls]
    )
    records_of = {
        mid: [stored[link.record_id] for link in ls if link.record_id in stored]
        for mid, ls in links.items()
    }
    _set_identifiers(session, [source, target], records_of)
    details: dict[str, Any] = {"references_followed": False}
    if had is not None and target.identifier == had:
        cases, grants = repoint_references(session, source.id, target.id)
        details = {"references_followed": True, "cases": cases, "grants": grants}
    refresh_masters(session=session, master_ids=sorted({source.id, target.id}))
    return details


def _record(
    session: Session,
    *,
    kind: DecisionKind,
    actor: User,
    master_id: int,
    other_master_id: int | None,
    record_ids: list[int],
    reason: str,
    details: dict[str, Any],
    stamp: datetime,
) -> SubjectDecision:
    """The decision with its reason, and its entry in the access log (ids only)."""
    decision = SubjectDecision(
        kind=kind,
        master_id=master_id,
        other_master_id=other_master_id,
        record_ids=record_ids,
        reason=reason,
        actor_id=actor.id,
        details=details,
        created_at=stamp,
    )
    session.add(decision)
    session.flush()
    listed = ",".join(str(r) for r in record_ids)
    if len(listed) > 300:
        listed = f"{listed[:300]}…({len(record_ids)})"
    detail = f"decision={decision.id} master={master_id}"
    if other_master_id is not None:
        detail += f" other={other_master_id}"
    audit.append(
        session=session,
        entries=[
            Entry(
                actor_id=actor.id,
                actor=(actor.display_name or actor.username)[:100],
                action=AUDIT_ACTIONS[kind],
                subject_id=master_id,
                detail=f"{detail} records={listed}"[:500],
                at=stamp,
            )
        ],
    )
    return decision


# --- the decisions ---------------------------------------------------------------------------


def split_master(
    session: Session, master_id: int, record_ids: Iterable[int], actor: User, reason: str
) -> tuple[int, int]:
    """The given records (a proper, non-empty subset of the master's) leave for a new master.

    Returns (the id kept, the new id): the majority part keeps the master's id."""
    text = _reason(reason)
    _check_actor(actor)
    chosen = set(record_ids)
    if not chosen:
        raise RuleViolation("请勾选要拆分出去的记录", code="nothing_selected")
    master = _master(_lock(session, [master_id]), master_id)
    links = _links(session, [master_id])[master_id]
    in_master = {link.record_id for link in links}
    strangers = sorted(chosen - in_master)
    if strangers:
        raise RuleViolation(
            f"记录 {'、'.join(f'#{r}' for r in strangers[:10])} 不属于主记录 #{master_id}",
            code="record_not_in_master",
        )
    if chosen == in_master:
        raise RuleViolation(
            "不能把全部记录拆分出去：至少要留下一条记录", code="whole_master_selected"
        )
    rest = in_master - chosen
    stored = ingest_records.records_by_id(session=session, ids=sorted(in_master))
    had = master.identifier

    def holds_identifier(part: set[int]) -> bool:
        return had is not None and any(
            record_identifier(master.kind, stored[r].payload) == had for r in part if r in stored
        )

    keep = max((chosen, rest), key=lambda p: (len(p), holds_identifier(p), -min(p)))
    leave = rest if keep is chosen else chosen
    stamp = now()
    new = _new_master(session, master.kind, _name_of(master.kind, stored.get(min(leave))), stamp)
    details = _transfer(
        session, master, new, [link for link in links if link.record_id in leave], stamp
    )
    details |= {"selected": sorted(chosen), "moved": sorted(leave), "kept": sorted(keep)}
    _record(
        session,
        kind=DecisionKind.SPLIT,
        actor=actor,
        master_id=master.id,
        other_master_id=new.id,
        record_ids=sorted(leave),
        reason=text,
        details=details,
        stamp=stamp,
    )
    return master.id, new.id


def _refuse_conflicts(
    session: Session, kind: str, record_id: int, target: SubjectMaster, others: list[int]
) -> None:
    """Refuse to put the record beside records it can never be one subject with."""
    if not others:
        return
    stored = ingest_records.records_by_id(session=session, ids=[record_id, *others])
    pairs = cannot_link_pairs(session, [record_id])
    for other in others:
        if (min(record_id, other), max(record_id, other)) in pairs:
            raise Conflict(
                f"不能移入主记录 #{target.id}：数据管理员已判定记录 #{record_id} "
                f"与其中的记录 #{other} 不是同一人",
                code="cannot_link",
            )
    record = stored.get(record_id)
    if record is None:
        return
    for other in others:
        if other in stored and (why := record_conflict(kind, record, stored[other])):
            raise Conflict(
                f"不能移入主记录 #{target.id}：记录 #{record_id} 与其中的记录 #{other} "
                f"不可能是同一{'人' if kind == SubjectKind.PERSON else '主体'}"
                f"（{REASON_LABELS.get(why, why)}）",
                code="hard_conflict",
            )


def move_record(
    session: Session, record_id: int, target_master_id: int | None, actor: User, reason: str
) -> tuple[int, int]:
    """Move one record to another master of the same kind (None: to a new master).

    Returns (the master it left, the master it joined)."""
    text = _reason(reason)
    _check_actor(actor)
    link = _link_of(session, record_id)
    wanted = [link.master_id] + ([target_master_id] if target_master_id is not None else [])
    masters = _lock(session, wanted)
    session.refresh(link)  # after the lock: another decision may have moved it
    if link.master_id not in masters:
        raise Conflict(f"记录 #{record_id} 刚被移动过，请刷新后重试", code="record_moved")
    source = masters[link.master_id]
    stamp = now()
    if target_master_id is None:
        if len(_links(session, [source.id])[source.id]) <= 1:
            raise Conflict(
                f"记录 #{record_id} 已是主记录 #{source.id} 的唯一记录，无需移到新主记录",
                code="already_alone",
            )
        stored = ingest_records.records_by_id(session=session, ids=[record_id])
        target = _new_master(
            session, source.kind, _name_of(source.kind, stored.get(record_id)), stamp
        )
    else:
        target = _master(masters, target_master_id)
        if target.id == source.id:
            raise Conflict(f"记录 #{record_id} 已在主记录 #{target.id} 中", code="already_there")
        if target.kind != source.kind:
            raise RuleViolation(
                "只能移到同一类型的主记录（人员、法人、项目不能互换）", code="kind_mismatch"
            )
        others = [other.record_id for other in _links(session, [target.id])[target.id]]
        _refuse_conflicts(session, source.kind, record_id, target, others)
    details = _transfer(session, source, target, [link], stamp)
    details["new_master"] = target_master_id is None
    _record(
        session,
        kind=DecisionKind.MOVE,
        actor=actor,
        master_id=source.id,
        other_master_id=target.id,
        record_ids=[record_id],
        reason=text,
        details=details,
        stamp=stamp,
    )
    return source.id, target.id


def mark_not_same(
    session: Session, record_a: int, record_b: int, actor: User, reason: str
) -> SubjectCannotLink:
    """Two records are never one subject. When they are in one master now, ``record_b``
    leaves for a new master in the same decision. A repeat returns the stored pair."""
    text = _reason(reason)
    _check_actor(actor)
    if record_a == record_b:
        raise RuleViolation("请选择两条不同的记录", code="same_record")
    link_a, link_b = _link_of(session, record_a), _link_of(session, record_b)
    masters = _lock(session, [link_a.master_id, link_b.master_id])
    session.refresh(link_a)
    session.refresh(link_b)
    if link_a.master_id not in masters or link_b.master_id not in masters:
        raise Conflict("记录刚被移动过，请刷新后重试", code="record_moved")
    master_a, master_b = masters[link_a.master_id], masters[link_b.master_id]
    if master_a.kind != master_b.kind:
        raise RuleViolation("两条记录类型不同（人员、法人、项目），无需判定", code="kind_mismatch")
    low, high = sorted((record_a, record_b))
    pair = session.scalar(
        select(SubjectCannotLink).where(
            SubjectCannotLink.record_a == low, SubjectCannotLink.record_b == high
        )
    )
    together = master_a.id == master_b.id
    if pair is not None and not together:
        return pair  # decided before, and nothing violates it: nothing to do
    stamp = now()
    created = pair is None
    if pair is None:
        pair = SubjectCannotLink(
            record_a=low, record_b=high, reason=text, decided_by=actor.id, decided_at=stamp
        )
        session.add(pair)
        session.flush()
    details: dict[str, Any] = {"pair_id": pair.id, "new_pair": created, "moved": None}
    other_id: int | None = master_b.id if not together else None
    if together:
        target = _new_master(
            session,
            master_a.kind,
            _name_of(
                master_a.kind,
                ingest_records.records_by_id(session=session, ids=[record_b]).get(record_b),
            ),
            stamp,
        )
        details |= _transfer(session, master_a, target, [link_b], stamp)
        details["moved"] = record_b
        other_id = target.id
    _record(
        session,
        kind=DecisionKind.NOT_SAME,
        actor=actor,
        master_id=master_a.id,
        other_master_id=other_id,
        record_ids=[record_a, record_b],
        reason=text,
        details=details,
        stamp=stamp,
    )
    return pair


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionView:
    id: int
    kind: str
    master_id: int
    other_master_id: int | None
    record_ids: list[int]
    reason: str
    actor_id: int | None  # None: decided by the linkage
    actor: str | None
    details: dict[str, Any]
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "master_id": self.master_id,
            "other_master_id": self.other_master_id,
            "record_ids": self.record_ids,
            "reason": self.reason,
            "actor_id": self.actor_id,
            "actor": self.actor,
            "automatic": self.actor_id is None,
            "details": self.details,
            "created_at": self.created_at.isoformat(),
        }


def decisions_of(session: Session, master_id: int) -> list[DecisionView]:
    """The decisions that changed this master (as the master or as the other one), newest
    first, with the steward's name (None: the linkage decided)."""
    rows = session.execute(
        select(SubjectDecision, User.display_name, User.username)
        .outerjoin(User, User.id == SubjectDecision.actor_id)
        .where(
            or_(
                SubjectDecision.master_id == master_id,
                SubjectDecision.other_master_id == master_id,
            )
        )
        .order_by(SubjectDecision.created_at.desc(), SubjectDecision.id.desc())
    ).all()
    return [
        DecisionView(
            d.id,
            d.kind,
            d.master_id,
            d.other_master_id,
            list(d.record_ids or []),
            d.reason,
            d.actor_id,
            (display or username) if d.actor_id is not None else None,
            dict(d.details or {}),
            d.created_at,
        )
        for d, display, username in rows
    ]


@dataclass(frozen=True)
class Finding:
    """One reason a master looks wrongly merged: how many record pairs show it, and one."""

    code: str
    label: str
    pairs: int
    example: tuple[int, int]


@dataclass(frozen=True)
class SuspiciousMaster:
    master_id: int
    kind: str
    display_name: str
    identifier: str | None
    record_count: int
    findings: list[Finding] = field(default_factory=list)
    score: int = 0

    @property
    def two_identifiers(self) -> bool:
        return any(f.code in TWO_IDENTIFIERS for f in self.findings)

    def as_dict(self) -> dict[str, Any]:
        return {
            "master_id": self.master_id,
            "kind": self.kind,
            "name": self.display_name,
            "identifier": self.identifier,
            "record_count": self.record_count,
            "score": self.score,
            "reasons": [
                {"code": f.code, "label": f.label, "pairs": f.pairs, "example": list(f.example)}
                for f in self.findings
            ],
        }


def _findings(kind: str, records: list[StoredRecord], pairs: set[tuple[int, int]]) -> list[Finding]:
    counts: Counter[str] = Counter()
    examples: dict[str, tuple[int, int]] = {}

    def note(code: str, n: int, example: tuple[int, int]) -> None:
        counts[code] += n
        examples.setdefault(code, example)

    present = {r.id for r in records}
    for low, high in sorted(pairs):
        if low in present and high in present:
            note("not_same", 1, (low, high))
    if kind == SubjectKind.PERSON:
        # records that say the same thing are compared once, weighted by their numbers
        groups: dict[identity.PersonKey, list[int]] = defaultdict(list)
        for r in sorted(records, key=lambda r: r.id):
            groups[replace(identity.person_key("", r.payload), key="")].append(r.id)
        keys = list(groups)
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                why = identity.hard_conflict(a, b)
                if why is None and identity.name_level(a, b) == "far":
                    why = "names_far"
                if why:
                    note(why, len(groups[a]) * len(groups[b]), (groups[a][0], groups[b][0]))
    else:
        by_code: dict[str, list[int]] = defaultdict(list)
        for r in sorted(records, key=lambda r: r.id):
            if code := record_identifier(kind, r.payload):
                by_code[code].append(r.id)
        codes = list(by_code)
        why = "two_credit_codes" if kind == SubjectKind.ENTERPRISE else "two_project_codes"
        for i, a_code in enumerate(codes):
            for b_code in codes[i + 1 :]:
                a_ids, b_ids = by_code[a_code], by_code[b_code]
                note(why, len(a_ids) * len(b_ids), (a_ids[0], b_ids[0]))
    return [
        Finding(code, REASON_LABELS.get(code, code), n, examples[code])
        for code, n in sorted(counts.items(), key=lambda kv: (-SEVERITY.get(kv[0], 1), kv[0]))
    ]


def suspicious_masters(
    session: Session, kind: str = "person", limit: int = 100
) -> list[SuspiciousMaster]:
    """Masters that look wrongly merged, riskiest first: two valid identifiers first, then
    by the weight of their conflicting record pairs, then by their number of records."""
    if kind not in set(SubjectKind):
        raise RuleViolation(f"未知的主题类型：{kind}", code="unknown_kind")
    found: list[SuspiciousMaster] = []
    last = 0
    while True:
        masters = session.scalars(
            select(SubjectMaster)
            .where(
                SubjectMaster.kind == kind,
                SubjectMaster.record_count > 1,
                SubjectMaster.id > last,
            )
            .order_by(SubjectMaster.id)
            .limit(BATCH)
        ).all()
        if not masters:
            break
        last = masters[-1].id
        links = _links(session, [m.id for m in masters])
        record_ids = [link.record_id for ls in links.values() for link in ls]
        stored = ingest_records.records_by_id(session=session, ids=record_ids)
        pairs = cannot_link_pairs(session, record_ids)
        for m in masters:
            records = [stored[link.record_id] for link in links[m.id] if link.record_id in stored]
            findings = _findings(kind, records, pairs)
            if findings:
                found.append(
                    SuspiciousMaster(
                        m.id,
                        m.kind,
                        m.display_name,
                        m.identifier,
                        m.record_count,
                        findings,
                        sum(SEVERITY.get(f.code, 1) * f.pairs for f in findings),
                    )
                )
    found.sort(key=lambda s: (not s.two_identifiers, -s.score, -s.record_count, s.master_id))
    return found[: max(limit, 0)]
