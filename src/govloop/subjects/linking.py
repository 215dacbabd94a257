"""Incremental linking of department records into master records.

Each run takes the records stored since the last run (ids above the kind's watermark):

1. a record with a valid identifier (resident ID, credit code, project code) joins the master
   with that identifier;
2. persons: every other record (no valid ID, an invalid one, or a valid ID seen for the first
   time) is scored by the matcher (Splink, ``linkage.py``) against the records already linked
   and the other new records, and the pairs are clustered under the hard constraints
   (``person_linking.py``, ``identity.py``); touched masters are re-checked and split when
   they break a constraint. Enterprises and projects have no probabilistic model: without a
   valid code they link on their normalized name.

Masters are never renumbered or deleted, so their ids stay stable across runs; each touched
master has its surviving values and conflicts recomputed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from govloop.core.clock import now
from govloop.ingest import records as ingest_records
from govloop.ingest.records import StoredRecord
from govloop.subjects import identifiers as ids
from govloop.subjects.models import LinkMethod, SubjectLink, SubjectMaster
from govloop.subjects.person_linking import Matcher, PersonLinker
from govloop.subjects.service import refresh_masters
from govloop.subjects.survivorship import KindConfig, config

IDENTIFIER_CHECKS: dict[str, Callable[[str], ids.IdCheck]] = {
    "id_number": ids.check_resident_id,
    "credit_code": ids.check_uscc,
}


@dataclass
class LinkReport:
    kind: str
    records: int = 0
    by_identifier: int = 0
    probabilistic: int = 0
    new_masters: int = 0
    invalid_identifiers: int = 0
    auto_splits: int = 0  # masters split because they broke a hard constraint
    touched: set[int] = field(default_factory=set)


def _identifier(kind: KindConfig, payload: dict[str, Any]) -> tuple[str | None, bool]:
    """(normalized identifier, whether it was present but invalid)."""
    raw = payload.get(kind.identifier)
    if not raw:
        return None, False
    check = IDENTIFIER_CHECKS.get(kind.identifier)
    if check is None:
        return ids.clean(str(raw)), False
    result = check(str(raw))
    return (result.value, False) if result.valid else (None, True)


def watermark(*, session: Session, kind: str) -> int:
    """The highest record id already linked for this kind."""
    return (
        session.scalar(
            select(func.max(SubjectLink.record_id))
            .join(SubjectMaster, SubjectMaster.id == SubjectLink.master_id)
            .where(SubjectMaster.kind == kind)
        )
        or 0
    )


def link_new_records(*, session: Session, kind: str, matcher: Matcher | None = None) -> LinkReport:
    cfg = config().kinds[kind]
    report = LinkReport(kind=kind)
    pending = list(
        ingest_records.iter_records(
            session=session, schema_name=cfg.schema, after_id=watermark(session=session, kind=kind)
        )
    )
    report.records = len(pending)
    if not pending:
        return report
    stamp = now()
    by_identifier = _masters_by_identifier(session, kind)
    unresolved: list[StoredRecord] = []
    for record in pending:
        identifier, invalid = _identifier(cfg, record.payload)
        report.invalid_identifiers += invalid
        if identifier is None:
            unresolved.append(record)
            continue
        master_id = by_identifier.get(identifier)
        method = LinkMethod.IDENTIFIER
        if master_id is None and kind == "person":
            # a valid ID seen for the first time may belong to a master linked so far by
            # name and birth date alone: the person matcher decides, under the constraints
            unresolved.append(record)
            continue
        if master_id is None:
            master_id = _new_master(session, kind, identifier, record, cfg, stamp)
            by_identifier[identifier] = master_id
            report.new_masters += 1
            method = LinkMethod.NEW
        _link(session, record.id, master_id, method, None, stamp)
        report.by_identifier += 1
        report.touched.add(master_id)
    if unresolved:
        if kind == "person":
            _link_persons(session, unresolved, cfg, report, stamp, matcher)
        else:
            _link_by_name(session, kind, unresolved, cfg, report, stamp)
    session.flush()
    if kind == "person":
        # a master that now breaks a hard constraint is split (an ID record that arrived
        # later, a legacy merge)
        linker = _person_linker(session, cfg, stamp)
        report.auto_splits = len(linker.recheck(report.touched))
        report.touched |= linker.touched
        report.new_masters += linker.new_masters
    refresh_masters(session=session, master_ids=sorted(report.touched))
    return report


def _masters_by_identifier(session: Session, kind: str) -> dict[str, int]:
    rows = session.execute(
        select(SubjectMaster.identifier, SubjectMaster.id).where(
            SubjectMaster.kind == kind, SubjectMaster.identifier.is_not(None)
        )
    ).all()
    return {str(identifier): master_id for identifier, master_id in rows}


def _new_master(
    session: Session,
    kind: str,
    identifier: str | None,
    record: StoredRecord,
    cfg: KindConfig,
    stamp: datetime,
) -> int:
    master = SubjectMaster(
        kind=kind,
        identifier=identifier,
        display_name=str(record.payload.get(cfg.name_field) or "")[:200],
        attributes={},
        provenance={},
        created_at=stamp,
        updated_at=stamp,
    )
    session.add(master)
    session.flush()
    return master.id


def _link(
    session: Session,
    record_id: int,
    master_id: int,
    method: str,
    probability: float | None,
    stamp: datetime,
) -> None:
    session.add(
        SubjectLink(
            record_id=record_id,
            master_id=master_id,
            method=method,
            probability=probability,
            linked_at=stamp,
        )
    )


def _link_by_name(
    session: Session,
    kind: str,
    unresolved: list[StoredRecord],
    cfg: KindConfig,
    report: LinkReport,
    stamp: datetime,
) -> None:
    """Enterprises and projects without a valid code: the same normalized name is the same
    subject (a conservative rule; a steward can move a record later)."""
    from govloop.subjects.normalize import normalize_name

    existing = {
        normalize_name(name): master_id
        for name, master_id in session.execute(
            select(SubjectMaster.display_name, SubjectMaster.id).where(SubjectMaster.kind == kind)
        ).all()
    }
    for record in unresolved:
        key = normalize_name(str(record.payload.get(cfg.name_field) or ""))
        master_id = existing.get(key)
        method = LinkMethod.PROBABILISTIC
        if master_id is None:
            master_id = _new_master(session, kind, None, record, cfg, stamp)
            existing[key] = master_id
            report.new_masters += 1
            method = LinkMethod.NEW
        else:
            report.probabilistic += 1
        _link(session, record.id, master_id, method, None, stamp)
        report.touched.add(master_id)


def _person_linker(session: Session, cfg: KindConfig, stamp: datetime) -> PersonLinker:
    def new_master(record: StoredRecord, identifier: str | None) -> int:
        return _new_master(session, "person", identifier, record, cfg, stamp)

    return PersonLinker(session, stamp, new_master)


def _link_persons(
    session: Session,
    unresolved: list[StoredRecord],
    cfg: KindConfig,
    report: LinkReport,
    stamp: datetime,
    matcher: Matcher | None,
) -> None:
    linker = _person_linker(session, cfg, stamp)
    linker.link_increment(unresolved, matcher or default_person_matcher)
    report.probabilistic += linker.probabilistic
    report.by_identifier += linker.by_identifier
    report.new_masters += linker.new_masters
    report.touched |= linker.touched


def relink_persons(*, session: Session, matcher: Matcher | None = None) -> dict[str, int]:
    """Cluster every person record again under the constraints, keeping master ids where
    the records stay (``person_linking.PersonLinker.relink_all``)."""
    cfg = config().kinds["person"]
    linker = _person_linker(session, cfg, now())
    figures = linker.relink_all(matcher or default_person_matcher)
    linker.recheck(sorted(linker.touched))
    refresh_masters(session=session, master_ids=sorted(linker.touched))
    return figures | {"touched": len(linker.touched)}


# Below this many person records, the center's own data is too little for Splink's
# expectation maximisation; a model trained on the generated population stands in.
MIN_TRAINING_RECORDS = 1_000


@lru_cache(maxsize=1)
def bootstrap_model() -> dict[str, Any]:
    """m/u parameters learned from a generated population (names, typos, traditional
    characters, identifier errors as departments make them); used until the center has
    enough records of its own."""
    from govloop.subjects import linkage
    from govloop.subjects.generate import population

    return linkage.link_persons(population(1_500, seed=11).drop(columns=["person_id"])).model


def default_person_matcher(
    new_rows: list[dict[str, Any]], existing_rows: list[dict[str, Any]]
) -> list[tuple[str, str, float]]:
    """Splink: new records against the linked ones, and the new records among themselves,
    with one model trained on all the records (or the bootstrap model). Returns the scored
    pairs; ``person_linking`` clusters them under the constraints."""
    import pandas as pd

    from govloop.subjects import linkage

    everything = existing_rows + new_rows
    model = (
        linkage.link_persons(pd.DataFrame(everything)).model
        if len(everything) >= MIN_TRAINING_RECORDS
        else bootstrap_model()
    )
    pairs: list[tuple[str, str, float]] = []
    if new_rows and existing_rows:
        scored = linkage.match_new_records(
            pd.DataFrame(new_rows),
            pd.DataFrame(existing_rows),
            model=model,
            threshold=linkage.DEFAULT_THRESHOLD,
        )
        pairs += list(
            zip(
                scored["new_record_key"].astype(str),
                scored["existing_record_key"].astype(str),
                scored["match_probability"].astype(float),
                strict=True,
            )
        )
    if len(new_rows) >= 2:
        among = linkage.link_persons(pd.DataFrame(new_rows), model=model).pairs
        pairs += list(
            zip(
                among["record_key_l"].astype(str),
                among["record_key_r"].astype(str),
                among["match_probability"].astype(float),
                strict=True,
            )
        )
    return pairs


def run_all(*, session: Session, matcher: Matcher | None = None) -> list[LinkReport]:
    """Link every kind, persons first (legal representatives refer to persons)."""
    return [
        link_new_records(session=session, kind=kind, matcher=matcher if kind == "person" else None)
        for kind in ("person", "enterprise", "project")
    ]


def count_by_method(*, session: Session) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(SubjectMaster.kind, SubjectLink.method, func.count())
        .join(SubjectMaster, SubjectMaster.id == SubjectLink.master_id)
        .group_by(SubjectMaster.kind, SubjectLink.method)
    ).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, method, n in rows:
        out[kind][method] = n
    return dict(out)
