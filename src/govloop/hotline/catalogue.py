"""The dispatch catalogue (派单目录): categories, their default units and keyword rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from govloop.hotline.models import HotlineCategory, OrderType
from govloop.org.models import Department

CATALOGUE_FILE = Path(__file__).with_name("catalogue.yaml")


@dataclass(frozen=True)
class CategorySpec:
    code: str
    name: str
    group: str
    department: str
    order_type: str
    keywords: tuple[str, ...]
    attributes: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class Catalogue:
    departments: dict[str, str]  # code → name
    categories: tuple[CategorySpec, ...]

    def category(self, code: str) -> CategorySpec:
        for spec in self.categories:
            if spec.code == code:
                return spec
        raise KeyError(code)


@lru_cache
def load_catalogue(path: Path = CATALOGUE_FILE) -> Catalogue:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    departments = {d["code"]: d["name"] for d in raw["departments"]}
    categories = []
    for c in raw["categories"]:
        if c["department"] not in departments:
            raise ValueError(f"category {c['code']}: unknown department {c['department']}")
        OrderType(c["type"])  # fails loudly on a typo
        categories.append(
            CategorySpec(
                code=c["code"],
                name=c["name"],
                group=c.get("group", ""),
                department=c["department"],
                order_type=c["type"],
                keywords=tuple(c.get("keywords", [])),
                attributes=tuple(c.get("attributes", [])),
            )
        )
    return Catalogue(departments=departments, categories=tuple(categories))


def seed_catalogue(*, session: Session, catalogue: Catalogue | None = None) -> dict[str, int]:
    """Create or update departments and categories by code; returns category code → id."""
    catalogue = catalogue or load_catalogue()
    departments = {d.code: d for d in session.scalars(select(Department))}
    for code, name in catalogue.departments.items():
        if code not in departments:
            departments[code] = Department(code=code, name=name)
            session.add(departments[code])
    session.flush()
    existing = {c.code: c for c in session.scalars(select(HotlineCategory))}
    for spec in catalogue.categories:
        category = existing.get(spec.code) or HotlineCategory(code=spec.code)
        category.name = spec.name
        category.group_name = spec.group
        category.department_id = departments[spec.department].id
        category.default_type = spec.order_type
        category.keywords = list(spec.keywords)
        category.attributes = [dict(a) for a in spec.attributes]
        category.public = True
        category.active = True
        if category.id is None:
            session.add(category)
        existing[spec.code] = category
    session.flush()
    return {code: c.id for code, c in existing.items()}
