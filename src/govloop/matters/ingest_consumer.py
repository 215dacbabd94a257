"""Matters from departments' approval systems: the ``matter_record`` rows the ingest
pipeline stored (HTTP push, files; validated, deduplicated, with lineage and dead letters)
are applied here, each once, oldest state first.

* The first record of an 办件编号 (``external_ref``) opens the matter (source
  ``department``); its 受理 event keeps the ingest record's id.
* A later record moves the matter to the state it reports, through the states a real
  system skips without saying (受理 → 审查 → 准予 when the record says 准予 and govloop has
  受理); every step is an event by the department system (no actor) with
  ``{"ingest_record": id}`` in its detail, at the department's time of the state.
* A record older than the matter's last change (a late record) changes nothing; nor does a
  record of the state the matter is in, or a record taken before (the unique record id).
* A record that cannot be applied — an unknown item, department or hall code, an 办件编号
  another source uses, a change the state machine forbids (已领取 back to 审查), a skipped
  decision that could have been either 准予 or 不予 — changes nothing and becomes an open
  dead letter with its lineage and the reason in Chinese. Replaying that dead letter
  (after the 事项清单 or the matter was put right) applies the stored record again.

A timed duty (``JOB``) and ``govloop matters ingest apply`` run :func:`apply_pending`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.core.db import try_job_lock, unit_of_work
from govloop.core.errors import GovloopError
from govloop.core.jobs import Job, every
from govloop.hall.models import ServiceItem
from govloop.ingest import records as ingest_records
from govloop.ingest.models import DeadLetter, DeadLetterStatus, IngestedRecord
from govloop.ingest.records import StoredRecord
from govloop.ingest.schemas import (
    MATTER_DELIVERY_WORDS,
    MATTER_STATE_WORDS,
    MatterRecord,
    describe_errors,
)
from govloop.matters import service
from govloop.matters.ingest_models import MatterIngestRecord, Outcome
from govloop.matters.ingest_walk import RANK, Refused, walk
from govloop.matters.models import DeliveryMethod, Matter, MatterEvent, MatterSource, MatterState
from govloop.org.models import Department, Hall

SCHEMA = "matter_record"
CHUNK = 1_000
# How often the duty applies newly stored records (seconds).
APPLY_EVERY_S = 10.0
# how long a loading transaction may stay open (a large file) before the duty stops
# looking below the records it took by then
SETTLED = timedelta(hours=1)


@dataclass
class ApplyReport:
    taken: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    retried: int = 0  # rejected records taken again after their dead letter was replayed
    dead_letters: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "taken": self.taken,
            "retried": self.retried,
            **{o.value: self.outcomes.get(o.value, 0) for o in Outcome},
            "dead_letters": self.dead_letters,
        }


# --- taking the records -------------------------------------------------------------------


def _floor(session: Session) -> int:
    """Record ids up to this one were all taken: the highest id taken more than
    SETTLED ago (a record with a lower id would have been stored by a transaction open
    for that long). The duty looks above it only; the command looks at every record."""
    return int(
        session.scalar(
            select(func.max(MatterIngestRecord.record_id)).where(
                MatterIngestRecord.applied_at < now() - SETTLED
            )
        )
        or 0
    )


def _pending_ids(session: Session, limit: int, everything: bool) -> list[int]:
    taken = exists().where(MatterIngestRecord.record_id == IngestedRecord.id)
    stmt = select(IngestedRecord.id).where(IngestedRecord.schema_name == SCHEMA, ~taken)
    if not everything:
        stmt = stmt.where(IngestedRecord.id > _floor(session))
    return list(session.scalars(stmt.order_by(IngestedRecord.id).limit(limit)))


def _release_replayed(session: Session) -> int:
    """Rejected records whose dead letter a steward replayed are taken again."""
    replayed = select(DeadLetter.id).where(DeadLetter.status == DeadLetterStatus.REPLAYED)
    result = session.execute(
        delete(MatterIngestRecord)
        .where(
            MatterIngestRecord.outcome == Outcome.REJECTED,
            MatterIngestRecord.dead_letter_id.in_(replayed),
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Taken:
    stored: StoredRecord
    record: MatterRecord
    state: MatterState
    at: datetime  # the state's time, never in the future

    @property
    def order(self) -> tuple[datetime, int, int]:
        return (self.at, RANK[self.state], self.stored.id)


def _taken(stored: StoredRecord, moment: datetime) -> _Taken:
    record = MatterRecord.model_validate(stored.payload)  # stored valid: the same values
    assert record.state_at is not None
    return _Taken(
        stored, record, MatterState(MATTER_STATE_WORDS[record.state]), min(record.state_at, moment)
    )


def apply_pending(*, session: Session, limit: int = CHUNK, everything: bool = True) -> ApplyReport:
    """Apply up to ``limit`` stored records not taken yet, in the order their states
    happened (then the usual order of states, then arrival). ``everything=False`` (the
    duty) skips the records below the settled floor. Never commits."""
    report = ApplyReport()
    session.info[_CACHE] = {}
    report.retried = _release_replayed(session)
    # a released record may lie below the floor
    ids = _pending_ids(session, limit, everything or report.retried > 0)
    if not ids:
        return report
    stored = ingest_records.records_by_id(session=session, ids=ids)
    moment = now()
    batch: list[_Taken] = []
    for i in ids:
        try:
            batch.append(_taken(stored[i], moment))
        except ValidationError as exc:  # stored under an older declaration of the schema
            row = _unreadable(session, stored[i], describe_errors(exc))
            report.taken += 1
            report.outcomes[row.outcome] += 1
            report.dead_letters.append(row.dead_letter_id or 0)
    batch.sort(key=lambda t: t.order)
    for taken in batch:
        row = apply_record(session=session, taken=taken)
        report.taken += 1
        report.outcomes[row.outcome] += 1
        if row.dead_letter_id is not None:
            report.dead_letters.append(row.dead_letter_id)
    session.flush()
    return report


def apply_all() -> Iterator[ApplyReport]:
    """Every pending record, one committed unit of work per chunk (the CLI)."""
    while True:
        with unit_of_work() as session:
            if not try_job_lock(session, "matters-ingest"):
                return
            report = apply_pending(session=session)
        yield report
        if report.taken == 0:
            return


def run_duty() -> None:
    with unit_of_work() as session:
        if try_job_lock(session, "matters-ingest"):
            apply_pending(session=session, everything=False)


JOB = Job("matter department records", run_duty, every(APPLY_EVERY_S), every(15))


# --- one record ---------------------------------------------------------------------------


def apply_record(*, session: Session, taken: _Taken) -> MatterIngestRecord:
    """Apply one record in a savepoint: all of it or, refused, nothing but its dead
    letter."""
    rec, stored = taken.record, taken.stored
    matter_id: int | None = None
    savepoint = session.begin_nested()
    try:
        matter = _matter(session, rec.external_ref)
        matter_id = matter.id if matter is not None else None  # kept when refused
        if matter is None:
            matter = _open(session, taken)
            outcome = Outcome.OPENED
        else:
            _same_matter(session, matter, taken)
            outcome = _move(session, matter, taken)
        matter_id = matter.id
        savepoint.commit()
        if outcome == Outcome.OPENED:
            _cache(session)[("opener", matter_id)] = stored.source_id
    except (Refused, GovloopError) as exc:
        savepoint.rollback()
        code = exc.code if isinstance(exc, Refused) else f"matter_{exc.code}"
        reason = exc.reason if isinstance(exc, Refused) else exc.message
        dead_id = ingest_records.refuse_stored(
            session=session,
            record=stored,
            reason_code=code,
            reason=f"办件 {rec.external_ref}（{rec.state}）：{reason}",
        )
        row = _row(stored, rec, taken, matter_id, Outcome.REJECTED, dead_id)
    else:
        row = _row(stored, rec, taken, matter_id, outcome, None)
    session.add(row)
    session.flush()
    return row


def _unreadable(session: Session, stored: StoredRecord, reason: str) -> MatterIngestRecord:
    dead_id = ingest_records.refuse_stored(
        session=session, record=stored, reason_code="invalid", reason=reason
    )
    assert stored.source_id is not None
    row = MatterIngestRecord(
        record_id=stored.id,
        source_id=stored.source_id,
        external_ref=str(stored.payload.get("external_ref", ""))[:64],
        outcome=Outcome.REJECTED,
        state="",
        state_at=stored.occurred_at or stored.stored_at,
        dead_letter_id=dead_id,
        applied_at=now(),
    )
    session.add(row)
    session.flush()
    return row


def _row(
    stored: StoredRecord,
    rec: MatterRecord,
    taken: _Taken,
    matter_id: int | None,
    outcome: Outcome,
    dead_letter_id: int | None,
) -> MatterIngestRecord:
    assert stored.source_id is not None
    return MatterIngestRecord(
        record_id=stored.id,
        source_id=stored.source_id,
        external_ref=rec.external_ref,
        matter_id=matter_id,
        outcome=outcome,
        state=taken.state,
        state_at=taken.at,
        dead_letter_id=dead_letter_id,
        applied_at=now(),
    )


def _matter(session: Session, external_ref: str) -> Matter | None:
    return session.scalar(
        select(Matter)
        .where(Matter.source == MatterSource.DEPARTMENT, Matter.external_ref == external_ref)
        .with_for_update()
    )


_CACHE = "matters.ingest"  # session.info key: lookups of one run (codes, openers)


def _cache(session: Session) -> dict[tuple[str, object], Any]:
    return session.info.setdefault(_CACHE, {})


def _by_code(session: Session, model: type[ServiceItem | Department | Hall], code: str) -> Any:
    cache = _cache(session)
    key = (model.__tablename__, code)
    if key not in cache:
        cache[key] = session.scalar(select(model).where(model.code == code))
    return cache[key]


def _item(session: Session, rec: MatterRecord) -> ServiceItem:
    item: ServiceItem | None = _by_code(session, ServiceItem, rec.item_code)
    if item is None:
        raise Refused("matter_unknown_item", f"未知的事项编码“{rec.item_code}”（不在事项清单中）")
    if rec.department_code:
        department: Department | None = _by_code(session, Department, rec.department_code)
        if department is None:
            raise Refused("matter_unknown_department", f"未知的部门编码“{rec.department_code}”")
        if department.id != item.department_id:
            raise Refused(
                "matter_wrong_department",
                f"事项“{item.name}”（{item.code}）不属于部门“{department.name}”"
                f"（{department.code}）",
            )
    return item


def _lineage(taken: _Taken) -> dict[str, object]:
    return {"ingest_record": taken.stored.id, "ingest_source": taken.stored.source_key}


def _open(session: Session, taken: _Taken) -> Matter:
    rec = taken.record
    item = _item(session, rec)
    hall = None
    if rec.hall_code:
        hall = _by_code(session, Hall, rec.hall_code)
        if hall is None:
            raise Refused("matter_unknown_hall", f"未知的大厅编码“{rec.hall_code}”")
    method = MATTER_DELIVERY_WORDS[rec.delivery_method] if rec.delivery_method else None
    accepted_at = min(rec.accepted_at, taken.at)
    matter = service.open_matter(
        session=session,
        item=item,
        applicant=service.Applicant(
            name=rec.applicant_name,
            phone=rec.applicant_phone,
            materials=list(rec.materials or []),
            delivery_method=method or DeliveryMethod.PICKUP,
            delivery_name=rec.delivery_name,
            delivery_phone=rec.delivery_phone,
            delivery_address=rec.delivery_address,
        ),
        source=MatterSource.DEPARTMENT,
        actor=None,
        hall=hall,
        external_ref=rec.external_ref,
        accepted_at=accepted_at,
    )
    opened = session.scalar(
        select(MatterEvent).where(
            MatterEvent.matter_id == matter.id, MatterEvent.kind == "matter.accepted"
        )
    )
    assert opened is not None
    opened.detail = {**opened.detail, **_lineage(taken)}
    opened.at = accepted_at
    if taken.state != MatterState.ACCEPTED:
        _walk(session, matter, taken)
    return matter


def _same_matter(session: Session, matter: Matter, taken: _Taken) -> None:
    """The record is about this matter: from the source that opened it, for its item."""
    rec, stored = taken.record, taken.stored
    cache = _cache(session)
    key = ("opener", matter.id)
    if key not in cache:
        cache[key] = session.scalar(
            select(MatterIngestRecord.source_id)
            .where(
                MatterIngestRecord.matter_id == matter.id,
                MatterIngestRecord.outcome == Outcome.OPENED,
            )
            .limit(1)
        )
    opener = cache[key]
    if opener is not None and opener != stored.source_id:
        raise Refused(
            "matter_other_source",
            f"办件编号“{rec.external_ref}”已由另一个数据源登记为办件 {matter.number}",
        )
    item = session.get(ServiceItem, matter.item_id)
    assert item is not None
    if item.code != rec.item_code:
        raise Refused(
            "matter_item_changed",
            f"办件 {matter.number} 登记的事项编码是“{item.code}”，记录为“{rec.item_code}”",
        )


def _last_change(session: Session, matter: Matter) -> tuple[datetime, int] | None:
    last = session.execute(
        select(MatterEvent.at, MatterEvent.to_state)
        .where(MatterEvent.matter_id == matter.id, MatterEvent.to_state.is_not(None))
        .order_by(MatterEvent.at.desc(), MatterEvent.id.desc())
        .limit(1)
    ).first()
    if last is None or last[1] is None:
        return None
    return last[0], RANK[MatterState(last[1])]


def _move(session: Session, matter: Matter, taken: _Taken) -> Outcome:
    last = _last_change(session, matter)
    if last is not None and (taken.at, RANK[taken.state]) < last:
        return Outcome.STALE  # the department already reported (or govloop made) a later change
    _delivery(session, matter, taken)
    if matter.state == taken.state:
        return Outcome.SAME
    _walk(session, matter, taken)
    return Outcome.MOVED


def _delivery(session: Session, matter: Matter, taken: _Taken) -> None:
    """A later record may carry the applicant's (changed) choice of pickup or post."""
    rec = taken.record
    if not rec.delivery_method:
        return
    method = MATTER_DELIVERY_WORDS[rec.delivery_method]
    same_address = rec.delivery_address in (None, matter.delivery_address)
    if method == matter.delivery_method and (method == DeliveryMethod.PICKUP or same_address):
        return
    service.choose_delivery(
        session=session,
        matter=matter,
        method=method,
        actor=None,
        name=rec.delivery_name,
        phone=rec.delivery_phone,
        address=rec.delivery_address or matter.delivery_address,
    )
    session.flush()
    chosen = session.scalar(
        select(MatterEvent)
        .where(MatterEvent.matter_id == matter.id, MatterEvent.kind == "matter.delivery_chosen")
        .order_by(MatterEvent.id.desc())
        .limit(1)
    )
    assert chosen is not None
    chosen.detail = {**chosen.detail, **_lineage(taken)}
    chosen.at = taken.at


def _walk(session: Session, matter: Matter, taken: _Taken) -> None:
    walk(
        session=session,
        matter=matter,
        target=taken.state,
        record=taken.record,
        at=taken.at,
        lineage=_lineage(taken),
    )


__all__ = ["JOB", "ApplyReport", "apply_pending", "apply_record"]
