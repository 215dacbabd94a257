"""The dispatch directory every intake reads: categories (with their keyword rules) and
department names, kept per process and rebuilt only when the tables change.

Building ORM objects for every category and department on each order cost more than the
order itself. Each call still asks the database, so a change made by another process (the
CLI, another worker) or a rebuilt test database is seen by the very next order: one query
returns a fingerprint of both tables (every column the directory uses, aggregated into one
string by the database), compared with the one the cached directory was built from. Only a
difference reads the rows and rebuilds it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, func, select, type_coerce
from sqlalchemy.orm import Session

from govloop.hotline.models import HotlineCategory, RoutingModel
from govloop.org.models import Department


@dataclass(frozen=True)
class Category:
    """What intake, routing and views need of a ``HotlineCategory`` row."""

    id: int
    code: str
    name: str
    department_id: int | None
    default_type: str
    active: bool
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Directory:
    categories: dict[int, Category]  # every category, retired ones too (old orders name them)
    active: tuple[Category, ...]  # active ones by code, the order keyword ties are broken in
    active_by_code: dict[str, Category]
    department_names: dict[int, str]
    department_ids: dict[str, int]  # by code
    # (id, trained_at) of the active routing model; the model itself is routing's to load
    routing_model: tuple[int, Any] | None


_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], Directory] | None = None


def _decoded(keywords: Any) -> tuple[str, ...]:
    # SQLite hands back the stored JSON text, psycopg an already decoded list
    value = json.loads(keywords) if isinstance(keywords, str) else keywords
    return tuple(value or ())


def _build(
    category_rows: Sequence[Any], department_rows: Sequence[Any], model: tuple[int, Any] | None
) -> Directory:
    categories = {
        row[0]: Category(row[0], row[1], row[2], row[3], row[4], bool(row[5]), _decoded(row[6]))
        for row in category_rows
    }
    active = tuple(sorted((c for c in categories.values() if c.active), key=lambda c: c.code))
    return Directory(
        categories=categories,
        active=active,
        active_by_code={c.code: c for c in active},
        department_names={row[0]: row[2] for row in department_rows},
        department_ids={row[1]: row[0] for row in department_rows},
        routing_model=model,
    )


def _joined(*columns: Any) -> ColumnElement[str]:
    """One row's columns as text, NULL as empty (field and row separators are control
    characters no name or keyword holds)."""
    parts = [func.coalesce(cast(column, Text), "") for column in columns]
    expr: ColumnElement[str] = parts[0]
    for part in parts[1:]:
        expr = expr + "\x1f" + part
    return expr


def _fingerprint(dialect: str) -> Select[tuple[str | None, str | None, int | None, Any]]:
    c = HotlineCategory
    categories = _joined(
        c.id, c.code, c.name, c.department_id, c.default_type, c.active, c.keywords
    )
    departments = _joined(Department.id, Department.code, Department.name)
    # group_concat / string_agg themselves: aggregate_strings renders its separator at
    # every execution, which took longer than the query
    aggregate = func.string_agg if dialect == "postgresql" else func.group_concat
    active_model = (
        select(RoutingModel.id, RoutingModel.trained_at)
        .where(RoutingModel.active.is_(True))
        .order_by(RoutingModel.id.desc())
        .limit(1)
        .subquery()
    )
    return select(
        select(aggregate(categories, "\x1e")).scalar_subquery(),
        select(aggregate(departments, "\x1e")).scalar_subquery(),
        select(active_model.c.id).scalar_subquery(),
        select(active_model.c.trained_at).scalar_subquery(),
    )


_FINGERPRINTS = {name: _fingerprint(name) for name in ("postgresql", "sqlite")}


def _read(session: Session, model: tuple[int, Any] | None) -> Directory:
    c = HotlineCategory
    category_rows = session.execute(
        select(
            c.id,
            c.code,
            c.name,
            c.department_id,
            c.default_type,
            c.active,
            type_coerce(c.keywords, Text),
        ).order_by(c.id)
    ).all()
    department_rows = session.execute(
        select(Department.id, Department.code, Department.name).order_by(Department.id)
    ).all()
    return _build(category_rows, department_rows, model)


def current(session: Session) -> Directory:
    """The directory as the session's database holds it now."""
    global _cached
    connection = session.connection()  # Core: the ORM layer cost more than the query
    key = tuple(connection.execute(_FINGERPRINTS[connection.dialect.name]).one())
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    # Read after the fingerprint: at worst newer than it, which only costs a rebuild later.
    model = None if key[2] is None else (key[2], key[3])
    directory = _read(session, model)
    with _lock:
        _cached = (key, directory)
    return directory
