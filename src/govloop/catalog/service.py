"""Data catalog (数据目录): the platform's own tables and every ingest source, each with its
schema, owner, source, freshness (newest row and its age) and a quality score measured
as the share of rows passing the dataset's completeness and validity checks.

Freshness and row counts are read live; quality is measured by :func:`profile_datasets`
(a full pass over the rows) and stored with the time it was measured, so a page never
shows a score without saying when it was taken.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from govloop.catalog.models import DatasetProfile
from govloop.catalog.sources import (
    birth_date_of_id,
    parse_date,
    sex_of_id,
    valid_id_number,
    valid_mobile,
)
from govloop.core.clock import now
from govloop.core.errors import NotFound
from govloop.core.i18n import N_
from govloop.hall.models import Appointment, HallEvent, ServiceItem, Ticket, TicketStatus, Window
from govloop.hotline.models import DONE_STATUSES, WorkOrder
from govloop.ingest import schemas as ingest_schemas
from govloop.ingest.models import IngestedRecord, Source
from govloop.org.models import Department
from govloop.ratings.models import Rating

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Check:
    code: str
    label: str  # English msgid, translated where shown
    test: Callable[[Row], bool]


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool
    note: str = ""


@dataclass(frozen=True)
class Dataset:
    key: str
    title: str
    description: str
    owner: str
    source: str
    table: Table
    time_column: str | None
    checks: tuple[Check, ...]
    fields: tuple[Field, ...]
    where: ColumnElement[bool] | None = None
    payload: bool = False  # checks read the JSON payload of ingest records
    schema_name: str | None = None
    notes: list[str] = field(default_factory=list)


def _present(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _table_fields(table: Table) -> tuple[Field, ...]:
    out = []
    for col in table.columns:
        notes = []
        if col.primary_key:
            notes.append("PK")
        notes += [f"→ {fk.target_fullname}" for fk in col.foreign_keys]
        out.append(Field(col.name, str(col.type), not col.nullable, " ".join(notes)))
    return tuple(out)


def _payload_fields(schema_name: str) -> tuple[Field, ...]:
    declared = ingest_schemas.SCHEMAS.get(schema_name)
    if declared is None:
        return ()
    model = declared[0]
    return tuple(
        Field(name, str(info.annotation).replace("typing.", ""), info.is_required())
        for name, info in model.model_fields.items()
    )


# Checks of the platform's own tables.
def _times_in_order(r: Row) -> bool:
    issued, called, finished = r["issued_at"], r["called_at"], r["finished_at"]
    return (called is None or called >= issued) and (finished is None or finished >= issued)


def _finished_complete(r: Row) -> bool:
    if r["status"] != TicketStatus.FINISHED:
        return True
    return all(_present(r[c]) for c in ("finished_at", "window_id", "staff_id"))


def _event_refs(r: Row) -> bool:
    kind = r["kind"] or ""
    if kind.startswith("ticket."):
        return r["ticket_id"] is not None
    if kind.startswith("window."):
        return r["window_id"] is not None
    return True


def _closed_complete(r: Row) -> bool:
    return r["status"] not in DONE_STATUSES or r["closed_at"] is not None


def _real_name_phone(r: Row) -> bool:
    return not r["real_name"] or valid_mobile(r["citizen_phone"])


def _optional_mobile(column: str) -> Callable[[Row], bool]:
    return lambda r: r[column] is None or valid_mobile(r[column])


# Checks of department records, on the JSON payload.
def _id_matches_birth(p: Row) -> bool:
    id_number, born = p.get("id_number"), parse_date(p.get("birth_date"))
    if not id_number or not valid_id_number(id_number) or born is None:
        return True  # nothing to compare; completeness and validity are separate checks
    return birth_date_of_id(id_number) == born


def _id_matches_sex(p: Row) -> bool:
    id_number, sex = p.get("id_number"), p.get("sex")
    if not id_number or not valid_id_number(id_number) or not sex:
        return True
    return sex_of_id(id_number) == sex


def _schema_valid(schema_name: str) -> Callable[[Row], bool]:
    declared = ingest_schemas.SCHEMAS.get(schema_name)

    def test(p: Row) -> bool:
        if declared is None:
            return False
        try:
            declared[0].model_validate(dict(p))
        except ValidationError:
            return False
        return True

    return test


def _credit_code_ok(name: str) -> Callable[[Row], bool]:
    return lambda p: _present(p.get(name)) and uscc.is_valid(str(p.get(name)))


PAYLOAD_CHECKS: dict[str, tuple[Check, ...]] = {
    "person_record": (
        Check("id_present", N_("Resident ID present"), lambda p: _present(p.get("id_number"))),
        Check(
            "id_valid",
            N_("Resident ID valid (check digit, birth date)"),
            lambda p: not _present(p.get("id_number")) or valid_id_number(p.get("id_number")),
        ),
        Check("id_birth", N_("Birth date agrees with the resident ID"), _id_matches_birth),
        Check("id_sex", N_("Sex agrees with the resident ID"), _id_matches_sex),
        Check(
            "phone_valid",
            N_("Mobile number present and valid"),
            lambda p: valid_mobile(p.get("phone")),
        ),
        Check("address", N_("Address present"), lambda p: _present(p.get("address"))),
    ),
    "enterprise_record": (
        Check(
            "credit_code", N_("Unified social credit code valid"), _credit_code_ok("credit_code")
        ),
        Check(
            "legal_rep",
            N_("Legal representative named with a valid resident ID"),
            lambda p: (
                _present(p.get("legal_rep_name")) and valid_id_number(p.get("legal_rep_id_number"))
            ),
        ),
        Check("address", N_("Address present"), lambda p: _present(p.get("address"))),
    ),
    "project_record": (
        Check(
            "owner_code",
            N_("Owner's unified social credit code valid"),
            _credit_code_ok("enterprise_credit_code"),
        ),
        Check("address", N_("Address present"), lambda p: _present(p.get("address"))),
    ),
}

CENTER = "政务服务中心"
HALL_SYSTEM = "govloop 取号叫号系统"


def platform_datasets() -> list[Dataset]:
    def t(model: Any) -> Table:
        table: Table = model.__table__
        return table

    def ds(
        key: str,
        title: str,
        description: str,
        owner: str,
        source: str,
        model: Any,
        time_column: str | None,
        checks: tuple[Check, ...],
    ) -> Dataset:
        table = t(model)
        return Dataset(
            key, title, description, owner, source, table, time_column, checks, _table_fields(table)
        )

    name_ok = Check("name", N_("Name present"), lambda r: _present(r["name"]))
    return [
        ds(
            "hall.tickets",
            N_("Queue tickets"),
            N_("Every ticket issued in the halls."),
            CENTER,
            HALL_SYSTEM,
            Ticket,
            "issued_at",
            (
                Check("times", N_("Call and finish times not before issue"), _times_in_order),
                Check(
                    "finished",
                    N_("Finished tickets name window, staff and finish time"),
                    _finished_complete,
                ),
            ),
        ),
        ds(
            "hall.appointments",
            N_("Appointments"),
            N_("Bookings of hall visits."),
            CENTER,
            HALL_SYSTEM,
            Appointment,
            "booked_at",
            (
                Check(
                    "citizen_name",
                    N_("Citizen name present"),
                    lambda r: _present(r["citizen_name"]),
                ),
                Check(
                    "citizen_phone",
                    N_("Mobile number valid"),
                    lambda r: valid_mobile(r["citizen_phone"]),
                ),
            ),
        ),
        ds(
            "hall.events",
            N_("Hall event log"),
            N_("Append-only log of every state change in the halls."),
            CENTER,
            HALL_SYSTEM,
            HallEvent,
            "at",
            (
                Check(
                    "refs", N_("Ticket and window events name their ticket or window"), _event_refs
                ),
            ),
        ),
        ds(
            "hall.service_items",
            N_("Service item catalogue"),
            N_("Matters citizens come for."),
            CENTER,
            HALL_SYSTEM,
            ServiceItem,
            None,
            (
                name_ok,
                Check(
                    "promise",
                    N_("Promised time positive"),
                    lambda r: (r["promised_minutes"] or 0) > 0,
                ),
            ),
        ),
        ds(
            "hall.departments",
            N_("Departments"),
            N_("Departments stationed in the halls."),
            CENTER,
            HALL_SYSTEM,
            Department,
            None,
            (name_ok,),
        ),
        ds(
            "hall.windows",
            N_("Windows"),
            N_("Service windows of the halls."),
            CENTER,
            HALL_SYSTEM,
            Window,
            "state_since",
            (
                name_ok,
                Check("number", N_("Window number positive"), lambda r: (r["number"] or 0) > 0),
            ),
        ),
        ds(
            "ratings.ratings",
            N_("Service ratings"),
            N_("好差评 ratings from every channel."),
            CENTER,
            "govloop 好差评",
            Rating,
            "rated_at",
            (
                Check("level", N_("Level between 1 and 5"), lambda r: 1 <= (r["level"] or 0) <= 5),
                Check(
                    "real_name_phone",
                    N_("Real-name ratings carry a valid mobile number"),
                    _real_name_phone,
                ),
            ),
        ),
        ds(
            "hotline.work_orders",
            N_("Hotline work orders"),
            N_("12345 hotline work orders."),
            "12345 热线",
            "govloop 12345 热线",
            WorkOrder,
            "created_at",
            (
                Check("content", N_("Content present"), lambda r: _present(r["content"])),
                Check("category", N_("Category assigned"), lambda r: r["category_id"] is not None),
                Check(
                    "caller_phone",
                    N_("Caller mobile number valid when given"),
                    _optional_mobile("caller_phone"),
                ),
                Check("closed", N_("Closed orders carry their closing time"), _closed_complete),
            ),
        ),
    ]


def source_datasets(*, session: Session) -> list[Dataset]:
    """One dataset per declared ingest source, checked by the schema its rows follow."""
    table: Table = IngestedRecord.__table__  # type: ignore[assignment]
    out = []
    for src in session.scalars(select(Source).order_by(Source.key)):
        checks = (
            Check("schema", N_("Passes its declared schema"), _schema_valid(src.schema_name)),
            *PAYLOAD_CHECKS.get(src.schema_name, ()),
        )
        notes = []
        if src.schema_name not in ingest_schemas.SCHEMAS:
            notes.append(N_("The source names a schema that is not declared."))
        out.append(
            Dataset(
                key=f"ingest.{src.key}",
                title=src.name,
                description=src.schema_name,
                owner=src.owner or src.department or "—",
                source=f"{src.department or '—'} · {src.kind}",
                table=table,
                time_column="stored_at",
                checks=checks,
                fields=_payload_fields(src.schema_name),
                where=IngestedRecord.source_id == src.id,
                payload=True,
                schema_name=src.schema_name,
                notes=notes,
            )
        )
    return out


def all_datasets(*, session: Session) -> list[Dataset]:
    return platform_datasets() + source_datasets(session=session)


def get_dataset(*, session: Session, key: str) -> Dataset:
    for ds in all_datasets(session=session):
        if ds.key == key:
            return ds
    raise NotFound(f"数据目录中没有该数据集：{key}", code="unknown_dataset")


@dataclass(frozen=True)
class Freshness:
    rows: int
    newest_at: datetime | None
    age: timedelta | None


def freshness(*, session: Session, dataset: Dataset) -> Freshness:
    t = dataset.table
    cols: list[Any] = [func.count()]
    if dataset.time_column:
        cols.append(func.max(t.c[dataset.time_column]))
    query = select(*cols).select_from(t)
    if dataset.where is not None:
        query = query.where(dataset.where)
    row = session.execute(query).one()
    newest = row[1] if dataset.time_column else None
    if not isinstance(newest, datetime):
        newest = None
    elif newest.tzinfo is None:  # aggregates bypass the UTC column type on SQLite
        newest = newest.replace(tzinfo=UTC)
    return Freshness(int(row[0]), newest, (now() - newest) if newest else None)


def measure(*, session: Session, dataset: Dataset) -> DatasetProfile:
    """A full pass over the dataset's rows; stores and returns the profile."""
    started = time.perf_counter()
    t = dataset.table
    query = select(t)
    if dataset.where is not None:
        query = query.where(dataset.where)
    passed_by = [0] * len(dataset.checks)
    rows = passed = 0
    result = session.execute(query.execution_options(yield_per=2000)).mappings()
    for row in result:
        subject: Any = (row["payload"] or {}) if dataset.payload else row
        ok = [check.test(subject) for check in dataset.checks]
        rows += 1
        passed += all(ok)
        for i, good in enumerate(ok):
            passed_by[i] += good
    fresh = freshness(session=session, dataset=dataset)
    profile = DatasetProfile(
        dataset_key=dataset.key,
        measured_at=now(),
        rows=rows,
        passed=passed,
        score=round(passed / rows, 4) if rows else None,
        newest_at=fresh.newest_at,
        checks=[
            {"code": c.code, "passed": n, "failed": rows - n}
            for c, n in zip(dataset.checks, passed_by, strict=True)
        ],
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )
    session.add(profile)
    session.flush()
    return profile


