"""Incremental linking of department records into master records.

Each run takes the records stored since the last run (ids above the kind's watermark):

1. a record with a valid identifier (resident ID, credit code, project code) joins the master
   with that identifier, or starts one;
2. a record without one, or with an invalid one, is matched probabilistically (Splink, see
   ``linkage.py``) against the records already linked and, failing that, against the other
   new records; clusters without a match start new masters. Enterprises and projects have
   no probabilistic model: without a valid code they link on their normalized name.

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
from govloop.subjects.service import refresh_masters
from govloop.subjects.survivorship import KindConfig, config

IDENTIFIER_CHECKS: dict[str, Callable[[str], ids.IdCheck]] = {
    "id_number": ids.check_resident_id,
    "credit_code": ids.check_uscc,
}

# new records (key → row) and linked records (key → row) → (new key → (linked key, p)),
# and the clusters of the unmatched new records (new key → cluster label)
Matcher = Callable[
    [list[dict[str, Any]], list[dict[str, Any]]],
    tuple[dict[str, tuple[str, float]], dict[str, str]],
]


@dataclass
class LinkReport:
    kind: str
    records: int = 0
    by_identifier: int = 0
    probabilistic: int = 0
    new_masters: int = 0
    invalid_identifiers: int = 0
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


def person_row(key: str, payload: dict[str, Any], source: str = "") -> dict[str, Any]:
    """The columns the person matcher compares."""
    id_check = ids.check_resident_id(str(payload.get("id_number") or ""))
    return {
        "record_key": key,
        "source": source,
        "name": payload.get("name") or "",
        "birth_date": payload.get("birth_date"),
        "sex": payload.get("sex"),
        "phone": payload.get("phone"),
        "address": payload.get("address"),
        "id_number": id_check.value if id_check.valid else None,
    }


def _link_persons(
    session: Session,
    unresolved: list[StoredRecord],
    cfg: KindConfig,
    report: LinkReport,
    stamp: datetime,
    matcher: Matcher | None,
) -> None:
    matcher = matcher or default_person_matcher
    linked = session.execute(
        select(SubjectLink.record_id, SubjectLink.master_id)
        .join(SubjectMaster, SubjectMaster.id == SubjectLink.master_id)
        .where(SubjectMaster.kind == "person")
    ).all()
    master_of = {f"r{record_id}": master_id for record_id, master_id in linked}
    existing_records = ingest_records.records_by_id(
        session=session, ids=[record_id for record_id, _ in linked]
    )
    existing_rows = [
        person_row(f"r{r.id}", r.payload, r.source_key) for r in existing_records.values()
    ]
    new_rows = [person_row(f"r{r.id}", r.payload, r.source_key) for r in unresolved]
    matches, clusters = matcher(new_rows, existing_rows)
    cluster_master: dict[str, int] = {}
    for record in unresolved:
        key = f"r{record.id}"
        if key in matches:
            other, probability = matches[key]
            master_id = master_of[other]
            _link(session, record.id, master_id, LinkMethod.PROBABILISTIC, probability, stamp)
            report.probabilistic += 1
        else:
            label = clusters.get(key, key)
            if label in cluster_master:
                master_id = cluster_master[label]
                _link(session, record.id, master_id, LinkMethod.PROBABILISTIC, None, stamp)
                report.probabilistic += 1
            else:
                master_id = _new_master(session, "person", None, record, cfg, stamp)
                cluster_master[label] = master_id
                _link(session, record.id, master_id, LinkMethod.NEW, None, stamp)
                report.new_masters += 1
        report.touched.add(master_id)


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
) -> tuple[dict[str, tuple[str, float]], dict[str, str]]:
    """Splink: new records against the linked ones first, then the unmatched new records
    among themselves, with one model trained on all the records (or the bootstrap model)."""
    import pandas as pd

    from govloop.subjects import linkage

    everything = existing_rows + new_rows
    model = (
        linkage.link_persons(pd.DataFrame(everything)).model
        if len(everything) >= MIN_TRAINING_RECORDS
        else bootstrap_model()
    )
    matches: dict[str, tuple[str, float]] = {}
    if new_rows and existing_rows:
        scored = linkage.match_new_records(
            pd.DataFrame(new_rows), pd.DataFrame(existing_rows), model=model
        )
        for row in scored[scored["best"]].itertuples():
            matches[str(row.new_record_key)] = (
                str(row.existing_record_key),
                float(row.match_probability),
            )
    unmatched = [r for r in new_rows if r["record_key"] not in matches]
    clusters: dict[str, str] = {}
    if len(unmatched) >= 2:
        clusters = linkage.link_persons(pd.DataFrame(unmatched), model=model).cluster_of()
    return matches, clusters


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
