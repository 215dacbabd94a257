"""Tag service (标签服务): rules declared in ``tags.yaml``, evaluated in batch over the
subjects and their events (``catalog/sources.py``) into ``catalog_tag_assignments``.

A run replaces the previous run's assignments in one transaction; the run itself (rules
digest, counts per tag, duration) is kept, and every assignment records the rule version
and the evidence the rule found, so a tag can always be explained.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from govloop.catalog import sources
from govloop.catalog.entities import parse_entity
from govloop.catalog.models import TagAssignment, TagRun
from govloop.core.clock import local_today, now, to_local
from govloop.core.errors import BadRequest, NotFound

SubjectType = Literal["person", "enterprise"]
SUBJECT_TYPES: tuple[str, ...] = ("person", "enterprise")


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgeParams(_Params):
    years: int = Field(ge=1, le=120)


class VisitParams(_Params):
    days: int = Field(ge=1, le=3660)
    min_visits: int = Field(ge=1)


class CallParams(_Params):
    days: int = Field(ge=1, le=3660)
    min_calls: int = Field(ge=1)


class ProjectParams(_Params):
    min_projects: int = Field(ge=1)


class TagRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str = Field(min_length=1, max_length=50)
    name_en: str = Field(min_length=1, max_length=100)
    subject: SubjectType
    version: int = Field(ge=1)
    rule: str
    params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


@dataclass
class Facts:
    """Everything the rules read, gathered once per run."""

    today: date
    index: sources.SubjectIndex
    enterprises: list[sources.Enterprise]
    projects: list[sources.Project]
    visits: list[sources.Visit]
    calls: list[sources.HotlineCall]


# person/enterprise key → evidence
Found = dict[str, dict[str, Any]]


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _age_at_least(facts: Facts, p: AgeParams) -> Found:
    out: Found = {}
    for person in facts.index.persons.values():
        if person.birth_date and _age(person.birth_date, facts.today) >= p.years:
            out[person.key] = {
                "age": _age(person.birth_date, facts.today),
                "birth_date": person.birth_date.isoformat(),
            }
    return out


def _hall_visits(facts: Facts, p: VisitParams) -> Found:
    since = facts.today - timedelta(days=p.days - 1)
    counts: Counter[str] = Counter()
    for v in facts.visits:
        key = facts.index.person_for_phone(v.phone)
        if key and v.service_date >= since:
            counts[key] += 1
    return {
        key: {"visits": n, "since": since.isoformat()}
        for key, n in counts.items()
        if n >= p.min_visits
    }


def _repeat_item_visits(facts: Facts, p: VisitParams) -> Found:
    since = facts.today - timedelta(days=p.days - 1)
    counts: Counter[tuple[str, str]] = Counter()
    names: dict[str, str] = {}
    for v in facts.visits:
        key = facts.index.person_for_phone(v.phone)
        if key and v.service_date >= since:
            counts[(key, v.item_code)] += 1
            names[v.item_code] = v.item_name
    items: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (key, code), n in counts.most_common():
        if n >= p.min_visits:
            items[key].append({"item_code": code, "item_name": names[code], "visits": n})
    return {key: {"items": found, "since": since.isoformat()} for key, found in items.items()}


def _hotline_calls(facts: Facts, p: CallParams) -> Found:
    since = facts.today - timedelta(days=p.days - 1)
    counts: Counter[str] = Counter()
    for c in facts.calls:
        key = facts.index.person_for_phone(c.phone) if c.phone else None
        if key and to_local(c.created_at).date() >= since:
            counts[key] += 1
    return {
        key: {"calls": n, "since": since.isoformat()}
        for key, n in counts.items()
        if n >= p.min_calls
    }


def _enterprise_projects(facts: Facts, p: ProjectParams) -> Found:
    counts = Counter(
        pr.enterprise_credit_code for pr in facts.projects if pr.enterprise_credit_code
    )
    return {
        e.key: {"projects": counts[e.key]}
        for e in facts.enterprises
        if counts[e.key] >= p.min_projects
    }


@dataclass(frozen=True)
class RuleKind:
    subject: str
    params: type[_Params]
    evaluate: Callable[[Facts, Any], Found]


RULES: dict[str, RuleKind] = {
    "age_at_least": RuleKind("person", AgeParams, _age_at_least),
    "hall_visits": RuleKind("person", VisitParams, _hall_visits),
    "repeat_item_visits": RuleKind("person", VisitParams, _repeat_item_visits),
    "hotline_calls": RuleKind("person", CallParams, _hotline_calls),
    "enterprise_projects": RuleKind("enterprise", ProjectParams, _enterprise_projects),
}


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[TagRule, ...]
    sha256: str

    def get(self, code: str) -> TagRule:
        for rule in self.rules:
            if rule.code == code:
                return rule
        raise NotFound(f"未知标签：{code}", code="unknown_tag", tags=[r.code for r in self.rules])


def parse_rules(text: str) -> RuleSet:
    """Validate a rules file completely; any problem refuses the whole file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BadRequest(f"标签规则文件不是合法的 YAML：{exc}", code="invalid_tag_rules") from exc
    if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
        raise BadRequest("标签规则文件须有 tags 列表", code="invalid_tag_rules")
    rules: list[TagRule] = []
    for i, raw in enumerate(data["tags"]):
        try:
            rule = TagRule.model_validate(raw)
            kind = RULES.get(rule.rule)
            if kind is None:
                raise BadRequest(
                    f"第 {i + 1} 条标签规则的规则类型未知：{rule.rule}",
                    code="invalid_tag_rules",
                    kinds=sorted(RULES),
                )
            if kind.subject != rule.subject:
                raise BadRequest(
                    f"标签 {rule.code} 的规则 {rule.rule} 只适用于 {kind.subject}",
                    code="invalid_tag_rules",
                )
            kind.params.model_validate(rule.params)
        except ValidationError as exc:
            raise BadRequest(
                f"第 {i + 1} 条标签规则不正确：{exc.errors()[0]['msg']}",
                code="invalid_tag_rules",
            ) from exc
        rules.append(rule)
    codes = [r.code for r in rules]
    if len(set(codes)) != len(codes):
        raise BadRequest("标签编码重复", code="invalid_tag_rules")
    return RuleSet(tuple(rules), hashlib.sha256(text.encode()).hexdigest())


