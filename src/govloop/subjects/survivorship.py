"""Survivorship: the value a master keeps for each field, and why.

Rules, in order: a data steward's decision (while the candidate values are unchanged), then
validity (a value that passes its check beats one that does not), then source priority
(the authority for that kind of data), then recency. Disagreements on the fields declared
as conflict fields are queued for a steward instead of being settled silently.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from govloop.subjects import identifiers as ids

VALIDATORS = {
    "id_number": lambda v: ids.check_resident_id(v).valid,
    "legal_rep_id_number": lambda v: ids.check_resident_id(v).valid,
    "credit_code": lambda v: ids.check_uscc(v).valid,
    "enterprise_credit_code": lambda v: ids.check_uscc(v).valid,
    "phone": lambda v: ids.check_phone(v).valid,
}


@dataclass(frozen=True)
class KindConfig:
    kind: str
    schema: str
    identifier: str
    name_field: str
    fields: tuple[str, ...]
    conflicts: frozenset[str]


@dataclass(frozen=True)
class Config:
    source_priority: tuple[str, ...]
    kinds: dict[str, KindConfig]

    def kind_of_schema(self, schema: str) -> KindConfig | None:
        return next((k for k in self.kinds.values() if k.schema == schema), None)

    def priority(self, department: str | None) -> int:
        """Lower is more authoritative; unlisted departments rank last. A listed name matches
        any department that contains it (公安局 ranks 市公安局 and 西湖区公安局 alike)."""
        for rank, name in enumerate(self.source_priority):
            if department and name in department:
                return rank
        return len(self.source_priority)


@lru_cache(maxsize=1)
def config() -> Config:
    text = resources.files("govloop.subjects").joinpath("survivorship.yaml").read_text("utf-8")
    raw = yaml.safe_load(text)
    kinds = {
        name: KindConfig(
            kind=name,
            schema=spec["schema"],
            identifier=spec["identifier"],
            name_field=spec["name_field"],
            fields=tuple(spec["fields"]),
            conflicts=frozenset(spec.get("conflicts", ())),
        )
        for name, spec in raw["kinds"].items()
    }
    return Config(tuple(raw.get("source_priority", ())), kinds)


@dataclass(frozen=True)
class Candidate:
    """One source record's value of one field."""

    value: str
    record_id: int
    source: str
    department: str | None
    observed_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "record_id": self.record_id,
            "source": self.source,
            "department": self.department,
            "observed_at": self.observed_at.isoformat() if self.observed_at else None,
        }


@dataclass
class FieldOutcome:
    name: str
    value: str | None
    chosen: Candidate | None
    rule: str  # decision / only / agreed / validity / priority / recency
    candidates: list[Candidate] = field(default_factory=list)
    conflict: bool = False  # distinct valid values on a conflict field, no decision


def candidates_key(values: list[str]) -> str:
    return hashlib.sha256("\x1f".join(sorted(set(values))).encode()).hexdigest()


def is_valid(field_name: str, value: str) -> bool:
    check = VALIDATORS.get(field_name)
    return check(value) if check else True


def choose(
    field_name: str,
    candidates: list[Candidate],
    *,
    conflict_field: bool,
    decision: tuple[str, str] | None = None,
    cfg: Config | None = None,
) -> FieldOutcome:
    """Pick the surviving value. ``decision`` is (candidates_key, value) of a steward's
    earlier choice for this field; it holds while the candidate values are the same."""
    cfg = cfg or config()
    present = [c for c in candidates if c.value not in (None, "")]
    if not present:
        return FieldOutcome(field_name, None, None, "none", [])
    distinct = {c.value for c in present}
    if decision and decision[0] == candidates_key([c.value for c in present]):
        chosen = next((c for c in present if c.value == decision[1]), None)
        return FieldOutcome(field_name, decision[1], chosen, "decision", present)
    if len(distinct) == 1:
        newest = _by_priority_then_recency(present, cfg)[0]
        rule = "only" if len(present) == 1 else "agreed"
        return FieldOutcome(field_name, newest.value, newest, rule, present)
    valid = [c for c in present if is_valid(field_name, c.value)]
    pool = valid or present
    if len({c.value for c in pool}) == 1:
        best = _by_priority_then_recency(pool, cfg)[0]
        return FieldOutcome(field_name, best.value, best, "validity", present)
    ranked = _by_priority_then_recency(pool, cfg)
    best = ranked[0]
    top = cfg.priority(best.department)
    rule = "priority" if cfg.priority(ranked[1].department) > top else "recency"
    outcome = FieldOutcome(field_name, best.value, best, rule, present)
    outcome.conflict = conflict_field
    return outcome


def _by_priority_then_recency(pool: list[Candidate], cfg: Config) -> list[Candidate]:
    def key(c: Candidate) -> tuple[int, float, int]:
        stamp = c.observed_at.timestamp() if c.observed_at else 0.0
        return (cfg.priority(c.department), -stamp, -c.record_id)

    return sorted(pool, key=key)
