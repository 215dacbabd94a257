"""The dispatch directory every intake reads: categories (with their keyword rules) and
department names, kept per process and rebuilt only when the tables change.

Building ORM objects for every category and department on each order cost more than the
order itself. Each call still asks the database, so a change made by another process (the
CLI, another worker) or a rebuilt test database is seen by the very next order: the
tables come back as plain tuples (keywords as stored, not decoded) and are compared with
what the cached directory was built from. Only a difference rebuilds it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, select, type_coerce
from sqlalchemy.orm import Session

from govloop.hotline.models import HotlineCategory
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


_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], Directory] | None = None


def _decoded(keywords: Any) -> tuple[str, ...]:
    # SQLite hands back the stored JSON text, psycopg an already decoded list
    value = json.loads(keywords) if isinstance(keywords, str) else keywords
    return tuple(value or ())


def _build(category_rows: Sequence[Any], department_rows: Sequence[Any]) -> Directory:
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
    )


def current(session: Session) -> Directory:
    """The directory as the session's database holds it now."""
    global _cached
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
    key = (tuple(map(tuple, category_rows)), tuple(map(tuple, department_rows)))
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    directory = _build(category_rows, department_rows)
    with _lock:
        _cached = (key, directory)
    return directory