@lru_cache(maxsize=1)
def shipped_rules() -> RuleSet:
    text = resources.files("govloop.catalog").joinpath("tags.yaml").read_text(encoding="utf-8")
    return parse_rules(text)


def gather_facts(*, session: Session, rules: RuleSet, today: date) -> Facts:
    longest = max(
        (int(r.params.get("days", 0)) for r in rules.rules if "days" in r.params), default=0
    )
    since = today - timedelta(days=longest)
    return Facts(
        today=today,
        index=sources.SubjectIndex.build(sources.persons(session=session)),
        enterprises=sources.enterprises(session=session),
        projects=sources.projects(session=session),
        visits=sources.visits(session=session, since=since),
        calls=sources.hotline_calls(session=session, since=datetime.combine(since, dt_time(), UTC)),
    )


def compute_tags(*, session: Session, rules: RuleSet | None = None) -> TagRun:
    """Evaluate every rule and replace the previous assignments with the new ones."""
    rules = rules or shipped_rules()
    started = time.perf_counter()
    at = now()
    facts = gather_facts(session=session, rules=rules, today=local_today())
    labels = {p.key: p.name for p in facts.index.persons.values()} | {
        e.key: e.name for e in facts.enterprises
    }
    run = TagRun(computed_at=at, rules_sha256=rules.sha256, counts={})
    session.add(run)
    session.flush()
    session.execute(delete(TagAssignment))
    counts: dict[str, int] = {}
    rows: list[dict[str, Any]] = []
    for rule in rules.rules:
        kind = RULES[rule.rule]
        found = kind.evaluate(facts, kind.params.model_validate(rule.params))
        counts[rule.code] = len(found)
        for key, evidence in sorted(found.items()):
            rows.append(
                {
                    "run_id": run.id,
                    "tag_code": rule.code,
                    "rule_version": rule.version,
                    "subject_type": rule.subject,
                    "subject_key": key,
                    "subject_label": labels.get(key, key)[:200],
                    "evidence": evidence,
                    "computed_at": at,
                }
            )
    if rows:
        session.execute(insert(TagAssignment), rows)
    run.counts = counts
    run.subjects_scanned = len(facts.index.persons) + len(facts.enterprises)
    run.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    session.flush()
    return run


def latest_run(*, session: Session) -> TagRun | None:
    return session.scalar(select(TagRun).order_by(TagRun.id.desc()).limit(1))


@dataclass(frozen=True)
class TagSummary:
    rule: TagRule
    subjects: int
    stale: bool  # assignments were computed with another version of this rule


def list_tags(*, session: Session) -> list[TagSummary]:
    rules = shipped_rules()
    counts: dict[str, int] = {}
    versions: dict[str, int] = {}
    grouped = select(
        TagAssignment.tag_code, func.count(TagAssignment.id), func.max(TagAssignment.rule_version)
    ).group_by(TagAssignment.tag_code)
    for code, n, version in session.execute(grouped):
        counts[code], versions[code] = n, version
    return [
        TagSummary(
            rule=r,
            subjects=counts.get(r.code, 0),
            stale=r.code in versions and versions[r.code] != r.version,
        )
        for r in rules.rules
    ]


def subjects_with_tag(
    *, session: Session, code: str, limit: int = 100, offset: int = 0
) -> tuple[TagRule, int, list[TagAssignment]]:
    rule = shipped_rules().get(code)
    where = TagAssignment.tag_code == code
    total = session.scalar(select(func.count(TagAssignment.id)).where(where)) or 0
    rows = session.scalars(
        select(TagAssignment)
        .where(where)
        .order_by(TagAssignment.subject_label, TagAssignment.subject_key)
        .limit(limit)
        .offset(offset)
    ).all()
    return rule, total, list(rows)


def subject_exists(*, session: Session, kind: str, key: str) -> str | None:
    """The subject's name, or None when no department record names it."""
    if kind == "person":
        names = [p.name for p in sources.persons(session=session) if p.key == key]
    else:
        names = [e.name for e in sources.enterprises(session=session) if e.key == key]
    return names[0] if names else None


def tags_of_subject(*, session: Session, entity: str) -> tuple[str, list[TagAssignment]]:
    kind, key = parse_entity(entity, subject_types=SUBJECT_TYPES)
    name = subject_exists(session=session, kind=kind, key=key)
    if name is None:
        raise NotFound(f"没有找到该主体：{kind}:{key}", code="unknown_entity")
    rows = session.scalars(
        select(TagAssignment)
        .where(TagAssignment.subject_type == kind, TagAssignment.subject_key == key)
        .order_by(TagAssignment.tag_code)
    ).all()
    return name, list(rows)