def profile_datasets(*, session: Session, keys: list[str] | None = None) -> list[DatasetProfile]:
    datasets = all_datasets(session=session)
    if keys:
        known = {d.key for d in datasets}
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise NotFound(f"数据目录中没有该数据集：{', '.join(unknown)}", code="unknown_dataset")
        datasets = [d for d in datasets if d.key in keys]
    return [measure(session=session, dataset=d) for d in datasets]


def latest_profiles(*, session: Session) -> dict[str, DatasetProfile]:
    newest = (
        select(DatasetProfile.dataset_key, func.max(DatasetProfile.id).label("id"))
        .group_by(DatasetProfile.dataset_key)
        .subquery()
    )
    rows = session.scalars(select(DatasetProfile).join(newest, newest.c.id == DatasetProfile.id))
    return {p.dataset_key: p for p in rows}


@dataclass(frozen=True)
class CatalogEntry:
    dataset: Dataset
    fresh: Freshness
    profile: DatasetProfile | None


def catalog(*, session: Session) -> list[CatalogEntry]:
    profiles = latest_profiles(session=session)
    return [
        CatalogEntry(d, freshness(session=session, dataset=d), profiles.get(d.key))
        for d in all_datasets(session=session)
    ]


def catalog_entry(*, session: Session, key: str) -> CatalogEntry:
    dataset = get_dataset(session=session, key=key)
    return CatalogEntry(
        dataset,
        freshness(session=session, dataset=dataset),
        latest_profiles(session=session).get(key),
    )
